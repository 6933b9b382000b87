"""The model page's plot: calibration (what the model said against what happened), drawn with
matplotlib's object API as inline SVG in the page's colours (the response-times board's
drawing helpers, web.sla_plots), with its numbers beside it as a table.

Imported by the view when the page is drawn, not with the URL map: matplotlib takes a second
to load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.utils.safestring import SafeString
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from leadline.web.sla_plots import _GRID, _MUTED, _SERIES, _legend, _new_axes, svg_inline


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


@dataclasses.dataclass(frozen=True)
class CalibrationBin:
    predicted: float
    observed: float
    n: int


@dataclasses.dataclass(frozen=True)
class CalibrationPlot:
    key: str
    title: str
    description: str
    bins: list[CalibrationBin]
    svg: SafeString | None
    empty: str = ""


def calibration_bins(raw: Sequence[Sequence[float]]) -> list[CalibrationBin]:
    return [CalibrationBin(float(p), float(o), int(n)) for p, o, n in raw]


def calibration_plot(
    raw: Sequence[Sequence[float]], *, key: str = "calibration"
) -> CalibrationPlot:
    """Observed share against mean predicted chance per bin (out of fold), the diagonal where
    they would be equal, each point as large as its bin."""
    bins = calibration_bins(raw)
    title = "Calibration: predicted chance against what happened"
    if not bins:
        return CalibrationPlot(key, title, "", [], None, "No fit yet: nothing to compare.")
    n = sum(b.n for b in bins)
    worst = max(bins, key=lambda b: abs(b.predicted - b.observed))
    description = (
        f"Each point is a group of about {n // len(bins):,} cases (n={n:,} in all), predicted "
        f"out of fold: the model never saw them while learning. On the diagonal, a chance of "
        f"30% comes true 30% of the time. Largest gap: predicted {percent(worst.predicted)}, "
        f"happened {percent(worst.observed)} (n={worst.n:,})."
    )
    figure, axes = _new_axes(legend_rows=1)
    axes.plot([0, 1], [0, 1], color=_MUTED, linewidth=1.2, linestyle=(0, (4, 3)))
    largest = max(b.n for b in bins)
    axes.plot(
        [b.predicted for b in bins],
        [b.observed for b in bins],
        color=_SERIES[0],
        linewidth=1.8,
    )
    axes.scatter(
        [b.predicted for b in bins],
        [b.observed for b in bins],
        s=[18 + 60 * b.n / largest for b in bins],
        color=_SERIES[0],
        zorder=3,
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.04)
    axes.grid(axis="x", color=_GRID, linewidth=0.8)
    as_percent = FuncFormatter(lambda v, _: f"{v * 100:.0f}%")
    axes.xaxis.set_major_formatter(as_percent)
    axes.yaxis.set_major_formatter(as_percent)
    axes.set_xticks([0, 0.25, 0.5, 0.75, 1])
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1])
    handles = [
        Line2D([], [], color=_SERIES[0], marker="o", linewidth=1.8, label="Observed share"),
        Line2D([], [], color=_MUTED, linestyle=(0, (4, 3)), label="Perfect calibration"),
    ]
    _legend(axes, handles, 2)
    return CalibrationPlot(key, title, description, bins, svg_inline(figure, key=key, title=title))
