"""Reads for call tasks: whose queue holds what, and the card a caller sees for one call.

An outside caller sees only what a call needs: the person's name, phone numbers, company,
local time, the script and earlier call outcomes (notes marked private left out). The card is
built here, field by field, so nothing else of the person can leak into the page or the API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from django.db.models import Q, QuerySet

from leadline.calls.models import CallTask, TaskStatus
from leadline.core import clock
from leadline.core.models import Person, User
from leadline.core.permissions import access_people, is_outside_caller
from leadline.core.selectors import person_account
from leadline.outreach.selectors import (
    contact_check,
    contact_policy,
    country_zone,
    person_zone,
    quiet_until,
)
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import Touch, TouchKind

# The hours a person is called in, in their own time zone, when nothing else is known.
CALLING_HOURS = "Mon-Fri 09:00-18:00"


def call_queue(*, user: User) -> QuerySet[CallTask]:
    """The open calls `user` should make, due first: an outside caller's own and their team's
    (the ones given to nobody in particular); anyone else's own."""
    mine = Q(assignee=user)
    if is_outside_caller(user) and user.team_id is not None:
        mine |= Q(team_id=user.team_id, assignee__isnull=True)
    return (
        CallTask.objects.filter(mine, status=TaskStatus.OPEN)
        .select_related("person")
        .order_by("due_at", "id")
    )


def call_tasks_visible(*, user: User) -> QuerySet[CallTask]:
    """The tasks `user` may open: staff who may read people, any; others (outside callers), the
    tasks given to them or to their team, in any state. Any other task is "not found" to them."""
    tasks = CallTask.objects.select_related("person", "assignee", "team")
    if access_people(user):
        return tasks
    mine = Q(assignee=user)
    if user.team_id is not None:
        mine |= Q(team_id=user.team_id)
    return tasks.filter(mine)


@dataclasses.dataclass(frozen=True)
class EarlierCall:
    at: dt.datetime
    outcome: str
    note: str
    note_private: bool  # only ever true for staff: outside callers get no private note at all


@dataclasses.dataclass(frozen=True)
class ContactNow:
    """May the person be called now (outreach's check on the phone channel)."""

    allowed: bool
    reason: str
    code: str
    next_allowed_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class CallCard:
    """All a caller is shown for one call."""

    task: CallTask
    name: str
    phones: list[str]
    company: str
    time_zone: str
    local_time: dt.datetime | None
    outside_hours: bool
    script: str
    earlier_calls: list[EarlierCall]
    contact: ContactNow


def _zone(person: Person) -> zoneinfo.ZoneInfo | None:
    """The person's time zone, or their country's main one; None when neither is known."""
    for name in (person.time_zone, country_zone(person.country)):
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return None


def _outside_hours(person: Person, zone: zoneinfo.ZoneInfo | None, at: dt.datetime) -> bool:
    if zone is None:
        return False
    hours = WorkingHours.parse(CALLING_HOURS, time_zone=str(zone))
    return not hours.is_open(at)


# What stops a call that is already planned. The contact-pressure limit does not: a call task
# is counted when it is made (cadences reserve it then), so counting it again now would let the
# call stand in its own way.
CALL_STOPPERS = frozenset({"do_not_contact", "no_address", "quiet_hours"})


def contact_now(*, person: Person, at: dt.datetime | None = None) -> ContactNow:
    """May the person be called now: outreach's gate on the phone channel (do-not-contact, a
    phone number, quiet hours in their time zone), read only."""
    at = at or clock.now()
    verdict = contact_check(person=person, channel="phone", purpose="sales", at=at)
    if verdict.allowed or verdict.code in CALL_STOPPERS:
        return ContactNow(
            allowed=verdict.allowed,
            reason=verdict.reason,
            code=verdict.code,
            next_allowed_at=verdict.next_allowed_at,
        )
    # Refused for the limit: the gate stops at the first refusal, so ask about quiet hours.
    policy = contact_policy()
    zone = person_zone(person=person, policy=policy)
    until = quiet_until(at, zone=zone, policy=policy)
    if until is not None:
        local = at.astimezone(zone)
        return ContactNow(
            allowed=False,
            reason=f"Quiet hours where they are ({local:%A %H:%M}, {zone.key})",
            code="quiet_hours",
            next_allowed_at=until,
        )
    return ContactNow(allowed=True, reason="", code="", next_allowed_at=None)


def earlier_calls(
    *, person: Person, viewer: User, exclude_task: CallTask | None = None
) -> list[EarlierCall]:
    """The person's earlier calls, newest first: call tasks logged and call attempts recorded
    elsewhere (routing's touches of kind call). A note marked private is left out for anyone
    who may not read people (outside callers)."""
    staff = access_people(viewer)
    tasks = CallTask.objects.filter(person=person, status=TaskStatus.DONE)
    if exclude_task is not None:
        tasks = tasks.exclude(pk=exclude_task.pk)
    calls = [
        EarlierCall(
            at=task.done_at or task.created_at,
            outcome=task.get_outcome_display(),
            note=task.outcome_note if staff or not task.note_private else "",
            note_private=task.note_private and staff,
        )
        for task in tasks
    ]
    logged_here = CallTask.objects.filter(person=person, touch__isnull=False).values("touch_id")
    touches = Touch.objects.filter(person=person, kind=TouchKind.CALL).exclude(pk__in=logged_here)
    calls += [
        EarlierCall(
            at=touch.at,
            outcome=touch.get_outcome_display(),
            note=touch.note,
            note_private=False,
        )
        for touch in touches
    ]
    return sorted(calls, key=lambda call: call.at, reverse=True)


def call_card(*, task: CallTask, viewer: User, at: dt.datetime | None = None) -> CallCard:
    at = at or clock.now()
    person = task.person
    account = person_account(person)
    zone = _zone(person)
    contact = contact_now(person=person, at=at)
    return CallCard(
        task=task,
        name=person.full_name or "(no name given)",
        phones=[phone.e164 for phone in person.phones.order_by("created_at", "id")],
        company=account.name if account is not None else "",
        time_zone=str(zone) if zone is not None else "",
        local_time=at.astimezone(zone) if zone is not None else None,
        outside_hours=_outside_hours(person, zone, at) or contact.code == "quiet_hours",
        script=task.script,
        earlier_calls=earlier_calls(person=person, viewer=viewer, exclude_task=task),
        contact=contact,
    )


@dataclasses.dataclass(frozen=True)
class Skipped:
    task: CallTask
    reason: str


def call_next(
    *, user: User, at: dt.datetime | None = None
) -> tuple[CallTask | None, list[Skipped]]:
    """The next due call in `user`'s queue that may be made now; the ones passed over on the
    way (the person may not be called now: do-not-contact, quiet hours), each with why."""
    at = at or clock.now()
    skipped: list[Skipped] = []
    for task in call_queue(user=user).filter(due_at__lte=at)[:200]:
        verdict = contact_now(person=task.person, at=at)
        if verdict.allowed:
            return task, skipped
        skipped.append(Skipped(task=task, reason=verdict.reason))
    return None, skipped
