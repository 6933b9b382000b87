"""What moves buyers on (/insight/journeys/): pick a journey, then per step how many reached it,
moved on and where they went, how long they stayed, and what made a difference to moving on;
and what made a difference to winning (/insight/winning/).

The views read the query, ask `insight.transitions` and render; `web.insight_plots` draws.
Both are imported when a page is asked for, not with the URL map (pandas and matplotlib take a
second to load).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from leadline.core.permissions import access_insight
from leadline.journeys.models import Journey
from leadline.web.access import page

DEFAULT_HORIZON = 30
MIN_HORIZON, MAX_HORIZON = 1, 365
HORIZON_CHOICES = (7, 14, 30, 60, 90)


def _horizon(request: HttpRequest) -> tuple[int, str | None]:
    """The horizon asked for, or the problem with it in words naming the field."""
    raw = request.GET.get("horizon", "").strip()
    if not raw:
        return DEFAULT_HORIZON, None
    if not raw.isdigit() or not MIN_HORIZON <= int(raw) <= MAX_HORIZON:
        return DEFAULT_HORIZON, (
            f"horizon: “{raw[:20]}” is not a number of days from {MIN_HORIZON} to {MAX_HORIZON}."
        )
    return int(raw), None


@require_GET
@page(access_insight)
def journeys_pick(request: HttpRequest) -> HttpResponse:
    journeys = list(Journey.objects.order_by("-is_default", "name").prefetch_related("steps"))
    return render(
        request,
        "web/insight_journeys_list.html",
        {"nav": "insight_journeys", "journeys": journeys},
    )


@require_GET
@page(access_insight)
def journey_transitions(request: HttpRequest, slug: str) -> HttpResponse:
    from leadline.insight import snapshots

    journey = Journey.objects.filter(slug=slug).first()
    if journey is None:
        raise Http404("No such journey")
    horizon, problem = _horizon(request)
    context: dict[str, Any] = {
        "nav": "insight_journeys",
        "journey": journey,
        "horizon": horizon,
        "horizon_choices": sorted({*HORIZON_CHOICES, horizon}),
        "problem": problem,
        "min_horizon": MIN_HORIZON,
        "max_horizon": MAX_HORIZON,
    }
    if problem:
        return render(request, "web/insight_journeys_detail.html", context, status=400)
    # Small databases compute the report now; big ones show the worker's snapshot (decision 15).
    # A change to the journey's steps makes an older snapshot out of date.
    shown = snapshots.shown(
        snapshots.JOURNEY,
        snapshots.journey_params(journey_id=journey.pk, horizon=horizon),
        changed_at=journey.updated_at,
    )
    context["shown"] = shown
    if shown.pending:
        return render(request, "web/insight_journeys_detail.html", context)
    from leadline.web import insight_plots

    report = shown.result
    context.update(
        report=report,
        funnel=insight_plots.funnel(report),
        cards=[
            {
                "step": step,
                "chart": insight_plots.time_in_step(step, key=f"step-{step.position}-time"),
                "median": insight_plots.days(step.time.median),
                "median_ci": insight_plots.interval(step.time.median_low, step.time.median_high),
                "q25": insight_plots.days(step.time.q25),
                "q75": insight_plots.days(step.time.q75),
                "share": insight_plots.percent(step.moved_on_share),
            }
            for step in report.steps
        ],
    )
    return render(request, "web/insight_journeys_detail.html", context)


@require_GET
@page(access_insight)
def winning(request: HttpRequest) -> HttpResponse:
    from leadline.insight import snapshots

    shown = snapshots.shown(snapshots.WINNING, {})
    report = shown.result
    return render(
        request,
        "web/insight_journeys_winning.html",
        {
            "nav": "insight_winning",
            "shown": shown,
            "report": report,
            "drivers": report.drivers if report is not None else [],
        },
    )


urlpatterns: list[URLPattern] = [
    path("insight/journeys/", journeys_pick, name="insight_journeys"),
    path("insight/journeys/<slug:slug>/", journey_transitions, name="insight_journey"),
    path("insight/winning/", winning, name="insight_winning"),
]
