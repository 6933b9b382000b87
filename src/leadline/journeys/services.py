"""Writes for the buyer's journey: starting on it, moving along it (by signal or by hand), and
recording the signals capture sees.

Every move is one `JourneyTransition` row (never changed afterwards), the position it leads to,
and a timeline event that says which signal, or who, moved the buyer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.text import slugify

from leadline.core import clock
from leadline.core.models import Account, Membership, Person, TimelineEvent, User
from leadline.core.services import audit_record, timeline_event
from leadline.journeys.models import (
    Event,
    EventSource,
    Journey,
    JourneyPosition,
    JourneyRemoval,
    JourneyStep,
    JourneyTransition,
    TransitionCause,
)
from leadline.journeys.selectors import STEP_TEXT_FIELDS
from leadline.journeys.signals import (
    EventFacts,
    Rule,
    RuleError,
    first_rule_holding,
    rule_parse,
    rules_parse,
)

Subject = Person | Account


def _subject_fields(subject: Subject) -> dict[str, Any]:
    if isinstance(subject, Person):
        return {"person": subject, "account": None}
    return {"person": None, "account": subject}


def _why(cause: str, *, signal_name: str, moved_by: User | None) -> str:
    if cause == TransitionCause.SIGNAL:
        return f"signal: {signal_name}"
    if cause == TransitionCause.USER:
        return f"moved by {moved_by.get_full_name() or moved_by.username}" if moved_by else "moved"
    if cause == TransitionCause.IMPORT:
        return "imported"
    if signal_name:
        return f"start signal: {signal_name}"
    return "started"


class _Moves:
    """Moves gathered in memory and stored at once (a batch of leads makes many)."""

    def __init__(self) -> None:
        self.new_positions: list[JourneyPosition] = []
        self.changed_positions: dict[int, JourneyPosition] = {}
        self.transitions: list[JourneyTransition] = []

    def add(
        self,
        *,
        journey: Journey,
        subject: Subject,
        position: JourneyPosition | None,
        to_step: JourneyStep,
        cause: str,
        at: dt.datetime,
        signal_name: str = "",
        moved_by: User | None = None,
        note: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> JourneyPosition:
        """Move `subject` from `position` (None: not on the journey yet); returns its position."""
        from_step = position.step if position is not None else None
        if position is None:
            position = JourneyPosition(journey=journey, **_subject_fields(subject))
            self.new_positions.append(position)
        elif position.pk is not None:
            self.changed_positions[position.pk] = position
        position.step = to_step
        position.since = at
        self.transitions.append(
            JourneyTransition(
                journey=journey,
                from_step=from_step,
                to_step=to_step,
                at=at,
                cause=cause,
                signal_name=signal_name,
                moved_by=moved_by,
                note=note,
                evidence=evidence or {},
                **_subject_fields(subject),
            )
        )
        return position

    def save(self) -> list[JourneyTransition]:
        """Positions, transitions, and the timeline event that says what moved each."""
        JourneyPosition.objects.bulk_create(self.new_positions)
        JourneyPosition.objects.bulk_update(self.changed_positions.values(), ["step", "since"])
        moved = JourneyTransition.objects.bulk_create(self.transitions)
        TimelineEvent.objects.bulk_create(transition_timeline_event(t) for t in moved)
        return moved


def transition_timeline_event(moved: JourneyTransition) -> TimelineEvent:
    """The timeline row that says a move, in words (unsaved: callers write them in bulk)."""
    from_step, to_step, journey = moved.from_step, moved.to_step, moved.journey
    backwards = from_step is not None and to_step.position < from_step.position
    verb = "Started at" if from_step is None else ("Moved back to" if backwards else "Moved to")
    why = _why(moved.cause, signal_name=moved.signal_name, moved_by=moved.moved_by)
    summary = f"{verb} “{to_step.name}” ({journey.name}) — {why}"
    if moved.cause == TransitionCause.START and moved.signal_name:
        # A start signal: which rule, and the events that made it hold, in words.
        words = moved.evidence.get("words") if isinstance(moved.evidence, dict) else ""
        summary = f"Started on {journey.name} — {moved.signal_name}"
        if words:
            summary += f" ({words})"
    return timeline_event(
        kind="journey.moved",
        summary=summary,
        person=moved.person,
        account=moved.account,
        actor=moved.moved_by,
        occurred_at=moved.at,
        data={
            "journey_id": journey.pk,
            "transition_id": moved.pk,
            "from_step": from_step.name if from_step else None,
            "to_step": to_step.name,
            "cause": moved.cause,
            "signal": moved.signal_name,
        },
    )


def journey_move(
    *,
    journey: Journey,
    to_step: JourneyStep,
    moved_by: User,
    person: Person | None = None,
    account: Account | None = None,
    note: str = "",
) -> JourneyTransition:
    """Someone moves a person or an account's buying group to a step, forwards or back.

    Signals weigh only what happens after such a move: the person who moved them knew better.
    """
    if (person is None) == (account is None):
        raise ValueError("move a person or an account")
    if to_step.journey_id != journey.pk:
        raise ValueError(f"step {to_step.name!r} is not on the journey {journey.name!r}")
    subject: Subject = person if person is not None else account  # type: ignore[assignment]
    with transaction.atomic():
        position = _position_locked(journey=journey, subject=subject)
        if position is not None and position.step_id == to_step.pk:
            raise ValueError(f"already at {to_step.name!r}")
        moves = _Moves()
        moves.add(
            journey=journey,
            subject=subject,
            position=position,
            to_step=to_step,
            cause=TransitionCause.USER,
            at=clock.now(),
            moved_by=moved_by,
            note=note,
        )
        (moved,) = moves.save()
        audit_record(
            actor=moved_by,
            action="journey.move",
            obj=moved,
            data={"to_step": to_step.name, "note": note},
        )
    return moved


def _position_locked(*, journey: Journey, subject: Subject) -> JourneyPosition | None:
    """The person's or account's position on the journey, locked until the transaction ends."""
    return (
        JourneyPosition.objects.select_for_update()
        .select_related("step")
        .filter(journey=journey, **_subject_fields(subject))
        .first()
    )


def journey_remove(
    *,
    journey: Journey,
    removed_by: User,
    person: Person | None = None,
    account: Account | None = None,
    note: str = "",
) -> JourneyRemoval:
    """Someone takes a person, or an account's buying group, off a journey.

    Their history stays. Events from before this no longer count on this journey: its start
    signals put them back on only for what happens afterwards, and the default journey no
    longer starts them by itself.
    """
    if (person is None) == (account is None):
        raise ValueError("take off a person or an account")
    subject: Subject = person if person is not None else account  # type: ignore[assignment]
    with transaction.atomic():
        position = _position_locked(journey=journey, subject=subject)
        if position is None:
            raise ValueError(f"not on the journey {journey.name!r}")
        step_name = position.step.name
        position.delete()
        removal = JourneyRemoval.objects.create(
            journey=journey,
            step_name=step_name,
            at=clock.now(),
            removed_by=removed_by,
            note=note,
            **_subject_fields(subject),
        )
        who = removed_by.get_full_name() or removed_by.username
        timeline_event(
            kind="journey.removed",
            summary=f"Taken off {journey.name} (was at “{step_name}”) — by {who}",
            person=person,
            account=account,
            actor=removed_by,
            occurred_at=removal.at,
            data={"journey_id": journey.pk, "removal_id": removal.pk, "step": step_name},
        ).save()
        audit_record(
            actor=removed_by,
            action="journey.remove",
            obj=removal,
            data={"journey": journey.slug, "step": step_name, "note": note},
        )
    return removal


def _rules(step: JourneyStep) -> list[Rule]:
    # Stored rules were checked when saved; a bad one (edited in the database) moves nobody.
    try:
        return rules_parse(step.exit_signals)
    except ValueError:
        return []


def _start_rules(journey: Journey) -> list[Rule]:
    try:
        return rules_parse(journey.start_signals)
    except ValueError:
        return []


def _evidence_words(rule: Rule, facts: Sequence[EventFacts]) -> str:
    """The events that made a rule hold, in a few words: "2 page views, the latest of
    /payroll/pricing on 3 Mar 2026"."""
    if not facts:
        return ""
    latest = max(facts, key=lambda e: (e.occurred_at, e.id))
    day = timezone.localtime(latest.occurred_at)
    when = f"{day.day} {day:%b %Y}"
    page = rule.event == "page_view"
    what = "page view" if page else f"“{rule.event}” event"
    where = f" of {latest.path}" if page and latest.path else ""
    if len(facts) == 1:
        return f"{what}{where} on {when}"
    return f"{len(facts)} {what}s, the latest{where} on {when}"


