"""The "Channels and teams" page (/insight/channels/), its CSV and its API operation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import Role
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.UTC)
URL = "/insight/channels/"


@pytest.fixture
def calls() -> dict[str, Any]:
    """A calling team's caller and a rep: calls in the last month, one before it."""
    calling = factories.team(name="Dialers Ltd")
    inside = factories.team(name="Inside EMEA")
    otto = factories.outside_caller(calling_team=calling, username="otto")
    rita = factories.user(username="rita", team=inside)
    a, b = factories.person(), factories.person()
    factories.touch(person=a, at=NOW - dt.timedelta(days=3), kind="call", outcome="connected",
                    user=otto)  # fmt: skip
    factories.touch(person=a, at=NOW - dt.timedelta(days=4), kind="call", user=otto)
    factories.touch(person=b, at=NOW - dt.timedelta(days=5), kind="email", user=rita)
    factories.touch(person=b, at=NOW - dt.timedelta(days=200), kind="email", user=rita)
    factories.conversation(people=[b], kind="chat", summary="LinkedIn chat.", sellers=[rita],
                           occurred_at=NOW - dt.timedelta(days=2))  # fmt: skip
    return {"calling": calling, "inside": inside, "a": a, "b": b}


def _client(role: str) -> Client:
    client = Client()
    client.force_login(factories.user(role=role))
    return client


def _cells(html: str, table_id: str, row_name: str) -> list[str]:
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    row = table[table.index(row_name) :]
    row = row[: row.index("</tr>")]
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_the_page_shows_channels_teams_and_plots(calls: dict[str, Any]) -> None:
    with clock.frozen_at(NOW):
        response = _client(Role.SALES_MANAGER).get(URL, {"period": "30d"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Channels and teams</h1>" in html
    assert 'aria-current="page">Channels and teams</a>' in html
    for channel in ("Email", "Phone calls", "Meetings", "Events", "Chats and messages"):
        assert f'<th scope="row">{channel}</th>' in html
    assert _cells(html, "effectiveness-channels", "Phone calls")[:2] == ["2", "1 (50%)"]
    assert _cells(html, "effectiveness-channels", "Email")[0] == "1"  # not the one in 2025
    assert _cells(html, "effectiveness-channels", "Chats and messages")[1] == "1 (–)"
    dialers = _cells(html, "effectiveness-teams", "Dialers Ltd")
    assert dialers[:2] == ["2", "1 (50%)"]
    assert 'Dialers Ltd <span class="badge badge-outside">outside calling team</span>' in html
    assert "Inside EMEA</th>" in html  # not marked
    # Plots: the teams' bars and a funnel per channel, each with its title and description.
    assert html.count('class="chart" role="img"') == 1 + 3  # meetings and events: nothing
    assert 'aria-labelledby="eff-teams-title"' in html
    assert 'id="eff-teams-desc"' in html
    assert 'id="eff-funnel-call-title"' in html
    assert "Nothing through this channel." in html
    # The filters, as a GET form that works without JavaScript.
    assert 'method="get" action="/insight/channels/"' in html
    assert 'name="campaign"' in html
    assert 'name="step"' in html
    assert 'name="period"' in html
    assert 'role="status" aria-live="polite"' in html


def test_custom_dates_campaign_and_step_filters(calls: dict[str, Any]) -> None:
    spring = factories.campaign(name="Spring webinar")
    factories.campaign_touch(
        person=calls["a"], campaign="Spring webinar", at=NOW - dt.timedelta(days=40)
    )
    client = _client(Role.MARKETING)
    with clock.frozen_at(NOW):
        html = client.get(
            URL, {"period": "custom", "since": "2025-01-01", "until": "2026-05-19"}
        ).content.decode()
        assert _cells(html, "effectiveness-channels", "Email")[0] == "2"
        # Dates changed under a preset (no JavaScript to switch it): the dates win.
        changed = {"period": "30d", "since": "2025-01-01", "until": "2026-05-19"}
        html = client.get(URL, changed).content.decode()
        assert _cells(html, "effectiveness-channels", "Email")[0] == "2"
        assert '<option value="custom" selected>' in html
        html = client.get(URL, {"period": "90d", "campaign": spring.pk}).content.decode()
        assert "people who met <strong>Spring webinar</strong> (1 person)" in html
        assert _cells(html, "effectiveness-channels", "Email")[0] == "0"
        assert _cells(html, "effectiveness-channels", "Phone calls")[0] == "2"
        html = client.get(
            URL, {"since": "2026-06-01", "until": "2026-05-01", "step": 999999}
        ).content.decode()
    assert "the two dates were swapped" in html
    assert "That journey step does not exist" in html


def test_the_csv_download(calls: dict[str, Any]) -> None:
    with clock.frozen_at(NOW):
        response = _client(Role.ADMIN).get("/insight/channels.csv", {"period": "30d"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {(r["section"], r["name"]): r for r in rows}
    assert by_name[("channel", "Phone calls")]["attempts"] == "2"
    assert by_name[("channel", "Phone calls")]["connect_rate"] == "50.0"
    assert by_name[("team", "Dialers Ltd")]["outside_calling_team"] == "yes"
    assert by_name[("total", "All channels")]["attempts"] == "3"


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.OUTSIDE_CALLER])
def test_reps_and_outside_callers_may_not_see_it(role: str) -> None:
    client = _client(role)
    assert client.get(URL).status_code == 403
    assert client.get("/insight/channels.csv").status_code == 403
    assert client.get("/api/v1/insight/channels").status_code == 403


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER])
def test_managers_admins_and_marketing_may(role: str) -> None:
    assert _client(role).get(URL).status_code == 200


def test_logged_out_goes_to_login() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_api_gives_the_same_numbers(calls: dict[str, Any]) -> None:
    client = _client(Role.MARKETING)
    with clock.frozen_at(NOW):
        response = client.get(
            "/api/v1/insight/channels",
            {"start": "2026-04-20T12:00:00Z", "end": "2026-05-20T12:00:00Z"},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    call = next(r for r in body["channels"] if r["key"] == "call")
    assert (call["attempts"], call["connects"], call["connect_rate"]) == (2, 1, 50.0)
    dialers = next(r for r in body["teams"] if r["key"] == str(calls["calling"].pk))
    assert dialers["outside"] is True
    assert body["total"]["attempts"] == 3
    bad = client.get("/api/v1/insight/channels", {"start": "2026-05-20T00:00:00"})
    assert bad.status_code == 422
