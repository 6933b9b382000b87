"""The team page (/relationships/team/): each seller's active relationships against their cap,
per team, as a chart and as a table, with the capacity alerts at the top.

The view reads the query, asks `relationships.capacity` and renders; `web.team_plots` draws the
chart and is imported when the page is asked for, not with the URL map (see web.sla_plots).
"""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET

from leadline.core.models import Team
from leadline.core.permissions import access_team_load
from leadline.relationships.capacity import SellerLoad, team_loads
from leadline.web.access import page

ALL_TEAMS = "all"
NO_TEAM = "No team"


@dataclasses.dataclass
class TeamGroup:
    team: Team | None
    name: str
    key: str
    sellers: list[SellerLoad]
    chart: object = None  # team_plots.TeamChart

    @property
    def load(self) -> int:
        return sum(s.load for s in self.sellers)

    @property
    def cap(self) -> int:
        return sum(s.cap for s in self.sellers)


@dataclasses.dataclass(frozen=True)
class Row:
    """A seller's line in the table, with where to go from it."""

    seller: SellerLoad
    relationships_url: str
    handover_url: str


def _groups(sellers: list[SellerLoad]) -> list[TeamGroup]:
    groups: dict[int | None, TeamGroup] = {}
    for seller in sellers:  # team_loads sorts by team, the fullest first
        team_id = seller.team.pk if seller.team else None
        if team_id not in groups:
            groups[team_id] = TeamGroup(
                team=seller.team,
                name=seller.team.name if seller.team else NO_TEAM,
                key=f"team-load-{team_id if team_id is not None else 'none'}",
                sellers=[],
            )
        groups[team_id].sellers.append(seller)
    return list(groups.values())


def _row(seller: SellerLoad) -> Row:
    # Helper E1's relationships list and helper B's handover form take these parameters.
    return Row(
        seller=seller,
        relationships_url=f"{reverse('web:relationships_health')}?owner={seller.user.pk}",
        handover_url=f"{reverse('web:handover_new')}?user={seller.user.pk}",
    )


@require_GET
@page(access_team_load)
def team_load(request: HttpRequest) -> HttpResponse:
    from leadline.web.team_plots import team_chart

    teams = list(Team.objects.order_by("name"))
    notes: list[str] = []
    chosen: Team | None = None
    raw = request.GET.get("team", "").strip()
    if raw and raw != ALL_TEAMS:
        chosen = next((t for t in teams if raw.isdigit() and t.pk == int(raw)), None)
        if chosen is None:
            notes.append(f"There is no team “{raw[:40]}”; showing all teams instead.")
    sellers = team_loads(team=chosen)
    groups = _groups(sellers)
    for group in groups:
        group.chart = team_chart(key=group.key, team_name=group.name, sellers=group.sellers)
    context = {
        "nav": "team",
        "teams": teams,
        "team": chosen,
        "notes": notes,
        "groups": [(group, [_row(s) for s in group.sellers]) for group in groups],
        "alerting": [s for s in sellers if s.alert],
        "sellers": sellers,
        "alert_percent": round(settings.RELATIONSHIP_ALERT_SHARE * 100),
        "active_days": settings.RELATIONSHIP_ACTIVE_DAYS,
        "default_cap": settings.ROUTING_RELATIONSHIP_CAP,
    }
    return render(request, "web/team_load.html", context)


urlpatterns: list[URLPattern] = [
    path("relationships/team/", team_load, name="relationships_team"),
]
