"""Reads for commitments: a person's promises, lists for the API, the worker's next deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import Q, QuerySet

from leadline.commitments.models import Commitment, CommitmentStatus, CommitmentTimer
from leadline.core import clock
from leadline.core.deadlines import next_due
from leadline.core.models import Person, User

# How many settled promises a person's page shows (newest first).
HISTORY_SHOWN = 20


@dataclasses.dataclass(frozen=True)
class PersonCommitments:
    """A person's promises: what is still to do (soonest due first; overdue ones flagged by
    `Commitment.is_overdue`), and what was kept, broken or cancelled, newest first."""

    to_do: list[Commitment]
    history: list[Commitment]
    history_total: int
    kept: int
    broken: int
    overdue: int


def _with_people(rows: QuerySet[Commitment]) -> QuerySet[Commitment]:
    return rows.select_related("person", "promised_by", "conversation")


def person_commitments(*, person: Person, at: dt.datetime | None = None) -> PersonCommitments:
    at = at or clock.now()
    rows = _with_people(Commitment.objects.filter(person=person))
    # A broken promise is still to do: it can be kept late or cancelled.
    to_do = list(
        rows.filter(status__in=[CommitmentStatus.OPEN, CommitmentStatus.BROKEN]).order_by(
            "due_at", "pk"
        )
    )
    settled = rows.filter(status__in=[CommitmentStatus.KEPT, CommitmentStatus.CANCELLED])
    history = list(settled.order_by("-kept_at", "-cancelled_at", "-pk")[:HISTORY_SHOWN])
    everything = Commitment.objects.filter(person=person)
    return PersonCommitments(
        to_do=to_do,
        history=history,
        history_total=settled.count(),
        kept=everything.filter(status=CommitmentStatus.KEPT).count(),
        broken=everything.filter(broken_at__isnull=False).count(),
        overdue=sum(1 for c in to_do if c.is_overdue(at)),
    )


def commitments_query(
    *,
    person: Person | None = None,
    promised_by: User | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[Commitment]:
    """Commitments, soonest due first, narrowed by who they are to, who made them, their
    status, and whether they are overdue (still to do and past their due time)."""
    rows = _with_people(Commitment.objects.all())
    if person is not None:
        rows = rows.filter(person=person)
    if promised_by is not None:
        rows = rows.filter(promised_by=promised_by)
    if status:
        rows = rows.filter(status=status)
    if overdue is not None:
        late = Q(
            status__in=[CommitmentStatus.OPEN, CommitmentStatus.BROKEN],
            due_at__lte=at or clock.now(),
        )
        rows = rows.filter(late) if overdue else rows.exclude(late)
    return rows.order_by("due_at", "pk")


def commitment_timer_next_due() -> dt.datetime | None:
    """When the next reminder or due time falls, if any is waiting."""
    return next_due(CommitmentTimer.objects.filter(done_at__isnull=True))
