"""Writes for routing: every request gets exactly one owner and a first-touch deadline, at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.deadlines import due_ids, due_row_locked
from leadline.core.models import Role, Team, TimelineEvent, User
from leadline.core.services import audit_record, timeline_event, timeline_record
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.notify.services import Note, notify_user, notify_users, webhook_publish
from leadline.routing.business_hours import WorkingHours, first_touch_due
from leadline.routing.models import (
    Absence,
    Assignment,
    CallOutcome,
    EscalationLadder,
    Ownership,
    Queue,
    RequestRouting,
    RoutingRule,
    Step,
    Timer,
    Touch,
    TouchKind,
)
from leadline.routing.selectors import request_id_from_ref, request_ref

ROUTABLE_FIELDS = (
    "country",
    "employees",
    "industry",
    "kind",
    "form",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "wants_contact",
)
OPERATORS = ("eq", "ne", "in", "not_in", "gte", "lte", "contains")
URGENT_KINDS = ("contact", "demo", "pricing")
FAIRNESS_WINDOW = dt.timedelta(days=7)
# New requests routed in one transaction at most (the sweep's batches).
ROUTE_BATCH = 50


def routable_values(request: Request) -> dict[str, Any]:
    """What routing rules can look at, in one flat mapping."""
    person, account = request.person, request.account
    return {
        "country": person.country or (account.country if account else ""),
        "employees": account.employees if account else None,
        "industry": account.industry if account else "",
        "kind": request.kind,
        "form": request.form.slug if request.form else "",
        "campaign": request.campaign,
        "utm_source": request.utm_source,
        "utm_medium": request.utm_medium,
        "utm_campaign": request.utm_campaign,
        "wants_contact": request.wants_contact,
    }


def condition_holds(condition: dict[str, Any], values: dict[str, Any]) -> bool:
    field, op, expected = condition["field"], condition["op"], condition.get("value")
    actual = values.get(field)
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return actual in (expected or [])
    if op == "not_in":
        return actual not in (expected or [])
    if actual is None:
        return False
    if op == "gte":
        return bool(actual >= expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "contains":
        return str(expected).lower() in str(actual).lower()
    raise ValueError(f"unknown operator {op!r}")


def rule_matches(rule: RoutingRule, values: dict[str, Any]) -> bool:
    return all(condition_holds(c, values) for c in rule.conditions)


def team_hours(team: Team | None) -> WorkingHours:
    if team is None:
        return WorkingHours()
    return _hours(team.working_hours, team.time_zone, team.country)


@functools.lru_cache(maxsize=256)
def _hours(text: str, time_zone: str, country: str) -> WorkingHours:
    # Routing asks for every seller of every request: read each team's text once.
    return WorkingHours.parse(text, time_zone=time_zone, holiday_country=country)


def relationship_cap(user: User) -> int:
    return user.relationship_cap or settings.ROUTING_RELATIONSHIP_CAP


def seller_loads(user_ids: Iterable[int], *, at: dt.datetime | None = None) -> dict[int, int]:
    """{user id: active relationships}, counted by settings.ROUTING_LOADS (the relationships
    app decides what "active" means: an open request or deal, or a recent touch)."""
    counter: Callable[..., dict[int, int]] = import_string(settings.ROUTING_LOADS)
    return counter(user_ids=list(user_ids), at=at)


def active_relationships(user: User) -> int:
    return seller_loads([user.pk]).get(user.pk, 0)


OFF_HOURS = "outside working hours"


def _counts(rows: QuerySet[Any], users: Iterable[int]) -> dict[int, int]:
    """{owner id: rows} for these users, in one grouped query."""
    return dict(
        rows.filter(owner__in=list(users))
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )


@dataclasses.dataclass
class RoutingState:
    """What routing decides from, read once for a whole batch of requests and kept current as
    the batch is assigned, so each request costs no queries of its own."""

    at: dt.datetime
    rules: list[RoutingRule]
    default_team: Team | None
    sellers: dict[int, list[User]]  # team id: its sales reps, locked
    away: dict[int, Absence]  # user id: the absence they are on now
    loads: dict[int, int]  # user id: active relationships
    recent: dict[int, int]  # user id: leads given within the fairness window
    person_owner: dict[int, Ownership]
    account_owner: dict[int, Ownership]
    ladders: dict[int, Ladder] = dataclasses.field(default_factory=dict)

    def unavailable_because(self, user: User, *, urgent: bool) -> str | None:
        """Why routing may not give this seller a new lead now, or None when it may."""
        if not user.is_active:
            return "deactivated"
        if not user.accepts_new_leads:
            return "paused new leads"
        if user.departs_at is not None:
            # A handover is planned: nothing new for someone whose relationships are moving on.
            return f"handing over on {user.departs_at:%d %b}"
        absence = self.away.get(user.pk)
        if absence is not None:
            return f"away until {absence.ends_at:%d %b %H:%M} UTC"
        cap = relationship_cap(user)
        if self.loads.get(user.pk, 0) >= cap:
            return f"at their cap of {cap} relationships"
        if urgent and not team_hours(user.team).is_open(self.at):
            return OFF_HOURS
        return None

    def fairest(self, candidates: list[User]) -> User:
        """Round-robin weighted by free capacity: the fewest recent leads per free place wins."""

        def score(user: User) -> tuple[float, int]:
            free = max(relationship_cap(user) - self.loads.get(user.pk, 0), 1)
            return ((self.recent.get(user.pk, 0) + 1) / free, user.pk)

        return min(candidates, key=score)

    def rule_for(self, request: Request) -> RoutingRule | None:
        values = routable_values(request)
        return next((rule for rule in self.rules if rule_matches(rule, values)), None)

    def ladder(self, team: Team | None) -> Ladder:
        if team is None:
            return DEFAULT_LADDER
        if team.pk not in self.ladders:
            self.ladders[team.pk] = team_ladder(team)
        return self.ladders[team.pk]


def routing_state_load(*, requests: list[Request], at: dt.datetime) -> RoutingState:
    """Read what routing `requests` needs in a few queries, locking the sellers
    of the teams they may go to: two workers routing at once must not both fill a last free
    place."""
    rules = list(RoutingRule.objects.filter(is_active=True).select_related("team", "team__manager"))
    default_team = (
        Team.objects.select_related("manager").filter(name=settings.ROUTING_DEFAULT_TEAM).first()
    )
    state = RoutingState(
        at=at,
        rules=rules,
        default_team=default_team,
        sellers={},
        away={},
        loads={},
        recent={},
        person_owner={
            owned.person_id: owned
            for owned in Ownership.objects.select_related("owner", "owner__team").filter(
                person__in={r.person_id for r in requests}, ended_at__isnull=True
            )
            if owned.person_id is not None
        },
        account_owner={
            owned.account_id: owned
            for owned in Ownership.objects.select_related("owner", "owner__team").filter(
                account__in={r.account_id for r in requests if r.account_id},
                ended_at__isnull=True,
            )
            if owned.account_id is not None
        },
    )
    teams = {rule.team if rule else default_team for rule in map(state.rule_for, requests)}
    teams.discard(None)
    if teams:
        for seller in (
            User.objects.select_for_update(of=("self",))
            .select_related("team")
            .filter(team__in=teams, role=Role.SALES_REP)
            .order_by("pk")
        ):
            assert seller.team_id is not None
            state.sellers.setdefault(seller.team_id, []).append(seller)
    judged = {u.pk for team in state.sellers.values() for u in team}
    judged |= {o.owner_id for o in (*state.person_owner.values(), *state.account_owner.values())}
    state.away = {
        absence.user_id: absence
        for absence in Absence.objects.filter(
            user__in=judged, starts_at__lte=at, ends_at__gt=at
        ).order_by("starts_at")
    }
    state.loads = seller_loads(judged, at=at)
    state.recent = _counts(Assignment.objects.filter(at__gte=at - FAIRNESS_WINDOW), judged)
    return state


@dataclasses.dataclass
class Choice:
    owner: User | None
    team: Team | None
    rule: RoutingRule | None
    queue: str
    why: str
    skipped: list[dict[str, str]]


def _choose(request: Request, *, state: RoutingState, exclude: Iterable[int] = ()) -> Choice:
    urgent = request.wants_contact or request.kind in URGENT_KINDS
    skipped: list[dict[str, str]] = []
    excluded = set(exclude)

    def reason_to_skip(user: User, *, urgent: bool) -> str | None:
        if user.pk in excluded:
            return "already tried"
        return state.unavailable_because(user, urgent=urgent)

    # An existing relationship wins, whatever the hour: the owner knows them.
    for owned in (
        state.person_owner.get(request.person_id),
        state.account_owner.get(request.account_id) if request.account_id else None,
    ):
        if owned is None:
            continue
        reason = reason_to_skip(owned.owner, urgent=False)
        if reason is None:
            what = "this person" if owned.person_id else "the account"
            return Choice(owned.owner, owned.owner.team, None, Queue.OWNER, f"owns {what}", skipped)
        skipped.append({"user": str(owned.owner), "role": "their owner", "why": reason})

    rule = state.rule_for(request)
    team = rule.team if rule else state.default_team
    if team is not None:
        working_now, later_today = [], []
        for user in state.sellers.get(team.pk, []):
            reason = reason_to_skip(user, urgent=urgent)
            if reason is None:
                working_now.append(user)
            elif reason == OFF_HOURS:
                later_today.append(user)
            else:
                skipped.append({"user": str(user), "role": team.name, "why": reason})
        why = f"rule “{rule.name}”" if rule else f"default team {team.name}"
        if working_now:
            owner = state.fairest(working_now)
            skipped += [{"user": str(u), "role": team.name, "why": OFF_HOURS} for u in later_today]
            return Choice(owner, team, rule, Queue.OWNER, why, skipped)
        if later_today:
            # Nobody is working now: the first-touch clock starts when their day does.
            owner = state.fairest(later_today)
            return Choice(owner, team, rule, Queue.OWNER, f"{why}; nobody in hours now", skipped)

    return Choice(team_manager(team), team, rule, Queue.FALLBACK, "nobody could take it", skipped)


def team_manager(team: Team | None) -> User | None:
    """Who answers for the team: its manager, or else the first active sales manager."""
    if team is not None and team.manager is not None and team.manager.is_active:
        return team.manager
    return User.objects.filter(role=Role.SALES_MANAGER, is_active=True).order_by("pk").first()


def _describe(choice: Choice) -> str:
    who = str(choice.owner) if choice.owner else "nobody (no manager to hold the queue)"
    text = (
        f"Fallback queue, held by {who}"
        if choice.queue == Queue.FALLBACK
        else f"Assigned to {who} ({choice.why})"
    )
    if choice.skipped:
        text += "; skipped " + ", ".join(f"{s['user']} ({s['why']})" for s in choice.skipped)
    return text


def request_assign(
    *,
    request_id: int,
    actor: User | None = None,
    exclude: Iterable[int] = (),
    reason: str = "",
    fallback: bool = False,
) -> Assignment | None:
    """Give the request one owner and a first-touch deadline. Idempotent for a new request:
    one already routed is left alone unless `reason` says why it moves (reassignment).
    `fallback` sends it straight to the fallback queue (the last step of the ladder).

    The new holder hears of it (inbox and mail), on commit. A new request also gets the timers
    of its team's escalation ladder."""
    assigned = _requests_assign(
        [request_id], actor=actor, exclude=exclude, reason=reason, fallback=fallback
    )
    return assigned[0] if assigned else None


