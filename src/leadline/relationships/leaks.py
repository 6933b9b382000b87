"""The check that nothing is left with someone who has gone: every record still held by a
deactivated user, or by one whose handover date has passed (core.selectors.unassignable_because).
After a handover is applied and its day has come, this is empty; `leadline leaks` prints it.

Open requests whose owner is deactivated are routing's leaks (routing.selectors.leaks); here a
request counts only when its owner is still active but has left."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q

from leadline.booking.models import BookingPage, Meeting, MeetingStatus
from leadline.cadences.models import Enrolment, EnrolmentStatus, ManualTask
from leadline.cadences.models import TaskStatus as ManualStatus
from leadline.calls.models import CallTask
from leadline.calls.models import TaskStatus as CallStatus
from leadline.capture.models import RequestStatus
from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.core import clock
from leadline.core.models import User
from leadline.core.selectors import unassignable_because
from leadline.engagement.models import UNDECIDED, Handoff, Opportunity, OpportunityStatus
from leadline.routing.models import Ownership, RequestRouting


@dataclasses.dataclass(frozen=True)
class OwnerLeak:
    """One record held by someone who cannot hold it any more."""

    kind: str  # ownership, request, opportunity, handoff, enrolment, commitment, meeting, ...
    object_id: int
    label: str
    owner: User
    why: str  # "deactivated", "left on 12 Dec"

    def line(self) -> str:
        return f"{self.kind} {self.object_id}  {self.label}  — held by {self.owner}, {self.why}"


def _gone(field: str, at: dt.datetime) -> Q:
    return Q(**{f"{field}__is_active": False}) | Q(**{f"{field}__departs_at__lte": at})


def _collect(
    found: list[OwnerLeak],
    kind: str,
    rows: Iterable[Any],
    *,
    owner: Callable[[Any], User],
    label: Callable[[Any], str],
    at: dt.datetime,
) -> None:
    for row in rows:
        holder = owner(row)
        why = unassignable_because(holder, at=at) or "gone"
        found.append(
            OwnerLeak(kind=kind, object_id=row.pk, label=label(row), owner=holder, why=why)
        )


def inactive_owner_leaks(*, at: dt.datetime | None = None) -> list[OwnerLeak]:
    """Every record still held by a deactivated user or one who has left, by kind then id."""
    at = at or clock.now()
    found: list[OwnerLeak] = []
    _collect(
        found,
        "ownership",
        Ownership.objects.filter(_gone("owner", at), ended_at__isnull=True)
        .select_related("owner", "person", "account")
        .order_by("pk"),
        owner=lambda o: o.owner,
        label=lambda o: f"owns {o.person or o.account}",
        at=at,
    )
    _collect(
        found,
        "request",
        RequestRouting.objects.filter(
            owner__is_active=True, owner__departs_at__lte=at, request__status=RequestStatus.OPEN
        )
        .select_related("owner", "request__person")
        .order_by("request_id"),
        owner=lambda r: r.owner,
        label=lambda r: f"open request {r.request_id} from {r.request.person}",
        at=at,
    )
    _collect(
        found,
        "opportunity",
        Opportunity.objects.filter(_gone("owner", at), status=OpportunityStatus.OPEN)
        .select_related("owner", "person", "account")
        .order_by("pk"),
        owner=lambda o: o.owner,
        label=lambda o: f"open deal {o.name or ''} with {o.person or o.account}".replace("  ", " "),
        at=at,
    )
    _collect(
        found,
        "handoff",
        Handoff.objects.filter(_gone("owner", at), status__in=UNDECIDED)
        .select_related("owner", "person")
        .order_by("pk"),
        owner=lambda h: h.owner,
        label=lambda h: f"handoff of {h.person} waiting for a decision",
        at=at,
    )
    # A cadence's mail goes out "from" the person's current owner (cadences.services).
    sender_gone = Ownership.objects.filter(
        _gone("owner", at), person=OuterRef("person"), ended_at__isnull=True
    )
    enrolments = (
        Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE)
        .filter(Exists(sender_gone))
        .select_related("person", "cadence")
        .order_by("pk")
    )
    owners = {
        o.person_id: o.owner
        for o in Ownership.objects.filter(
            ended_at__isnull=True, person__in=[e.person_id for e in enrolments]
        ).select_related("owner")
    }
    _collect(
        found,
        "enrolment",
        enrolments,
        owner=lambda e: owners[e.person_id],
        label=lambda e: f"{e.person} in cadence “{e.cadence}”, sent as their owner",
        at=at,
    )
    _collect(
        found,
        "commitment",
        Commitment.objects.filter(
            _gone("promised_by", at),
            status__in=[CommitmentStatus.OPEN, CommitmentStatus.BROKEN],
        )
        .select_related("promised_by", "person")
        .order_by("pk"),
        owner=lambda c: c.promised_by,
        label=lambda c: f"promise “{c.what}” to {c.person}",
        at=at,
    )
    _collect(
        found,
        "meeting",
        Meeting.objects.filter(_gone("host", at), status=MeetingStatus.BOOKED, starts_at__gt=at)
        .select_related("host", "person")
        .order_by("pk"),
        owner=lambda m: m.host,
        label=lambda m: f"meeting “{m.title}” with {m.person} on {m.starts_at:%Y-%m-%d %H:%M}",
        at=at,
    )
    _collect(
        found,
        "call_task",
        CallTask.objects.filter(_gone("assignee", at), status=CallStatus.OPEN)
        .select_related("assignee", "person")
        .order_by("pk"),
        owner=lambda t: t.assignee,
        label=lambda t: f"call task “{t.title}” for {t.person}",
        at=at,
    )
    _collect(
        found,
        "manual_task",
        ManualTask.objects.filter(_gone("assignee", at), status=ManualStatus.OPEN)
        .select_related("assignee", "person")
        .order_by("pk"),
        owner=lambda t: t.assignee,
        label=lambda t: f"task “{t.title}” for {t.person}",
        at=at,
    )
    _collect(
        found,
        "booking_page",
        BookingPage.objects.filter(_gone("user", at), active=True)
        .select_related("user")
        .order_by("pk"),
        owner=lambda p: p.user,
        label=lambda p: f"booking page “{p.title}” (/book/{p.slug}/) still open",
        at=at,
    )
    return found


__all__ = ["OwnerLeak", "inactive_owner_leaks"]
