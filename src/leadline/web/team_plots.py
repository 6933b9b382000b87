"""The team page's plot: each seller's active relationships against their cap, as horizontal
bars with the cap and the alert mark drawn on each row. Drawn like the response-times board's
plots (web.sla_plots: matplotlib's object API, inline SVG, colours from CSS variables); the page
shows the same numbers as a table beside it.

Imported by the view when the page is drawn, not with the URL map (matplotlib is slow to load).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.conf import settings
from django.utils.safestring import SafeString
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from leadline.relationships.capacity import SellerLoad
from leadline.web.sla_plots import figure_axes, svg_inline

# Stand-in colours matplotlib draws with; svg_inline puts the page's CSS variables in their place
# (app.css gives each a light and a dark value; the fallback is the light one).
_INK, _MUTED, _GRID = "#0b0d01", "#0b0d02", "#0b0d03"
_BAR, _ALERT, _OVER = "#0b0d11", "#0b0d12", "#0b0d13"
COLOURS = {
    _INK: "var(--ink, #14171c)",
    _MUTED: "var(--muted, #555e6b)",
    _GRID: "var(--line, #e2e5ea)",
    _BAR: "var(--team-bar, #6366f1)",
    _ALERT: "var(--team-alert, #d97706)",
    _OVER: "var(--team-over, #b42318)",
}

_WIDTH = 6.4  # inches at 72 units each, as the other plots
_ROW = 0.34  # inches per seller
_NAME_CHARS = 20
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_BOTTOM, _MARGIN_TOP = 118.0, 54.0, 22.0, 42.0


@dataclasses.dataclass(frozen=True)
class TeamChart:
    key: str
    title: str
    description: str
    svg: SafeString | None


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _colour(seller: SellerLoad) -> str:
    if seller.over:
        return _OVER
    return _ALERT if seller.alert else _BAR


def load_bars(sellers: Sequence[SellerLoad]) -> Figure:
    """One row per seller, the fullest on top: the bar is their load, the solid tick their cap,
    the dashed tick the alert mark. Sellers at the alert mark or over their cap stand out."""
    height = _ROW * len(sellers) + (_MARGIN_BOTTOM + _MARGIN_TOP) / 72
    figure, axes = figure_axes(
        (_WIDTH, height),
        (_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_BOTTOM, _MARGIN_TOP),
        grid="x",
        line=_GRID,
        muted=_MUTED,
    )
    rows = list(range(len(sellers)))[::-1]  # the first seller on top
    axes.barh(
        rows,
        [s.load for s in sellers],
        height=0.62,
        color=[_colour(s) for s in sellers],
        linewidth=0,
    )
    for y, seller in zip(rows, sellers, strict=True):
        axes.vlines(seller.cap, y - 0.42, y + 0.42, colors=_INK, linewidth=2)
        axes.vlines(
            seller.alert_at,
            y - 0.36,
            y + 0.36,
            colors=_MUTED,
            linewidth=1.2,
            linestyles=(0, (2, 2)),
        )
        axes.annotate(
            f"{seller.load} / {seller.cap}",
            xy=(max(seller.load, seller.cap), y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            color=_INK if seller.alert else _MUTED,
            fontweight="bold" if seller.alert else "normal",
        )
    top = max((max(s.load, s.cap) for s in sellers), default=1)
    axes.set_xlim(0, top * 1.04)
    axes.set_ylim(-0.6, len(sellers) - 0.4)
    axes.set_yticks(rows, [_short(str(s.user)) for s in sellers])
    axes.tick_params(axis="y", labelsize=10, labelcolor=_INK)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    share = f"{settings.RELATIONSHIP_ALERT_SHARE:.0%}"
    handles: list[Artist] = [
        Patch(facecolor=_BAR, label="Active relationships"),
        Patch(facecolor=_ALERT, label=f"At {share} of cap or more"),
        Patch(facecolor=_OVER, label="Over cap"),
        Line2D([], [], color=_INK, linewidth=2, label="Cap"),
        Line2D([], [], color=_MUTED, linewidth=1.2, linestyle=(0, (2, 2)), label=f"{share} of cap"),
    ]
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=3,
        frameon=False,
        fontsize=9,
        handlelength=1.1,
        handleheight=0.8,
        handletextpad=0.4,
        columnspacing=1.0,
        borderaxespad=0.3,
        borderpad=0,
        labelcolor=_INK,
    )
    return figure


def team_chart(*, key: str, team_name: str, sellers: Sequence[SellerLoad]) -> TeamChart:
    """The chart for one team's sellers, with a description that says what it shows."""
    title = f"{team_name}: active relationships against each seller's cap"
    alerting = [s for s in sellers if s.alert]
    over = [s for s in sellers if s.over]
    load, cap = sum(s.load for s in sellers), sum(s.cap for s in sellers)
    n = len(sellers)
    description = (
        f"{n} seller{'s' if n != 1 else ''} holding {load} active relationships of "
        f"{cap} places in all"
    )
    if alerting:
        description += (
            f"; {len(alerting)} at {settings.RELATIONSHIP_ALERT_SHARE:.0%} of their cap or more"
        )
    if over:
        description += f", {len(over)} over it"
    description += "."
    svg = svg_inline(load_bars(sellers), key=key, title=title, colours=COLOURS) if sellers else None
    return TeamChart(key=key, title=title, description=description, svg=svg)