def requests_route_new(*, request_ids: Sequence[int]) -> list[Assignment]:
    """The capture pipeline's step for new requests (see settings.CAPTURE_REQUEST_HANDLERS):
    each gets one owner and a first-touch deadline, all in one transaction and with a fixed
    number of queries. Requests already routed are left alone."""
    return _requests_assign(request_ids)


def _requests_assign(
    request_ids: Sequence[int],
    *,
    actor: User | None = None,
    exclude: Iterable[int] = (),
    reason: str = "",
    fallback: bool = False,
) -> list[Assignment]:
    at = clock.now()
    with transaction.atomic():
        requests = list(
            Request.objects.select_for_update(of=("self",))
            .select_related("person", "account", "form")
            .filter(pk__in=list(request_ids))
            .order_by("pk")
        )
        # Read the routings again now that the requests are locked: on PostgreSQL the joined
        # row above comes from before the lock wait, so a request another worker routed
        # meanwhile (the sweep's safety net racing the submission drain) would look unrouted
        # and be routed twice.
        routings = {
            routing.request_id: routing
            for routing in RequestRouting.objects.select_related("team").filter(
                request__in=[r.pk for r in requests]
            )
        }
        for r in requests:
            if r.pk in routings:
                routings[r.pk].request = r
        if not reason:
            requests = [r for r in requests if r.pk not in routings]
        if not requests:
            return []
        state = routing_state_load(requests=[] if fallback else requests, at=at)
        assignments: list[Assignment] = []
        new_routings: list[RequestRouting] = []
        timers: list[Timer] = []
        ownerships: list[Ownership] = []
        notes: list[Note] = []
        for request in requests:
            routing = routings.get(request.pk)
            if fallback:
                team = routing.team if routing else None
                choice = Choice(team_manager(team), team, None, Queue.FALLBACK, "fallback", [])
            else:
                choice = _choose(request, state=state, exclude=exclude)
            summary = _describe(choice)
            assignments.append(
                Assignment(
                    request=request,
                    owner=choice.owner,
                    team=choice.team,
                    rule=choice.rule,
                    queue=choice.queue,
                    why=f"{reason}: {summary}" if reason else summary,
                    skipped=choice.skipped,
                    at=at,
                    actor=actor,
                )
            )
            if routing is None:
                due = None
                if request.status == RequestStatus.OPEN:
                    due = first_touch_due(
                        received_at=request.created_at,
                        kind=request.kind,
                        wants_contact=request.wants_contact,
                        hours=team_hours(choice.team),
                    )
                routing = RequestRouting(
                    request=request,
                    team=choice.team,
                    owner=choice.owner,
                    queue=choice.queue,
                    assigned_at=at,
                    first_touch_due=due,
                )
                new_routings.append(routing)
                routings[request.pk] = routing
                if due is not None:
                    timers += _timers_plan(
                        request=request, due=due, team=choice.team, ladder=state.ladder(choice.team)
                    )
            else:
                routing.team, routing.owner = choice.team, choice.owner
                routing.queue, routing.assigned_at = choice.queue, at
                routing.save(update_fields=["team", "owner", "queue", "assigned_at"])
            if choice.owner is not None and choice.queue == Queue.OWNER:
                ownerships += _ownership_take(owner=choice.owner, request=request, state=state)
                state.recent[choice.owner.pk] = state.recent.get(choice.owner.pk, 0) + 1
            if choice.owner is not None and request.status == RequestStatus.OPEN:
                notes.append(
                    _holder_note(
                        request=request, routing=routing, holder=choice.owner, reason=reason
                    )
                )
        Assignment.objects.bulk_create(assignments)
        RequestRouting.objects.bulk_create(new_routings)
        Timer.objects.bulk_create(timers, ignore_conflicts=True)
        Ownership.objects.bulk_create(ownerships)
        events = []
        for assignment in assignments:
            request, routing = assignment.request, routings[assignment.request.pk]
            events.append(
                timeline_event(
                    kind="request.assigned",
                    summary=assignment.why,
                    person=request.person,
                    account=request.account,
                    actor=actor,
                    occurred_at=at,
                    data={
                        "request_id": request.pk,
                        "assignment_id": assignment.pk,
                        "owner_id": assignment.owner_id,
                        "queue": assignment.queue,
                        "first_touch_due": routing.first_touch_due.isoformat()
                        if routing.first_touch_due
                        else None,
                        "skipped": assignment.skipped,
                    },
                )
            )
        TimelineEvent.objects.bulk_create(events)
        notify_users(notes=notes)
    return assignments


