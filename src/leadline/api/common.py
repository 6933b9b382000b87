"""Pieces every resource shares: paging, partial updates, field errors, timeline rows."""

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import models
from ninja import Field, Schema
from ninja.errors import ValidationError
from ninja.pagination import LimitOffsetPagination
from pydantic import ConfigDict, ValidationInfo, field_validator

from leadline.capture.services import email_normalise
from leadline.core import clock
from leadline.core.models import TimelineEvent

# Body parameters are all called `payload`, so field errors point at ["body", "payload", name]
# exactly as ninja's own validation errors do, and a client reads one shape of error.
BODY = ("body", "payload")
MAX_PAGE = 500
MAX_OFFSET = 2**63 - 1  # the databases' largest integer: more is a 422, not a 500
# The timeline selectors take a limit; a page can reach this far back.
TIMELINE_DEPTH = 10_000


class Paging(LimitOffsetPagination):
    """`limit` (1-500, default 50) and `offset`; the answer is {"items": [...], "count": total}."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_PAGE, description="How many items (1-500)")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many items to skip")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE, **kwargs)


def field_errors(
    exc: DjangoValidationError, *, rename: Mapping[str, str] | None = None
) -> ValidationError:
    """A model's ValidationError as ninja's 422 body: one entry per field, named by `loc`."""
    rename = rename or {}
    problems = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    errors: list[dict[str, Any]] = []
    for name, messages in problems.items():
        loc = [*BODY] if name == NON_FIELD_ERRORS else [*BODY, rename.get(name, name)]
        errors.extend({"type": "invalid", "loc": loc, "msg": message} for message in messages)
    return ValidationError(errors)


def email_checked(value: str) -> str:
    """A validator for an email address: normalised as capture stores it, and valid."""
    value = email_normalise(value)
    try:
        validate_email(value)
    except DjangoValidationError as exc:
        raise ValueError("enter a valid email address") from exc
    return value


def moment_past(value: dt.datetime | None) -> dt.datetime | None:
    """A validator for a time something happened: with a time zone, and not in the future
    (five minutes' grace for clocks that run ahead)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give a time zone (2026-11-23T10:00:00Z)")
    if value > clock.now() + dt.timedelta(minutes=5):
        raise ValueError("is in the future: give the time it happened")
    return value


def field_error(name: str, message: str) -> ValidationError:
    return ValidationError([{"type": "invalid", "loc": [*BODY, name], "msg": message}])


def max_length(model: type[models.Model], name: str) -> int | None:
    """The model's own limit, so the API rejects what the database would."""
    return getattr(model._meta.get_field(name), "max_length", None)


class Strict(Schema):
    """Input that names a field we do not know is refused (422), not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: only the fields sent are changed, and `null` clears nothing."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; send an empty string to clear it")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class MergeIn(Strict):
    loser_id: int = Field(
        description="The duplicate record to fold into this one; it is kept, marked merged"
    )


class TimelineEventOut(Schema):
    id: int
    occurred_at: dt.datetime
    kind: str
    summary: str
    person_id: int | None
    account_id: int | None
    actor: str | None = Field(None, description="Username of the user who did it, if a user did")
    data: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: TimelineEvent) -> str | None:
        return obj.actor.username if obj.actor is not None else None
