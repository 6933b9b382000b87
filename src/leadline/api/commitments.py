"""The API for commitments: promises made to prospects ("I'll send the pricing by Friday").
List them, make one, mark one kept or cancel it, and read the report per seller."""

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_errors
from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.commitments.selectors import commitments_query
from leadline.commitments.services import (
    REASON_MAX_CHARS,
    WHAT_MAX_CHARS,
    commitment_cancel,
    commitment_keep,
    commitment_make,
)
from leadline.core import clock
from leadline.core.models import Person, User
from leadline.core.permissions import (
    access_commitment_settle,
    access_commitments_report,
    access_people,
    access_person_edit,
)
from leadline.core.selectors import merge_survivor
from leadline.journeys.models import Conversation

router = Router(tags=["Commitments"])

NOTE_MAX = 2000


# Schemas ----------------------------------------------------------------------------------------


class CommitmentOut(Schema):
    id: int
    person_id: int
    person: str = Field(description="The name of whom it was promised to")
    conversation_id: int | None = Field(description="The conversation it was made in, if any")
    promised_by: str = Field(description="Username of the seller who promised it")
    what: str
    due_at: dt.datetime
    status: CommitmentStatus = Field(description="open, kept, broken or cancelled")
    overdue: bool = Field(description="Still to do (open or broken) and past its due time")
    made_at: dt.datetime
    kept_at: dt.datetime | None
    kept_on_time: bool | None = Field(description="Kept by its due time; null until kept")
    broken_at: dt.datetime | None = Field(
        description="When it passed its due time unkept (stays set when kept late afterwards)"
    )
    cancelled_at: dt.datetime | None
    cancel_reason: str
    note: str

    @staticmethod
    def resolve_person(obj: Commitment) -> str:
        return str(obj.person)

    @staticmethod
    def resolve_promised_by(obj: Commitment) -> str:
        return obj.promised_by.username

    @staticmethod
    def resolve_overdue(obj: Commitment) -> bool:
        return obj.is_overdue()

    @staticmethod
    def resolve_kept_on_time(obj: Commitment) -> bool | None:
        return obj.kept_on_time if obj.kept_at is not None else None


class CommitmentFilter(Schema):
    person_id: int | None = Field(None, description="Only those promised to this person")
    promised_by_id: int | None = Field(None, description="Only those this user promised")
    status: CommitmentStatus | None = Field(None, description="open, kept, broken or cancelled")
    overdue: bool | None = Field(
        None, description="true: only those still to do and past due; false: all but those"
    )


class CommitmentIn(Strict):
    person_id: int = Field(description="Whom it was promised to (404: unknown)")
    what: str = Field(min_length=1, max_length=WHAT_MAX_CHARS, examples=["Send the pricing"])
    due_on: dt.date | None = Field(
        None, description="Due by the end of this day, in the promiser's time zone"
    )
    due_at: dt.datetime | None = Field(
        None, description="Or due at this moment (with a time zone); give one of the two"
    )
    conversation_id: int | None = Field(
        None, description="The conversation it was made in (404: unknown)"
    )
    promised_by_id: int | None = Field(
        None,
        description="The seller who promised it (default: you; someone else: managers and "
        "admins only)",
    )
    note: str = Field("", max_length=NOTE_MAX)


class KeepIn(Strict):
    note: str = Field("", max_length=NOTE_MAX, description="What was done, if worth saying")


class CancelIn(Strict):
    reason: str = Field(
        min_length=1, max_length=REASON_MAX_CHARS, description="Why it no longer stands"
    )


class SellerPromisesOut(Schema):
    seller_id: int | None = Field(description="null on the total row")
    seller: str
    made: int
    kept_on_time: int
    kept_late: int
    broken: int = Field(description="Passed its due time unkept, whatever happened after")
    open_overdue: int = Field(description="Past due and still neither kept nor cancelled")
    open_not_due: int
    cancelled: int
    kept_rate: float | None = Field(
        description="Kept on time out of those that fell due (kept on time + broken)"
    )


class ReportOut(Schema):
    start: dt.date
    end: dt.date
    sellers: list[SellerPromisesOut]
    total: SellerPromisesOut


class ReportFilter(Schema):
    start: dt.date | None = Field(None, description="Promises made from this day (UTC)")
    end: dt.date | None = Field(None, description="…to this day, included (default: today)")


# Operations -------------------------------------------------------------------------------------


def _commitment(pk: int) -> Commitment:
    found = (
        Commitment.objects.filter(pk=pk)
        .select_related("person", "promised_by__team", "conversation")
        .first()
    )
    if found is None:
        raise HttpError(404, f"no commitment {pk}")
    return found


def _settleable(request: HttpRequest, pk: int) -> tuple[User, Commitment]:
    user = require(request, access_commitment_settle)
    commitment = _commitment(pk)
    if not access_commitment_settle(user, commitment):
        raise HttpError(
            403, "only the seller who made this promise, a sales manager or an admin may"
        )
    return user, commitment


