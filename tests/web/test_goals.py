"""The goals pages: who may see and change them, the list with progress and pace, a goal's page
(plot with its table, history, earlier periods) and the forms, which name the bad field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import Role, User
from leadline.insight import goals
from leadline.insight.models import Goal, GoalChange
from tests import factories

pytestmark = pytest.mark.django_db

NOW = factories.MONDAY_10  # Monday 23 November 2026


@pytest.fixture(autouse=True)
def _monday() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


def login(role: str, **extra: Any) -> tuple[Client, User]:
    user = factories.user(role=role, **extra)
    client = Client()
    client.force_login(user)
    return client, user


def accepted_leads(count: int, *, day: int = 5) -> None:
    """`count` handoffs accepted in November."""
    for _ in range(count):
        with clock.frozen_at(dt.datetime(2026, 11, day, 10, tzinfo=dt.UTC)):
            handoff = factories.handoff()
        type(handoff).objects.filter(pk=handoff.pk).update(
            status="accepted", decided_at=dt.datetime(2026, 11, day, 11, tzinfo=dt.UTC)
        )


# Access -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "view", "edit"),
    [
        (Role.ADMIN, 200, 200),
        (Role.MARKETING, 200, 200),
        (Role.SALES_MANAGER, 200, 200),
        (Role.SALES_REP, 200, 403),
        (Role.OUTSIDE_CALLER, 403, 403),
    ],
)
def test_access_by_role(role: str, view: int, edit: int) -> None:
    goal = factories.goal()
    client, _ = login(role)
    assert client.get("/goals/").status_code == view
    assert client.get(f"/goals/{goal.pk}/").status_code == view
    assert client.get("/goals/new/").status_code == edit
    assert client.get(f"/goals/{goal.pk}/edit/").status_code == edit
    assert client.post(f"/goals/{goal.pk}/archive/").status_code in (
        (302,) if edit == 200 else (403,)
    )


def test_anonymous_goes_to_the_login_page(client: Client) -> None:
    response = client.get("/goals/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_goals_in_the_nav_for_those_who_may_see_them() -> None:
    client, _ = login(Role.SALES_REP)
    assert 'href="/goals/"' in client.get("/", follow=True).content.decode()
    caller, _ = login(Role.OUTSIDE_CALLER)
    home = caller.get("/", follow=True)
    assert home.status_code == 200
    assert 'href="/goals/"' not in home.content.decode()


# The list and a goal's page -----------------------------------------------------------------------


def test_the_list_shows_value_target_pace_and_forecast() -> None:
    accepted_leads(30)
    maria = factories.user(role=Role.MARKETING, username="maria", first_name="Maria")
    factories.goal(name="Accepted leads Q4", metric="sales_accepted", target=120, owners=[maria])
    factories.goal(name="Last quarter", starts_on=dt.date(2026, 7, 1), ends_on=dt.date(2026, 9, 30))
    client, _ = login(Role.SALES_REP)
    page = client.get("/goals/").content.decode()
    assert "Accepted leads Q4" in page
    assert "Last quarter" not in page  # ended: not a current goal
    # 53 of 92 days gone: 69.1 expected; 30 is 57% behind.
    assert "<strong>30</strong>" in page
    assert "of 120" in page
    assert "57% behind pace" in page
    assert "Forecast at the end: 52 (43% of the target)" in page
    assert 'role="img"' in page

    past = client.get("/goals/?period=past").content.decode()
    assert "Last quarter" in past
    assert "Accepted leads Q4" not in past
    mine = client.get(f"/goals/?owner={maria.pk}").content.decode()
    assert "Accepted leads Q4" in mine


def test_a_goals_page_has_its_plot_table_history_and_earlier_periods() -> None:
    accepted_leads(6)
    manager = factories.user(role=Role.SALES_MANAGER, username="sam")
    earlier = factories.goal(
        name="Q3 accepted", target=90, starts_on=dt.date(2026, 7, 1), ends_on=dt.date(2026, 9, 30)
    )
    goal = factories.goal(name="Q4 accepted", target=120, actor=manager)
    goals.goal_update(goal=goal, actor=manager, changes={"target": Decimal(100)})
    with clock.frozen_at(dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)):
        goals.goal_snapshots_take()
    goals.goal_snapshots_take()
    client, _ = login(Role.SALES_REP)
    page = client.get(f"/goals/{goal.pk}/").content.decode()
    assert "<svg" in page
    assert f'aria-describedby="goal-{goal.pk}-desc"' in page
    assert "Value measured each day" in page
    assert re.search(r"22 Nov 2026</th><td class=\"num\">6</td>", page)
    assert "Created" in page
    assert "<del>120.00</del> → <ins>100.00</ins>" in page
    assert f'href="/goals/{earlier.pk}/"' in page
    assert "Q3 2026" in page


def test_a_rate_goal_page_renders() -> None:
    factories.sla_history()
    goal = factories.goal(name="Fast answers", metric="touched_within_1h", target=95)
    client, _ = login(Role.MARKETING)
    with clock.frozen_at(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)):
        page = client.get(f"/goals/{goal.pk}/").content.decode()
    assert "Contact requests touched within 1 business hour" in page
    # One of three within the hour: 33%, 62 points under 95%, with Wilson's range.
    assert '<dd class="goal-tile-value">33.3%</dd>' in page
    assert "62 points below target" in page
    assert "(95% range 6.1% to 79.2%)" in page


# Forms --------------------------------------------------------------------------------------------


def form_data(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Accepted leads",
        "metric": "sales_accepted",
        "team": "",
        "target": "120",
        "preset": "this_quarter",
        "starts_on": "",
        "ends_on": "",
    }
    return data | changes


def test_create_a_goal_with_a_preset_period() -> None:
    client, maria = login(Role.MARKETING)
    response = client.post("/goals/new/", form_data(owners=[maria.pk]))
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert response["Location"] == f"/goals/{goal.pk}/"
    assert (goal.starts_on, goal.ends_on) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert goal.period_kind == "quarter"
    assert list(goal.owners.all()) == [maria]
    assert GoalChange.objects.get(goal=goal).by == maria


def test_custom_dates() -> None:
    client, _ = login(Role.SALES_MANAGER)
    response = client.post(
        "/goals/new/",
        form_data(preset="custom", starts_on="2026-11-16", ends_on="2026-12-11"),
    )
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert (goal.starts_on, goal.ends_on) == (dt.date(2026, 11, 16), dt.date(2026, 12, 11))


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"target": "-5"}, "target", "cannot be negative"),
        (
            {"preset": "custom", "starts_on": "2026-12-10", "ends_on": "2026-12-01"},
            "ends_on",
            "end on or after",
        ),
        ({"metric": "vibes"}, "metric", "Select a valid choice"),
        ({"metric": "touched_within_1h", "target": "140"}, "target", "at most 100%"),
        ({"preset": "custom"}, "starts_on", "first day"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    client, _ = login(Role.MARKETING)
    response = client.post("/goals/new/", form_data(**changes))
    assert response.status_code == 400
    page = response.content.decode()
    assert f'href="#id_{field}"' in page  # the summary links to the field
    assert re.search(rf'id="id_{field}_error">[^<]*{re.escape(words)}', page)
    assert not Goal.objects.exists()


def test_edit_keeps_the_history() -> None:
    client, sam = login(Role.SALES_MANAGER)
    goal = factories.goal(target=120)
    response = client.post(
        f"/goals/{goal.pk}/edit/", form_data(name=goal.name, target="150", owners=[sam.pk])
    )
    assert response.status_code == 302
    change = goal.changes.order_by("-pk").first()
    assert change is not None
    assert change.action == "edited"
    assert change.by == sam
    assert change.before["target"] == "120.00"
    assert change.after["target"] == "150.00"


def test_archive_and_restore() -> None:
    client, _ = login(Role.ADMIN)
    goal = factories.goal(name="Old goal")
    client.post(f"/goals/{goal.pk}/archive/")
    assert Goal.objects.get(pk=goal.pk).archived
    link = f'href="/goals/{goal.pk}/"'
    assert link not in client.get("/goals/").content.decode()
    assert link in client.get("/goals/?archived=1").content.decode()
    client.post(f"/goals/{goal.pk}/archive/", {"restore": "1"})
    assert not Goal.objects.get(pk=goal.pk).archived
