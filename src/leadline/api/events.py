"""Events from other systems: a webinar attended, a trial started, an email clicked. Each lands
on the person's timeline and may move them along their buyer's journey (exit signals)."""

import datetime as dt
import json
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import AfterValidator, model_validator

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Strict, email_checked, moment_past
from leadline.core.models import Person
from leadline.core.permissions import access_person_edit
from leadline.journeys.services import SignalIn, events_record
from leadline.journeys.signals import EVENT_NAME

router = Router(tags=["events"])

MAX_EVENTS = 500
MAX_PROPERTIES_BYTES = 4096


def _email(value: str) -> str:
    return email_checked(value) if value else value  # empty: the person is named by id


def _properties(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"at most {MAX_PROPERTIES_BYTES} bytes of JSON")
    return value


class EventIn(Strict):
    name: str = Field(
        pattern=f"^{EVENT_NAME.pattern}$",
        description='What happened, e.g. "webinar_attended", "trial_started", "email_clicked"; '
        "journey exit signals match on it",
        examples=["trial_started"],
    )
    person_id: int | None = Field(None, description="Who it happened to (or give email)")
    email: Annotated[str, AfterValidator(_email)] = Field(
        "", max_length=254, description="Who it happened to; an unknown address makes a person"
    )
    occurred_at: Annotated[dt.datetime | None, AfterValidator(moment_past)] = Field(
        None, description="When it happened (default: now); with a time zone"
    )
    properties: Annotated[dict[str, Any], AfterValidator(_properties)] = Field(
        default_factory=dict, description='Details, e.g. {"title": "Closing in 5 days"}'
    )
    id: str = Field(
        "", max_length=180, description="Your id for it: an event sent twice is recorded once"
    )

    @model_validator(mode="after")
    def _who(self) -> "EventIn":
        if (self.person_id is None) == (not self.email):
            raise ValueError("give either person_id or email")
        return self


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventOut(Schema):
    id: int
    name: str
    person_id: int
    occurred_at: dt.datetime


class EventsOut(Schema):
    recorded: int
    duplicates: int = Field(description="Events whose id was recorded before")
    events: list[EventOut]


@router.post(
    "",
    response={201: EventsOut, 404: ErrorOut, **REFUSALS},
    summary="Record events from another system",
)
@rule(access_person_edit)
def events_post(request: HttpRequest, payload: EventsIn) -> Status[dict[str, Any]]:
    """Record up to 500 events. Each goes on its person's timeline and is weighed against the
    exit signals of their buyer's journey, which may move them to the next step."""
    user = require(request, access_person_edit)
    try:
        recorded, duplicates = events_record(
            signals=[
                SignalIn(
                    name=item.name,
                    person_id=item.person_id,
                    email=item.email,
                    occurred_at=item.occurred_at,
                    properties=item.properties,
                    sender_id=item.id,
                )
                for item in payload.events
            ],
            actor=user,
        )
    except Person.DoesNotExist as exc:
        raise HttpError(404, str(exc)) from exc
    return Status(201, {"recorded": len(recorded), "duplicates": duplicates, "events": recorded})