def signals_evaluate(*, person_ids: Sequence[int]) -> list[JourneyTransition]:
    """Move these people along every active journey as far as their events show, and their
    accounts' buying groups with them. Idempotent: run twice, the second run moves nobody.

    A person with no position starts on the default journey's first step, and on any other
    journey whose start signals hold (the first that holds is the transition's signal, with its
    events as evidence); a journey without start signals is entered by hand only. Each step's
    exit signals are tried in order; the first that holds moves them to the next step, and the
    next step's signals are tried in turn. An account moves forward (never back) when one of
    its people gets past its step.

    What someone did by hand on a journey (a move, or taking the person off it) is weighed
    after what came before: only later events start them on it again or move them on it, and
    the default journey does not start again someone taken off it.
    """
    ids = sorted(set(person_ids))
    journeys = list(Journey.objects.filter(is_active=True).prefetch_related("steps"))
    if not ids or not journeys:
        return []
    now = clock.now()
    moves = _Moves()
    with transaction.atomic():
        people = Person.objects.in_bulk(ids)
        positions = {
            (p.journey_id, p.person_id): p
            for p in JourneyPosition.objects.select_for_update()
            .select_related("step")
            .filter(person_id__in=ids)
        }
        by_hand = {
            (row["journey_id"], row["person_id"]): row["last"]
            for row in JourneyTransition.objects.filter(
                person_id__in=ids, cause=TransitionCause.USER
            )
            .values("journey_id", "person_id")
            .annotate(last=Max("at"))
        }
        removed = {
            (row["journey_id"], row["person_id"]): row["last"]
            for row in JourneyRemoval.objects.filter(person_id__in=ids)
            .values("journey_id", "person_id")
            .annotate(last=Max("at"))
        }
        for key, at in removed.items():
            if key not in by_hand or by_hand[key] < at:
                by_hand[key] = at
        # Each journey's and each step's rules read once here, not once per person.
        starts_of = {j.pk: _start_rules(j) for j in journeys}
        rules_of = {step.pk: _rules(step) for j in journeys for step in j.steps.all()}
        events = _events_by_person(
            ids,
            [r for rules in (*starts_of.values(), *rules_of.values()) for r in rules],
        )
        reached: dict[tuple[int, int], tuple[JourneyStep, str]] = {}
        for journey in journeys:
            steps = sorted(journey.steps.all(), key=lambda s: s.position)
            if not steps:
                continue
            next_of = {a.pk: b for a, b in itertools.pairwise(steps)}
            for person_id in ids:
                person = people.get(person_id)
                if person is None:
                    continue
                position = positions.get((journey.pk, person_id))
                since = by_hand.get((journey.pk, person_id))
                if position is None:
                    start = _start(
                        journey,
                        starts_of[journey.pk],
                        events[person_id],
                        now=now,
                        since=since,
                        taken_off=(journey.pk, person_id) in removed,
                    )
                    if start is None:
                        continue
                    position = moves.add(
                        journey=journey,
                        subject=person,
                        position=None,
                        to_step=steps[0],
                        cause=TransitionCause.START,
                        at=now,
                        signal_name=start[0],
                        evidence=start[1],
                    )
                signal = ""
                while (following := next_of.get(position.step_id)) is not None:
                    hit = first_rule_holding(
                        rules_of[position.step_id], events[person_id], now=now, since=since
                    )
                    if hit is None:
                        break
                    rule, evidence = hit
                    signal = rule.name
                    position = moves.add(
                        journey=journey,
                        subject=person,
                        position=position,
                        to_step=following,
                        cause=TransitionCause.SIGNAL,
                        at=now,
                        signal_name=rule.name,
                        evidence={"events": evidence},
                    )
                if signal:
                    reached[(journey.pk, person_id)] = (position.step, signal)
        _accounts_follow(moves, reached, journeys, people, now=now)
        return moves.save()


