"""Channels and teams (/insight/channels/): what each channel and each team achieved in a
period — attempts to won, time to first touch, the prospects' ratings — with a funnel per
channel, the teams side by side, filters (period, campaign, journey step) and a CSV download.

The view parses the filters, checks access and renders; `insight.effectiveness` reads and counts,
`web.effectiveness_plots` draws (imported inside the views: matplotlib and pandas are slow to
load)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from leadline.campaigns.models import Campaign
from leadline.core import clock
from leadline.core.permissions import access_insight
from leadline.journeys.models import JourneyStep
from leadline.web.access import page

if TYPE_CHECKING:  # pandas loads with the report, not with the URL map
    from leadline.insight.effectiveness import Effectiveness

PRESETS = {
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "quarter": "This quarter",
    "last_quarter": "Last quarter",
    "year": "This year",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "90d"


class FilterForm(forms.Form):
    period = forms.ChoiceField(choices=list(PRESETS.items()), required=False)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    campaign = forms.IntegerField(required=False, min_value=1)
    step = forms.IntegerField(required=False, min_value=1)


@dataclasses.dataclass(frozen=True)
class Filters:
    period: str
    since: dt.date
    until: dt.date  # inclusive
    campaign: Campaign | None
    step: JourneyStep | None
    notes: list[str]

    @property
    def query(self) -> str:
        parts = [f"period={self.period}"]
        if self.period == "custom":
            parts += [f"since={self.since.isoformat()}", f"until={self.until.isoformat()}"]
        if self.campaign is not None:
            parts.append(f"campaign={self.campaign.pk}")
        if self.step is not None:
            parts.append(f"step={self.step.pk}")
        return "&".join(parts)


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _preset_dates(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if preset == "30d":
        return today - dt.timedelta(days=29), today
    if preset == "quarter":
        return _quarter_start(today), today
    if preset == "last_quarter":
        end = _quarter_start(today) - dt.timedelta(days=1)
        return _quarter_start(end), end
    if preset == "year":
        return dt.date(today.year, 1, 1), today
    return today - dt.timedelta(days=89), today


def _filters(request: HttpRequest) -> Filters:
    """The filters asked for; bad values fall back to the defaults, and say so."""
    notes: list[str] = []
    form = FilterForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    today = timezone.localdate(clock.now())
    period = data.get("period") or DEFAULT_PRESET
    if "period" in form.errors:
        notes.append("That period is not one of the choices; showing the last 90 days.")
        period = DEFAULT_PRESET
    for name in ("since", "until"):
        if name in form.errors:
            notes.append(f"“{request.GET.get(name, '')[:20]}” is not a date; using the default.")
    # Dates other than the preset's mean the dates were changed: they are the period then.
    preset_since, preset_until = _preset_dates(period, today)
    changed = (data.get("since") or preset_since, data.get("until") or preset_until) != (
        preset_since,
        preset_until,
    )
    if period == "custom" or changed:
        period = "custom"
        until = data.get("until") or today
        since = data.get("since") or until - dt.timedelta(days=89)
        if since > until:
            notes.append("The period ended before it started; the two dates were swapped.")
            since, until = until, since
    else:
        since, until = _preset_dates(period, today)
    campaign = step = None
    if data.get("campaign"):
        campaign = Campaign.objects.filter(pk=data["campaign"]).first()
        if campaign is None:
            notes.append("That campaign does not exist (any more); showing every campaign.")
    if data.get("step"):
        step = JourneyStep.objects.select_related("journey").filter(pk=data["step"]).first()
        if step is None:
            notes.append("That journey step does not exist (any more); showing every step.")
    for name in ("campaign", "step"):
        if name in form.errors:
            notes.append(f"The {name} filter was not understood; it is left out.")
    return Filters(period, since, until, campaign, step, notes)


def _moments(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} h"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _cells(row: object) -> dict[str, object]:
    from leadline.insight.effectiveness import Row

    assert isinstance(row, Row)
    return {
        "row": row,
        "connect_rate": _percent(row.connect_rate),
        "set_to_held": _percent(row.set_to_held),
        "held_to_accepted": _percent(row.held_to_accepted),
        "accepted_to_won": _percent(row.accepted_to_won),
        "median": _hours(row.first_touch_median_hours),
        "p90": _hours(row.first_touch_p90_hours),
        "rating": "–" if row.rating_average is None else f"{row.rating_average:.1f}",
    }


def _report(filters: Filters) -> Effectiveness:
    from leadline.insight.effectiveness import effectiveness

    start, end = _moments(filters.since, filters.until)
    return effectiveness(
        start=start,
        end=end,
        campaign_id=filters.campaign.pk if filters.campaign else None,
        step_id=filters.step.pk if filters.step else None,
    )


@require_GET
@page(access_insight)
def effectiveness_page(request: HttpRequest) -> HttpResponse:
    from leadline.web.effectiveness_plots import funnels, team_chart

    filters = _filters(request)
    report = _report(filters)
    steps = JourneyStep.objects.select_related("journey").order_by("journey__name", "position")
    context = {
        "nav": "effectiveness",
        "filters": filters,
        "presets": list(PRESETS.items()),
        "campaigns": Campaign.objects.order_by("name"),
        "steps": steps,
        "report": report,
        "channels": [_cells(r) for r in report.channels],
        "teams": [_cells(r) for r in report.teams],
        "total": _cells(report.total),
        "funnels": funnels(report),
        "team_chart": team_chart(report),
        "csv_url": reverse("web:effectiveness_csv") + "?" + filters.query,
    }
    return render(request, "web/effectiveness.html", context)


@require_GET
@page(access_insight)
def effectiveness_csv(request: HttpRequest) -> HttpResponse:
    from leadline.insight.effectiveness import report_csv

    filters = _filters(request)
    report = _report(filters)
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    name = f"channels-and-teams-{filters.since.isoformat()}-{filters.until.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


urlpatterns: list[URLPattern] = [
    path("insight/channels/", effectiveness_page, name="effectiveness"),
    path("insight/channels.csv", effectiveness_csv, name="effectiveness_csv"),
]