def _holder_note(*, request: Request, routing: RequestRouting, holder: User, reason: str) -> Note:
    label = request_label(request)
    if routing.queue == Queue.FALLBACK:
        title = f"In your fallback queue: {label}"
    elif reason:
        title = f"Reassigned to you: {label}"
    else:
        title = f"New request: {label}"
    lines = [f"{label} — {request.get_kind_display().lower()}."]
    if request.message:
        lines.append(f"In their words: “{request.message[:300]}”")
    if routing.first_touched_at is None and routing.first_touch_due is not None:
        lines.append(f"First touch due {local_time(routing.first_touch_due, holder)}.")
    if reason:
        lines.append(f"Why: {reason}.")
    return Note(
        user=holder,
        kind="request.assigned",
        title=title,
        body="\n".join(lines),
        link=person_link(request.person_id),
        person=request.person,
        subject_ref=request_ref(request.pk),
    )


def _ownership_take(*, owner: User, request: Request, state: RoutingState) -> list[Ownership]:
    """The new owner holds the relationship with the person, and with the account if unowned.
    Returns the ownerships to create; ends the one it replaces."""
    made = []
    current = state.person_owner.get(request.person_id)
    if current is None or current.owner_id != owner.pk:
        if current is not None:
            if current.pk is None:  # taken earlier in this batch, not stored yet
                current.ended_at = state.at
            else:
                Ownership.objects.filter(pk=current.pk).update(ended_at=state.at)
            state.loads[current.owner_id] = state.loads.get(current.owner_id, 1) - 1
        state.person_owner[request.person_id] = Ownership(
            owner=owner, person=request.person, started_at=state.at, reason="routed a request"
        )
        state.loads[owner.pk] = state.loads.get(owner.pk, 0) + 1
        made.append(state.person_owner[request.person_id])
    account = request.account
    if account is not None and account.pk not in state.account_owner:
        state.account_owner[account.pk] = Ownership(
            owner=owner, account=account, started_at=state.at, reason="routed a request"
        )
        made.append(state.account_owner[account.pk])
    return made


