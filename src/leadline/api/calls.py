"""The API for call tasks: my queue, one call (only what a call needs, for an outside caller),
and logging what came of it. The one part of the API an outside caller may use."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_errors
from leadline.calls.models import CallTask
from leadline.calls.selectors import CallCard, call_card, call_queue, call_tasks_visible
from leadline.calls.services import call_task_log
from leadline.core.permissions import access_call_queue, access_people

router = Router(tags=["Call tasks"])

NOTE_MAX = 2000


class CallRowOut(Schema):
    id: int
    title: str
    name: str = Field(description="The person's name")
    due_at: dt.datetime
    status: str

    @staticmethod
    def resolve_name(obj: CallTask) -> str:
        return obj.person.full_name


class EarlierCallOut(Schema):
    at: dt.datetime
    outcome: str
    note: str = Field(description="Empty for an outside caller when the note is private")


class ContactNowOut(Schema):
    allowed: bool = Field(description="May the person be called now (do-not-contact, quiet hours)")
    reason: str
    next_allowed_at: dt.datetime | None


class CallOut(Schema):
    """One call: what a caller needs, and nothing more (staff also get `person_id`)."""

    id: int
    title: str
    status: str
    due_at: dt.datetime
    name: str
    phones: list[str]
    company: str
    time_zone: str
    local_time: dt.datetime | None = Field(description="The person's time now, in their zone")
    outside_hours: bool
    script: str
    outcome_options: list[str]
    outcome: str
    earlier_calls: list[EarlierCallOut]
    may_call_now: ContactNowOut
    person_id: int | None = Field(None, description="Only for staff who may read people")


class OutcomeIn(Strict):
    outcome: str = Field(description="One of the call's outcome_options")
    note: str = Field("", max_length=NOTE_MAX)
    private: bool = Field(False, description="Staff only: hide the note from outside callers")


def _out(card: CallCard, *, staff: bool) -> CallOut:
    task = card.task
    return CallOut(
        id=task.pk,
        title=task.title,
        status=task.status,
        due_at=task.due_at,
        name=card.name,
        phones=card.phones,
        company=card.company,
        time_zone=card.time_zone,
        local_time=card.local_time,
        outside_hours=card.outside_hours,
        script=card.script,
        outcome_options=list(task.outcome_options),
        outcome=task.outcome,
        earlier_calls=[
            EarlierCallOut(at=call.at, outcome=call.outcome, note=call.note)
            for call in card.earlier_calls
        ],
        may_call_now=ContactNowOut(
            allowed=card.contact.allowed,
            reason=card.contact.reason,
            next_allowed_at=card.contact.next_allowed_at,
        ),
        person_id=task.person_id if staff else None,
    )


def _task(request: HttpRequest, pk: int) -> CallTask:
    user = require(request, access_call_queue)
    task = call_tasks_visible(user=user).filter(pk=pk).first()
    if task is None:
        raise HttpError(404, f"no call {pk} in your queue")
    return task


@router.get("/calls", response={200: list[CallRowOut], **REFUSALS}, summary="My call queue")
@paginate(Paging)
@rule(access_call_queue)
def calls_list(request: HttpRequest) -> QuerySet[CallTask]:
    """The open calls to make, due first: an outside caller's own and their team's; anyone
    else's own."""
    user = require(request, access_call_queue)
    return call_queue(user=user)


@router.get(
    "/calls/{task_id}", response={200: CallOut, 404: ErrorOut, **REFUSALS}, summary="One call"
)
@rule(access_call_queue)
def call_get(request: HttpRequest, task_id: int) -> CallOut:
    task = _task(request, task_id)
    user = require(request, access_call_queue)
    return _out(call_card(task=task, viewer=user), staff=access_people(user))


@router.post(
    "/calls/{task_id}/outcome",
    response={200: CallOut, 404: ErrorOut, **REFUSALS},
    summary="Log what came of a call",
)
@rule(access_call_queue)
def call_outcome(request: HttpRequest, task_id: int, payload: OutcomeIn) -> CallOut:
    """Marks the call done and records the attempt; a call already logged, or an outcome the
    call does not offer, is refused (422) and changes nothing."""
    task = _task(request, task_id)
    user = require(request, access_call_queue)
    staff = access_people(user)
    if payload.private and not staff:
        raise field_errors(
            DjangoValidationError({"private": "Only staff may mark a note private."})
        )
    try:
        task = call_task_log(
            task=task,
            outcome=payload.outcome,
            note=payload.note,
            private=payload.private,
            actor=user,
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _out(call_card(task=task, viewer=user), staff=staff)
