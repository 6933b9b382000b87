"""Contact pressure, do-not-contact and marketing emails through the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Person, PersonPhone, Role
from leadline.outreach import services
from leadline.outreach.models import ContactPolicy, DoNotContact, NewsletterStatus
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def post(api: Client, url: str, body: dict[str, Any]) -> Any:
    return api.post(url, body, content_type="application/json")


def patch(api: Client, url: str, body: dict[str, Any]) -> Any:
    return api.patch(url, body, content_type="application/json")


@pytest.fixture
def ann() -> Person:
    person = factories.person(first_name="Ann", time_zone="Europe/Berlin")
    PersonPhone.objects.create(person=person, e164="+4930123456")
    factories.consent(person=person, captured_at=factories.MONDAY_10 - dt.timedelta(days=2))
    return person


def test_read_and_change_the_policy(api: Client, api_as: ApiClient) -> None:
    assert api.get("/api/v1/contact-policy").json() == {
        "weekly_cap": 3,
        "quiet_start": "20:00:00",
        "quiet_end": "08:00:00",
        "weekends_quiet": True,
        "default_time_zone": "UTC",
    }
    response = patch(api, "/api/v1/contact-policy", {"weekly_cap": 2, "quiet_end": "07:30"})
    assert response.status_code == 200, response.content
    assert ContactPolicy.objects.get().weekly_cap == 2
    bad = patch(api, "/api/v1/contact-policy", {"default_time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "default_time_zone"
    assert patch(api, "/api/v1/contact-policy", {"weekly_cap": 0}).status_code == 422
    refused = patch(api_as(Role.SALES_REP), "/api/v1/contact-policy", {"weekly_cap": 9})
    assert refused.status_code == 403
    assert refused.json()["missing"] == "access_outreach_settings"


def test_the_gates_verdict_and_a_persons_contact_state(api: Client, ann: Person) -> None:
    for n in range(3):
        services.contact_reserve(
            person=ann, channel="email", purpose="marketing", source="cadence", ref=f"e:{n}"
        )
    verdict = api.get(f"/api/v1/people/{ann.pk}/contact-check?channel=phone&purpose=sales")
    assert verdict.json() == {
        "allowed": False,
        "reason": "3 touches this week (the limit is 3)",
        "code": "cap",
        "next_allowed_at": "2026-11-30T10:00:00Z",
    }
    state = api.get(f"/api/v1/people/{ann.pk}/contact").json()
    assert state["touches_this_week"] == 3
    assert state["time_zone"] == "Europe/Berlin"
    assert api.get("/api/v1/people/999999/contact").status_code == 404


def test_do_not_contact_through_the_api(api: Client, api_as: ApiClient, ann: Person) -> None:
    rep = api_as(Role.SALES_REP)
    body = {"person_id": ann.pk, "channel": "phone", "reason": "Asked us not to call"}
    created = post(rep, "/api/v1/do-not-contact", body)
    assert created.status_code == 201, created.content
    assert created.json()["channel"] == "phone"
    assert post(rep, "/api/v1/do-not-contact", body).status_code == 201  # idempotent
    assert DoNotContact.objects.count() == 1
    assert rep.get("/api/v1/do-not-contact").status_code == 403  # the list: marketing, admin
    assert api.get("/api/v1/do-not-contact").json()["count"] == 1
    check = api.get(f"/api/v1/people/{ann.pk}/contact-check?channel=phone&purpose=sales")
    assert check.json()["code"] == "do_not_contact"
    assert rep.delete(f"/api/v1/do-not-contact/{ann.pk}/phone").status_code == 204
    assert rep.delete(f"/api/v1/do-not-contact/{ann.pk}/phone").status_code == 404
    caller = api_as(Role.OUTSIDE_CALLER)
    assert post(caller, "/api/v1/do-not-contact", body).status_code == 403


def test_record_an_unsubscribe(api: Client, ann: Person) -> None:
    response = post(api, f"/api/v1/people/{ann.pk}/unsubscribe", {})
    assert response.status_code == 200
    assert response.json()["marketing_unsubscribed_at"] is not None
    check = api.get(f"/api/v1/people/{ann.pk}/contact-check")
    assert check.json()["code"] == "unsubscribed"


def test_a_marketing_email_to_a_list_of_people(
    api: Client,
    api_as: ApiClient,
    ann: Person,
    run_worker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    bob = factories.person(first_name="Bob", time_zone="Europe/Berlin")
    services.contact_unsubscribe(person=bob, method="link")
    body = {
        "name": "Invite",
        "subject": "A seat for {{ first_name }}",
        "text": "Hi {{ first_name }}",
        "audience": "people",
        "audience_ids": [ann.pk, bob.pk],
    }
    assert post(api_as(Role.SALES_REP), "/api/v1/newsletters", body).status_code == 403
    bad = post(api, "/api/v1/newsletters", {**body, "text": "{{ nope }}"})
    assert bad.status_code == 422
    created = post(api, "/api/v1/newsletters", body)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    preview = api.get(f"/api/v1/newsletters/{pk}/preview?person_id={ann.pk}").json()
    assert preview["subject"] == "A seat for Ann"
    assert preview["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert preview["headers"]["List-Unsubscribe"].strip("<>") in preview["text"]

    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"/api/v1/newsletters/{pk}/send")
    assert sent.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    got = api.get(f"/api/v1/newsletters/{pk}").json()
    assert got["status"] == NewsletterStatus.SENT
    assert {line["key"]: line["count"] for line in got["report"]} == {
        "sent": 1,
        "unsubscribed": 1,
    }
    assert api.post(f"/api/v1/newsletters/{pk}/send").status_code == 409
    assert patch(api, f"/api/v1/newsletters/{pk}", {"subject": "x"}).status_code == 409
    assert api.get("/api/v1/newsletters").json()["count"] == 1
