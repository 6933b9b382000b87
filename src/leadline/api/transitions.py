"""What moves buyers on, as JSON (mounted at /api/v1/insight/journeys): the journeys, one
journey's transitions (per step: counts, where they went, time in step by Kaplan-Meier, the
drivers of moving on with every figure), and the drivers of winning.

Every comparison made is listed with its figures and `significant`; `words` is given only for
the significant ones: a driver that is not significant is never put into words.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.core.permissions import access_insight
from leadline.journeys.models import Journey

if TYPE_CHECKING:
    from leadline.insight.drivers import DriverReport
    from leadline.insight.transitions import LeftOut, StepReport

router = Router(tags=["transitions"])

MIN_HORIZON, MAX_HORIZON, DEFAULT_HORIZON = 1, 365, 30


class JourneyOut(Schema):
    id: int
    slug: str
    name: str
    is_default: bool
    steps: list[str]


class DriverOut(Schema):
    field: str
    value: str = Field(description='"at least once", "at least 4", "Reference", "not given"…')
    n_with: int
    n_without: int
    rate_with: float
    rate_without: float
    lift: float = Field(description="Risk ratio: how many times as often, with vs without")
    low: float = Field(description="95% confidence interval of the lift (Katz, log scale)")
    high: float
    p: float
    q: float = Field(description="Benjamini-Hochberg adjusted over every comparison listed")
    significant: bool = Field(description="q below alpha and the interval leaves out 1")
    test: str
    corrected: bool = Field(description="An empty cell: 0.5 was added to every cell")
    words: str | None = Field(description="The finding in plain words; null unless significant")


class LeftOutOut(Schema):
    field: str
    why: str


class DriversOut(Schema):
    outcome: str
    n: int
    positives: int
    alpha: float
    thin: bool = Field(description="Too little history: nothing was tested")
    verdict: str
    tested: int
    significant: int
    smallest_q: float | None
    drivers: list[DriverOut] = Field(description="Every comparison made, most convincing first")
    left_out: list[LeftOutOut] = Field(description="Fields written down after the outcome")


class DestinationOut(Schema):
    kind: str = Field(description='"forward", "back", "removed" or "still"')
    label: str
    count: int
    position: int | None


class TimeInStepOut(Schema):
    stays: int
    ended: int
    censored: int = Field(description="Still there, or taken off the journey")
    median_days: float | None = Field(description="Kaplan-Meier; null when not reached yet")
    median_low_days: float | None
    median_high_days: float | None
    q25_days: float | None
    q75_days: float | None


class JourneyStepOut(Schema):
    step_id: int
    position: int
    name: str
    reached: int
    arrivals: int
    moved_on: int
    moved_on_share: float | None
    still_there: int
    removed: int
    next_step: str | None
    went: list[DestinationOut]
    time_in_step: TimeInStepOut
    drivers: DriversOut | None = Field(description="Null at the last step")


class TransitionsOut(Schema):
    journey_id: int
    slug: str
    name: str
    horizon_days: int
    as_of: dt.datetime
    steps: list[JourneyStepOut]


class WinningOut(Schema):
    won: int
    lost: int
    drivers: DriversOut


class HorizonQuery(Schema):
    horizon_days: int = Field(
        DEFAULT_HORIZON,
        ge=MIN_HORIZON,
        le=MAX_HORIZON,
        description="Moved on within so many days",
    )


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _drivers(report: DriverReport, left_out: list[LeftOut]) -> dict[str, Any]:
    return {
        "outcome": report.outcome_words,
        "n": report.n,
        "positives": report.positives,
        "alpha": report.alpha,
        "thin": report.thin,
        "verdict": report.verdict,
        "tested": report.tested,
        "significant": len(report.significant),
        "smallest_q": report.smallest_q,
        "drivers": [
            {
                "field": d.field,
                "value": d.value,
                "n_with": d.n_with,
                "n_without": d.n_without,
                "rate_with": d.rate_with,
                "rate_without": d.rate_without,
                "lift": d.lift,
                "low": d.low,
                "high": d.high,
                "p": d.p,
                "q": d.q,
                "significant": d.significant,
                "test": d.test,
                "corrected": d.corrected,
                "words": d.words if d.significant else None,
            }
            for d in report.drivers
        ],
        "left_out": [{"field": item.field, "why": item.why} for item in left_out],
    }


def _step(step: StepReport) -> dict[str, Any]:
    time = step.time
    return {
        "step_id": step.step_id,
        "position": step.position,
        "name": step.name,
        "reached": step.reached,
        "arrivals": step.arrivals,
        "moved_on": step.moved_on,
        "moved_on_share": step.moved_on_share,
        "still_there": step.still_there,
        "removed": step.removed,
        "next_step": step.next_name,
        "went": [
            {"kind": d.kind, "label": d.label, "count": d.count, "position": d.position}
            for d in step.went
        ],
        "time_in_step": {
            "stays": time.stays,
            "ended": time.ended,
            "censored": time.censored,
            "median_days": _number(time.median),
            "median_low_days": _number(time.median_low),
            "median_high_days": _number(time.median_high),
            "q25_days": _number(time.q25),
            "q75_days": _number(time.q75),
        },
        "drivers": _drivers(step.drivers, step.left_out) if step.drivers is not None else None,
    }


@router.get("", response={200: list[JourneyOut], **REFUSALS}, summary="Journeys to analyse")
@rule(access_insight)
def journeys_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Every journey with its steps in order: pick one's id for its transitions."""
    require(request, access_insight)
    journeys = Journey.objects.order_by("-is_default", "name").prefetch_related("steps")
    return [
        {
            "id": j.pk,
            "slug": j.slug,
            "name": j.name,
            "is_default": j.is_default,
            "steps": [s.name for s in sorted(j.steps.all(), key=lambda s: s.position)],
        }
        for j in journeys
    ]


@router.get(
    "/winning/drivers",
    response={200: WinningOut, **REFUSALS},
    summary="What made a difference to winning",
)
@rule(access_insight)
def winning_drivers(request: HttpRequest) -> dict[str, Any]:
    """Every closed opportunity, won against lost: each field of the deal, its person and
    its account (and what they did before it opened) compared, adjusted together."""
    from leadline.insight import transitions

    require(request, access_insight)
    report = transitions.win_drivers()
    return {
        "won": report.won,
        "lost": report.lost,
        "drivers": _drivers(report.drivers, report.left_out),
    }


@router.get(
    "/{journey_id}/transitions",
    response={200: TransitionsOut, 404: ErrorOut, **REFUSALS},
    summary="What moves buyers from one step to the next",
)
@rule(access_insight)
def journey_transitions(
    request: HttpRequest, journey_id: int, query: Query[HorizonQuery]
) -> dict[str, Any]:
    """Per step: reached, moved on, where they went, time in step (Kaplan-Meier, in days), and
    what made a difference to moving on within `horizon_days`."""
    from leadline.insight import transitions

    require(request, access_insight)
    journey = Journey.objects.filter(pk=journey_id).first()
    if journey is None:
        raise HttpError(404, f"no journey {journey_id}")
    report = transitions.journey_transitions(journey, horizon_days=query.horizon_days)
    return {
        "journey_id": report.journey_id,
        "slug": report.slug,
        "name": report.name,
        "horizon_days": report.horizon_days,
        "as_of": report.as_of,
        "steps": [_step(step) for step in report.steps],
    }
