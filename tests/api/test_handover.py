"""The handover API: plan, review, change, apply (once), cancel; managers only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadline.core import clock
from leadline.core.models import Role
from leadline.routing.models import Ownership
from tests import factories
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db
MONDAY_10 = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY_10):
        yield


def _json(client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return getattr(client, method)(
        path, data=json.dumps(body or {}), content_type="application/json"
    )


def test_plan_review_change_and_apply_once() -> None:
    _crew, boss, (rita, jonas, liam) = factories.handover_team(reps=3)
    people = factories.owned_people(owner=rita, count=2)
    api = bearer(boss)
    made = _json(
        api,
        "post",
        "/api/v1/handovers",
        {"user_id": rita.pk, "kind": "leaving", "effective_at": "2026-12-04T17:00:00Z"},
    )
    assert made.status_code == 201, made.content
    plan = made.json()
    assert plan["problems"] == []
    assert len(plan["items"]) == 2
    assert {i["new_owner_id"] for i in plan["items"]} <= {jonas.pk, liam.pk}
    assert any(load["user_id"] == jonas.pk for load in plan["loads"])
    listed = api.get("/api/v1/handovers").json()
    assert [p["id"] for p in listed["items"]] == [plan["id"]]

    item = plan["items"][0]
    changed = _json(
        api,
        "patch",
        f"/api/v1/handovers/{plan['id']}/items/{item['id']}",
        {"new_owner_id": liam.pk, "is_key": False},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()[0]["new_owner_id"] == liam.pk
    assert changed.json()[0]["is_key"] is False
    bad = _json(
        api,
        "patch",
        f"/api/v1/handovers/{plan['id']}/items/{item['id']}",
        {"new_owner_id": rita.pk},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "new_owner_id"

    applied = _json(api, "post", f"/api/v1/handovers/{plan['id']}/apply")
    assert applied.status_code == 200, applied.content
    assert applied.json()["applied"] is True
    owner = Ownership.objects.get(person=people[0], ended_at__isnull=True).owner
    assert owner != rita
    again = _json(api, "post", f"/api/v1/handovers/{plan['id']}/apply")
    assert again.status_code == 409
    assert again.json()["applied"] is False
    cancel = _json(api, "post", f"/api/v1/handovers/{plan['id']}/cancel")
    assert cancel.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "retiring"}, "kind"),
        ({"effective_at": "2026-11-01T10:00:00Z"}, "effective_at"),
        ({"kind": "moving"}, "to_team"),
        ({"user_id": 999999}, "user_id"),
    ],
)
def test_bad_input_names_the_field(body: dict[str, Any], field: str) -> None:
    _crew, boss, (rita, _jonas) = factories.handover_team()
    sent = {"user_id": rita.pk, "kind": "leaving", "effective_at": "2026-12-04T17:00:00Z", **body}
    response = _json(bearer(boss), "post", "/api/v1/handovers", sent)
    assert response.status_code == 422, response.content
    assert field in response.json()["detail"][0]["loc"][-1]


def test_reps_may_not_and_cancel_frees_the_rep() -> None:
    _crew, boss, (rita, jonas) = factories.handover_team()
    rep = bearer(jonas)
    assert rep.get("/api/v1/handovers").status_code == 403
    refused = _json(
        rep,
        "post",
        "/api/v1/handovers",
        {"user_id": rita.pk, "kind": "leaving", "effective_at": "2026-12-04T17:00:00Z"},
    )
    assert refused.status_code == 403
    plan = factories.handover_plan(leaver=rita, actor=boss)
    assert rep.get(f"/api/v1/handovers/{plan.pk}").status_code == 403
    admin = bearer(factories.user(role=Role.ADMIN))
    assert admin.get(f"/api/v1/handovers/{plan.pk + 1000}").status_code == 404
    cancelled = _json(admin, "post", f"/api/v1/handovers/{plan.pk}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    rita.refresh_from_db()
    assert rita.departs_at is None
