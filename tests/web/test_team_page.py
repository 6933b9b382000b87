"""The team page (/relationships/team/) through real HTTP: who may open it, the chart and the
table of each seller's load against their cap, and the alerts at 90% at the top."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Role, Team, User
from leadline.relationships.capacity import capacity_alerts_check
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
RoleClient = Callable[[str], Client]
URL = "/relationships/team/"


def _html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def teams() -> dict[str, Team]:
    """EMEA: Rita at 9 of 10 (alerted), Tom at 2 of 150. APAC: Kai over his cap of 4."""
    sam = factories.user(role=Role.SALES_MANAGER, username="sam", first_name="Sam")
    emea = factories.team(name="EMEA", manager=sam)
    apac = factories.team(name="APAC")
    rita = factories.user(
        username="rita", first_name="Rita", last_name="Alves", team=emea, relationship_cap=10
    )
    tom = factories.user(username="tom", first_name="Tom", last_name="Berg", team=emea)
    kai = factories.user(
        username="kai", first_name="Kai", last_name="Sato", team=apac, relationship_cap=4
    )
    factories.owned_people(owner=rita, count=9)
    factories.owned_people(owner=tom, count=2)
    factories.owned_people(owner=tom, count=5, active=False)
    factories.owned_people(owner=kai, count=5)
    capacity_alerts_check()
    return {"EMEA": emea, "APAC": apac}


def _as(role: str, **extra: Any) -> Client:
    client = Client()
    client.force_login(factories.user(role=role, **extra))
    return client


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MARKETING, Role.OUTSIDE_CALLER])
def test_only_managers_and_admins_may_open_it(role: str) -> None:
    assert _as(role).get(URL).status_code == 403


def test_a_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


@pytest.mark.parametrize("role", [Role.SALES_MANAGER, Role.ADMIN])
def test_the_page_shows_each_team_as_a_chart_and_a_table(role: str, teams: dict[str, Team]) -> None:
    response = _as(role).get(URL)

    assert response.status_code == 200
    html = _html(response)
    # One section per team, APAC first, each with its chart and its table.
    assert html.index("APAC") < html.index("EMEA")
    assert html.count("<svg") >= 2
    for team in teams.values():
        key = f"team-load-{team.pk}"
        assert f'aria-labelledby="{key}-title' in html
        assert f'id="{key}-desc"' in html
    # The colours are the page's variables, not matplotlib's stand-ins.
    assert "var(--team-alert" in html
    assert "var(--team-over" in html
    assert "#0b0d1" not in html
    # The table: load, cap, share, every one owned, links onwards.
    rita = User.objects.get(username="rita")
    row = re.search(r"<tr class=\"team-row-alert\">(.*?)</tr>", html, re.DOTALL)
    assert row is not None
    cells = re.findall(r"<td class=\"num\">([^<]*)</td>", row[1])
    assert cells == ["9", "10", "90%", "9"]
    assert "since 23 Nov 2026" in row[1]
    assert f'href="/relationships/?owner={rita.pk}"' in row[1]
    assert f'href="/handovers/new/?user={rita.pk}"' in row[1]
    assert 'class="team-row-over"' in html  # Kai, over his cap
    tom_row = re.search(r"<tr class=\"\">\s*<th scope=\"row\">Tom Berg(.*?)</tr>", html, re.DOTALL)
    assert tom_row is not None
    assert re.findall(r"<td class=\"num\">([^<]*)</td>", tom_row[1]) == ["2", "150", "1%", "7"]


def test_the_alerts_at_ninety_percent_are_a_notice_at_the_top(teams: dict[str, Team]) -> None:
    html = _html(_as(Role.SALES_MANAGER).get(URL))

    status = re.search(
        r'<div id="team-status"[^>]*role="status"[^>]*>(.*?)</div>\s*<div id="team-load"',
        html,
        re.DOTALL,
    )
    assert status is not None
    notice = status[1]
    assert "2 sellers at 90% of their cap or more" in notice
    assert "Rita Alves (EMEA): 9 of 10" in notice
    assert "Kai Sato (APAC): 5 of 4, <strong>over their cap</strong>" in notice
    assert "Tom" not in notice
    assert html.index('id="team-status"') < html.index('id="team-load"')


def test_a_team_narrows_the_page_and_an_unknown_one_says_so(teams: dict[str, Team]) -> None:
    manager = _as(Role.SALES_MANAGER)
    html = _html(manager.get(URL, {"team": teams["EMEA"].pk}))
    assert "Rita Alves" in html
    assert "Tom Berg" in html
    assert "Kai Sato" not in html
    assert "1 seller at 90% of their cap or more" in html

    html = _html(manager.get(URL, {"team": "nope"}))
    assert "There is no team “nope”; showing all teams instead." in html
    assert "Kai Sato" in html


def test_nobody_near_the_cap_is_said_plainly() -> None:
    team = factories.team(name="Quiet")
    factories.user(username="ina", first_name="Ina", team=team)
    html = _html(_as(Role.SALES_MANAGER).get(URL))
    assert "Nobody is at 90% of their cap." in html
    assert "1 seller holding 0 active relationships of 150 places in all." in html
