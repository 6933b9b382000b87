"""The response-times board's words, numbers and plots: matplotlib's object API (a Figure per
plot, never pyplot's global figures), as inline SVG whose colours are CSS variables, so one
picture suits the light and the dark theme. Each plot has its data beside it as a table.

Imported by the view when the board is drawn, not with the URL map: matplotlib and pandas take
a second to load, and every process that reverses a URL would pay it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import matplotlib
import numpy as np
import pandas as pd
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from leadline.insight import sla

# No GUI, ever. Text stays text (the page's font, selectable, small); ids are stable. These are
# set once for the process, never changed per request.
matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "leadline-sla"


# Words and numbers -----------------------------------------------------------------------------


def duration(hours: float | None) -> str:
    """Business hours as people say them: "45 min", "2 h", "1 h 05 min"."""
    if hours is None or math.isnan(hours):
        return "–"
    minutes = int(hours * 60 + 0.5)
    if minutes < 60:
        return f"{minutes} min"
    whole, rest = divmod(minutes, 60)
    return f"{whole} h" if rest == 0 else f"{whole} h {rest:02d} min"


def percent(share: float | None) -> str:
    if share is None or math.isnan(share):
        return "–"
    return f"{share:.0f}%"


def week_label(monday: dt.date) -> str:
    return f"{monday.day} {monday:%b}"


def _optional(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


@dataclasses.dataclass(frozen=True)
class Tile:
    label: str
    value: str
    detail: str
    tone: str = ""


def tiles(headline: sla.Headline) -> list[Tile]:
    return [
        Tile(
            "Within deadline",
            percent(headline.share_within),
            f"{headline.within} of {headline.decided} decided requests",
        ),
        Tile(
            "Median to first touch",
            duration(headline.median_hours),
            f"business hours, {headline.touched} touched",
        ),
        Tile(
            "p90 to first touch",
            duration(headline.p90_hours),
            "9 in 10 touched requests were touched within this",
        ),
        Tile(
            "Breaches",
            str(headline.breaches),
            f"{headline.pending} not due yet",
            "bad" if headline.breaches else "good",
        ),
        Tile(
            "Waiting past due now",
            str(headline.waiting_past_due),
            "open, not touched, deadline passed",
            "bad" if headline.waiting_past_due else "good",
        ),
    ]


# Plots -----------------------------------------------------------------------------------------

# matplotlib draws with these stand-in colours; the SVG then gets CSS variables in their place
# (sla.css gives each a light and a dark value; the fallback is the light one).
_INK, _MUTED, _GRID = "#0b0c01", "#0b0c02", "#0b0c03"
_SERIES = ("#0b0c11", "#0b0c12", "#0b0c13", "#0b0c14", "#0b0c15", "#0b0c16")
_OTHERS = "#0b0c1f"
_CSS_COLOURS = {
    _INK: "var(--ink, #14171c)",
    _MUTED: "var(--muted, #555e6b)",
    _GRID: "var(--line, #e2e5ea)",
    _SERIES[0]: "var(--sla-1, #4f46e5)",
    _SERIES[1]: "var(--sla-2, #c2410c)",
    _SERIES[2]: "var(--sla-3, #0e7490)",
    _SERIES[3]: "var(--sla-4, #be185d)",
    _SERIES[4]: "var(--sla-5, #15803d)",
    _SERIES[5]: "var(--sla-6, #7c3aed)",
    _OTHERS: "var(--sla-others, #7c8594)",
}
_FIGSIZE = (6.4, 2.7)  # inches at 72 units each: a 460 by 194 viewBox, sharp at any width
_LEGEND_CHARS = 22


# Fixed margins (in points) rather than a layout engine: as clean, and several times faster.
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_BOTTOM, _MARGIN_TOP = 40.0, 8.0, 24.0, 10.0
_LEGEND_ROW = 15.0


def figure_axes(
    size: tuple[float, float],
    margins: tuple[float, float, float, float],
    *,
    grid: Literal["x", "y"] | None = None,
    line: str = _GRID,
    muted: str = _MUTED,
) -> tuple[Figure, Axes]:
    """A figure of `size` inches with one quiet axes: `margins` (left, right, bottom, top) in
    points, no frame but the baseline, no tick marks, labels in `muted`, an optional grid in
    `line` (colours are a page's stand-ins, see svg_inline)."""
    figure = Figure(figsize=size)
    width, height = (inches * 72 for inches in size)
    left, right, bottom, top = margins
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )
    axes = figure.add_subplot()
    axes.set_facecolor("none")
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(line)
    axes.tick_params(axis="both", length=0, labelsize=10, colors=muted, pad=6)
    if grid is not None:
        axes.grid(axis=grid, color=line, linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _new_axes(*, legend_rows: int = 0) -> tuple[Figure, Axes]:
    top = _MARGIN_TOP + legend_rows * _LEGEND_ROW
    return figure_axes(_FIGSIZE, (_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_BOTTOM, top), grid="y")


def _week_ticks(axes: Axes, weeks: Sequence[dt.date]) -> None:
    """About six labels, the current week always among them."""
    step = max(1, math.ceil(len(weeks) / 6))
    positions = list(range(len(weeks) - 1, -1, -step))[::-1]
    axes.set_xticks(positions, [week_label(weeks[n]) for n in positions])
    axes.set_xlim(-0.6, len(weeks) - 0.4)


def _legend(axes: Axes, handles: Sequence[Artist], columns: int) -> None:
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=columns,
        frameon=False,
        fontsize=10,
        handlelength=1.1,
        handleheight=0.8,
        handletextpad=0.5,
        columnspacing=1.4,
        borderaxespad=0.3,
        borderpad=0,
        labelspacing=0.3,
        labelcolor=_INK,
    )


