"""The journeys insight pages' plots and words: the step funnel and time-in-step curves.

matplotlib's object API (a Figure per plot, never pyplot), as inline SVG whose colours are CSS
variables (app.css gives each a light and a dark value), each plot with its numbers beside it
as a table. Imported by the views when a page is drawn, not with the URL map: matplotlib and
pandas take a second to load.
"""

from __future__ import annotations

import dataclasses
import math

import matplotlib
import numpy as np
from django.utils.safestring import SafeString
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from leadline.insight.drivers import ratio
from leadline.insight.survival import Curve
from leadline.insight.transitions import JourneyReport, StepReport, TimeInStep
from leadline.web.sla_plots import figure_axes, svg_inline

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "leadline-insight"

_INK, _MUTED, _GRID = "#0b0d01", "#0b0d02", "#0b0d03"
_REACHED, _MOVED, _CURVE, _BAND = "#0b0d11", "#0b0d12", "#0b0d13", "#0b0d14"
_CSS_COLOURS = {
    _INK: "var(--ink, #14171c)",
    _MUTED: "var(--muted, #555e6b)",
    _GRID: "var(--line, #e2e5ea)",
    _REACHED: "var(--insight-reached, #c7d2fe)",
    _MOVED: "var(--insight-moved, #4f46e5)",
    _CURVE: "var(--insight-curve, #0e7490)",
    _BAND: "var(--insight-band, #a5f3fc)",
}
TABLE_DAYS = (1, 3, 7, 14, 30, 60, 90, 180, 365)
_PLOT_POINTS = 400
_NAME_CHARS = 26


# Words -------------------------------------------------------------------------------------------


def days(value: float | None) -> str:
    """A time in days as people say it: "under an hour", "5 h", "3.5 days", "41 days"."""
    if value is None or math.isnan(value):
        return "–"
    hours = value * 24
    if hours < 1:
        return "under an hour"
    if hours < 24:
        return f"{hours:.0f} h"
    if value < 10:
        return f"{value:.1f} days"
    return f"{value:.0f} days"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def interval(low: float | None, high: float | None) -> str:
    """The median's 95% interval in words; an open edge says "not reached yet"."""
    if low is None and high is None:
        return "not known yet"
    start = days(low) if low is not None else "…"
    end = days(high) if high is not None else "not reached yet"
    return f"{start} to {end}"


def lift_range(low: float, high: float) -> str:
    return f"{ratio(low)}–{ratio(high)}"


# Plot plumbing -----------------------------------------------------------------------------------


def _axes(
    size: tuple[float, float], margins: tuple[float, float, float, float]
) -> tuple[Figure, Axes]:
    return figure_axes(size, margins, line=_GRID, muted=_MUTED)


@dataclasses.dataclass(frozen=True)
class Table:
    caption: str
    head: str  # the first column's heading
    columns: list[str]
    rows: list[tuple[str, list[str]]]


@dataclasses.dataclass(frozen=True)
class Chart:
    key: str
    title: str
    description: str
    table: Table
    svg: SafeString | None = None
    empty: str = ""


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


# The funnel --------------------------------------------------------------------------------------


def funnel(report: JourneyReport) -> Chart:
    steps = report.steps
    who = report.who.lower()
    title = f"{report.name}: reached each step, and moved on from it"
    table = Table(
        caption=f"{report.who} per step: reached, moved on to a later step, and the share",
        head="Step",
        columns=["Reached", "Moved on", "Share moved on", "Still there"],
        rows=[
            (
                f"{step.position}. {step.name}",
                [
                    f"{step.reached:,}",
                    f"{step.moved_on:,}" if step.next_name else "–",
                    percent(step.moved_on_share) if step.next_name else "–",
                    f"{step.still_there:,}",
                ],
            )
            for step in steps
        ],
    )
    if not steps or not any(step.reached for step in steps):
        return Chart(
            key="funnel",
            title=title,
            description=f"Nobody has been on this journey yet: no {who} to count.",
            table=table,
            empty="No history on this journey yet.",
        )
    height = 0.5 + 0.42 * len(steps)
    figure, axes = _axes((6.4, height), (150.0, 12.0, 22.0, 22.0))
    y = np.arange(len(steps))[::-1]
    reached = np.array([step.reached for step in steps], dtype=float)
    moved = np.array([step.moved_on if step.next_name else 0 for step in steps], dtype=float)
    axes.barh(y, reached, height=0.66, color=_REACHED, linewidth=0)
    axes.barh(y, moved, height=0.66, color=_MOVED, linewidth=0)
    axes.set_yticks(y, [f"{s.position}. {_short(s.name)}" for s in steps], color=_INK)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes.grid(axis="x", color=_GRID, linewidth=0.8)
    axes.set_xlim(0, max(float(reached.max()) * 1.05, 1.0))
    axes.legend(
        handles=[
            Patch(facecolor=_REACHED, label="Reached"),
            Patch(facecolor=_MOVED, label="Moved on"),
        ],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=2,
        frameon=False,
        fontsize=10,
        handlelength=1.1,
        borderaxespad=0.3,
        borderpad=0,
        labelcolor=_INK,
    )
    first = steps[0]
    description = f"{first.reached:,} {who} reached the first step, {first.name}. " + " ".join(
        f"From {s.name}, {s.moved_on:,} of {s.reached:,} moved on ({percent(s.moved_on_share)})."
        for s in steps
        if s.next_name and s.reached
    )
    return Chart(
        key="funnel",
        title=title,
        description=description,
        table=table,
        svg=svg_inline(figure, key="funnel", title=title, colours=_CSS_COLOURS),
    )


