"""The booking API: pages, their free slots, meetings (list, book for a person, cancel)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.booking.models import Meeting, MeetingStatus
from leadline.core import clock
from leadline.core.models import Role, User
from tests import factories
from tests.api.conftest import ApiClient, bearer

pytestmark = pytest.mark.django_db

MONDAY = factories.MONDAY_10
TUESDAY_9 = "2026-11-24T09:00:00Z"


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY):
        yield


@pytest.fixture
def rep() -> User:
    seller = factories.user(time_zone="UTC")
    factories.bookable_hours(host=seller, hours="Tue 09:00-10:00")
    factories.booking_page(host=seller, slug="rep-page", buffer_minutes=15)
    return seller


def test_pages_and_their_slots(api_as: ApiClient, rep: User) -> None:
    client = api_as(Role.MARKETING)
    pages = client.get("/api/v1/booking/pages").json()
    assert [p["slug"] for p in pages["items"]] == ["rep-page"]
    assert pages["items"][0]["user_id"] == rep.pk

    slots = client.get(
        "/api/v1/booking/pages/rep-page/slots?start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z"
    )
    assert slots.status_code == 200
    assert slots.json() == [
        {"starts_at": "2026-11-24T09:00:00Z", "ends_at": "2026-11-24T09:30:00Z", "hosts": [rep.pk]},
        {"starts_at": "2026-11-24T09:30:00Z", "ends_at": "2026-11-24T10:00:00Z", "hosts": [rep.pk]},
    ]
    assert client.get("/api/v1/booking/pages/nobody/slots").status_code == 404
    too_long = client.get(
        "/api/v1/booking/pages/rep-page/slots?start=2026-11-24T00:00:00Z&end=2027-11-24T00:00:00Z"
    )
    assert too_long.status_code == 422


def test_a_seller_books_for_a_person_then_the_time_is_taken(rep: User) -> None:
    client = bearer(rep)
    person = factories.person()
    body = {
        "page": "rep-page",
        "starts_at": TUESDAY_9,
        "person_id": person.pk,
        "note": "From the trade fair",
    }

    made = client.post("/api/v1/booking/meetings", body, content_type="application/json")

    assert made.status_code == 201, made.content
    out = made.json()
    assert (out["host_id"], out["person_id"], out["booked_by_id"], out["status"]) == (
        rep.pk,
        person.pk,
        rep.pk,
        "booked",
    )
    assert out["starts_at"] == TUESDAY_9
    assert out["sequence"] == 0
    assert out["page"] == "rep-page"
    again = client.post("/api/v1/booking/meetings", body, content_type="application/json")
    assert again.status_code == 409
    assert "just taken" in again.json()["detail"]
    # The buffer (15 min) takes the next slot too.
    slots = client.get("/api/v1/booking/pages/rep-page/slots?start=2026-11-24T00:00:00Z").json()
    assert slots == []


def test_booking_refuses_bad_input(rep: User) -> None:
    client = bearer(rep)
    person = factories.person()
    cases = [
        (
            {
                "page": "rep-page",
                "starts_at": TUESDAY_9,
                "person_id": person.pk,
                "time_zone": "Mars/Base",
            },
            422,
        ),
        (
            {"page": "rep-page", "starts_at": TUESDAY_9, "person_id": person.pk, "colour": "red"},
            422,
        ),
        ({"page": "nobody", "starts_at": TUESDAY_9, "person_id": person.pk}, 404),
        ({"page": "rep-page", "starts_at": TUESDAY_9, "person_id": 999999}, 404),
        ({"page": "rep-page", "starts_at": "2026-11-24T09:10:00Z", "person_id": person.pk}, 409),
    ]
    for body, status in cases:
        response = client.post("/api/v1/booking/meetings", body, content_type="application/json")
        assert response.status_code == status, (body, response.content)
    assert not Meeting.objects.exists()


def test_meetings_list_and_cancel_by_role(rep: User) -> None:
    other_rep = factories.user()
    manager = factories.user(role=Role.SALES_MANAGER)
    person = factories.person()
    made = (
        bearer(rep)
        .post(
            "/api/v1/booking/meetings",
            {"page": "rep-page", "starts_at": TUESDAY_9, "person_id": person.pk},
            content_type="application/json",
        )
        .json()
    )

    assert bearer(rep).get("/api/v1/booking/meetings").json()["count"] == 1
    assert bearer(other_rep).get("/api/v1/booking/meetings").json()["count"] == 0
    assert (
        bearer(manager).get(f"/api/v1/booking/meetings?person_id={person.pk}").json()["count"] == 1
    )
    assert (
        bearer(other_rep)
        .post(f"/api/v1/booking/meetings/{made['id']}/cancel", {}, content_type="application/json")
        .status_code
        == 404
    )

    cancelled = bearer(manager).post(
        f"/api/v1/booking/meetings/{made['id']}/cancel",
        {"reason": "Double booked"},
        content_type="application/json",
    )
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["sequence"]) == ("cancelled", 1)
    assert Meeting.objects.get().status == MeetingStatus.CANCELLED


@pytest.mark.parametrize("role", [Role.MARKETING, Role.OUTSIDE_CALLER])
def test_roles_that_take_no_meetings_may_not_book_or_list(
    api_as: ApiClient, rep: User, role: str
) -> None:
    client: Client = api_as(role)
    person = factories.person()
    response = client.post(
        "/api/v1/booking/meetings",
        {"page": "rep-page", "starts_at": TUESDAY_9, "person_id": person.pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert client.get("/api/v1/booking/meetings").status_code == 403
    assert not Meeting.objects.exists()


def test_outside_callers_may_not_read_pages_or_slots(api_as: ApiClient, rep: User) -> None:
    client = api_as(Role.OUTSIDE_CALLER)
    assert client.get("/api/v1/booking/pages").status_code == 403
    assert client.get("/api/v1/booking/pages/rep-page/slots").status_code == 403