def touch_record(
    *,
    request: Request,
    user: User | None,
    kind: str,
    outcome: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> Touch:
    """A real attempt to reach the person; the first one meets the deadline of each of their
    open requests and settles the steps still waiting on it. The N-th call without reaching
    them tells the owner and the manager (the team's ladder says N)."""
    if kind not in TouchKind.values:
        raise ValidationError({"kind": f"Unknown kind of touch: {kind!r}"})
    if kind == TouchKind.CALL and outcome not in CallOutcome.values:
        raise ValidationError({"outcome": "A call attempt needs its outcome."})
    if kind != TouchKind.CALL and outcome:
        raise ValidationError({"outcome": "Only a call attempt has an outcome."})
    at = at or clock.now()
    with transaction.atomic():
        touch = Touch.objects.create(
            person=request.person,
            request=request,
            user=user,
            kind=kind,
            outcome=outcome,
            note=note,
            at=at,
        )
        waiting = RequestRouting.objects.filter(
            request__person=request.person,
            request__status=RequestStatus.OPEN,
            first_touched_at__isnull=True,
        )
        Timer.objects.filter(request__in=waiting.values("request"), done_at__isnull=True).update(
            done_at=at, outcome="not needed: touched"
        )
        waiting.update(first_touched_at=at)
        label = TouchKind(kind).label
        if outcome:
            label += f": {touch.get_outcome_display().lower()}"
        timeline_record(
            kind="touch.recorded",
            summary=label + (f" — {note}" if note else ""),
            person=request.person,
            actor=user,
            occurred_at=at,
            data={"touch_id": touch.pk, "request_id": request.pk, "kind": kind, "outcome": outcome},
        )
        if kind == TouchKind.CALL and outcome != CallOutcome.CONNECTED:
            _calls_without_contact_check(request=request, at=at)
    return touch


def _calls_without_contact_check(*, request: Request, at: dt.datetime) -> None:
    calls = Touch.objects.filter(request=request, kind=TouchKind.CALL)
    if calls.filter(outcome=CallOutcome.CONNECTED).exists():
        return
    routing = RequestRouting.objects.select_related("team", "owner").get(request=request)
    needed = team_ladder(routing.team).calls_without_contact
    # Exactly the N-th, so the signal goes out once.
    if calls.count() != needed:
        return
    label = request_label(request)
    summary = f"{needed} call attempts without reaching {label}"
    _escalate(
        request=request,
        routing=routing,
        kind="escalation.no_contact",
        title=f"No contact after {needed} calls: {label}",
        summary=summary,
        body=f"{summary}. Try another channel or another number, or hand it on.",
        at=at,
    )


def unrouted_requests_assign() -> int:
    """The safety net: route every open request that has no routing yet. Returns how many."""
    ids = list(
        Request.objects.filter(status=RequestStatus.OPEN, routing__isnull=True).values_list(
            "pk", flat=True
        )[:500]
    )
    for start in range(0, len(ids), ROUTE_BATCH):
        requests_route_new(request_ids=ids[start : start + ROUTE_BATCH])
    return len(ids)


# Escalation: the ladder's timers and the failure signals ---------------------------------------


@dataclasses.dataclass(frozen=True)
class Ladder:
    remind_before: dt.timedelta | None
    reassign_after: dt.timedelta | None
    fallback_after: dt.timedelta | None
    calls_without_contact: int


DEFAULT_LADDER = Ladder(
    remind_before=dt.timedelta(minutes=15),
    reassign_after=dt.timedelta(hours=1),
    fallback_after=dt.timedelta(hours=4),
    calls_without_contact=3,
)


def team_ladder(team: Team | None) -> Ladder:
    row = EscalationLadder.objects.filter(team=team).first() if team is not None else None
    if row is None:
        return DEFAULT_LADDER
    return Ladder(
        remind_before=row.remind_before,
        reassign_after=row.reassign_after,
        fallback_after=row.fallback_after,
        calls_without_contact=row.calls_without_contact,
    )


def request_label(request: Request) -> str:
    person = str(request.person)
    return f"{person} ({request.account.name})" if request.account else person


def person_link(person_id: int) -> str:
    return reverse("web:person", args=[person_id])


def local_time(moment: dt.datetime, user: User | None) -> str:
    """A moment as the user reads it: in their own time zone, else their team's, else UTC."""
    name = (user.time_zone or (user.team.time_zone if user.team else "")) if user else ""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(name) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = timezone.localtime(moment, zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _timers_plan(
    *, request: Request, due: dt.datetime, team: Team | None, ladder: Ladder
) -> list[Timer]:
    """The ladder's steps for a new request, as rows the worker will find when they are due."""
    hours = team_hours(team)
    steps: list[tuple[str, dt.datetime]] = [(Step.BREACH, due)]
    if ladder.remind_before is not None and due - ladder.remind_before > request.created_at:
        steps.append((Step.REMIND, due - ladder.remind_before))
    if ladder.reassign_after is not None:
        steps.append((Step.REASSIGN, hours.add_business_time(due, ladder.reassign_after)))
    if ladder.fallback_after is not None:
        steps.append((Step.FALLBACK, hours.add_business_time(due, ladder.fallback_after)))
    return [Timer(request=request, step=step, due_at=due_at) for step, due_at in steps]


def _escalate(
    *,
    request: Request,
    routing: RequestRouting,
    kind: str,
    title: str,
    summary: str,
    body: str,
    at: dt.datetime,
    tell_owner: bool = True,
) -> list[User]:
    """Tell the manager (and the owner) about a step that failed; put it on the timeline and on
    the webhooks. Returns who was told."""
    manager = team_manager(routing.team)
    told: list[User] = []
    for user in (manager, routing.owner if tell_owner else None):
        if user is None or user in told or not user.is_active:
            continue
        notify_user(
            user=user,
            kind=kind,
            title=title,
            body=body,
            link=person_link(request.person_id),
            person=request.person,
            subject_ref=request_ref(request.pk),
        )
        told.append(user)
    names = " and ".join(str(u) for u in told) or "nobody (no active manager)"
    timeline_record(
        kind=kind,
        summary=f"{summary}; told {names}",
        person=request.person,
        account=request.account,
        occurred_at=at,
        data={"request_id": request.pk, "told": [u.pk for u in told]},
    )
    webhook_publish(
        kind=kind,
        payload={
            "request_id": request.pk,
            "person_id": request.person_id,
            "owner": str(routing.owner) if routing.owner else None,
            "first_touch_due": routing.first_touch_due,
            "at": at,
        },
        text=f"{title} — {summary}"[:500],
    )
    return told


def _step_remind(*, request: Request, routing: RequestRouting, at: dt.datetime) -> str:
    owner = routing.owner
    if owner is None or routing.queue != Queue.OWNER or routing.first_touch_due is None:
        return "skipped: nobody to remind"
    if at >= routing.first_touch_due:
        return "skipped: the deadline has passed (the clock jumped)"
    due = local_time(routing.first_touch_due, owner)
    label = request_label(request)
    notify_user(
        user=owner,
        kind="escalation.reminder",
        title=f"First touch due {due}: {label}",
        body=f"{label} is waiting for a first touch (a call, a mail, a meeting) by {due}.",
        link=person_link(request.person_id),
        person=request.person,
        subject_ref=request_ref(request.pk),
    )
    timeline_record(
        kind="escalation.reminder",
        summary=f"Reminded {owner}: first touch due {local_time(routing.first_touch_due, None)}",
        person=request.person,
        account=request.account,
        occurred_at=at,
        data={"request_id": request.pk, "owner_id": owner.pk},
    )
    return f"reminded {owner}"


def _step_breach(*, request: Request, routing: RequestRouting, at: dt.datetime) -> str:
    assert routing.first_touch_due is not None
    label = request_label(request)
    owner = routing.owner
    due = local_time(routing.first_touch_due, None)
    summary = f"First-touch deadline missed ({due}) by {owner or 'nobody'}"
    told = _escalate(
        request=request,
        routing=routing,
        kind="escalation.breach",
        title=f"Missed first-touch deadline: {label}",
        summary=summary,
        body=(
            f"{label} asked for {request.get_kind_display().lower()} on "
            f"{local_time(request.created_at, None)}. The first touch was due {due} "
            f"({owner or 'no owner'}); nobody has reached them yet."
        ),
        at=at,
    )
    return "told " + (", ".join(str(u) for u in told) or "nobody")


def _step_reassign(*, request: Request, routing: RequestRouting, at: dt.datetime) -> str:
    if routing.queue == Queue.FALLBACK:
        return "skipped: already in the fallback queue"
    tried = set(
        Assignment.objects.filter(request=request, owner__isnull=False).values_list(
            "owner", flat=True
        )
    )
    assignment = request_assign(
        request_id=request.pk, exclude=tried, reason="First touch overdue; handed on"
    )
    assert assignment is not None
    return f"now with {assignment.owner or 'nobody'} ({assignment.get_queue_display()})"


def _step_fallback(*, request: Request, routing: RequestRouting, at: dt.datetime) -> str:
    if routing.queue == Queue.FALLBACK:
        return "skipped: already in the fallback queue"
    assignment = request_assign(request_id=request.pk, reason="Still no first touch", fallback=True)
    assert assignment is not None
    return f"fallback queue, held by {assignment.owner or 'nobody'}"


STEPS = {
    Step.REMIND: _step_remind,
    Step.BREACH: _step_breach,
    Step.REASSIGN: _step_reassign,
    Step.FALLBACK: _step_fallback,
}


def timer_fire(*, timer_id: int) -> Timer | None:
    """Do one due step, once: the timer row is locked and marked done in the same transaction
    as the step's effects. None when there was nothing to do (not due, done, or another worker
    holds it)."""
    at = clock.now()
    with transaction.atomic():
        timer = due_row_locked(
            Timer.objects.select_related("request__person", "request__account"), pk=timer_id, at=at
        )
        if timer is None:
            return None
        request = timer.request
        routing = (
            RequestRouting.objects.select_for_update(of=("self",))
            .select_related("owner", "team")
            .filter(request=request)
            .first()
        )
        if request.status != RequestStatus.OPEN:
            outcome = "not needed: the request is closed"
        elif routing is None:
            outcome = "not needed: never routed"
        elif routing.first_touched_at is not None:
            outcome = "not needed: touched"
        else:
            outcome = STEPS[Step(timer.step)](request=request, routing=routing, at=at)
        timer.done_at, timer.outcome = at, outcome[:300]
        timer.save(update_fields=["done_at", "outcome"])
    return timer


def timers_fire_due(*, limit: int = 200) -> int:
    """Do every step that is due now, oldest first, at most `limit`; how many were done."""
    ids = due_ids(Timer.objects.filter(done_at__isnull=True), limit=limit)
    return sum(timer_fire(timer_id=pk) is not None for pk in ids)


def _unavailable_routings(*, at: dt.datetime, user: User | None = None) -> list[RequestRouting]:
    open_routings = RequestRouting.objects.filter(request__status=RequestStatus.OPEN)
    if user is not None:
        open_routings = open_routings.filter(owner=user)
    deactivated = open_routings.filter(owner__is_active=False)
    away = open_routings.filter(
        queue=Queue.OWNER,
        first_touched_at__isnull=True,
        owner__absences__starts_at__lte=at,
        owner__absences__ends_at__gt=at,
    )
    return list((deactivated | away).select_related("owner").distinct()[:500])


def owners_unavailable_reassign(*, user: User | None = None) -> int:
    """Hand on every open request whose owner is deactivated, and every one still waiting for
    its first touch whose owner is away now. The worker's sweep runs it; so do the services that
    deactivate someone or record an absence. Returns how many moved."""
    at = clock.now()
    moved = 0
    for routing in _unavailable_routings(at=at, user=user):
        owner = routing.owner
        assert owner is not None
        why = "deactivated" if not owner.is_active else "away"
        with transaction.atomic():
            # Every worker's sweep lists the same routings: hand one on only if it is still
            # this owner's once locked, else a second worker would hand it on again.
            still = (
                RequestRouting.objects.select_for_update(of=("self",))
                .filter(request_id=routing.request_id, owner=owner)
                .first()
            )
            if still is None:
                continue
            request_assign(
                request_id=routing.request_id,
                exclude=[owner.pk],
                reason=f"{owner} is {why}; handed on",
            )
        moved += 1
    return moved


def user_deactivate(*, user: User, actor: User | None) -> int:
    """Deactivate a user; their open requests go to the next available seller at once.
    Returns how many requests moved."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        audit_record(actor=actor, action="user.deactivate", obj=user)
        return owners_unavailable_reassign(user=user)


def absence_record(
    *,
    user: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
    actor: User | None,
) -> Absence:
    """Record time away. Routing skips them while away; requests of theirs still waiting for a
    first touch move on when the absence starts (at once when it already has)."""
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "Must be after the start."})
    with transaction.atomic():
        absence = Absence.objects.create(
            user=user, starts_at=starts_at, ends_at=ends_at, reason=reason
        )
        audit_record(actor=actor, action="absence.record", obj=absence)
        if starts_at <= clock.now():
            owners_unavailable_reassign(user=user)
    return absence


def absence_end(*, absence: Absence, actor: User | None) -> None:
    """They are back (or will not go): the absence ends now, or is dropped if not yet begun."""
    at = clock.now()
    with transaction.atomic():
        audit_record(actor=actor, action="absence.end", obj=absence)
        if absence.starts_at >= at:
            absence.delete()
        elif absence.ends_at > at:
            Absence.objects.filter(pk=absence.pk).update(ends_at=at)


def request_mail_outcome(*, mail: OutgoingMail) -> None:
    """notify's hook for a mail to a prospect that was sent or given up on
    (settings.NOTIFY_MAIL_OUTCOME_HANDLERS).

    Sent, about a request ("request:<id>"): a touch — the mail actually left. Not delivered
    (the receiving server refused it, or every attempt failed): the owner and the manager hear,
    since a first touch by mail will not arrive."""
    if mail.person is None:
        return
    if mail.status == SendStatus.SENT:
        request_id = request_id_from_ref(mail.subject_ref)
        if request_id is None:
            return
        request = Request.objects.select_related("person").filter(pk=request_id).first()
        if request is not None:
            touch_record(
                request=request,
                user=None,
                kind=TouchKind.EMAIL,
                note=f"“{mail.subject}”",
                at=mail.sent_at,
            )
        return
    at = clock.now()
    for routing in RequestRouting.objects.filter(
        request__person=mail.person, request__status=RequestStatus.OPEN
    ).select_related("owner", "team", "request__person", "request__account"):
        request = routing.request
        label = request_label(request)
        address = ", ".join(mail.to)
        _escalate(
            request=request,
            routing=routing,
            kind="escalation.bounce",
            title=f"Mail to {label} bounced",
            summary=f"Mail to {address} could not be delivered",
            body=(
                f"“{mail.subject}” to {address} could not be delivered: "
                f"{mail.last_error[:300]}. Call them, or find another address."
            ),
            at=at,
        )
