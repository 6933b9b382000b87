"""Each seller's load against their cap through the API: managers and admins read everyone's,
a sales rep only their own."""

from __future__ import annotations

import pytest

from leadline.core.models import Role, Team, User
from leadline.relationships.capacity import capacity_alerts_check
from tests import factories
from tests.api.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
URL = "/api/v1/relationships/load"


@pytest.fixture
def emea() -> Team:
    sam = factories.user(role=Role.SALES_MANAGER, username="sam")
    team = factories.team(name="EMEA", manager=sam)
    rita = factories.user(username="rita", first_name="Rita", team=team, relationship_cap=10)
    tom = factories.user(username="tom", team=team)
    factories.owned_people(owner=rita, count=9)
    factories.owned_people(owner=rita, count=1, active=False)
    factories.owned_people(owner=tom, count=3)
    capacity_alerts_check()
    return team


def test_a_manager_lists_every_sellers_load(emea: Team) -> None:
    apac = factories.team(name="APAC")
    factories.user(username="kai", team=apac)

    response = bearer(User.objects.get(username="sam")).get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert [row["username"] for row in body["items"]] == ["kai", "rita", "tom"]
    rita = body["items"][1]
    assert rita == {
        "user_id": User.objects.get(username="rita").pk,
        "username": "rita",
        "name": "Rita",
        "team_id": emea.pk,
        "team": "EMEA",
        "is_active": True,
        "load": 9,
        "owned": 10,
        "cap": 10,
        "share": 0.9,
        "alert": True,
        "over": False,
        "alert_since": "2026-11-23T10:00:00Z",
    }
    assert body["items"][2]["alert_since"] is None


def test_a_team_narrows_the_list_and_an_unknown_team_is_404(emea: Team) -> None:
    admin = bearer(factories.user(role=Role.ADMIN))
    body = admin.get(URL, {"team_id": emea.pk}).json()
    assert {row["username"] for row in body["items"]} == {"rita", "tom"}
    assert admin.get(URL, {"team_id": 999_999}).status_code == 404


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MARKETING, Role.OUTSIDE_CALLER])
def test_other_roles_may_not_list_loads(emea: Team, role: str) -> None:
    response = bearer(factories.user(role=role)).get(URL)
    assert response.status_code == 403
    assert response.json()["missing"] == "access_team_load"


def test_a_rep_reads_their_own_load_and_nobody_elses(emea: Team) -> None:
    rita, tom = User.objects.get(username="rita"), User.objects.get(username="tom")
    api = bearer(rita)

    own = api.get(f"{URL}/{rita.pk}")
    assert own.status_code == 200
    assert (own.json()["load"], own.json()["alert"]) == (9, True)

    other = api.get(f"{URL}/{tom.pk}")
    assert other.status_code == 403
    assert "only their own" in other.json()["detail"]


def test_a_manager_reads_anyones_load(emea: Team) -> None:
    sam, tom = User.objects.get(username="sam"), User.objects.get(username="tom")
    api = bearer(sam)
    body = api.get(f"{URL}/{tom.pk}").json()
    assert (body["load"], body["cap"], body["share"], body["alert"]) == (3, 150, 0.02, False)
    # The manager owns nothing, so is no seller on the list, yet their load can be read: 0.
    mine = api.get(f"{URL}/{sam.pk}").json()
    assert (mine["username"], mine["load"], mine["owned"]) == ("sam", 0, 0)
    assert api.get(f"{URL}/999999").status_code == 404


def test_marketing_may_not_read_a_load(emea: Team) -> None:
    rita = User.objects.get(username="rita")
    response = bearer(factories.user(role=Role.MARKETING)).get(f"{URL}/{rita.pk}")
    assert response.status_code == 403
