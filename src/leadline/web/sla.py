"""The response-times board (/sla/): how well the team answers inbound requests.

The view only reads the query, asks `insight.sla` and renders; `web.sla_plots` draws the plots.
Both are imported when the board is asked for, not with the URL map (see sla_plots).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from leadline.core.models import User
from leadline.core.permissions import access_sla_board
from leadline.web.access import page

if TYPE_CHECKING:
    from leadline.insight import sla

WEEK_CHOICES = (4, 8, 12, 26, 52)
ALL_TEAMS = "all"


# The view --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Choices:
    weeks: int
    team_id: int | None
    notes: list[str]


def _choices(request: HttpRequest, teams: list[sla.TeamChoice], user: User) -> Choices:
    """What the query asks for; a bad value falls back to the default, with a note saying so."""
    from leadline.insight import sla

    notes: list[str] = []
    weeks = sla.DEFAULT_WEEKS
    raw_weeks = request.GET.get("weeks", "").strip()
    if raw_weeks:
        try:
            asked = int(raw_weeks)
        except ValueError:
            notes.append(
                f"“{raw_weeks[:20]}” is not a number of weeks; showing {weeks} weeks instead."
            )
        else:
            weeks = min(max(asked, sla.MIN_WEEKS), sla.MAX_WEEKS)
            if weeks != asked:
                notes.append(
                    f"The board shows {sla.MIN_WEEKS} to {sla.MAX_WEEKS} weeks; "
                    f"showing {weeks} instead of {asked}."
                )

    default_team = sla.sla_default_team(user=user)
    team_id = default_team
    raw_team = request.GET.get("team")
    if raw_team is not None:
        raw_team = raw_team.strip()
        known = {team.id for team in teams}
        if raw_team in ("", ALL_TEAMS):
            team_id = None
        elif raw_team.isdigit() and int(raw_team) in known:
            team_id = int(raw_team)
        else:
            fallback = next((t.name for t in teams if t.id == default_team), "all teams")
            notes.append(f"There is no team “{raw_team[:40]}”; showing {fallback} instead.")
    return Choices(weeks=weeks, team_id=team_id, notes=notes)


@require_GET
@page(access_sla_board)
def sla_board(request: HttpRequest) -> HttpResponse:
    from leadline.insight import sla, snapshots

    user = request.user
    assert isinstance(user, User)  # page() let only a logged-in user with a role through
    teams = sla.sla_teams()
    chosen = _choices(request, teams, user)
    zone = timezone.get_current_timezone()
    # Small databases compute the board now; big ones show the worker's snapshot (decision 15).
    shown = snapshots.shown(
        snapshots.SLA,
        snapshots.sla_params(weeks=chosen.weeks, team_id=chosen.team_id, tz=str(zone)),
    )
    team_name = next((t.name for t in teams if t.id == chosen.team_id), None)
    context = {
        "nav": "sla",
        "shown": shown,
        "teams": teams,
        "team_id": chosen.team_id,
        "team_name": team_name,
        "weeks": chosen.weeks,
        "week_choices": sorted({*WEEK_CHOICES, chosen.weeks}),
        "notes": chosen.notes,
        "zone_name": str(zone),
    }
    if not shown.pending:
        from leadline.web.sla_plots import charts, tiles

        board: sla.SlaBoard = shown.result
        context.update(
            board=board,
            last_day=board.weeks[-1] + dt.timedelta(days=6),
            tiles=tiles(board.headline),
            charts=charts(board),
        )
    return render(request, "web/sla_board.html", context)