def _start(
    journey: Journey,
    rules: Sequence[Rule],
    facts: Sequence[EventFacts],
    *,
    now: dt.datetime,
    since: dt.datetime | None,
    taken_off: bool,
) -> tuple[str, dict[str, Any]] | None:
    """Whether a person who is not on `journey` starts on it now: (the start signal's name,
    the evidence), ("", {}) for the default journey's plain start, or None."""
    if journey.is_default and not taken_off:
        return "", {}
    hit = first_rule_holding(rules, facts, now=now, since=since)
    if hit is None:
        return None
    rule, ids = hit
    chosen = set(ids)
    return rule.name, {
        "events": ids,
        "rule": rule.as_dict(),
        "words": _evidence_words(rule, [f for f in facts if f.id in chosen]),
    }


def _events_by_person(
    ids: Sequence[int], rules: Sequence[Rule]
) -> defaultdict[int, list[EventFacts]]:
    """The events any of `rules` could look at, per person: only the names they use, and only
    as far back as the longest window (all, if a rule has none)."""
    out: defaultdict[int, list[EventFacts]] = defaultdict(list)
    if not rules:
        return out
    rows = Event.objects.filter(person_id__in=ids, name__in={r.event for r in rules})
    windows = [r.within_days for r in rules]
    if None not in windows:
        longest = max(w for w in windows if w is not None)
        rows = rows.filter(occurred_at__gte=clock.now() - dt.timedelta(days=longest))
    for row in rows.values("id", "person_id", "name", "occurred_at", "path", "properties"):
        out[row["person_id"]].append(
            EventFacts(
                id=row["id"],
                name=row["name"],
                occurred_at=row["occurred_at"],
                path=row["path"],
                properties=row["properties"] or {},
            )
        )
    return out


