"""The goals API: metrics, list and detail with progress, create and change (with history)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadline.core import clock
from leadline.core.models import Role
from leadline.insight.models import Goal
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _monday() -> Iterator[None]:
    with clock.frozen_at(factories.MONDAY_10):
        yield


def test_metrics_list_and_goals_with_progress(api_as: ApiClient) -> None:
    goal = factories.goal(name="Q4 accepted", target=120)
    client = api_as(Role.SALES_REP)
    keys = {m["key"] for m in client.get("/api/v1/goals/metrics").json()}
    assert {"sales_accepted", "influenced_pipeline", "touched_within_1h"} <= keys
    [item] = client.get("/api/v1/goals").json()
    assert item["id"] == goal.pk
    assert item["progress"]["value"] == 0
    assert item["progress"]["state"] == "running"
    assert item["progress"]["pace_words"] == "100% behind pace"
    detail = client.get(f"/api/v1/goals/{goal.pk}").json()
    assert [c["action"] for c in detail["changes"]] == ["created"]
    assert client.get("/api/v1/goals/999999").status_code == 404


def test_create_and_change_a_goal(api_as: ApiClient) -> None:
    manager = factories.user(role=Role.SALES_MANAGER)
    client = api_as(Role.MARKETING)
    body = {
        "name": "Fast answers",
        "metric": "touched_within_1h",
        "target": "95",
        "period_kind": "quarter",
        "starts_on": "2026-10-01",
        "ends_on": "2026-12-31",
        "owner_ids": [manager.pk],
    }
    created = client.post("/api/v1/goals", body, content_type="application/json")
    assert created.status_code == 201, created.content
    goal_id = created.json()["id"]
    assert created.json()["owners"] == [manager.pk]
    changed = client.patch(
        f"/api/v1/goals/{goal_id}", {"target": "90"}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["changes"][0]["before"] == {"target": "95.00"}
    assert Goal.objects.get(pk=goal_id).target == 90


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target": "-1"}, "target"),
        ({"starts_on": "2026-12-31", "ends_on": "2026-10-01"}, "ends_on"),
        ({"metric": "vibes"}, "metric"),
        ({"team_id": 999999}, "team_id"),
    ],
)
def test_bad_input_answers_422_naming_the_field(
    api_as: ApiClient, changes: dict[str, object], field: str
) -> None:
    body = {
        "name": "Accepted",
        "metric": "sales_accepted",
        "target": "120",
        "starts_on": "2026-10-01",
        "ends_on": "2026-12-31",
    } | changes
    response = api_as(Role.MARKETING).post("/api/v1/goals", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in [problem["loc"][-1] for problem in response.json()["detail"]]


def test_a_rep_may_read_but_not_set_goals(api_as: ApiClient) -> None:
    client = api_as(Role.SALES_REP)
    body = {"name": "x", "metric": "handoffs", "target": "1", "starts_on": "2026-10-01",
            "ends_on": "2026-12-31"}  # fmt: skip
    assert client.post("/api/v1/goals", body, content_type="application/json").status_code == 403
    assert api_as(Role.OUTSIDE_CALLER).get("/api/v1/goals").status_code == 403
