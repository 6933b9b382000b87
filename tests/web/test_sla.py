"""The response-times board through real HTTP: who may open it, and what it shows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from django.urls import reverse

from leadline.core import clock
from leadline.core.models import Role, Team
from tests import factories

pytestmark = pytest.mark.django_db
RoleClient = Callable[[str], Client]
URL = "/sla/"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def wednesday_noon() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def teams() -> dict[str, Team]:
    return factories.sla_history()


def _manager(team: Team | None = None) -> Client:
    client = Client()
    client.force_login(factories.user(role=Role.SALES_MANAGER, username="sam", team=team))
    return client


def _tile(html: str, label: str) -> str:
    found = re.search(
        rf"<dt>{re.escape(label)}</dt>\s*<dd class=\"sla-tile-value\">([^<]*)</dd>", html
    )
    assert found, f"no tile {label!r}"
    return found[1]


def _selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.DOTALL)
    assert select
    chosen = re.findall(r'<option value="([^"]*)" selected>', select[1])
    assert len(chosen) == 1
    return chosen[0]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER])
def test_managers_admins_and_marketing_see_four_plots_with_their_data(
    role_client: RoleClient, teams: dict[str, Team], role: str
) -> None:
    response = role_client(role).get(URL)
    assert response.status_code == 200
    html = _html(response)
    assert '<a href="/sla/" aria-current="page">Response times</a>' in html
    assert 'href="/static/web/sla.css"' in html
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) == 4
    for key in ("sla-share", "sla-time", "sla-reps", "sla-sources"):
        assert f'<title id="{key}-title">' in html
        assert f'aria-describedby="{key}-desc"' in html
        assert f'<figcaption id="{key}-desc"' in html
    assert all('role="img"' in svg for svg in svgs)
    assert html.count('<details class="sla-data">') == 4
    assert html.count("<table") == 4
    # Ids inside the plots are their own: no two alike on the page.
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    # The colours are the page's, so the plots follow the light or dark theme.
    assert "var(--sla-1" in html
    assert "#0b0c" not in html
    # All teams (a manager without a team of their own): 3 due, 1 within, 2 breaches.
    assert _tile(html, "Within deadline") == "33%"
    assert _tile(html, "Breaches") == "2"
    assert _tile(html, "Waiting past due now") == "1"
    assert "Rita Alves" in html
    assert "Kai Sato" in html
    assert "linkedin" in html


def _tables(html: str) -> list[dict[str, list[str]]]:
    """Each data table as {row heading: cells}."""
    found = []
    for table in re.findall(r"<table.*?</table>", html, re.DOTALL):
        rows = re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.DOTALL)
        found.append(
            {
                label.strip(): re.findall(r'<td class="num">([^<]*)</td>', cells)
                for label, cells in rows
            }
        )
    return found


def test_the_data_tables_hold_the_weekly_numbers(
    role_client: RoleClient, teams: dict[str, Team]
) -> None:
    share, times, reps, sources = _tables(_html(role_client(Role.ADMIN).get(URL, {"weeks": "4"})))
    # Due, within, breached, not due yet, share.
    assert share["2 Nov"] == ["0", "0", "0", "0", "–"]
    assert share["16 Nov"] == ["1", "1", "0", "0", "100%"]
    assert share["23 Nov"] == ["2", "0", "2", "0", "0%"]
    assert share["All weeks"] == ["3", "1", "2", "0", "33%"]
    # Touched, median, p90: Rita's touch after 30 minutes, Kai's after 3 business hours.
    assert times["16 Nov"] == ["1", "30 min", "30 min"]
    assert times["23 Nov"] == ["1", "3 h", "3 h"]
    assert times["All weeks"] == ["2", "1 h 45 min", "2 h 45 min"]
    # One breach each (Rita never touched hers; Kai was late), and the week's total.
    assert reps["23 Nov"] == ["1", "1", "2"]
    assert reps["16 Nov"] == ["0", "0", "0"]
    assert sources["All weeks"] == ["1", "1", "2"]


def test_a_sales_manager_starts_on_their_own_team(teams: dict[str, Team]) -> None:
    client = _manager(teams["APAC"])
    html = _html(client.get(URL))
    assert _selected(html, "team") == str(teams["APAC"].pk)
    assert _tile(html, "Breaches") == "1"
    assert "Kai Sato" in html
    assert "Rita Alves" not in html
    everyone = _html(client.get(URL, {"team": "all"}))
    assert _selected(everyone, "team") == "all"
    assert _tile(everyone, "Breaches") == "2"
    assert "Rita Alves" in everyone


def test_the_team_filter_narrows_the_board(role_client: RoleClient, teams: dict[str, Team]) -> None:
    html = _html(role_client(Role.MARKETING).get(URL, {"team": teams["EMEA"].pk}))
    assert _selected(html, "team") == str(teams["EMEA"].pk)
    assert _tile(html, "Within deadline") == "50%"
    assert _tile(html, "Breaches") == "1"
    assert "Rita Alves" in html
    assert "Kai Sato" not in html


@pytest.mark.parametrize(
    ("query", "note", "weeks"),
    [
        ({"weeks": "lots"}, "is not a number of weeks; showing 12 weeks instead", "12"),
        ({"weeks": "100"}, "showing 52 instead of 100", "52"),
        ({"weeks": "1"}, "showing 4 instead of 1", "4"),
        ({"weeks": "8"}, None, "8"),
    ],
)
def test_a_bad_number_of_weeks_falls_back_with_a_note(
    role_client: RoleClient,
    teams: dict[str, Team],
    query: dict[str, str],
    note: str | None,
    weeks: str,
) -> None:
    response = role_client(Role.ADMIN).get(URL, query)
    assert response.status_code == 200
    html = _html(response)
    assert _selected(html, "weeks") == weeks
    table = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL)
    assert table
    assert table[1].count('<th scope="row">') == int(weeks)
    if note:
        assert note in html
        assert 'class="alert alert-warn sla-note"' in html
    else:
        assert "sla-note" not in html


def test_an_unknown_team_falls_back_to_the_default_with_a_note(teams: dict[str, Team]) -> None:
    html = _html(_manager(teams["EMEA"]).get(URL, {"team": "9999"}))
    assert "There is no team “9999”; showing EMEA instead." in html
    assert _selected(html, "team") == str(teams["EMEA"].pk)
    assert _tile(html, "Breaches") == "1"


def test_an_empty_board_says_so_instead_of_drawing(role_client: RoleClient) -> None:
    html = _html(role_client(Role.ADMIN).get(URL))
    assert "<svg" not in html
    assert html.count("No request had a first-touch deadline in these weeks.") == 4
    assert html.count("<table") == 4
    assert _tile(html, "Within deadline") == "–"


def test_plots_with_nothing_to_show_say_why(role_client: RoleClient) -> None:
    rep = factories.user(username="rita", team=factories.team(name="EMEA"))
    factories.routed_request(at=_at(25, 11, 30), owner=rep)  # due 12:30: not decided yet
    html = _html(role_client(Role.ADMIN).get(URL))
    assert "<svg" not in html
    assert "Nothing is decided yet: no deadline has passed." in html
    assert "No request from these weeks has been touched yet." in html
    assert html.count("No breaches in these weeks.") == 2
    assert _tile(html, "Breaches") == "0"


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.OUTSIDE_CALLER])
def test_reps_and_outside_callers_may_not_see_the_board(
    role_client: RoleClient, teams: dict[str, Team], role: str
) -> None:
    client = role_client(role)
    response = client.get(URL)
    assert response.status_code == 403
    assert "Rita" not in _html(response)
    assert 'href="/sla/"' not in _html(client.get("/"))


def test_the_nav_shows_the_board_only_to_those_who_may_open_it(role_client: RoleClient) -> None:
    assert 'href="/sla/"' in _html(role_client(Role.MARKETING).get(reverse("web:people")))
    assert 'href="/sla/"' not in _html(role_client(Role.SALES_REP).get(reverse("web:people")))


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    response = client.get(URL, {"weeks": "8"})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/sla/%3Fweeks%3D8"


def test_the_board_only_answers_get(role_client: RoleClient) -> None:
    assert role_client(Role.ADMIN).post(URL).status_code == 405
