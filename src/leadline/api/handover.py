"""The API for handovers: plan who takes over from a seller who leaves or moves team, review
and change the proposal, apply it (once) or cancel it. Managers and admins only."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_error, field_errors
from leadline.core.models import Team, User
from leadline.core.permissions import access_handover
from leadline.relationships.models import HandoverItem, HandoverPlan, PlanKind
from leadline.relationships.selectors import plan_loads, plan_problems, plans_query
from leadline.relationships.services import (
    handover_item_key_set,
    handover_item_reassign,
    handover_plan_apply,
    handover_plan_cancel,
    handover_plan_create,
)

router = Router(tags=["Handover"])


class PlanOut(Schema):
    id: int
    user_id: int
    user: str
    kind: str
    effective_at: dt.datetime
    to_team_id: int | None
    status: str
    note: str
    send_intro_emails: bool
    created_at: dt.datetime
    applied_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None

    @staticmethod
    def resolve_user(plan: HandoverPlan) -> str:
        return str(plan.user)


class ItemOut(Schema):
    id: int
    kind: str
    object_id: int
    person_id: int | None
    account_id: int | None
    label: str
    proposed_owner_id: int | None
    proposed_why: str
    new_owner_id: int | None
    is_key: bool
    is_active_relationship: bool
    applied_at: dt.datetime | None
    outcome: str


class LoadOut(Schema):
    user_id: int
    user: str
    load_now: int
    adding: int
    cap: int
    after: int


class PlanDetailOut(PlanOut):
    items: list[ItemOut]
    loads: list[LoadOut]
    problems: list[str]

    @staticmethod
    def resolve_items(plan: HandoverPlan) -> list[HandoverItem]:
        return list(plan.items.order_by("id"))

    @staticmethod
    def resolve_loads(plan: HandoverPlan) -> list[dict[str, object]]:
        return [
            {
                "user_id": load.user.pk,
                "user": str(load.user),
                "load_now": load.load_now,
                "adding": load.adding,
                "cap": load.cap,
                "after": load.after,
            }
            for load in plan_loads(plan=plan)
        ]

    @staticmethod
    def resolve_problems(plan: HandoverPlan) -> list[str]:
        return plan_problems(plan=plan)


class PlanIn(Strict):
    user_id: int = Field(description="The seller who leaves or moves")
    kind: str = Field(description="leaving or moving", examples=["leaving"])
    effective_at: dt.datetime = Field(description="The day they leave or move")
    to_team_id: int | None = Field(None, description="For a move: the team they join")
    note: str = Field("", max_length=2000)
    send_intro_emails: bool = False
    intro_subject: str = Field("", max_length=200)
    intro_body: str = Field("", max_length=5000)


class ItemPatch(Strict):
    new_owner_id: int | None = Field(None, description="Who takes it over")
    is_key: bool | None = Field(None, description="A key relationship gets a warm introduction")
    with_dependents: bool = Field(True, description="Its requests, deals... follow it")


class ApplyOut(Schema):
    applied: bool
    problems: list[str]
    plan: PlanOut


def _plan(pk: int) -> HandoverPlan:
    found = plans_query().filter(pk=pk).first()
    if found is None:
        raise HttpError(404, f"no handover plan {pk}")
    return found


@router.get("", response={200: list[PlanOut], **REFUSALS}, summary="List handover plans")
@paginate(Paging)
@rule(access_handover)
def handovers_list(request: HttpRequest) -> QuerySet[HandoverPlan]:
    """Every plan, newest first."""
    require(request, access_handover)
    return plans_query()


@router.post("", response={201: PlanDetailOut, **REFUSALS}, summary="Plan a handover")
@rule(access_handover)
def handover_post(request: HttpRequest, payload: PlanIn) -> Status[HandoverPlan]:
    """Marks the user as leaving (or moving) on `effective_at` and proposes a new owner for
    everything they hold. A date more than a day past, a move to their own team, a second plan
    for the same user: 422 naming the field."""
    actor = require(request, access_handover)
    user = User.objects.filter(pk=payload.user_id).select_related("team").first()
    if user is None:
        raise field_error("user_id", f"no user {payload.user_id}")
    to_team = None
    if payload.to_team_id is not None:
        to_team = Team.objects.filter(pk=payload.to_team_id).first()
        if to_team is None:
            raise field_error("to_team_id", f"no team {payload.to_team_id}")
    if payload.kind not in PlanKind.values:
        raise field_error("kind", "one of: " + ", ".join(PlanKind.values))
    try:
        plan = handover_plan_create(
            user=user,
            kind=payload.kind,
            effective_at=payload.effective_at,
            to_team=to_team,
            note=payload.note,
            send_intro_emails=payload.send_intro_emails,
            intro_subject=payload.intro_subject,
            intro_body=payload.intro_body,
            actor=actor,
        )
    except DjangoValidationError as exc:
        raise field_errors(exc, rename={"user": "user_id", "to_team": "to_team_id"}) from exc
    return Status(201, _plan(plan.pk))


@router.get(
    "/{plan_id}",
    response={200: PlanDetailOut, 404: ErrorOut, **REFUSALS},
    summary="Get a handover plan",
)
@rule(access_handover)
def handover_get(request: HttpRequest, plan_id: int) -> HandoverPlan:
    """The plan with its items, each possible owner's load against their cap, and what stops
    it from being applied (`problems`, empty when it can be)."""
    require(request, access_handover)
    return _plan(plan_id)


@router.patch(
    "/{plan_id}/items/{item_id}",
    response={200: list[ItemOut], 404: ErrorOut, **REFUSALS},
    summary="Change who takes over an item",
)
@rule(access_handover)
def handover_item_patch(
    request: HttpRequest, plan_id: int, item_id: int, payload: ItemPatch
) -> list[HandoverItem]:
    """`new_owner_id` (null: nobody yet) and/or `is_key`; answers every item that changed (a
    relationship's dependent items follow it)."""
    actor = require(request, access_handover)
    item = HandoverItem.objects.filter(pk=item_id, plan=plan_id).first()
    if item is None:
        raise HttpError(404, f"no item {item_id} in handover plan {plan_id}")
    sent = payload.model_fields_set
    changed: list[HandoverItem] = []
    try:
        if "new_owner_id" in sent:
            owner = None
            if payload.new_owner_id is not None:
                owner = User.objects.filter(pk=payload.new_owner_id).first()
                if owner is None:
                    raise field_error("new_owner_id", f"no user {payload.new_owner_id}")
            changed = handover_item_reassign(
                item=item,
                new_owner=owner,
                actor=actor,
                with_dependents=payload.with_dependents,
            )
        if "is_key" in sent and payload.is_key is not None:
            handover_item_key_set(item=item, is_key=payload.is_key, actor=actor)
    except DjangoValidationError as exc:
        raise field_errors(exc, rename={"new_owner": "new_owner_id", "status": "plan_id"}) from exc
    ids = {i.pk for i in changed} | {item.pk}
    return list(HandoverItem.objects.filter(pk__in=ids).order_by("id"))


@router.post(
    "/{plan_id}/apply",
    response={200: ApplyOut, 404: ErrorOut, 409: ApplyOut, **REFUSALS},
    summary="Apply a handover plan",
)
@rule(access_handover)
def handover_apply(request: HttpRequest, plan_id: int) -> Status[ApplyOut]:
    """Moves everything in one transaction. 409 with `problems` when it can't (someone over
    their cap, an item with nobody) or was applied already: then nothing changed."""
    actor = require(request, access_handover)
    _plan(plan_id)
    result = handover_plan_apply(plan_id=plan_id, actor=actor)
    body = ApplyOut(
        applied=result.applied,
        problems=result.problems,
        plan=PlanOut.from_orm(result.plan),
    )
    return Status(200 if result.applied else 409, body)


@router.post(
    "/{plan_id}/cancel",
    response={200: PlanOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Cancel a handover plan",
)
@rule(access_handover)
def handover_cancel(request: HttpRequest, plan_id: int) -> HandoverPlan:
    """Only a draft: the seller stays and gets new leads again."""
    actor = require(request, access_handover)
    plan = _plan(plan_id)
    try:
        handover_plan_cancel(plan=plan, actor=actor)
    except DjangoValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return _plan(plan_id)
