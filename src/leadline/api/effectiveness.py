"""The API for channels and teams: the same numbers as the "Channels and teams" page."""

import dataclasses
import datetime as dt

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from leadline.api.auth import REFUSALS, require, rule
from leadline.core import clock
from leadline.core.permissions import access_insight

router = Router(tags=["Channels and teams"])


class EffectivenessQuery(Schema):
    start: dt.datetime | None = Field(None, description="From (default: 90 days ago)")
    end: dt.datetime | None = Field(None, description="Until, not included (default: now)")
    campaign: int | None = Field(None, description="Only people who met this campaign")
    step: int | None = Field(None, description="Only people who reached this journey step")


class RowOut(Schema):
    key: str = Field(description='The channel, the team\'s id, "none" or "total"')
    name: str
    outside: bool = Field(description="An outside calling team")
    attempts: int
    connects: int
    conversations: int
    appointments_set: int
    appointments_held: int
    accepted: int = Field(description="Accepted by sales")
    won: int
    connect_rate: float | None = Field(description="Percent of attempts")
    set_to_held: float | None = Field(description="Percent")
    held_to_accepted: float | None = Field(description="Percent")
    accepted_to_won: float | None = Field(description="Percent")
    first_touches: int = Field(description="Requests received in the period and touched")
    first_touch_median_hours: float | None = Field(description="Business hours")
    first_touch_p90_hours: float | None = Field(description="Business hours")
    ratings: int
    rating_average: float | None


class EffectivenessOut(Schema):
    start: dt.datetime
    end: dt.datetime
    people: int | None = Field(description="People the filters keep; null: no filter")
    channels: list[RowOut]
    teams: list[RowOut]
    total: RowOut


def _row(row: object) -> dict[str, object]:
    from leadline.insight.effectiveness import RATES, Row

    assert isinstance(row, Row)
    return {**dataclasses.asdict(row), **{rate: row.rate(rate) for rate in RATES}}


@router.get(
    "/channels",
    response={200: EffectivenessOut, **REFUSALS},
    summary="What each channel and team achieved",
)
@rule(access_insight)
def channels(request: HttpRequest, query: Query[EffectivenessQuery]) -> dict[str, object]:
    """Attempts to won per channel and per team for a period (how each is counted: the
    "How these are counted" section of the page, and docs/decisions)."""
    from leadline.insight.effectiveness import effectiveness

    require(request, access_insight)
    end = query.end or clock.now()
    start = query.start or end - dt.timedelta(days=90)
    for moment in (start, end):
        if moment.tzinfo is None:
            raise HttpError(422, "times must say their time zone, e.g. 2026-11-24T09:00:00Z")
    if start >= end:
        raise HttpError(422, "start must be before end")
    report = effectiveness(start=start, end=end, campaign_id=query.campaign, step_id=query.step)
    return {
        "start": report.start,
        "end": report.end,
        "people": report.people,
        "channels": [_row(r) for r in report.channels],
        "teams": [_row(r) for r in report.teams],
        "total": _row(report.total),
    }
