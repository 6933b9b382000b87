"""Writes for routing: every request gets exactly one owner and a first-touch deadline, at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet

from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.core.services import timeline_record
from leadline.routing.business_hours import WorkingHours, first_touch_due
from leadline.routing.models import (
    Absence,
    Assignment,
    Ownership,
    Queue,
    RequestRouting,
    RoutingRule,
    Touch,
    TouchKind,
)

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
    return WorkingHours.parse(
        team.working_hours, time_zone=team.time_zone, holiday_country=team.country
    )


def relationship_cap(user: User) -> int:
    return user.relationship_cap or settings.ROUTING_RELATIONSHIP_CAP


def _relationships() -> QuerySet[Ownership]:
    """Active relationships: people a seller currently owns and must keep up with."""
    return Ownership.objects.filter(ended_at__isnull=True, person__isnull=False)


def active_relationships(user: User) -> int:
    return _relationships().filter(owner=user).count()


OFF_HOURS = "outside working hours"


def unavailable_because(user: User, *, at: dt.datetime, urgent: bool) -> str | None:
    """Why routing may not give this seller a new lead now, or None when it may."""
    if not user.is_active:
        return "deactivated"
    if not user.accepts_new_leads:
        return "paused new leads"
    absence = Absence.objects.filter(user=user, starts_at__lte=at, ends_at__gt=at).first()
    if absence is not None:
        return f"away until {absence.ends_at:%d %b %H:%M} UTC"
    load, cap = active_relationships(user), relationship_cap(user)
    if load >= cap:
        return f"at their cap of {cap} relationships"
    if urgent and not team_hours(user.team).is_open(at):
        return OFF_HOURS
    return None


@dataclasses.dataclass
class Choice:
    owner: User | None
    team: Team | None
    rule: RoutingRule | None
    queue: str
    why: str
    skipped: list[dict[str, str]]


def _fairest(candidates: list[User], *, at: dt.datetime) -> User:
    """Round-robin weighted by free capacity: the fewest recent leads per free place wins."""
    recent = dict(
        Assignment.objects.filter(owner__in=candidates, at__gte=at - FAIRNESS_WINDOW)
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )

    # One grouped count for everyone, not a count per candidate.
    loads = dict(
        _relationships()
        .filter(owner__in=candidates)
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )

    def score(user: User) -> tuple[float, int]:
        free = max(relationship_cap(user) - loads.get(user.pk, 0), 1)
        return ((recent.get(user.pk, 0) + 1) / free, user.pk)

    return min(candidates, key=score)


def _sellers(team: Team) -> list[User]:
    # Lock the team's sellers: two workers routing at once must not both fill a last free place.
    return list(
        User.objects.select_for_update().filter(team=team, role=Role.SALES_REP).order_by("pk")
    )


def _choose(request: Request, *, at: dt.datetime, exclude: Iterable[int] = ()) -> Choice:
    urgent = request.wants_contact or request.kind in URGENT_KINDS
    skipped: list[dict[str, str]] = []
    excluded = set(exclude)

    def reason_to_skip(user: User, *, urgent: bool) -> str | None:
        if user.pk in excluded:
            return "already tried"
        return unavailable_because(user, at=at, urgent=urgent)

    # An existing relationship wins, whatever the hour: the owner knows them.
    for owned in (
        Ownership.objects.filter(person=request.person, ended_at__isnull=True).first(),
        Ownership.objects.filter(account=request.account, ended_at__isnull=True).first()
        if request.account
        else None,
    ):
        if owned is None:
            continue
        reason = reason_to_skip(owned.owner, urgent=False)
        if reason is None:
            what = "this person" if owned.person_id else "the account"
            return Choice(owned.owner, owned.owner.team, None, Queue.OWNER, f"owns {what}", skipped)
        skipped.append({"user": str(owned.owner), "role": "their owner", "why": reason})

    values = routable_values(request)
    rule = next(
        (r for r in RoutingRule.objects.filter(is_active=True) if rule_matches(r, values)), None
    )
    team = rule.team if rule else Team.objects.filter(name=settings.ROUTING_DEFAULT_TEAM).first()
    if team is not None:
        working_now, later_today = [], []
        for user in _sellers(team):
            reason = reason_to_skip(user, urgent=urgent)
            if reason is None:
                working_now.append(user)
            elif reason == OFF_HOURS:
                later_today.append(user)
            else:
                skipped.append({"user": str(user), "role": team.name, "why": reason})
        why = f"rule “{rule.name}”" if rule else f"default team {team.name}"
        if working_now:
            owner = _fairest(working_now, at=at)
            skipped += [{"user": str(u), "role": team.name, "why": OFF_HOURS} for u in later_today]
            return Choice(owner, team, rule, Queue.OWNER, why, skipped)
        if later_today:
            # Nobody is working now: the first-touch clock starts when their day does.
            owner = _fairest(later_today, at=at)
            return Choice(owner, team, rule, Queue.OWNER, f"{why}; nobody in hours now", skipped)

    manager = (team.manager if team else None) or User.objects.filter(
        role=Role.SALES_MANAGER, is_active=True
    ).order_by("pk").first()
    if manager is not None and not manager.is_active:
        manager = None
    return Choice(manager, team, rule, Queue.FALLBACK, "nobody could take it", skipped)


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
) -> Assignment | None:
    """Give the request one owner and a first-touch deadline. Idempotent for a new request:
    one already routed is left alone unless `reason` says why it moves (reassignment)."""
    at = clock.now()
    with transaction.atomic():
        request = (
            Request.objects.select_for_update(of=("self",))
            .select_related("person", "account", "form")
            .get(pk=request_id)
        )
        routing = RequestRouting.objects.filter(request=request).first()
        if routing is not None and not reason:
            return None
        choice = _choose(request, at=at, exclude=exclude)
        summary = _describe(choice)
        assignment = Assignment.objects.create(
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
        due = routing.first_touch_due if routing else None
        if routing is None and request.status == RequestStatus.OPEN:
            due = first_touch_due(
                received_at=request.created_at,
                kind=request.kind,
                wants_contact=request.wants_contact,
                hours=team_hours(choice.team),
            )
        RequestRouting.objects.update_or_create(
            request=request,
            defaults={
                "team": choice.team,
                "owner": choice.owner,
                "queue": choice.queue,
                "assigned_at": at,
                "first_touch_due": due,
            },
        )
        if choice.owner is not None and choice.queue == Queue.OWNER:
            _ownership_take(owner=choice.owner, request=request, at=at)
        timeline_record(
            kind="request.assigned",
            summary=assignment.why,
            person=request.person,
            account=request.account,
            actor=actor,
            occurred_at=at,
            data={
                "request_id": request.pk,
                "assignment_id": assignment.pk,
                "owner_id": choice.owner.pk if choice.owner else None,
                "queue": choice.queue,
                "first_touch_due": due.isoformat() if due else None,
                "skipped": choice.skipped,
            },
        )
    return assignment


def _ownership_take(*, owner: User, request: Request, at: dt.datetime) -> None:
    """The new owner holds the relationship with the person, and with the account if unowned."""
    current = Ownership.objects.filter(person=request.person, ended_at__isnull=True).first()
    if current is None or current.owner_id != owner.pk:
        if current is not None:
            Ownership.objects.filter(pk=current.pk).update(ended_at=at)
        Ownership.objects.create(
            owner=owner, person=request.person, started_at=at, reason="routed a request"
        )
    if (
        request.account is not None
        and not Ownership.objects.filter(account=request.account, ended_at__isnull=True).exists()
    ):
        Ownership.objects.create(
            owner=owner, account=request.account, started_at=at, reason="routed a request"
        )


def request_route_new(*, request_id: int) -> None:
    """The capture pipeline's step for a new request (see settings.CAPTURE_REQUEST_HANDLERS)."""
    request_assign(request_id=request_id)


def touch_record(
    *,
    request: Request,
    user: User | None,
    kind: str,
    outcome: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> Touch:
    """A real attempt to reach the person; the first one on a request meets its deadline."""
    if kind == TouchKind.CALL and not outcome:
        raise ValueError("a call attempt needs its outcome")
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
        RequestRouting.objects.filter(
            request__person=request.person,
            request__status=RequestStatus.OPEN,
            first_touched_at__isnull=True,
        ).update(first_touched_at=at)
        label = TouchKind(kind).label
        if outcome:
            label += f": {touch.get_outcome_display().lower()}"
        timeline_record(
            kind="touch.recorded",
            summary=label,
            person=request.person,
            actor=user,
            occurred_at=at,
            data={"touch_id": touch.pk, "request_id": request.pk, "kind": kind, "outcome": outcome},
        )
    return touch


def unrouted_requests_assign() -> int:
    """The safety net: route every open request that has no routing yet. Returns how many."""
    ids = list(
        Request.objects.filter(status=RequestStatus.OPEN, routing__isnull=True).values_list(
            "pk", flat=True
        )[:500]
    )
    for request_id in ids:
        request_assign(request_id=request_id)
    return len(ids)
