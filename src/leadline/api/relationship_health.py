"""The API for relationship health: each relationship a seller holds, when we last really spoke,
who is waiting for an answer, broken promises, reciprocity, and why it is going cold."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging
from leadline.core import clock
from leadline.core.models import User
from leadline.core.permissions import access_relationship_health, is_manager
from leadline.relationships.health import (
    RECIPROCITY_DAYS,
    health_of,
    health_summary,
    may_read_health_of,
    sellers_managed,
)

router = Router(tags=["Relationship health"])


class HealthOut(Schema):
    ownership_id: int
    owner_id: int
    owner: str
    kind: str = Field(description="person or account")
    person_id: int | None
    account_id: int | None
    name: str
    account: str = Field(description="For a person: the company they work at now")
    active: bool = Field(
        description="An open request or deal, or a touch or conversation in the last 90 days"
    )
    owned_since: dt.datetime
    last_two_way_touch_at: dt.datetime | None = Field(
        description="The latest call, meeting or email conversation, connected call, mail from "
        "them or meeting that took place; null: never"
    )
    last_two_way_touch: str = Field(description="call, meeting, email or their email")
    days_since_two_way_touch: int | None
    unanswered: int = Field(description="Their mails since our last touch, mail or conversation")
    unanswered_since: dt.datetime | None
    broken_promises: int = Field(description="Broken in the last 180 days, or open and overdue")
    their_moves: int = Field(
        description=f"Their mails, conversations, meetings: {RECIPROCITY_DAYS} days"
    )
    our_moves: int = Field(description=f"Our touches and sent mails: {RECIPROCITY_DAYS} days")
    reciprocity: float | None = Field(
        description="Their share of the moves; null: too few to say (under 3 in all)"
    )
    going_cold: bool
    reasons: list[str] = Field(description="Why it is going cold, worst first, in plain words")


class HealthFilter(Schema):
    owner_id: int | None = Field(
        None, description="This seller's (default: yours; another's: their manager or an admin)"
    )
    team: bool = Field(False, description="true: every seller in the teams you manage")
    cold: bool = Field(False, description="true: only those going cold")


@router.get(
    "/health",
    response={200: list[HealthOut], 404: ErrorOut, **REFUSALS},
    summary="Relationship health and the going-cold list",
)
@paginate(Paging)
@rule(access_relationship_health)
def health_list(request: HttpRequest, filters: Query[HealthFilter]) -> list[dict[str, Any]]:
    """Each current relationship with its figures, worst first (someone waiting for an answer,
    then a broken promise, then silence). A rep reads their own; a manager their team's
    (`team=true`) or one of their sellers' (`owner_id`); an admin anyone's."""
    user = require(request, access_relationship_health)
    owners: list[User] | None = [user]
    if filters.team:
        if not is_manager(user):
            raise HttpError(403, "only sales managers and admins read a team's relationships")
        managed = sellers_managed(user=user)
        owners = None if managed is None else [user, *managed]
    elif filters.owner_id is not None and filters.owner_id != user.pk:
        owner = User.objects.filter(pk=filters.owner_id).first()
        if owner is None:
            raise HttpError(404, f"no user {filters.owner_id}")
        if not may_read_health_of(viewer=user, owner=owner):
            raise HttpError(403, "only their manager or an admin reads another seller's")
        owners = [owner]
    found = health_of(owners=owners, at=clock.now())
    return [health_summary(h) for h in found if h.going_cold or not filters.cold]