def _accounts_follow(
    moves: _Moves,
    reached: dict[tuple[int, int], tuple[JourneyStep, str]],
    journeys: Sequence[Journey],
    people: dict[int, Person],
    *,
    now: dt.datetime,
) -> None:
    """An account's buying group is as far along as the furthest of its people."""
    if not reached:
        return
    accounts_of: defaultdict[int, list[int]] = defaultdict(list)
    for person_id, account_id in Membership.objects.filter(
        person_id__in={p for _, p in reached}, is_current=True
    ).values_list("person_id", "account_id"):
        accounts_of[person_id].append(account_id)
    account_ids = {a for ids in accounts_of.values() for a in ids}
    accounts = Account.objects.in_bulk(account_ids)
    positions = {
        (p.journey_id, p.account_id): p
        for p in JourneyPosition.objects.select_for_update()
        .select_related("step")
        .filter(account_id__in=account_ids)
    }
    by_id = {j.pk: j for j in journeys}
    for (journey_id, person_id), (step, signal) in sorted(reached.items()):
        for account_id in accounts_of.get(person_id, []):
            position = positions.get((journey_id, account_id))
            if position is not None and position.step.position >= step.position:
                continue
            person = people[person_id]
            positions[(journey_id, account_id)] = moves.add(
                journey=by_id[journey_id],
                subject=accounts[account_id],
                position=position,
                to_step=step,
                cause=TransitionCause.SIGNAL,
                at=now,
                signal_name=signal,
                note=f"via {person}",
                evidence={"person_id": person_id},
            )