# Time in step ------------------------------------------------------------------------------------


def _grid(curve: Curve, until: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The curve as steps at most `_PLOT_POINTS` long: (t, S, low, high), starting at (0, 1)."""
    if len(curve.times) <= _PLOT_POINTS:
        t = np.concatenate(([0.0], curve.times, [until]))
        index = np.concatenate(([-1], np.arange(len(curve.times)), [len(curve.times) - 1]))
    else:
        t = np.linspace(0.0, until, _PLOT_POINTS)
        index = np.searchsorted(curve.times, t, side="right") - 1
    ones = index < 0
    safe = np.clip(index, 0, None)
    s = np.where(ones, 1.0, curve.survival[safe])
    low = np.where(ones, 1.0, curve.low[safe])
    high = np.where(ones, 1.0, curve.high[safe])
    return t, s, low, high


def time_in_step(step: StepReport, *, key: str) -> Chart:
    time: TimeInStep = step.time
    curve = time.curve
    title = f"Time in {step.name}: share still there after each day"
    rows: list[tuple[str, list[str]]] = []
    for day in TABLE_DAYS:
        if len(curve.times) and day > curve.times[-1] * 1.5 and rows:
            break
        index = int(np.searchsorted(curve.times, day, side="right")) - 1
        still = 1.0 if index < 0 else float(curve.survival[index])
        lowest = 1.0 if index < 0 else float(curve.low[index])
        highest = 1.0 if index < 0 else float(curve.high[index])
        left = int(curve.events[: index + 1].sum()) if index >= 0 else 0
        rows.append(
            (
                f"{day} day{'s' if day != 1 else ''}",
                [percent(still), f"{percent(lowest)}–{percent(highest)}", f"{left:,}"],
            )
        )
    table = Table(
        caption=(
            f"Share still in {step.name} after so many days (Kaplan-Meier, {time.stays:,} stays)"
        ),
        head="After",
        columns=["Still there", "95% CI", "Left by then"],
        rows=rows,
    )
    if time.stays == 0:
        return Chart(
            key=key,
            title=title,
            description="Nobody has been at this step yet.",
            table=table,
            empty="Nobody has been at this step yet.",
        )
    median = (
        f"Half had left after {days(time.median)} "
        f"(95% CI {interval(time.median_low, time.median_high)})"
        if time.median is not None
        else "Fewer than half have left yet, so the median is not known"
    )
    description = (
        f"{median}. {time.ended:,} of {time.stays:,} stays ended by moving to another step; "
        f"{time.censored:,} still going or taken off the journey count for as long as they lasted."
    )
    if time.ended == 0:
        return Chart(
            key=key,
            title=title,
            description=description,
            table=table,
            empty="Nobody has left this step yet.",
        )
    longest = float(curve.times[-1]) * 1.08 + 0.5
    t, s, low, high = _grid(curve, longest)
    figure, axes = _axes((6.4, 2.5), (44.0, 10.0, 24.0, 8.0))
    axes.fill_between(t, low * 100, high * 100, step="post", color=_BAND, linewidth=0, alpha=0.6)
    axes.step(t, s * 100, where="post", color=_CURVE, linewidth=2)
    axes.set_ylim(0, 104)
    axes.set_yticks([0, 25, 50, 75, 100])
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    axes.set_xlim(0, longest)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 7, 10]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} d"))
    axes.grid(axis="y", color=_GRID, linewidth=0.8)
    return Chart(
        key=key,
        title=title,
        description=description,
        table=table,
        svg=svg_inline(figure, key=key, title=title, colours=_CSS_COLOURS),
    )
