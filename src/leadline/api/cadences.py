"""The API for cadences and enrolments: cadences with their steps (create, read, change,
delete), enrol one person or many, take people out, list enrolments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_errors
from leadline.cadences.models import (
    Cadence,
    CadenceStep,
    Enrolment,
    EnrolmentSource,
    EnrolmentStatus,
    Purpose,
    StopReason,
)
from leadline.cadences.selectors import (
    cadence_stats,
    cadence_steps,
    enrolment_next,
    enrolments_list,
)
from leadline.cadences.services import (
    BULK_LIMIT,
    EnrolmentRefused,
    cadence_create,
    cadence_step_add,
    cadence_update,
    enrolment_create,
    enrolment_stop,
    enrolments_create_bulk,
    enrolments_stop,
)
from leadline.core.models import Person, Team
from leadline.core.permissions import access_cadence_edit, access_cadences

router = Router(tags=["Cadences"])


class StepIn(Strict):
    kind: str = Field(description="email | call | manual | wait | branch")
    subject: str = ""
    text: str = Field("", description="Email: the plain-text part (required)")
    html: str = ""
    title: str = Field("", description="Call or manual task: what it is for")
    script: str = ""
    instructions: str = ""
    outcome_options: list[str] = Field(default_factory=list)
    wait_days: int = 0
    branch_outcomes: list[str] = Field(default_factory=list)
    branch_to: int | None = Field(
        None, description="Branch: the position (1-based) of the step to go to"
    )


class StepOut(Schema):
    id: int
    position: int
    kind: str
    description: str
    subject: str
    text: str
    html: str
    title: str
    script: str
    instructions: str
    outcome_options: list[str]
    wait_days: int
    branch_outcomes: list[str]
    branch_to: int | None = Field(description="The position of the step a branch goes to")


class StatsOut(Schema):
    active: int
    finished: int
    stopped: int
    replies: int


class CadenceIn(Strict):
    name: str
    description: str = ""
    purpose: str = Field(Purpose.SALES, description="marketing | sales")
    is_active: bool = True
    call_team_id: int | None = None
    rule_kind: str = Field("", description="'' | lifecycle_stage | request_kind | journey_step")
    rule_value: str = ""
    steps: list[StepIn] = Field(default_factory=list, description="Replaces every step")


class CadenceOut(Schema):
    id: int
    name: str
    description: str
    purpose: str
    is_active: bool
    call_team_id: int | None
    rule_kind: str
    rule_value: str
    steps: list[StepOut]
    stats: StatsOut


class EnrolIn(Strict):
    person_id: int


class BulkEnrolIn(Strict):
    person_ids: list[int] = Field(max_length=BULK_LIMIT)


class EnrolmentOut(Schema):
    id: int
    person_id: int
    cadence_id: int
    status: str
    current_step: int | None = Field(description="The position of the step to run next")
    next_run_at: dt.datetime | None
    next: str = Field(description="What comes next, in words")
    waiting_on: str
    enrolled_at: dt.datetime
    enrolled_by: str | None
    source: str
    ended_at: dt.datetime | None
    stopped_reason: str
    stopped_detail: str

    @staticmethod
    def resolve_current_step(obj: Enrolment) -> int | None:
        return obj.current_step.position if obj.current_step is not None else None

    @staticmethod
    def resolve_next(obj: Enrolment) -> str:
        return enrolment_next(obj)

    @staticmethod
    def resolve_enrolled_by(obj: Enrolment) -> str | None:
        return obj.enrolled_by.username if obj.enrolled_by is not None else None


class RefusedOut(Schema):
    person_id: int
    reason: str


class BulkOut(Schema):
    enrolled: list[EnrolmentOut]
    refused: list[RefusedOut]


class StopIn(Strict):
    detail: str = Field("", max_length=300)


class PersonStopIn(Strict):
    person_id: int
    reason: str = Field(StopReason.BY_HAND, description="by_hand, replied, meeting_booked, …")
    detail: str = Field("", max_length=300)


class StoppedOut(Schema):
    stopped: int


def _step_out(step: CadenceStep) -> StepOut:
    return StepOut(
        id=step.pk,
        position=step.position,
        kind=step.kind,
        description=step.describe(),
        subject=step.subject,
        text=step.text,
        html=step.html,
        title=step.title,
        script=step.script,
        instructions=step.instructions,
        outcome_options=list(step.outcome_options),
        wait_days=step.wait_days,
        branch_outcomes=list(step.branch_outcomes),
        branch_to=step.branch_to.position if step.branch_to else None,
    )


def _out(cadence: Cadence) -> CadenceOut:
    stats = cadence_stats(cadence=cadence)
    return CadenceOut(
        id=cadence.pk,
        name=cadence.name,
        description=cadence.description,
        purpose=cadence.purpose,
        is_active=cadence.is_active,
        call_team_id=cadence.call_team_id,
        rule_kind=cadence.rule_kind,
        rule_value=cadence.rule_value,
        steps=[_step_out(s) for s in cadence_steps(cadence=cadence)],
        stats=StatsOut(
            active=stats.active,
            finished=stats.finished,
            stopped=stats.stopped,
            replies=stats.replies,
        ),
    )


def _enrolment_out(enrolment: Enrolment) -> EnrolmentOut:
    return EnrolmentOut.from_orm(enrolment)


def _cadence(pk: int) -> Cadence:
    cadence = Cadence.objects.filter(pk=pk).first()
    if cadence is None:
        raise HttpError(404, f"no cadence {pk}")
    return cadence


def _team(team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise field_errors(DjangoValidationError({"call_team_id": f"No team {team_id}."}))
    return team


def _steps_replace(cadence: Cadence, steps: list[StepIn], actor: Any) -> None:
    """Replace the steps (in a transaction). Branch targets are positions in `steps`."""
    if cadence.enrolments.filter(status=EnrolmentStatus.ACTIVE).exists():
        raise field_errors(
            DjangoValidationError(
                {"steps": "People are in this cadence: change its steps in the editor."}
            )
        )
    cadence.steps.all().delete()
    made: list[CadenceStep] = []
    branches: list[tuple[int, int]] = []
    for index, step in enumerate(steps):
        values = step.dict(exclude={"kind", "branch_to"})
        if step.kind == "branch":
            if step.branch_to is None or not 1 <= step.branch_to <= len(steps):
                raise field_errors(
                    DjangoValidationError(
                        {f"steps.{index}.branch_to": "The position of the step to go to."}
                    )
                )
            branches.append((index, step.branch_to - 1))
            values["branch_to"] = None
        try:
            if step.kind == "branch":
                made.append(
                    CadenceStep.objects.create(
                        cadence=cadence,
                        position=index + 1,
                        kind="branch",
                        branch_outcomes=values["branch_outcomes"],
                    )
                )
            else:
                made.append(
                    cadence_step_add(cadence=cadence, kind=step.kind, values=values, actor=actor)
                )
        except DjangoValidationError as exc:
            raise field_errors(
                DjangoValidationError(
                    {f"steps.{index}.{k}": v for k, v in exc.message_dict.items()}
                )
            ) from exc
    from leadline.cadences.services import cadence_step_update

    for index, target in branches:
        values = {
            "branch_outcomes": steps[index].branch_outcomes,
            "branch_to": made[target].pk,
        }
        try:
            cadence_step_update(step=made[index], values=values, actor=actor)
        except DjangoValidationError as exc:
            raise field_errors(
                DjangoValidationError(
                    {f"steps.{index}.{k}": v for k, v in exc.message_dict.items()}
                )
            ) from exc


@router.get("/cadences", response={200: list[CadenceOut], **REFUSALS}, summary="Cadences")
@rule(access_cadences)
def cadences_list(request: HttpRequest) -> list[CadenceOut]:
    require(request, access_cadences)
    return [_out(c) for c in Cadence.objects.order_by("name")]


@router.post(
    "/cadences", response={201: CadenceOut, **REFUSALS}, summary="Create a cadence with its steps"
)
@rule(access_cadence_edit)
def cadence_post(request: HttpRequest, payload: CadenceIn) -> Status[CadenceOut]:
    user = require(request, access_cadence_edit)
    try:
        with transaction.atomic():
            cadence = cadence_create(
                name=payload.name,
                description=payload.description,
                purpose=payload.purpose,
                call_team=_team(payload.call_team_id),
                rule_kind=payload.rule_kind,
                rule_value=payload.rule_value,
                actor=user,
            )
            if not payload.is_active:
                cadence_update(cadence=cadence, changes={"is_active": False}, actor=user)
            _steps_replace(cadence, payload.steps, user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return Status(201, _out(cadence))


@router.get(
    "/cadences/{cadence_id}",
    response={200: CadenceOut, 404: ErrorOut, **REFUSALS},
    summary="A cadence",
)
@rule(access_cadences)
def cadence_get(request: HttpRequest, cadence_id: int) -> CadenceOut:
    require(request, access_cadences)
    return _out(_cadence(cadence_id))


@router.put(
    "/cadences/{cadence_id}",
    response={200: CadenceOut, 404: ErrorOut, **REFUSALS},
    summary="Change a cadence (its steps only while nobody is in it)",
)
@rule(access_cadence_edit)
def cadence_put(request: HttpRequest, cadence_id: int, payload: CadenceIn) -> CadenceOut:
    user = require(request, access_cadence_edit)
    cadence = _cadence(cadence_id)
    changes = payload.dict(exclude={"steps", "call_team_id"})
    changes["call_team"] = _team(payload.call_team_id)
    try:
        with transaction.atomic():
            cadence_update(cadence=cadence, changes=changes, actor=user)
            current = [_step_in(s) for s in cadence_steps(cadence=cadence)]
            if payload.steps != current:
                _steps_replace(cadence, payload.steps, user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _out(cadence)


def _step_in(step: CadenceStep) -> StepIn:
    return StepIn(
        kind=step.kind,
        subject=step.subject,
        text=step.text,
        html=step.html,
        title=step.title,
        script=step.script,
        instructions=step.instructions,
        outcome_options=list(step.outcome_options),
        wait_days=step.wait_days,
        branch_outcomes=list(step.branch_outcomes),
        branch_to=step.branch_to.position if step.branch_to else None,
    )


@router.delete(
    "/cadences/{cadence_id}",
    response={204: None, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Delete a cadence nobody was ever in",
)
@rule(access_cadence_edit)
def cadence_delete(request: HttpRequest, cadence_id: int) -> Status[None]:
    require(request, access_cadence_edit)
    cadence = _cadence(cadence_id)
    if cadence.enrolments.exists():
        raise HttpError(409, "People were in this cadence: switch it off instead (is_active).")
    cadence.delete()
    return Status(204, None)


@router.post(
    "/cadences/{cadence_id}/enrolments",
    response={201: EnrolmentOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Enrol one person",
)
@rule(access_cadences)
def enrol(request: HttpRequest, cadence_id: int, payload: EnrolIn) -> Status[EnrolmentOut]:
    """Refused (409, with why) when they are already in it or may not be contacted on any
    channel it uses."""
    user = require(request, access_cadences)
    cadence = _cadence(cadence_id)
    person = Person.objects.filter(pk=payload.person_id).first()
    if person is None:
        raise HttpError(404, f"no person {payload.person_id}")
    try:
        enrolment = enrolment_create(
            cadence=cadence, person=person, actor=user, source=EnrolmentSource.API
        )
    except EnrolmentRefused as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return Status(201, _enrolment_out(enrolment))


@router.post(
    "/cadences/{cadence_id}/enrolments/bulk",
    response={200: BulkOut, 404: ErrorOut, **REFUSALS},
    summary="Enrol many people",
)
@rule(access_cadences)
def enrol_bulk(request: HttpRequest, cadence_id: int, payload: BulkEnrolIn) -> BulkOut:
    """Those who cannot be enrolled are listed with why; the others are enrolled."""
    user = require(request, access_cadences)
    cadence = _cadence(cadence_id)
    people = Person.objects.filter(pk__in=payload.person_ids)
    missing = set(payload.person_ids) - set(people.values_list("pk", flat=True))
    try:
        result = enrolments_create_bulk(cadence=cadence, people=people, actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return BulkOut(
        enrolled=result.enrolled,  # type: ignore[arg-type]  # read through the resolvers
        refused=[RefusedOut(person_id=p.pk, reason=why) for p, why in result.refused]
        + [RefusedOut(person_id=pk, reason="No such person.") for pk in sorted(missing)],
    )


@router.get("/enrolments", response={200: list[EnrolmentOut], **REFUSALS}, summary="Enrolments")
@paginate(Paging)
@rule(access_cadences)
def enrolments(
    request: HttpRequest,
    cadence_id: int | None = None,
    person_id: int | None = None,
    status: str = "",
) -> QuerySet[Enrolment]:
    require(request, access_cadences)
    rows = enrolments_list(status=status)
    if cadence_id is not None:
        rows = rows.filter(cadence_id=cadence_id)
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    return rows


@router.post(
    "/enrolments/stop",
    response={200: StoppedOut, 404: ErrorOut, **REFUSALS},
    summary="Take a person out of every cadence",
)
@rule(access_cadences)
def enrolments_stop_post(request: HttpRequest, payload: PersonStopIn) -> StoppedOut:
    user = require(request, access_cadences)
    person = Person.objects.filter(pk=payload.person_id).first()
    if person is None:
        raise HttpError(404, f"no person {payload.person_id}")
    try:
        stopped = enrolments_stop(
            person=person, reason=payload.reason, detail=payload.detail, actor=user
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return StoppedOut(stopped=stopped)


@router.get(
    "/enrolments/{enrolment_id}",
    response={200: EnrolmentOut, 404: ErrorOut, **REFUSALS},
    summary="One enrolment",
)
@rule(access_cadences)
def enrolment_get(request: HttpRequest, enrolment_id: int) -> EnrolmentOut:
    require(request, access_cadences)
    enrolment = enrolments_list().filter(pk=enrolment_id).first()
    if enrolment is None:
        raise HttpError(404, f"no enrolment {enrolment_id}")
    return _enrolment_out(enrolment)


@router.post(
    "/enrolments/{enrolment_id}/stop",
    response={200: EnrolmentOut, 404: ErrorOut, **REFUSALS},
    summary="Take a person out of one cadence",
)
@rule(access_cadences)
def enrolment_stop_post(request: HttpRequest, enrolment_id: int, payload: StopIn) -> EnrolmentOut:
    user = require(request, access_cadences)
    enrolment = enrolments_list().filter(pk=enrolment_id).first()
    if enrolment is None:
        raise HttpError(404, f"no enrolment {enrolment_id}")
    enrolment_stop(enrolment=enrolment, actor=user, detail=payload.detail)
    refreshed = enrolments_list().get(pk=enrolment_id)
    return _enrolment_out(refreshed)