@router.get(
    "/commitments",
    response={200: list[CommitmentOut], **REFUSALS},
    summary="List commitments",
)
@paginate(Paging)
@rule(access_people)
def commitments_list(
    request: HttpRequest, filters: Query[CommitmentFilter]
) -> QuerySet[Commitment]:
    """Promises made to prospects, soonest due first."""
    require(request, access_people)
    person = promiser = None
    if filters.person_id is not None:
        person = Person.objects.filter(pk=filters.person_id).first()
        if person is None:
            return Commitment.objects.none()
    if filters.promised_by_id is not None:
        promiser = User.objects.filter(pk=filters.promised_by_id).first()
        if promiser is None:
            return Commitment.objects.none()
    return commitments_query(
        person=person, promised_by=promiser, status=filters.status, overdue=filters.overdue
    )


@router.get(
    "/commitments/report",
    response={200: ReportOut, **REFUSALS},
    summary="Promises kept and broken, per seller",
)
@rule(access_commitments_report)
def commitments_report(request: HttpRequest, filters: Query[ReportFilter]) -> ReportOut:
    """Of the promises made in the period (default: the last 90 days): made, kept on time,
    kept late, broken, open and overdue, and the kept rate, per seller and in total."""
    from leadline.insight.commitments import DEFAULT_DAYS, MAX_DAYS, SellerPromises
    from leadline.insight.commitments import commitments_report as report

    require(request, access_commitments_report)
    end = filters.end or clock.now().astimezone(dt.UTC).date()
    start = filters.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise HttpError(422, "end: the period ends before it starts")
    if (end - start).days + 1 > MAX_DAYS:
        raise HttpError(422, f"the report reads at most {MAX_DAYS} days at once")
    found = report(start=start, end=end, tz=dt.UTC, at=clock.now())

    def row(r: SellerPromises) -> SellerPromisesOut:
        return SellerPromisesOut(
            seller_id=r.seller.pk if r.seller else None,
            seller=str(r.seller) if r.seller else "Everyone",
            made=r.made,
            kept_on_time=r.kept_on_time,
            kept_late=r.kept_late,
            broken=r.broken,
            open_overdue=r.open_overdue,
            open_not_due=r.open_not_due,
            cancelled=r.cancelled,
            kept_rate=r.kept_rate,
        )

    return ReportOut(
        start=found.start,
        end=found.end,
        sellers=[row(r) for r in found.rows],
        total=row(found.total),
    )


@router.get(
    "/commitments/{commitment_id}",
    response={200: CommitmentOut, 404: ErrorOut, **REFUSALS},
    summary="Get a commitment",
)
@rule(access_people)
def commitment_get(request: HttpRequest, commitment_id: int) -> Commitment:
    require(request, access_people)
    return _commitment(commitment_id)


@router.post(
    "/commitments",
    response={201: CommitmentOut, 404: ErrorOut, **REFUSALS},
    summary="Make a commitment",
)
@rule(access_person_edit)
def commitment_post(request: HttpRequest, payload: CommitmentIn) -> Status[Commitment]:
    """Record a promise to a person, due by the end of a day (`due_on`, in the promiser's time
    zone) or at a moment (`due_at`). The promiser is reminded the business day before and on
    the morning it is due; unkept at its due time it is broken, and they and their manager
    hear. A person id merged into another counts as the survivor."""
    user = require(request, access_person_edit)
    person = Person.objects.filter(pk=payload.person_id).first()
    if person is None:
        raise HttpError(404, f"no person {payload.person_id}")
    conversation = None
    if payload.conversation_id is not None:
        conversation = Conversation.objects.filter(pk=payload.conversation_id).first()
        if conversation is None:
            raise HttpError(404, f"no conversation {payload.conversation_id}")
    promiser = user
    if payload.promised_by_id is not None and payload.promised_by_id != user.pk:
        if not access_commitment_settle(user, Commitment(promised_by_id=payload.promised_by_id)):
            raise HttpError(403, "only sales managers and admins record others' promises")
        found = User.objects.filter(pk=payload.promised_by_id, is_active=True).first()
        if found is None:
            raise HttpError(404, f"no active user {payload.promised_by_id}")
        promiser = found
    try:
        made = commitment_make(
            person=merge_survivor(person),
            promised_by=promiser,
            what=payload.what,
            due_on=payload.due_on,
            due_at=payload.due_at,
            conversation=conversation,
            note=payload.note,
            actor=user,
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return Status(201, _commitment(made.pk))


@router.post(
    "/commitments/{commitment_id}/kept",
    response={200: CommitmentOut, 404: ErrorOut, **REFUSALS},
    summary="Mark a commitment kept",
)
@rule(access_commitment_settle)
def commitment_kept(request: HttpRequest, commitment_id: int, payload: KeepIn) -> Commitment:
    """Kept now: on time when by its due time, late after it (a broken promise can still be
    kept, late). Again: no change. A cancelled one: 422. The seller who made it, a sales
    manager or an admin."""
    user, commitment = _settleable(request, commitment_id)
    try:
        commitment_keep(commitment=commitment, actor=user, note=payload.note)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _commitment(commitment_id)


@router.post(
    "/commitments/{commitment_id}/cancel",
    response={200: CommitmentOut, 404: ErrorOut, **REFUSALS},
    summary="Cancel a commitment",
)
@rule(access_commitment_settle)
def commitment_cancel_post(
    request: HttpRequest, commitment_id: int, payload: CancelIn
) -> Commitment:
    """It no longer stands, for the reason given. A kept one: 422. A broken one stays counted
    as broken in the report."""
    user, commitment = _settleable(request, commitment_id)
    try:
        commitment_cancel(commitment=commitment, actor=user, reason=payload.reason)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _commitment(commitment_id)