def requests_signals_record(*, request_ids: Sequence[int]) -> None:
    """A capture step (settings.CAPTURE_REQUEST_HANDLERS): each new request is a signal —
    "form_submitted", and "contact_requested" when they asked to be contacted — and the visitor
    who sent the form joins the person. Then their journeys move as the signals show.
    Idempotent."""
    from leadline.capture.models import Request
    from leadline.journeys.tracking import visitor_identify

    rows = list(
        Request.objects.filter(pk__in=list(request_ids)).select_related("form", "submission")
    )
    if not rows:
        return
    events: list[Event] = []
    for request in rows:
        base = {
            "source": EventSource.WEB,
            "person_id": request.person_id,
            "occurred_at": request.created_at,
            "url": request.page_url,
            "referrer": request.referrer,
        }
        form = request.form.slug if request.form else ""
        events.append(
            Event(
                name="form_submitted",
                properties={"form": form, "kind": request.kind},
                dedupe_key=f"request:{request.pk}:form_submitted",
                **base,
            )
        )
        if request.wants_contact:
            events.append(
                Event(
                    name="contact_requested",
                    properties={"form": form, "kind": request.kind},
                    dedupe_key=f"request:{request.pk}:contact_requested",
                    **base,
                )
            )
    Event.objects.bulk_create(events, ignore_conflicts=True)
    for request in rows:
        # The page that sent the form named its visitor (t.js's cookie): their earlier visits
        # join this person's timeline, and count for their journey.
        payload = request.submission.payload if request.submission else {}
        if payload.get("visitor_id"):
            visitor_identify(
                visitor_id=payload["visitor_id"], person_id=request.person_id, at=request.created_at
            )
    signals_evaluate(person_ids=[r.person_id for r in rows])


def requests_signals_queue(*, request_ids: Sequence[int]) -> None:
    """The capture step (settings.CAPTURE_REQUEST_HANDLERS): record the new requests' signals
    in a task of their own, so the drain task goes straight on to routing the next leads."""
    from leadline.journeys.tasks import requests_signals_record_task

    requests_signals_record_task.enqueue(request_ids=list(request_ids))


