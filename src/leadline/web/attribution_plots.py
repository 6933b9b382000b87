"""The attribution page's plots: attributed revenue per campaign under every model (grouped
bars), and cost against attributed revenue. matplotlib's object API drawn as inline SVG with
the page's colours (the response-times board's `svg_inline` and stand-in colours), each with its
data as a table.

Imported by the view when the page is drawn, not with the URL map (matplotlib is slow to load).
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from leadline.insight.attribution import MODEL_NAMES, MODELS, Report, Row, money
from leadline.web.insight_plots import Chart, Table
from leadline.web.sla_plots import _INK, _OTHERS, _SERIES, figure_axes, svg_inline

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"

# How many campaigns a plot shows (the biggest by influenced revenue); the table has them all.
TOP = 8
_PALETTE = (*_SERIES, _OTHERS)
_LABEL_CHARS = 24


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _axes(rows: int, *, legend_rows: int) -> tuple[Figure, Axes]:
    height = 0.9 + 0.34 * rows * 2 + 0.22 * legend_rows
    return figure_axes((6.4, height), (150, 14, 26, 10 + 15 * legend_rows), grid="x")


def _bars(names: list[str], series: list[tuple[str, list[float]]]) -> Figure:
    columns = min(len(series), 4)
    legend_rows = -(-len(series) // columns)
    figure, axes = _axes(len(names), legend_rows=legend_rows)
    group = 0.8
    height = group / len(series)
    handles: list[Artist] = []
    y = np.arange(len(names))
    for i, ((label, values), colour) in enumerate(zip(series, _PALETTE, strict=False)):
        offset = -group / 2 + height * (i + 0.5)
        axes.barh(y + offset, values, height=height * 0.92, color=colour, linewidth=0)
        handles.append(Patch(facecolor=colour, label=label))
    axes.set_yticks(y, [_short(n) for n in names])
    axes.invert_yaxis()
    top = max((max(v, default=0.0) for _, v in series), default=0.0)
    axes.set_xlim(0, max(top * 1.08, 1.0))
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(-0.3, 1.0),
        ncols=columns,
        frameon=False,
        fontsize=9,
        handlelength=1.1,
        handleheight=0.8,
        columnspacing=1.2,
        borderaxespad=0.3,
        borderpad=0,
        labelcolor=_INK,
    )
    return figure


def _top(report: Report, model: str) -> list[Row]:
    touched = [r for r in report.rows if r.influenced_revenue > 0 or r.revenue[model] > 0]
    return sorted(touched, key=lambda r: -r.influenced_revenue)[:TOP]


def charts(report: Report, *, model: str) -> list[Chart]:
    found: list[Chart] = []
    top = _top(report, model)
    title = "Attributed won revenue per campaign, by model"
    table = Table(
        caption="Attributed won revenue per campaign and model",
        head="Campaign",
        columns=[MODEL_NAMES[m] for m in MODELS],
        rows=[(r.name, [money(r.revenue[m]) for m in MODELS]) for r in top],
    )
    if top:
        leader = top[0]
        low = min(leader.revenue.values())
        high = max(leader.revenue.values())
        description = (
            f"The {len(top)} campaigns that influenced the most won revenue "
            f"({report.won} won deals, {money(report.revenue)} in all). "
            f"{leader.name} gets between {money(low)} and {money(high)} depending on the model."
        )
        series = [(MODEL_NAMES[m], [r.revenue[m] for r in top]) for m in MODELS]
        svg = svg_inline(_bars([r.name for r in top], series), key="attr-models", title=title)
        found.append(Chart("attr-models", title, description, table, svg))
    else:
        found.append(
            Chart(
                "attr-models",
                title,
                "No won deal in the period had a campaign touch on its path.",
                table,
                empty="Nothing to plot: no won revenue reached a campaign.",
            )
        )

    title = f"Cost and attributed revenue ({MODEL_NAMES[model]})"
    costed = [r for r in report.rows if r.cost is not None][: TOP * 2]
    costed = sorted(costed, key=lambda r: -(r.cost or 0.0))[:TOP]
    table = Table(
        caption="Cost, attributed won revenue and return per campaign with a cost",
        head="Campaign",
        columns=["Cost", "Attributed revenue", "Return"],
        rows=[
            (
                r.name,
                [money(r.cost), money(r.revenue[model]), percent(r.gain(model))],
            )
            for r in costed
        ],
    )
    if costed:
        series = [
            ("Cost", [r.cost or 0.0 for r in costed]),
            ("Attributed revenue", [r.revenue[model] for r in costed]),
        ]
        gains = [r.gain(model) for r in costed]
        paid_back = sum(1 for g in gains if g is not None and g >= 0)
        description = (
            f"{len(costed)} campaigns with a cost entered; {paid_back} earned at least their "
            f"cost back by this model."
        )
        svg = svg_inline(_bars([r.name for r in costed], series), key="attr-cost", title=title)
        found.append(Chart("attr-cost", title, description, table, svg))
    else:
        found.append(
            Chart(
                "attr-cost",
                title,
                "No campaign has a cost entered yet: enter costs on the Campaigns page.",
                table,
                empty="Nothing to plot: no cost entered.",
            )
        )
    return found


def percent(share: float | None) -> str:
    """A return as a percentage: "+150%", "-40%"; a dash when there is no cost."""
    if share is None:
        return "–"
    return f"{share * 100:+.0f}%"
