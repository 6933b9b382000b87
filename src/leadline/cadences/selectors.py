"""Reads for cadences: the list with its numbers, a person's enrolments, the tasks to do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, QuerySet

from leadline.cadences.models import (
    STOP_WORDS,
    Cadence,
    CadenceStep,
    Enrolment,
    EnrolmentLog,
    EnrolmentStatus,
    ManualTask,
    StopReason,
    TaskStatus,
    Waiting,
)
from leadline.core.deadlines import next_due
from leadline.core.models import Person, User
from leadline.routing.models import Ownership


def person_owner(person: Person) -> User | None:
    held = (
        Ownership.objects.filter(person=person, ended_at=None).select_related("owner__team").first()
    )
    return held.owner if held is not None else None


def _zone_ok(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def person_zone(person: Person, owner: User | None) -> str:
    """The person's time zone; without one, their owner's team's (then the owner's); else UTC."""
    if _zone_ok(person.time_zone):
        return person.time_zone
    if owner is not None:
        if owner.team is not None and _zone_ok(owner.team.time_zone):
            return owner.team.time_zone
        if _zone_ok(owner.time_zone):
            return owner.time_zone
    return "UTC"


def enrolment_next_due() -> dt.datetime | None:
    """When the next cadence step falls due, if any is waiting."""
    return next_due(enrolments_waiting(), field="next_run_at")


def enrolments_waiting() -> QuerySet[Enrolment]:
    """Active enrolments whose next step waits for a time (not for a call's outcome)."""
    return Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE, waiting_on=Waiting.TIME)


@dataclass
class CadenceStats:
    cadence: Cadence
    steps: int = 0
    active: int = 0
    finished: int = 0
    stopped: int = 0
    replies: int = 0
    stopped_by_reason: list[tuple[str, int]] = field(default_factory=list)


def cadences_overview(*, cadence_ids: list[int] | None = None) -> list[CadenceStats]:
    """Each cadence with how many are active, finished, stopped (by reason) and replied."""
    cadences = Cadence.objects.select_related("call_team").annotate(
        step_count=Count("steps", distinct=True)
    )
    if cadence_ids is not None:
        cadences = cadences.filter(pk__in=cadence_ids)
    stats = {c.pk: CadenceStats(cadence=c, steps=c.step_count) for c in cadences}
    rows = (
        Enrolment.objects.filter(cadence_id__in=list(stats))
        .values("cadence_id", "status", "stopped_reason")
        .annotate(n=Count("pk"))
        .order_by("cadence_id", "status", "stopped_reason")
    )
    for row in rows:
        entry = stats[row["cadence_id"]]
        if row["status"] == EnrolmentStatus.ACTIVE:
            entry.active += row["n"]
        elif row["status"] == EnrolmentStatus.FINISHED:
            entry.finished += row["n"]
        else:
            entry.stopped += row["n"]
            reason = row["stopped_reason"]
            label = StopReason(reason).label if reason in StopReason.values else reason
            entry.stopped_by_reason.append((label, row["n"]))
            if reason == StopReason.REPLIED:
                entry.replies += row["n"]
    return list(stats.values())


def cadence_stats(*, cadence: Cadence) -> CadenceStats:
    return cadences_overview(cadence_ids=[cadence.pk])[0]


def cadence_steps(*, cadence: Cadence) -> list[CadenceStep]:
    return list(cadence.steps.select_related("branch_to").order_by("position", "id"))


def enrolments_list(
    *,
    cadence: Cadence | None = None,
    person: Person | None = None,
    status: str = "",
) -> QuerySet[Enrolment]:
    rows = Enrolment.objects.select_related(
        "person", "cadence", "current_step", "enrolled_by"
    ).order_by("-enrolled_at", "-id")
    if cadence is not None:
        rows = rows.filter(cadence=cadence)
    if person is not None:
        rows = rows.filter(person=person)
    if status:
        rows = rows.filter(status=status)
    return rows


def enrolment_next(enrolment: Enrolment) -> str:
    """What comes next for the enrolment, in words (times in UTC; pages show local time)."""
    if enrolment.status == EnrolmentStatus.FINISHED:
        return "Finished every step"
    if enrolment.status == EnrolmentStatus.STOPPED:
        why = STOP_WORDS.get(StopReason(enrolment.stopped_reason), enrolment.stopped_reason)
        return f"Stopped because {why}" + (
            f" ({enrolment.stopped_detail})" if enrolment.stopped_detail else ""
        )
    step = enrolment.current_step
    what = step.describe() if step is not None else "The next step"
    if enrolment.waiting_on == Waiting.CALL_TASK:
        return f"{what}: waiting for the call to be logged"
    if enrolment.waiting_on == Waiting.MANUAL_TASK:
        return f"{what}: waiting for the task to be done"
    return what


def enrolment_log(*, enrolment: Enrolment) -> QuerySet[EnrolmentLog]:
    return enrolment.log.select_related("step").order_by("at", "id")


def person_cadences(*, person: Person) -> dict[str, Any]:
    """For the person page: their enrolments (active first, then newest), what comes next and
    when in their own time, and the cadences they could join."""
    enrolments = sorted(
        enrolments_list(person=person)[:20],
        key=lambda e: (e.status != EnrolmentStatus.ACTIVE, -e.enrolled_at.timestamp()),
    )
    zone = ZoneInfo(person_zone(person, person_owner(person)))
    rows = [
        {
            "enrolment": e,
            "next": enrolment_next(e),
            "local_when": e.next_run_at.astimezone(zone)
            if e.next_run_at and e.status == EnrolmentStatus.ACTIVE
            else None,
        }
        for e in enrolments
    ]
    active_ids = {e.cadence_id for e in enrolments if e.status == EnrolmentStatus.ACTIVE}
    open_cadences = [c for c in Cadence.objects.filter(is_active=True) if c.pk not in active_ids]
    return {
        "cadence_enrolments": rows,
        "cadences_to_join": open_cadences,
        "cadence_zone": str(zone),
    }


def manual_tasks_open(*, user: User) -> QuerySet[ManualTask]:
    """The user's open manual tasks, oldest due first."""
    return (
        ManualTask.objects.filter(assignee=user, status=TaskStatus.OPEN)
        .select_related("person", "enrolment__cadence")
        .order_by("due_at", "id")
    )


def manual_tasks_done_recently(*, user: User, limit: int = 10) -> QuerySet[ManualTask]:
    return (
        ManualTask.objects.filter(Q(assignee=user) | Q(done_by=user), status=TaskStatus.DONE)
        .select_related("person", "enrolment__cadence")
        .order_by("-done_at", "-id")[:limit]
    )
