"""A goal's curve: the value measured each day against the pace line (a count or a sum should
grow evenly to the target) or the target line (a rate), and the forecast to the period's end.
Drawn like the response-times board (`web.sla_plots`: matplotlib's object API, inline SVG with
the page's colours), with the numbers beside it as a table for those who do not see it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from django.utils.safestring import SafeString
from matplotlib.ticker import FuncFormatter, MaxNLocator

from leadline.core import clock
from leadline.insight import goals as goal_service
from leadline.insight import metrics
from leadline.insight.models import Goal, GoalSnapshot
from leadline.web.sla_plots import _INK, _MUTED, _SERIES, figure_axes, svg_inline

_FIGSIZE = (6.4, 2.7)
_MARGINS = (52.0, 10.0, 24.0, 24.0)


@dataclasses.dataclass(frozen=True)
class GoalChart:
    key: str
    title: str
    description: str
    rows: list[tuple[str, str, str]]  # day, value, expected by then (or the target)
    svg: SafeString | None


def _axis_label(metric: metrics.Metric, value: float) -> str:
    if metric.unit == "money":
        return f"{value:,.0f}"
    if metric.unit == "hours":
        return f"{value:g} h"
    if metric.unit == "percent":
        return f"{value:.0f}%"
    return f"{value:g}"


def _expected_on(progress: goal_service.Progress, goal: Goal, day: dt.date) -> float:
    if not progress.metric.accumulates:
        return progress.target
    span = (goal.ends_on - goal.starts_on).days + 1
    # A snapshot on a day measures up to that day's start in effect: the days before it.
    gone = min(max((day - goal.starts_on).days, 0), span)
    return progress.target * gone / span


def goal_chart(
    *, goal: Goal, progress: goal_service.Progress, snapshots: Sequence[GoalSnapshot]
) -> GoalChart:
    metric = progress.metric
    today = goal_service.today(clock.now())
    points = [(s.on, s.value) for s in snapshots if s.value is not None]
    if progress.state == "running" and progress.value is not None:
        points = [p for p in points if p[0] != today] + [(today, progress.value)]
    fmt = metrics.format_value
    rows = [
        (
            f"{day.day} {day:%b %Y}",
            fmt(metric, value),
            fmt(metric, _expected_on(progress, goal, day)),
        )
        for day, value in points
    ]
    key = f"goal-{goal.pk}"
    title = f"{metric.label}: value over the period"
    guide = "the pace line" if metric.accumulates else "the target"
    description = (
        f"{len(points)} measurement{'s' if len(points) != 1 else ''} from "
        f"{goal.starts_on.day} {goal.starts_on:%b} to {goal.ends_on.day} {goal.ends_on:%b %Y}, "
        f"against {guide} ({fmt(metric, progress.target)} by the end). "
        f"Now: {progress.value_text}; {progress.pace_words.lower()}."
    )
    if progress.forecast_words:
        description += f" {progress.forecast_words}."
    if not points:
        return GoalChart(key, title, description, rows, None)

    figure, axes = figure_axes(_FIGSIZE, _MARGINS, grid="y")
    # Days from the period's start: 0 is its first midnight, `span` the midnight after its end.
    span = (goal.ends_on - goal.starts_on).days + 1
    guide_label = "Pace to the target" if metric.accumulates else "Target"
    guide_start = 0.0 if metric.accumulates else progress.target
    axes.plot([0, span], [guide_start, progress.target], color=_MUTED, linewidth=1.4,
              linestyle=(0, (4, 3)), label=guide_label)  # fmt: skip
    xs = [float((day - goal.starts_on).days) for day, _ in points]
    ys = [float(value) for _, value in points]
    axes.plot(xs, ys, color=_SERIES[0], linewidth=2.2, marker="o",
              markersize=3.5 if len(xs) <= 40 else 0, label=metric.label,
              solid_capstyle="round")  # fmt: skip
    top = max([*ys, progress.target])
    if progress.state == "running" and progress.forecast is not None and metric.accumulates:
        axes.plot([xs[-1], span], [ys[-1], progress.forecast], color=_SERIES[1], linewidth=1.6,
                  linestyle=(0, (2, 2)), label="Forecast")  # fmt: skip
        top = max(top, progress.forecast)
    if metric.unit == "percent":
        axes.set_ylim(0, 104)
    else:
        axes.set_ylim(0, max(top * 1.12, 1.0))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _axis_label(metric, v)))
    axes.set_xlim(0, span)
    ticks = sorted({round(span * n / 4) for n in range(4)})
    labels = []
    for offset in ticks:
        day = goal.starts_on + dt.timedelta(days=offset)
        labels.append(f"{day.day} {day:%b}")
    axes.set_xticks(ticks, labels)
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False, fontsize=10,
                handlelength=1.6, borderaxespad=0.3, borderpad=0, labelcolor=_INK)  # fmt: skip
    return GoalChart(key, title, description, rows, svg_inline(figure, key=key, title=title))
