"""The API for attribution: per campaign, the pipeline and won revenue it influenced and its
share by a model, as JSON or CSV (the same table as the page's download)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError

from leadline.api.auth import REFUSALS, require, rule
from leadline.core import clock
from leadline.core.permissions import access_insight

router = Router(tags=["Attribution"])

MODELS_WORDS = (
    "first_touch, last_touch, linear, u_shaped, w_shaped, time_decay or markov (data-driven)"
)


class AttributionFilter(Schema):
    model: str = Field("linear", description=MODELS_WORDS)
    since: dt.date | None = Field(None, description="Deals opened from this day (UTC)")
    until: dt.date | None = Field(None, description="...to this day, included (default: today)")
    format: str = Field("json", description="json, or csv for the table as CSV")


class CampaignAttributionOut(Schema):
    campaign: str
    campaign_id: int | None = Field(description="null: seen in touches, not entered")
    channel: str
    touches: int = Field(description="Touches of the campaign in the period")
    influenced_deals: int
    influenced_pipeline: float = Field(
        description="Amounts of deals with at least one touch on their path (not divided)"
    )
    influenced_won_deals: int
    influenced_won_revenue: float
    attributed_pipeline: float = Field(description="Its share by the model")
    attributed_revenue: float
    cost: float | None
    currency: str
    return_on_cost: float | None = Field(
        description="(attributed revenue - cost) / cost; null without a cost"
    )


class AttributionOut(Schema):
    model: str
    since: dt.date
    until: dt.date
    deals: int
    won: int
    pipeline: float
    revenue: float
    untouched_pipeline: float = Field(description="Of deals with no campaign touch")
    untouched_revenue: float
    notes: list[str]
    campaigns: list[CampaignAttributionOut]


def _period(filters: AttributionFilter) -> tuple[dt.date, dt.date]:
    until = filters.until or clock.now().astimezone(dt.UTC).date()
    since = filters.since or until - dt.timedelta(days=364)
    if since > until:
        raise ValidationError(
            [{"type": "invalid", "loc": ["query", "since"], "msg": "is after until"}]
        )
    return since, until


@router.get(
    "",
    response={200: AttributionOut, **REFUSALS},
    summary="Attribution per campaign",
)
@rule(access_insight)
def attribution_get(request: HttpRequest, filters: Query[AttributionFilter]) -> object:
    """Per campaign, for deals opened in the period (default: the last 365 days): influenced
    pipeline and won revenue, and the pipeline and revenue attributed by `model`; cost and
    return. An unknown model: 422 naming `model`. `format=csv`: the CSV table (every model)."""
    from leadline.insight.attribution import MODELS
    from leadline.insight.touches import attribution_report

    require(request, access_insight)
    if filters.model not in MODELS:
        raise ValidationError(
            [
                {
                    "type": "invalid",
                    "loc": ["query", "model"],
                    "msg": f"unknown model {filters.model!r}: one of {', '.join(MODELS)}",
                }
            ]
        )
    if filters.format not in ("json", "csv"):
        raise ValidationError(
            [{"type": "invalid", "loc": ["query", "format"], "msg": "json or csv"}]
        )
    since, until = _period(filters)
    start = dt.datetime.combine(since, dt.time(0), tzinfo=dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    report = attribution_report(since=start, until=end)
    if filters.format == "csv":
        return _csv(report, since, until)
    model = filters.model
    return AttributionOut(
        model=model,
        since=since,
        until=until,
        deals=report.deals,
        won=report.won,
        pipeline=report.pipeline,
        revenue=report.revenue,
        untouched_pipeline=report.untouched_pipeline,
        untouched_revenue=report.untouched_revenue,
        notes=report.notes,
        campaigns=[
            CampaignAttributionOut(
                campaign=row.name,
                campaign_id=row.campaign_id,
                channel=row.channel,
                touches=row.touches,
                influenced_deals=row.influenced_deals,
                influenced_pipeline=row.influenced_pipeline,
                influenced_won_deals=row.influenced_won,
                influenced_won_revenue=row.influenced_revenue,
                attributed_pipeline=row.pipeline[model],
                attributed_revenue=row.revenue[model],
                cost=row.cost,
                currency=row.currency,
                return_on_cost=row.gain(model),
            )
            for row in report.rows
        ],
    )


def _csv(report: object, since: dt.date, until: dt.date) -> HttpResponse:
    from django.conf import settings

    from leadline.insight.attribution import Report, report_csv

    assert isinstance(report, Report)
    text = report_csv(report, currency=settings.CURRENCY)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"attribution-{since.isoformat()}-{until.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