class JourneyImportError(ValueError):
    """A journey that cannot be saved; the message names the field (steps[2].name, ...).

    `problems`: every problem found, each as (field, message) — the field a path such as
    "steps[1].exit_signals[0].count", or "" for the journey as a whole; the editor shows each
    next to its field. The message is the first of them, as "field: message".
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = (
            list(problems) if problems is not None else [_problem(message)]
        )


class JourneyChangedMeanwhile(JourneyImportError):
    """Someone else saved the journey after the editor opened it; nothing was written."""


_FIELD_PATH = re.compile(r"((?:[a-z_]+(?:\[\d+\])?)(?:\.[a-z_]+(?:\[\d+\])?)*): (.*)", re.DOTALL)
# Addresses of pages under /journeys/ that a journey's slug must not take.
RESERVED_SLUGS = frozenset({"new", "import"})
MAX_STEPS = 30


def _problem(message: str) -> tuple[str, str]:
    """ "steps[1].name: is required" → ("steps[1].name", "is required")."""
    found = _FIELD_PATH.fullmatch(message)
    return (found.group(1), found.group(2)) if found else ("", message)


class _Problems:
    """Problems gathered while checking a journey, so that all of them are reported at once."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, message: str) -> None:
        self.found.append(_problem(message))

    def text(
        self, data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = False
    ) -> str:
        raw = data.get(key, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            self.add(f"{where}{key}: must be text")
            return ""
        value = raw.strip()
        if required and not value:
            self.add(f"{where}{key}: is required")
        elif len(value) > limit:
            self.add(f"{where}{key}: at most {limit} characters")
        return value

    def raise_any(self) -> None:
        if self.found:
            field, message = self.found[0]
            raise JourneyImportError(f"{field}: {message}" if field else message, self.found)


@dataclasses.dataclass(frozen=True)
class _CleanJourney:
    name: str
    slug: str
    given_slug: bool
    description: str
    default: bool
    steps: list[dict[str, Any]]
    audience: str = ""
    start_signals: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _journey_clean(data: Any) -> _CleanJourney:
    """The journey's plain data checked (the shape journey_as_data gives); JourneyImportError
    lists every problem, each naming its field."""
    if not isinstance(data, dict):
        raise JourneyImportError("the journey must be a mapping with name and steps")
    problems = _Problems()
    unknown = set(data) - {
        "name",
        "slug",
        "description",
        "audience",
        "default",
        "start_signals",
        "steps",
    }
    if unknown:
        problems.add(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    name = problems.text(data, "name", "", limit=120, required=True)
    given_slug = bool(data.get("slug"))
    slug = slugify(str(data.get("slug") or name))[:80]
    if not slug and name:
        problems.add("slug: letters or digits are needed")
    elif slug in RESERVED_SLUGS:
        problems.add(f"name: “{slug}” is taken by a page of its own; choose another name")
    description = problems.text(data, "description", "", limit=5000)
    audience = problems.text(data, "audience", "", limit=200)
    default = data.get("default", False)
    if not isinstance(default, bool):
        problems.add("default: true or false")
        default = False
    start_signals = _signals_clean(problems, data.get("start_signals"), "start_signals")
    raw_steps = data.get("steps")
    steps: list[dict[str, Any]] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add("steps: a list of at least one step")
        raw_steps = []
    elif len(raw_steps) > MAX_STEPS:
        problems.add(f"steps: at most {MAX_STEPS}")
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_steps):
        where = f"steps[{n}]."
        if not isinstance(raw, dict):
            problems.add(f"steps[{n}]: a mapping with at least a name")
            continue
        unknown = set(raw) - {"name", "exit_signals", *STEP_TEXT_FIELDS}
        if unknown:
            problems.add(f"{where}{', '.join(sorted(map(str, unknown)))}: unknown field")
        exit_signals = _signals_clean(problems, raw.get("exit_signals"), f"{where}exit_signals")
        step_name = problems.text(raw, "name", where, limit=120, required=True)
        if step_name and step_name in seen:
            problems.add(
                f"{where}name: two steps have the same name (step {seen[step_name] + 1} "
                f"is called “{step_name}” too)"
            )
        seen.setdefault(step_name, n)
        steps.append(
            {
                "name": step_name,
                "exit_signals": exit_signals,
                **{f: problems.text(raw, f, where, limit=5000) for f in STEP_TEXT_FIELDS},
            }
        )
    problems.raise_any()
    return _CleanJourney(
        name=name,
        slug=slug,
        given_slug=given_slug,
        description=description,
        default=default,
        steps=steps,
        audience=audience,
        start_signals=start_signals,
    )


def _signals_clean(problems: _Problems, raw: Any, where: str) -> list[dict[str, Any]]:
    """A list of rules (exit or start signals) checked, each problem naming its field
    ("start_signals[0].count: ..."); the rules in their stored shape."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        problems.add(f"{where}: a list of rules")
        return []
    rules: list[dict[str, Any]] = []
    for m, item in enumerate(raw):
        try:
            rules.append(rule_parse(item, where=f"{where}[{m}]").as_dict())
        except RuleError as exc:
            problems.add(str(exc))
    return rules


def step_drop_refusal(step: JourneyStep) -> str:
    """Why `step` cannot be taken off its journey ("" when it can): people are on it now, or
    it is in someone's history (their transitions point at it, and history is never changed).
    The same words for the YAML import and the editor's "Remove step"."""
    if step.positions.exists():
        return (
            f"{step.name!r} (step {step.position}) has people on it and cannot be dropped; "
            "move them first"
        )
    if JourneyTransition.objects.filter(Q(from_step=step) | Q(to_step=step)).exists():
        return (
            f"{step.name!r} (step {step.position}) is in people's history and cannot be "
            "dropped; rename it instead"
        )
    return ""


def journey_import(*, data: Any, actor: User | None) -> Journey:
    """Create a journey from plain data (read from YAML), or update the one with its slug.

    Steps are matched by their order: step 3 stays the same step, renamed or with new
    signals, so the people on it and its history stay. A step that people are on cannot be
    dropped. Everything is checked before anything is written; JourneyImportError names the
    field. The same checks and writes as the editor's (journey_save).
    """
    slug = _journey_clean(data).slug
    return journey_save(
        data=data, actor=actor, journey=Journey.objects.filter(slug=slug).first(), via="yaml"
    )


def journey_save(
    *,
    data: Any,
    actor: User | None,
    journey: Journey | None = None,
    step_ids: Sequence[int | None] | None = None,
    unchanged_since: dt.datetime | None = None,
    via: str = "editor",
) -> Journey:
    """Create a journey (`journey` None) or change `journey`, from plain data in the shape
    journey_as_data gives (name, description, default, steps with their exit signals).

    `step_ids`: which existing step each of the data's steps is (None: a new step), so that a
    step moved, renamed or given new signals stays the same step, with the people on it and
    its history. Without them, steps are matched by their place (the YAML import). A step
    left out is removed, unless people are on it or it is in their history (refused).
    `unchanged_since`: the journey's updated_at when the editor opened it; if someone has
    saved it since, nothing is written. Everything is checked before anything is written;
    JourneyImportError names every field that is wrong. Audited.
    """
    clean = _journey_clean(data)
    if step_ids is not None and len(step_ids) != len(clean.steps):
        raise ValueError("one step id (or None) for each step")
    with transaction.atomic():
        created = journey is None
        if journey is None:
            if Journey.objects.filter(slug=clean.slug).exists():
                field = "slug" if clean.given_slug else "name"
                raise JourneyImportError(
                    f"{field}: another journey has the address “{clean.slug}”; choose another name"
                )
            journey = Journey(name=clean.name, slug=clean.slug)
        else:
            journey = Journey.objects.select_for_update().get(pk=journey.pk)
            if clean.given_slug and clean.slug != journey.slug:
                raise JourneyImportError(
                    f"slug: this is the journey “{journey.slug}”; its slug cannot change"
                )
            if unchanged_since is not None and journey.updated_at != unchanged_since:
                raise JourneyChangedMeanwhile(
                    "someone else saved this journey after you opened it, so nothing was "
                    "saved; save again to replace their changes with yours, or open the "
                    "journey again to start from theirs"
                )
        if Journey.objects.filter(name=clean.name).exclude(slug=journey.slug).exists():
            raise JourneyImportError(f"name: another journey is called {clean.name!r}")
        existing = {step.pk: step for step in journey.steps.all()} if not created else {}
        if step_ids is None:
            by_place = {step.position: step.pk for step in existing.values()}
            step_ids = [by_place.get(n) for n in range(1, len(clean.steps) + 1)]
        problems = _Problems()
        kept: set[int] = set()
        for n, step_id in enumerate(step_ids):
            if step_id is None:
                continue
            if step_id not in existing:
                problems.add(f"steps[{n}]: this step is no longer on the journey; add it anew")
            elif step_id in kept:
                problems.add(f"steps[{n}]: this step is in the list twice")
            kept.add(step_id)
        dropped = [step for pk, step in existing.items() if pk not in kept]
        for step in sorted(dropped, key=lambda s: s.position):
            refusal = step_drop_refusal(step)
            if refusal:
                problems.add(f"steps: {refusal}")
        problems.raise_any()

        before = {pk: step.name for pk, step in existing.items()}
        if clean.default:
            Journey.objects.filter(is_default=True).exclude(pk=journey.pk).update(is_default=False)
        journey.name, journey.description = clean.name, clean.description
        journey.audience, journey.start_signals = clean.audience, clean.start_signals
        journey.is_default = clean.default
        journey.updated_at = clock.now()
        journey.save()
        JourneyStep.objects.filter(pk__in=[s.pk for s in dropped]).delete()
        # Positions are unique on a journey: park the kept steps out of the way first, so
        # that reordering never collides.
        for step in existing.values():
            if step.pk in kept:
                step.position = 10_000 + step.position
                step.save(update_fields=["position"])
        for position, (item, step_id) in enumerate(zip(clean.steps, step_ids, strict=True), 1):
            step = existing[step_id] if step_id is not None else JourneyStep(journey=journey)
            step.position = position
            for field, value in item.items():
                setattr(step, field, value)
            step.save()
        audit_record(
            actor=actor,
            action="journey.create" if created else "journey.update",
            obj=journey,
            data={
                "via": via,
                "audience": clean.audience,
                "start_signals": [s["name"] for s in clean.start_signals],
                "steps": [s["name"] for s in clean.steps],
                "added": [
                    s["name"] for s, i in zip(clean.steps, step_ids, strict=True) if i is None
                ],
                "removed": [s.name for s in dropped],
                "renamed": [
                    [before[i], s["name"]]
                    for s, i in zip(clean.steps, step_ids, strict=True)
                    if i is not None and before[i] != s["name"]
                ],
            },
        )
    return journey


@dataclasses.dataclass(frozen=True)
class SignalIn:
    """One event another system reports (the events API): who, what, when."""

    name: str
    person_id: int | None = None
    email: str = ""
    occurred_at: dt.datetime | None = None
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)
    sender_id: str = ""  # the sender's own id for it: sent twice, recorded once