def _short(label: str) -> str:
    return label if len(label) <= _LEGEND_CHARS else label[: _LEGEND_CHARS - 1] + "…"


def _lines(
    weeks: Sequence[dt.date],
    series: Sequence[tuple[str, pd.Series]],
    *,
    percent_axis: bool,
) -> Figure:
    figure, axes = _new_axes(legend_rows=1 if len(series) > 1 else 0)
    x = list(range(len(weeks)))
    handles: list[Artist] = []
    for (label, values), colour in zip(series, _SERIES, strict=False):
        handles += axes.plot(
            x,
            values.to_numpy(dtype=float),
            color=colour,
            linewidth=2.2,
            marker="o",
            # Markers show a week between gaps; with many weeks they would crowd.
            markersize=4.5 if len(weeks) <= 26 else 2.5,
            label=label,
            solid_capstyle="round",
        )
    if percent_axis:
        axes.set_ylim(0, 104)
        axes.set_yticks([0, 25, 50, 75, 100])
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    else:
        top = max((float(v.max()) for _, v in series if v.notna().any()), default=1.0)
        axes.set_ylim(0, max(top * 1.12, 1.0))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} h"))
    _week_ticks(axes, weeks)
    if len(series) > 1:
        _legend(axes, handles, len(series))
    return figure


_BAR_WIDTH = 0.68


def _stacked_bars(weeks: Sequence[dt.date], counts: pd.DataFrame) -> Figure:
    """One collection of rectangles per group (not a patch per bar: 52 weeks stay fast)."""
    columns = min(len(counts.columns), 3)
    figure, axes = _new_axes(legend_rows=math.ceil(len(counts.columns) / columns))
    bottom = np.zeros(len(weeks))
    palette = iter(_SERIES)
    handles: list[Artist] = []
    half = _BAR_WIDTH / 2
    for name in counts.columns:
        values = counts[name].to_numpy(dtype=float)
        colour = _OTHERS if name == sla.OTHERS else next(palette, _OTHERS)
        bars = [
            [(x - half, low), (x - half, low + v), (x + half, low + v), (x + half, low)]
            for x, (low, v) in enumerate(zip(bottom, values, strict=True))
            if v > 0
        ]
        axes.add_collection(PolyCollection(bars, facecolors=colour, linewidths=0))
        handles.append(Patch(facecolor=colour, label=_short(str(name))))
        bottom += values
    axes.set_ylim(0, max(float(bottom.max(initial=0)) * 1.1, 1))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    _week_ticks(axes, weeks)
    _legend(axes, handles, columns)
    return figure


_IDS = re.compile(r'(\bid="|url\(#|xlink:href="#)([^")]+)')
_FONT_FAMILY = re.compile(r"font-family:[^;\"]*;?\s*")


