"""Writes for the buyer's journey: starting on it, moving along it (by signal or by hand), and
recording the signals capture sees.

Every move is one `JourneyTransition` row (never changed afterwards), the position it leads to,
and a timeline event that says which signal, or who, moved the buyer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils.text import slugify

from leadline.core import clock
from leadline.core.models import Account, Membership, Person, TimelineEvent, User
from leadline.core.services import audit_record, timeline_event
from leadline.journeys.models import (
    Event,
    EventSource,
    Journey,
    JourneyPosition,
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
        TimelineEvent.objects.bulk_create(_timeline_event(t) for t in moved)
        return moved


def _timeline_event(moved: JourneyTransition) -> TimelineEvent:
    from_step, to_step, journey = moved.from_step, moved.to_step, moved.journey
    backwards = from_step is not None and to_step.position < from_step.position
    verb = "Started at" if from_step is None else ("Moved back to" if backwards else "Moved to")
    why = _why(moved.cause, signal_name=moved.signal_name, moved_by=moved.moved_by)
    return timeline_event(
        kind="journey.moved",
        summary=f"{verb} “{to_step.name}” ({journey.name}) — {why}",
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
        position = (
            JourneyPosition.objects.select_for_update()
            .select_related("step")
            .filter(journey=journey, **{"person" if person else "account": subject})
            .first()
        )
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


def _rules(step: JourneyStep) -> list[Rule]:
    # Stored rules were checked when saved; a bad one (edited in the database) moves nobody.
    try:
        return rules_parse(step.exit_signals)
    except ValueError:
        return []


def signals_evaluate(*, person_ids: Sequence[int]) -> list[JourneyTransition]:
    """Move these people along every active journey as far as their events show, and their
    accounts' buying groups with them. Idempotent: run twice, the second run moves nobody.

    A person with no position starts on the default journey's first step. Each step's exit
    signals are tried in order; the first that holds moves them to the next step, and the next
    step's signals are tried in turn. An account moves forward (never back) when one of its
    people gets past its step.
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
        # Each step's rules read once here, not once per person at the step.
        rules_of = {step.pk: _rules(step) for j in journeys for step in j.steps.all()}
        events = _events_by_person(ids, [r for rules in rules_of.values() for r in rules])
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
                if position is None:
                    if not journey.is_default:
                        continue
                    position = moves.add(
                        journey=journey,
                        subject=person,
                        position=None,
                        to_step=steps[0],
                        cause=TransitionCause.START,
                        at=now,
                    )
                since = by_hand.get((journey.pk, person_id))
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
    """A journey that cannot be imported; the message names the field (steps[2].name, ...)."""


def _text(data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise JourneyImportError(f"{where}{key}: must be text")
    value = value.strip()
    if required and not value:
        raise JourneyImportError(f"{where}{key}: is required")
    if len(value) > limit:
        raise JourneyImportError(f"{where}{key}: at most {limit} characters")
    return value


def journey_import(*, data: Any, actor: User | None) -> Journey:
    """Create a journey from plain data (read from YAML), or update the one with its slug.

    Steps are matched by their order: step 3 stays the same step, renamed or with new
    signals, so the people on it and its history stay. A step that people are on cannot be
    dropped. Everything is checked before anything is written; JourneyImportError names the
    field.
    """
    if not isinstance(data, dict):
        raise JourneyImportError("the journey must be a mapping with name and steps")
    unknown = set(data) - {"name", "slug", "description", "default", "steps"}
    if unknown:
        raise JourneyImportError(f"unknown field(s): {', '.join(sorted(unknown))}")
    name = _text(data, "name", "", limit=120, required=True)
    slug = slugify(data.get("slug") or name)[:80]
    if not slug:
        raise JourneyImportError("slug: letters or digits are needed")
    description = _text(data, "description", "", limit=5000)
    default = data.get("default", False)
    if not isinstance(default, bool):
        raise JourneyImportError("default: true or false")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise JourneyImportError("steps: a list of at least one step")
    if len(raw_steps) > 30:
        raise JourneyImportError("steps: at most 30")
    steps = []
    for n, raw in enumerate(raw_steps):
        where = f"steps[{n}]."
        if not isinstance(raw, dict):
            raise JourneyImportError(f"steps[{n}]: a mapping with at least a name")
        unknown = set(raw) - {"name", "exit_signals", *STEP_TEXT_FIELDS}
        if unknown:
            raise JourneyImportError(f"{where}{', '.join(sorted(unknown))}: unknown field")
        try:
            rules = rules_parse(raw.get("exit_signals"), where=f"{where}exit_signals")
        except RuleError as exc:
            raise JourneyImportError(str(exc)) from exc
        steps.append(
            {
                "name": _text(raw, "name", where, limit=120, required=True),
                "exit_signals": [rule.as_dict() for rule in rules],
                **{f: _text(raw, f, where, limit=5000) for f in STEP_TEXT_FIELDS},
            }
        )
    if len({s["name"] for s in steps}) != len(steps):
        raise JourneyImportError("steps: two steps have the same name")

    with transaction.atomic():
        journey = Journey.objects.select_for_update().filter(slug=slug).first()
        created = journey is None
        if journey is None:
            if Journey.objects.filter(name=name).exists():
                raise JourneyImportError(f"name: another journey is called {name!r}")
            journey = Journey.objects.create(name=name, slug=slug)
        if default:
            Journey.objects.filter(is_default=True).exclude(pk=journey.pk).update(is_default=False)
        journey.name, journey.description, journey.is_default = name, description, default
        journey.updated_at = clock.now()
        journey.save()
        existing = {step.position: step for step in journey.steps.all()}
        dropped = [s for position, s in existing.items() if position > len(steps)]
        for step in dropped:
            if step.positions.exists():
                raise JourneyImportError(
                    f"steps: {step.name!r} (step {step.position}) has people on it and "
                    "cannot be dropped; move them first"
                )
            if JourneyTransition.objects.filter(Q(from_step=step) | Q(to_step=step)).exists():
                raise JourneyImportError(
                    f"steps: {step.name!r} (step {step.position}) is in people's history and "
                    "cannot be dropped; rename it instead"
                )
        JourneyStep.objects.filter(pk__in=[s.pk for s in dropped]).delete()
        # Names are not unique in the database, but positions are: park the kept steps out
        # of the way first, so that reordering never collides.
        for position, step in existing.items():
            if position <= len(steps):
                step.position = 10_000 + position
                step.save(update_fields=["position"])
        for position, item in enumerate(steps, start=1):
            step = existing.get(position) or JourneyStep(journey=journey)
            step.position = position
            for field, value in item.items():
                setattr(step, field, value)
            step.save()
        audit_record(
            actor=actor,
            action="journey.create" if created else "journey.update",
            obj=journey,
            data={"steps": [s["name"] for s in steps]},
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