def events_record(
    *, signals: Sequence[SignalIn], actor: User | None, source: str = EventSource.API
) -> tuple[list[Event], int]:
    """Record events from another source (webinar attended, trial started, email clicked) on
    their people's timelines, then move their journeys. A person named by an address nobody has
    is made. Returns (the events recorded, how many were already recorded).

    Raises Person.DoesNotExist for a person_id that does not exist (checked before writing).
    """
    from leadline.capture.services import person_create
    from leadline.core.selectors import merge_survivor

    now = clock.now()
    ids = {s.person_id for s in signals if s.person_id is not None}
    people = Person.objects.in_bulk(ids)
    missing = ids - set(people)
    if missing:
        raise Person.DoesNotExist(f"no person with id {min(missing)}")
    with transaction.atomic():
        rows = []
        for signal in signals:
            if signal.person_id is not None:
                person = merge_survivor(people[signal.person_id])
            else:
                person, _ = person_create(
                    email=signal.email, fields={}, actor=actor, source="events API"
                )
            key = signal.sender_id or uuid.uuid4().hex
            rows.append(
                Event(
                    source=source,
                    name=signal.name,
                    person=person,
                    occurred_at=signal.occurred_at or now,
                    recorded_at=now,
                    properties=signal.properties,
                    dedupe_key=f"{source}:{key}"[:200],
                )
            )
        keys = [row.dedupe_key for row in rows]
        seen = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        fresh = {row.dedupe_key: row for row in rows if row.dedupe_key not in seen}
        Event.objects.bulk_create(fresh.values())
        TimelineEvent.objects.bulk_create(
            timeline_event(
                kind="signal",
                summary=event_words(event.name, event.properties),
                person=event.person,
                actor=actor,
                occurred_at=event.occurred_at,
                data={"event_id": event.pk, "name": event.name, "source": event.source},
            )
            for event in fresh.values()
        )
    signals_evaluate(person_ids=[event.person_id for event in fresh.values() if event.person_id])
    return list(fresh.values()), len(rows) - len(fresh)


def event_words(name: str, properties: dict[str, Any]) -> str:
    """ "webinar_attended" with {"title": "Closing faster"} → "Webinar attended: Closing faster"."""
    words = name.replace("_", " ").replace(".", " ").strip().capitalize()
    detail = properties.get("title") or properties.get("name") or properties.get("subject")
    return f"{words}: {detail}" if isinstance(detail, str) and detail else words
