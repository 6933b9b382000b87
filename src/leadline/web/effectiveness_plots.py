"""The channels-and-teams page's plots: a funnel per channel (attempts down to won) and the
teams side by side (grouped bars). Drawn like the other insight plots (web.sla_plots:
matplotlib's object API, inline SVG, the page's colours), each with its numbers as a table.

Imported by the view when the page is drawn, not with the URL map (matplotlib is slow to load).
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from leadline.insight.effectiveness import COUNTS, MEASURES, Effectiveness, Row
from leadline.web.insight_plots import Chart, Table
from leadline.web.sla_plots import _INK, _MUTED, _SERIES, figure_axes, svg_inline

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"

STAGE_NAMES = [MEASURES[name][0] for name in COUNTS]
TEAM_STAGES = ("attempts", "connects", "appointments_set", "accepted", "won")
_LABEL_CHARS = 26


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _funnel(row: Row) -> Figure:
    """Centred bars, one per stage, widest on top: a funnel, each bar labelled with its count."""
    values = [getattr(row, name) for name in COUNTS]
    figure, axes = figure_axes((6.4, 0.3 * len(values) + 0.4), (132, 14, 8, 8))
    axes.spines["bottom"].set_visible(False)
    y = np.arange(len(values))
    top = max(max(values), 1)
    axes.barh(
        y,
        values,
        left=[(top - v) / 2 for v in values],
        height=0.72,
        color=_SERIES[0],
        linewidth=0,
    )
    for position, value in zip(y, values, strict=True):
        axes.annotate(
            str(value),
            xy=(top / 2 + value / 2, position),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            color=_INK,
        )
    axes.set_yticks(y, STAGE_NAMES)
    axes.tick_params(axis="y", labelsize=9, labelcolor=_INK)
    axes.set_xticks([])
    axes.set_xlim(0, top * 1.12)
    axes.invert_yaxis()
    return figure


def _team_bars(teams: list[Row]) -> Figure:
    names = [_short(t.name + (" (outside)" if t.outside else "")) for t in teams]
    series = [(MEASURES[s][0], [getattr(t, s) for t in teams]) for s in TEAM_STAGES]
    legend_rows = 2
    height = 0.5 * len(names) * 1.6 + (30 + 15 * legend_rows) / 72
    figure, axes = figure_axes((6.4, height), (150, 14, 26, 10 + 15 * legend_rows), grid="x")
    group = 0.8
    bar = group / len(series)
    handles: list[Artist] = []
    y = np.arange(len(names))
    for i, ((label, values), colour) in enumerate(zip(series, _SERIES, strict=False)):
        axes.barh(y - group / 2 + bar * (i + 0.5), values, height=bar * 0.92, color=colour)
        handles.append(Patch(facecolor=colour, label=label))
    axes.set_yticks(y, names)
    axes.tick_params(axis="y", labelcolor=_INK)
    axes.invert_yaxis()
    top = max((max(v, default=0) for _, v in series), default=0)
    axes.set_xlim(0, max(top * 1.08, 1.0))
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(-0.3, 1.0),
        ncols=3,
        frameon=False,
        fontsize=9,
        handlelength=1.1,
        handleheight=0.8,
        columnspacing=1.2,
        borderaxespad=0.3,
        borderpad=0,
        labelcolor=_MUTED,
    )
    return figure


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def funnels(report: Effectiveness) -> list[Chart]:
    """One funnel per channel (the five channels, in order)."""
    found = []
    for row in report.channels:
        if row.key == "none":
            continue
        key = f"eff-funnel-{row.key}"
        title = f"{row.name}: from attempts to won"
        table = Table(
            caption=f"{row.name}: each stage",
            head="Stage",
            columns=["Count"],
            rows=[
                (name, [str(getattr(row, m))]) for name, m in zip(STAGE_NAMES, COUNTS, strict=True)
            ],
        )
        description = (
            f"{row.attempts} attempts, {row.connects} connects "
            f"({_percent(row.connect_rate)}), {row.conversations} conversations, "
            f"{row.appointments_set} appointments set and {row.appointments_held} held, "
            f"{row.accepted} accepted by sales, {row.won} won."
        )
        if any(getattr(row, m) for m in COUNTS):
            svg = svg_inline(_funnel(row), key=key, title=title)
            found.append(Chart(key, title, description, table, svg))
        else:
            found.append(
                Chart(key, title, description, table, empty="Nothing through this channel.")
            )
    return found


def team_chart(report: Effectiveness) -> Chart:
    """The teams' attempts, connects, appointments set, accepted and won, side by side."""
    key, title = "eff-teams", "Per team: attempts to won"
    teams = [t for t in report.teams if any(getattr(t, s) for s in TEAM_STAGES)]
    table = Table(
        caption="Per team",
        head="Team",
        columns=[MEASURES[s][0] for s in TEAM_STAGES],
        rows=[
            (
                t.name + (" (outside calling team)" if t.outside else ""),
                [str(getattr(t, s)) for s in TEAM_STAGES],
            )
            for t in teams
        ],
    )
    if not teams:
        return Chart(key, title, "No team did anything in the period.", table, empty="Nothing yet.")
    best = max(teams, key=lambda t: (t.won, t.accepted, t.connects))
    outside = [t.name for t in teams if t.outside]
    description = (
        f"{len(teams)} team{'s' if len(teams) != 1 else ''}; {best.name} won {best.won} and had "
        f"{best.accepted} accepted by sales."
    )
    if outside:
        description += f" Outside calling team: {', '.join(outside)}."
    svg = svg_inline(_team_bars(teams), key=key, title=title)
    return Chart(key, title, description, table, svg)
