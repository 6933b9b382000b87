"""The handoff and lifecycle API through real requests with bearer keys: create and list
handoffs, accept or reject them (422 naming the field), a person's lifecycle history, the
lead-quality report; every endpoint refuses a wrong role with 403."""

from __future__ import annotations

import pytest
from django.test import Client

from leadline.core.models import Role
from leadline.engagement.models import Handoff, HandoffStatus
from leadline.routing.models import Ownership
from tests import factories
from tests.api.conftest import bearer
from tests.engagement.conftest import Sales, sales

__all__ = ["sales"]

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def handed(sales: Sales, *, campaign: str = "Q4 finance push") -> Handoff:
    person = factories.person(first_name="Ann", last_name="Lee")
    factories.person_request(person=person, wants_contact=True, campaign=campaign)
    Ownership.objects.create(owner=sales.rita, person=person)
    response = bearer(sales.marketer).post(
        "/api/v1/handoffs",
        {"person_id": person.pk, "note": "Asked twice"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return Handoff.objects.get(pk=response.json()["id"])


def test_marketing_creates_a_handoff_and_again_gets_the_same_one(sales: Sales) -> None:
    handoff = handed(sales)
    again = bearer(sales.marketer).post(
        "/api/v1/handoffs", {"person_id": handoff.person_id}, content_type="application/json"
    )
    assert again.status_code == 200
    body = again.json()
    assert body["id"] == handoff.pk
    assert body["owner"] == "rita"
    assert body["status"] == "open"
    assert body["campaign"] == "Q4 finance push"
    assert body["due_at"] == "2026-11-24T10:00:00Z"
    assert Handoff.objects.count() == 1


def test_the_list_shows_the_callers_own_with_mine(sales: Sales) -> None:
    mine = handed(sales)
    factories.handoff(owner=sales.tom)
    response = bearer(sales.rita).get("/api/v1/handoffs", {"mine": "true"})
    assert response.status_code == 200
    assert [h["id"] for h in response.json()["items"]] == [mine.pk]
    assert bearer(sales.rita).get("/api/v1/handoffs").json()["count"] == 2


def test_rejecting_without_a_reason_is_422_naming_the_fields_and_changes_nothing(
    sales: Sales,
) -> None:
    handoff = handed(sales)
    response = bearer(sales.rita).post(
        f"/api/v1/handoffs/{handoff.pk}/reject", {}, content_type="application/json"
    )
    assert response.status_code == 422
    named = {tuple(error["loc"])[-1] for error in response.json()["detail"]}
    assert named == {"reason_id", "reason_text"}
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.OPEN


def test_rejecting_with_a_reason_recycles_and_shows_in_the_report(sales: Sales) -> None:
    handoff = handed(sales, campaign="Spring webinar")
    reason = factories.rejection_reason(name="Could not reach them")
    response = bearer(sales.rita).post(
        f"/api/v1/handoffs/{handoff.pk}/reject",
        {"reason_id": reason.pk, "reason_text": "Five calls, no answer"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["reason"]["name"] == "Could not reach them"
    again = bearer(sales.rita).post(
        f"/api/v1/handoffs/{handoff.pk}/accept", {}, content_type="application/json"
    )
    assert again.status_code == 409

    history = bearer(sales.marketer).get(f"/api/v1/people/{handoff.person_id}/lifecycle").json()
    assert history["stage"] == "recycled"
    assert [(c["from_stage"], c["to_stage"]) for c in history["history"]] == [
        ("", "marketing_qualified"),
        ("marketing_qualified", "recycled"),
    ]
    assert history["history"][1]["actor"] == "rita"

    report = bearer(sales.marketer).get("/api/v1/reports/lead-quality").json()
    [spring] = [row for row in report["by_campaign"] if row["name"] == "Spring webinar"]
    assert spring["handed_over"] == 1
    assert spring["rejected"] == 1
    assert spring["rejected_by_reason"] == {"Could not reach them": 1}
    assert report["total"]["won_percent"] == 0


def test_accepting_opens_an_opportunity_and_closing_it_won_makes_a_customer(
    sales: Sales,
) -> None:
    handoff = handed(sales)
    response = bearer(sales.rita).post(
        f"/api/v1/handoffs/{handoff.pk}/accept",
        {"amount": "9000"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["handoff"]["status"] == "accepted"
    opportunity = body["opportunity"]
    assert (opportunity["status"], opportunity["owner"]) == ("open", "rita")
    missing = bearer(sales.rita).post(
        f"/api/v1/opportunities/{opportunity['id']}/close",
        {"outcome": "won", "amount": "-1"},
        content_type="application/json",
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"][-1] == "amount"
    won = bearer(sales.rita).post(
        f"/api/v1/opportunities/{opportunity['id']}/close",
        {"outcome": "won"},
        content_type="application/json",
    )
    assert won.status_code == 200
    assert won.json()["status"] == "won"
    life = bearer(sales.rita).get(f"/api/v1/people/{handoff.person_id}/lifecycle").json()
    assert life["stage"] == "customer"
    report = bearer(sales.manager).get("/api/v1/reports/lead-quality").json()
    assert (report["total"]["won"], report["total"]["won_percent"]) == (1, 100)
    assert report["total"]["won_revenue"] == 9000.0


def test_moving_the_stage_by_hand_needs_a_reason(sales: Sales) -> None:
    person = factories.person()
    api = bearer(sales.marketer)
    url = f"/api/v1/people/{person.pk}/lifecycle"
    empty = api.post(url, {"stage": "engaged", "reason": " "}, content_type="application/json")
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"][-1] == "reason"
    moved = api.post(
        url, {"stage": "engaged", "reason": "Webinar"}, content_type="application/json"
    )
    assert moved.status_code == 200
    assert moved.json()["stage"] == "engaged"


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("post", "/api/v1/handoffs", Role.SALES_REP),
        ("get", "/api/v1/handoffs", Role.OUTSIDE_CALLER),
        ("get", "/api/v1/rejection-reasons", Role.OUTSIDE_CALLER),
        ("get", "/api/v1/reports/lead-quality", Role.SALES_REP),
        ("get", "/api/v1/people/{person}/lifecycle", Role.OUTSIDE_CALLER),
        ("post", "/api/v1/people/{person}/lifecycle", Role.SALES_REP),
        ("post", "/api/v1/handoffs/{handoff}/accept", Role.MARKETING),
        ("post", "/api/v1/handoffs/{handoff}/reject", Role.SALES_REP),  # not theirs
        ("post", "/api/v1/handoffs/{handoff}/accept", Role.OUTSIDE_CALLER),
    ],
)
def test_a_wrong_role_gets_403(sales: Sales, method: str, path: str, role: str) -> None:
    handoff = factories.handoff(owner=sales.rita)
    client: Client = bearer(factories.user(role=role))
    url = path.format(person=handoff.person_id, handoff=handoff.pk)
    body: dict[str, object] = {"stage": "engaged", "reason": "x"}
    if url.endswith("/handoffs"):
        body = {"person_id": handoff.person_id}
    if "reject" in url:
        body = {"reason_id": factories.rejection_reason().pk, "reason_text": "x"}
    if "accept" in url:
        body = {}
    response = (
        client.get(url)
        if method == "get"
        else client.post(url, body, content_type="application/json")
    )
    assert response.status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.OPEN


def test_the_endpoints_are_in_the_api_schema(api: Client) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/handoffs",
        "/api/v1/handoffs/{handoff_id}/accept",
        "/api/v1/handoffs/{handoff_id}/reject",
        "/api/v1/people/{person_id}/lifecycle",
        "/api/v1/reports/lead-quality",
    ):
        assert path in paths
