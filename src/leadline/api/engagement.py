"""The API for qualification, lifecycle and handoffs: list and create handoffs, accept or reject
them, close opportunities, a person's lifecycle and its history, and the lead-quality report."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_errors
from leadline.core.models import Person, User
from leadline.core.permissions import (
    access_handoff_create,
    access_handoffs,
    access_lead_quality,
    access_people,
)
from leadline.core.selectors import merge_survivor
from leadline.engagement.models import (
    UNDECIDED,
    Handoff,
    HandoffStatus,
    LifecycleChange,
    Opportunity,
    OpportunityStatus,
    RejectionReason,
    Stage,
    Trigger,
)
from leadline.engagement.selectors import (
    handoff_may_decide,
    handoffs_query,
    lifecycle_current,
    lifecycle_history,
    opportunity_may_close,
    rejection_reasons,
)
from leadline.engagement.services import (
    handoff_accept,
    handoff_create,
    handoff_reject,
    lifecycle_set,
    opportunity_close,
)

router = Router(tags=["Qualification"])


# Schemas -----------------------------------------------------------------------------------------


class ReasonOut(Schema):
    id: int
    name: str
    sends_to_nurture: bool = Field(description="true: a rejection recycles; false: disqualifies")
    is_active: bool


class OpportunityOut(Schema):
    id: int
    person_id: int
    handoff_id: int | None
    owner: str | None = Field(None, description="Username of the seller working it")
    amount: Decimal | None
    status: OpportunityStatus
    opened_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_owner(obj: Opportunity) -> str | None:
        return obj.owner.username if obj.owner is not None else None


class HandoffOut(Schema):
    id: int
    person_id: int
    person: str
    trigger: Trigger
    status: HandoffStatus = Field(
        description="open, expired (deadline missed, still to decide), accepted or rejected"
    )
    note: str
    source: str
    form: str = Field(description="The form's title, copied when handed over")
    campaign: str
    owner: str | None = Field(None, description="Username of who is to accept or reject it")
    handed_by: str | None
    created_at: dt.datetime
    due_at: dt.datetime = Field(description="The deadline to decide, in business hours")
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: ReasonOut | None
    reason_text: str

    @staticmethod
    def resolve_person(obj: Handoff) -> str:
        return str(obj.person)

    @staticmethod
    def resolve_form(obj: Handoff) -> str:
        return obj.form_name

    @staticmethod
    def resolve_owner(obj: Handoff) -> str | None:
        return obj.owner.username if obj.owner is not None else None

    @staticmethod
    def resolve_handed_by(obj: Handoff) -> str | None:
        return obj.handed_by.username if obj.handed_by is not None else None

    @staticmethod
    def resolve_decided_by(obj: Handoff) -> str | None:
        return obj.decided_by.username if obj.decided_by is not None else None


class HandoffIn(Strict):
    person_id: int = Field(description="Who to hand over (404: unknown)")
    note: str = Field("", max_length=2000, description="For the seller")
    owner_id: int | None = Field(
        None, description="Who decides; default: the person's owner, else the sales manager"
    )


class HandoffFilter(Schema):
    status: HandoffStatus | None = None
    mine: bool = Field(False, description="Only those the caller is to decide")
    person_id: int | None = None


class AcceptIn(Strict):
    amount: Decimal | None = Field(None, ge=0, description="The expected amount, if known")
    note: str = Field("", max_length=2000)


class RejectIn(Strict):
    reason_id: int | None = Field(None, description="A reason from GET /rejection-reasons")
    reason_text: str = Field("", max_length=2000, description="Why, in a few words (required)")


class CloseIn(Strict):
    outcome: OpportunityStatus = Field(description="won or lost")
    amount: Decimal | None = Field(None, ge=0, description="Required when won, if not set yet")
    note: str = Field("", max_length=2000)


class AcceptOut(Schema):
    handoff: HandoffOut
    opportunity: OpportunityOut


class ChangeOut(Schema):
    from_stage: str = Field(description="Empty for the first move")
    to_stage: Stage
    at: dt.datetime
    reason: str
    actor: str | None = Field(None, description="Username; null: the system moved them")

    @staticmethod
    def resolve_actor(obj: LifecycleChange) -> str | None:
        return obj.actor.username if obj.actor is not None else None


class LifecycleOut(Schema):
    person_id: int
    stage: Stage
    since: dt.datetime | None
    reason: str
    history: list[ChangeOut] = Field(description="Every move, oldest first")


class StageIn(Strict):
    stage: Stage
    reason: str = Field(max_length=500, description="Why (required)")


class QualityRowOut(Schema):
    name: str
    handed_over: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    open: int
    won: int
    won_percent: int | None
    won_revenue: float = Field(description="Sum of the won opportunities' amounts")


class LeadQualityOut(Schema):
    start: dt.date | None
    end: dt.date | None
    total: QualityRowOut
    by_source: list[QualityRowOut]
    by_form: list[QualityRowOut]
    by_campaign: list[QualityRowOut]


class LeadQualityFilter(Schema):
    start: dt.date | None = Field(None, description="Handed over on or after this day")
    end: dt.date | None = Field(None, description="Handed over on or before this day")


# Helpers -----------------------------------------------------------------------------------------


def _person(pk: int) -> Person:
    found = Person.objects.filter(pk=pk).first()
    if found is None:
        raise HttpError(404, f"no person {pk}")
    return merge_survivor(found)


def _handoff(pk: int) -> Handoff:
    found = handoffs_query().filter(pk=pk).first()
    if found is None:
        raise HttpError(404, f"no handoff {pk}")
    return found


def _decidable(request: HttpRequest, pk: int) -> tuple[User, Handoff]:
    user = require(request, access_handoffs)
    handoff = _handoff(pk)
    if not handoff_may_decide(user, handoff):
        raise HttpError(403, "only its owner, a sales manager or an admin may decide this handoff")
    return user, handoff


# Handoffs ----------------------------------------------------------------------------------------


@router.get("/handoffs", response={200: list[HandoffOut], **REFUSALS}, summary="List handoffs")
@paginate(Paging)
@rule(access_handoffs)
def handoffs_list(request: HttpRequest, filters: Query[HandoffFilter]) -> QuerySet[Handoff]:
    """Undecided ones first, then the decided ones; each by deadline, soonest first."""
    user = require(request, access_handoffs)
    rows = handoffs_query()
    if filters.status is not None:
        rows = rows.filter(status=filters.status)
    if filters.mine:
        rows = rows.filter(owner=user, status__in=UNDECIDED)
    if filters.person_id is not None:
        rows = rows.filter(person_id=filters.person_id)
    undecided_first = Case(
        When(status__in=UNDECIDED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return rows.annotate(undecided_first=undecided_first).order_by(
        "undecided_first", "due_at", "-pk"
    )


@router.post(
    "/handoffs",
    response={201: HandoffOut, 200: HandoffOut, 404: ErrorOut, **REFUSALS},
    summary="Hand a person to sales",
)
@rule(access_handoff_create)
def handoff_post(request: HttpRequest, payload: HandoffIn) -> Status[Handoff]:
    """Marketing hands a lead over by hand. 201 with the new handoff; 200 with the open one
    when the person already has a handoff waiting (never a second one)."""
    user = require(request, access_handoff_create)
    person = _person(payload.person_id)
    owner = None
    if payload.owner_id is not None:
        owner = User.objects.filter(pk=payload.owner_id, is_active=True).first()
        if owner is None:
            raise HttpError(404, f"no active user {payload.owner_id}")
    before = Handoff.objects.filter(person=person, status__in=UNDECIDED).first()
    made = handoff_create(
        person=person, trigger=Trigger.MARKETING, actor=user, note=payload.note, owner=owner
    )
    return Status(200 if before is not None else 201, _handoff(made.pk))


@router.get(
    "/handoffs/{handoff_id}",
    response={200: HandoffOut, 404: ErrorOut, **REFUSALS},
    summary="Get a handoff",
)
@rule(access_handoffs)
def handoff_get(request: HttpRequest, handoff_id: int) -> Handoff:
    require(request, access_handoffs)
    return _handoff(handoff_id)


@router.post(
    "/handoffs/{handoff_id}/accept",
    response={200: AcceptOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Accept a handoff",
)
@rule(access_handoffs)
def handoff_accept_post(request: HttpRequest, handoff_id: int, payload: AcceptIn) -> dict[str, Any]:
    """Sales takes the lead: it becomes sales-accepted and an opportunity is opened. 409 when
    it was decided already."""
    user, handoff = _decidable(request, handoff_id)
    if not handoff.is_undecided:
        raise HttpError(409, f"already decided ({handoff.get_status_display().lower()})")
    try:
        opportunity = handoff_accept(
            handoff=handoff, actor=user, note=payload.note, amount=payload.amount
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return {"handoff": _handoff(handoff.pk), "opportunity": opportunity}


@router.post(
    "/handoffs/{handoff_id}/reject",
    response={200: HandoffOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Reject a handoff",
)
@rule(access_handoffs)
def handoff_reject_post(request: HttpRequest, handoff_id: int, payload: RejectIn) -> Handoff:
    """Reject with a reason from the list (`reason_id`) AND a few words (`reason_text`); without
    either: 422 naming the field, and nothing changes. The person goes back to nurture, or is
    disqualified when the reason says so."""
    user, handoff = _decidable(request, handoff_id)
    if not handoff.is_undecided:
        raise HttpError(409, f"already decided ({handoff.get_status_display().lower()})")
    reason = None
    if payload.reason_id is not None:
        reason = RejectionReason.objects.filter(pk=payload.reason_id).first()
    try:
        handoff_reject(handoff=handoff, actor=user, reason=reason, reason_text=payload.reason_text)
    except DjangoValidationError as exc:
        raise field_errors(exc, rename={"reason": "reason_id"}) from exc
    return _handoff(handoff.pk)


@router.get(
    "/rejection-reasons",
    response={200: list[ReasonOut], **REFUSALS},
    summary="The rejection reasons",
)
@rule(access_handoffs)
def reasons_list(request: HttpRequest, include_off: bool = False) -> list[RejectionReason]:
    """The reasons offered when rejecting (`include_off=true`: the ones turned off too)."""
    require(request, access_handoffs)
    return list(rejection_reasons(active_only=not include_off))


@router.post(
    "/opportunities/{opportunity_id}/close",
    response={200: OpportunityOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Close an opportunity won or lost",
)
@rule(access_handoffs)
def opportunity_close_post(
    request: HttpRequest, opportunity_id: int, payload: CloseIn
) -> Opportunity:
    """Won: the person becomes a customer (the amount is required if not known yet). Lost:
    back to nurture."""
    user = require(request, access_handoffs)
    opportunity = Opportunity.objects.filter(pk=opportunity_id).first()
    if opportunity is None:
        raise HttpError(404, f"no opportunity {opportunity_id}")
    if not opportunity_may_close(user, opportunity):
        raise HttpError(403, "only its owner, a sales manager or an admin may close it")
    if opportunity.status != OpportunityStatus.OPEN:
        raise HttpError(409, f"already closed ({opportunity.get_status_display().lower()})")
    try:
        return opportunity_close(
            opportunity=opportunity,
            outcome=payload.outcome,
            amount=payload.amount,
            note=payload.note,
            actor=user,
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc


# Lifecycle ---------------------------------------------------------------------------------------


def _lifecycle(person: Person) -> dict[str, Any]:
    current = lifecycle_current(person=person)
    return {
        "person_id": person.pk,
        "stage": current.stage if current is not None else Stage.SUBSCRIBER,
        "since": current.since if current is not None else None,
        "reason": current.reason if current is not None else "",
        "history": list(lifecycle_history(person=person)),
    }


@router.get(
    "/people/{person_id}/lifecycle",
    response={200: LifecycleOut, 404: ErrorOut, **REFUSALS},
    summary="A person's lifecycle stage and its history",
)
@rule(access_people)
def lifecycle_get(request: HttpRequest, person_id: int) -> dict[str, Any]:
    require(request, access_people)
    return _lifecycle(_person(person_id))


@router.post(
    "/people/{person_id}/lifecycle",
    response={200: LifecycleOut, 404: ErrorOut, **REFUSALS},
    summary="Move a person to a stage by hand",
)
@rule(access_handoff_create)
def lifecycle_post(request: HttpRequest, person_id: int, payload: StageIn) -> dict[str, Any]:
    """Marketing, managers and admins move a person by hand, saying why (422 without)."""
    user = require(request, access_handoff_create)
    person = _person(person_id)
    try:
        lifecycle_set(person=person, stage=payload.stage, reason=payload.reason, actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _lifecycle(person)


# The lead-quality report -------------------------------------------------------------------------


def _row(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "handed_over": row.handed_over,
        "accepted": row.accepted,
        "rejected": row.rejected,
        "rejected_by_reason": row.rejected_by_reason,
        "open": row.open,
        "won": row.won,
        "won_percent": row.won_percent,
        "won_revenue": float(row.won_revenue),
    }


@router.get(
    "/reports/lead-quality",
    response={200: LeadQualityOut, **REFUSALS},
    summary="Lead quality per source, form and campaign",
)
@rule(access_lead_quality)
def lead_quality_get(request: HttpRequest, filters: Query[LeadQualityFilter]) -> dict[str, Any]:
    """Handed over, accepted, rejected by reason, open and won, per source, form and campaign
    (as copied onto each handoff when it was made); `start`/`end` filter by the day handed
    over (UTC)."""
    from leadline.insight.lead_quality import lead_quality

    require(request, access_lead_quality)
    report = lead_quality(start=filters.start, end=filters.end)
    return {
        "start": report.start,
        "end": report.end,
        "total": _row(report.total),
        **{f"by_{t.key}": [_row(r) for r in t.rows] for t in report.tables},
    }
