"""The API for prospect ratings: the same numbers as the "Prospect ratings" page."""

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from leadline.api.auth import REFUSALS, require, rule
from leadline.core import clock
from leadline.core.permissions import access_ratings, access_ratings_all
from leadline.feedback.selectors import ratings_summary

router = Router(tags=["Prospect ratings"])


class RatingsQuery(Schema):
    by: Literal["user", "team", "channel"] = "user"
    start: dt.datetime | None = Field(None, description="From (default: 90 days ago)")
    end: dt.datetime | None = Field(None, description="Until, not included (default: now)")


class RatingRowOut(Schema):
    key: str = Field(description="The user's or team's id, or the channel; empty: none")
    label: str
    outside_callers: bool = Field(description="An outside caller, or a team of them")
    asked: int = Field(description="Asks sent")
    waiting: int = Field(description="Held back by quiet hours where they are; go when they end")
    skipped: int = Field(description="Not asked (consent, cap, once a month...)")
    skip_reasons: dict[str, int]
    answered: int
    response_rate: float | None
    average: float | None
    scores: dict[str, int] = Field(description='How many of each score, "1".."5"')
    stops: int = Field(description="Unsubscribes and do-not-contact put against them")


@router.get("/ratings", response={200: list[RatingRowOut], **REFUSALS}, summary="Prospect ratings")
@rule(access_ratings)
def ratings(request: HttpRequest, query: Query[RatingsQuery]) -> list[dict[str, object]]:
    """Per user, team or channel. A sales rep gets their own rows (by team: their team's)."""
    user = require(request, access_ratings)
    end = query.end or clock.now() + dt.timedelta(seconds=1)
    start = query.start or end - dt.timedelta(days=90)
    for moment in (start, end):
        if moment.tzinfo is None:
            raise HttpError(422, "times must say their time zone, e.g. 2026-11-24T09:00:00Z")
    everyone = access_ratings_all(user)
    if everyone:
        rows = ratings_summary(start=start, end=end, by=query.by)
    elif query.by == "team":
        rows = ratings_summary(start=start, end=end, by="team", team=user.team) if user.team else []
    else:
        rows = ratings_summary(start=start, end=end, by=query.by, user=user)
    return [row.as_dict() for row in rows]