def svg_inline(
    figure: Figure, *, key: str, title: str, colours: Mapping[str, str] = _CSS_COLOURS
) -> SafeString:
    """The figure as an SVG element for the page: scalable, named, its ids its own, and its
    colours and font the page's (`colours` maps each stand-in colour to a CSS variable)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    text = _IDS.sub(lambda m: f"{m[1]}{key}-{m[2]}", text)
    text = _FONT_FAMILY.sub("", text)
    for stand_in, colour in colours.items():
        text = text.replace(stand_in, colour)
    opening = re.match(r"<svg\b[^>]*>", text)
    assert opening is not None
    attributes = re.sub(r'\s(width|height)="[^"]*"', "", opening[0][len("<svg") : -1])
    head = (
        f'<svg{attributes} class="chart" role="img" focusable="false" '
        f'aria-labelledby="{key}-title" aria-describedby="{key}-desc">'
        f'<title id="{key}-title">{escape(title)}</title>'
    )
    return mark_safe(head + text[opening.end() :])  # noqa: S308 - matplotlib's own markup


# Charts and their tables ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]
    total: tuple[str, list[str]] | None = None


@dataclasses.dataclass(frozen=True)
class Chart:
    key: str
    title: str
    description: str
    table: Table
    svg: SafeString | None = None
    empty: str = ""


def charts(board: sla.SlaBoard) -> list[Chart]:
    labels = [week_label(monday) for monday in board.weeks]
    if board.is_empty:
        empty = "No request had a first-touch deadline in these weeks."
        return [
            dataclasses.replace(chart, svg=None, empty=empty)
            for chart in _chart_texts(board, labels, draw=False)
        ]
    return _chart_texts(board, labels, draw=True)


def _chart_texts(board: sla.SlaBoard, labels: list[str], *, draw: bool) -> list[Chart]:
    weekly, head = board.weekly, board.headline
    charts: list[Chart] = []

    share = weekly["share_within"]
    title = "Share of requests touched within their deadline"
    description = f"Per week of the deadline. Over the period: {percent(head.share_within)}"
    if share.notna().any():
        lowest = int(np.nanargmin(share.to_numpy(dtype=float)))
        description += (
            f"; lowest {percent(float(share.iloc[lowest]))} "
            f"in the week of {week_label(board.weeks[lowest])}"
        )
    charts.append(
        Chart(
            key="sla-share",
            title=title,
            description=description + ".",
            svg=svg_inline(
                _lines(board.weeks, [("Within deadline", share)], percent_axis=True),
                key="sla-share",
                title=title,
            )
            if draw and head.decided
            else None,
            empty="" if head.decided else "Nothing is decided yet: no deadline has passed.",
            table=Table(
                caption="Requests by week of their deadline",
                columns=["Due", "Within deadline", "Breached", "Not due yet", "Share within"],
                rows=[
                    (
                        label,
                        [
                            str(row.requests),
                            str(row.within),
                            str(row.breaches),
                            str(row.pending),
                            percent(_optional(row.share_within)),
                        ],
                    )
                    for label, row in zip(labels, weekly.itertuples(), strict=True)
                ],
                total=(
                    "All weeks",
                    [
                        str(head.decided + head.pending),
                        str(head.within),
                        str(head.breaches),
                        str(head.pending),
                        percent(head.share_within),
                    ],
                ),
            ),
        )
    )

    title = "Time to first touch, in business hours"
    charts.append(
        Chart(
            key="sla-time",
            title=title,
            description=(
                f"Median and 90th percentile per week, counting only the owning team's open "
                f"hours. Over the period: median {duration(head.median_hours)}, "
                f"p90 {duration(head.p90_hours)}. Requests not touched yet are not in it."
            ),
            svg=svg_inline(
                _lines(
                    board.weeks,
                    [("Median", weekly["median_hours"]), ("p90", weekly["p90_hours"])],
                    percent_axis=False,
                ),
                key="sla-time",
                title=title,
            )
            if draw and head.touched
            else None,
            empty="" if head.touched else "No request from these weeks has been touched yet.",
            table=Table(
                caption="Business hours from arrival to first touch, by week of the deadline",
                columns=["Touched", "Median", "p90"],
                rows=[
                    (
                        label,
                        [
                            str(row.touched),
                            duration(_optional(row.median_hours)),
                            duration(_optional(row.p90_hours)),
                        ],
                    )
                    for label, row in zip(labels, weekly.itertuples(), strict=True)
                ],
                total=(
                    "All weeks",
                    [str(head.touched), duration(head.median_hours), duration(head.p90_hours)],
                ),
            ),
        )
    )

    for key, title, by, counts in (
        (
            "sla-reps",
            "Breaches by rep",
            "the rep who held the request at its deadline",
            board.breaches_by_rep,
        ),
        (
            "sla-sources",
            "Breaches by source",
            "where the request came from (UTM source, else the form, else the channel)",
            board.breaches_by_source,
        ),
    ):
        charts.append(_breach_chart(board, labels, key, title, by, counts, draw=draw))
    return charts


def _breach_chart(
    board: sla.SlaBoard,
    labels: list[str],
    key: str,
    title: str,
    by: str,
    counts: pd.DataFrame,
    *,
    draw: bool,
) -> Chart:
    columns = [str(c) for c in counts.columns]
    totals = [int(counts[c].sum()) for c in counts.columns]
    named = [
        (total, name) for name, total in zip(columns, totals, strict=True) if name != sla.OTHERS
    ]
    if named:
        # Columns come biggest first, so the first named one has the most.
        total, leader = named[0]
        description = (
            f"Breaches per week, stacked by {by}. Most: {leader} ({total}); {sum(totals)} in all."
        )
    else:
        description = f"Breaches per week, stacked by {by}."
    table = Table(
        caption=f"{title}, per week of the deadline",
        columns=[*columns, "Total"],
        rows=[
            (label, [*(str(int(v)) for v in row), str(int(sum(row)))])
            for label, row in zip(labels, counts.itertuples(index=False), strict=True)
        ]
        if columns
        else [(label, ["0"]) for label in labels],
        total=("All weeks", [*(str(t) for t in totals), str(sum(totals))]),
    )
    if not columns:
        return Chart(
            key=key,
            title=title,
            description=description,
            table=table,
            empty="No breaches in these weeks.",
        )
    return Chart(
        key=key,
        title=title,
        description=description,
        table=table,
        svg=svg_inline(_stacked_bars(board.weeks, counts), key=key, title=title) if draw else None,
    )
