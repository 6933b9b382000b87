"""The cadences API: CRUD with steps, enrol one or many, stop, list enrolments."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.cadences.models import Cadence, Enrolment, EnrolmentStatus
from leadline.core.models import Role
from leadline.outreach.models import DoNotContact
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

NEW_TRIAL: dict[str, Any] = {
    "name": "New trial",
    "purpose": "marketing",
    "steps": [
        {"kind": "call", "title": "Intro call", "outcome_options": ["connected", "no_answer"]},
        {"kind": "branch", "branch_outcomes": ["no_answer"], "branch_to": 4},
        {"kind": "wait", "wait_days": 2},
        {"kind": "email", "subject": "Hi {{ first_name }}", "text": "Welcome"},
    ],
}


def test_create_read_change_and_delete_a_cadence(api: Client) -> None:
    made = api.post("/api/v1/cadences", NEW_TRIAL, content_type="application/json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert [s["kind"] for s in body["steps"]] == ["call", "branch", "wait", "email"]
    assert body["steps"][1]["branch_to"] == 4
    assert body["steps"][2]["description"] == "Wait 2 business days"
    pk = body["id"]
    assert api.get(f"/api/v1/cadences/{pk}").json()["name"] == "New trial"
    changed = api.put(
        f"/api/v1/cadences/{pk}",
        {**NEW_TRIAL, "name": "Trial", "steps": NEW_TRIAL["steps"][3:]},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Trial"
    assert len(changed.json()["steps"]) == 1
    assert api.delete(f"/api/v1/cadences/{pk}").status_code == 204
    assert not Cadence.objects.exists()


def test_a_bad_step_is_refused_with_its_field_and_nothing_is_made(api: Client) -> None:
    bad = {**NEW_TRIAL, "steps": [{"kind": "email", "subject": "Hi {% if x %}", "text": "x"}]}
    response = api.post("/api/v1/cadences", bad, content_type="application/json")
    assert response.status_code == 422
    assert "steps.0.subject" in str(response.json())
    assert not Cadence.objects.exists()


def test_enrol_one_refuse_twice_bulk_stop_and_list(api: Client) -> None:
    cadence = factories.cadence(name="Welcome")
    person, other, blocked = factories.person(), factories.person(), factories.person()
    DoNotContact.objects.create(person=blocked, channel="email")
    url = f"/api/v1/cadences/{cadence.pk}/enrolments"
    one = api.post(url, {"person_id": person.pk}, content_type="application/json")
    assert one.status_code == 201
    assert one.json()["status"] == "active"
    twice = api.post(url, {"person_id": person.pk}, content_type="application/json")
    assert twice.status_code == 409
    assert "already in the cadence" in twice.json()["detail"]
    bulk = api.post(
        f"{url}/bulk",
        {"person_ids": [person.pk, other.pk, blocked.pk, 999999]},
        content_type="application/json",
    ).json()
    assert [e["person_id"] for e in bulk["enrolled"]] == [other.pk]
    assert {r["person_id"] for r in bulk["refused"]} == {person.pk, blocked.pk, 999999}
    listed = api.get("/api/v1/enrolments", {"cadence_id": cadence.pk}).json()
    assert listed["count"] == 2
    enrolment = Enrolment.objects.get(person=other)
    stopped = api.post(
        f"/api/v1/enrolments/{enrolment.pk}/stop", {}, content_type="application/json"
    )
    assert stopped.json()["status"] == EnrolmentStatus.STOPPED
    assert stopped.json()["stopped_reason"] == "by_hand"
    everything = api.post(
        "/api/v1/enrolments/stop",
        {"person_id": person.pk, "reason": "replied"},
        content_type="application/json",
    )
    assert everything.json() == {"stopped": 1}


def test_roles(api_as: ApiClient) -> None:
    outside = api_as(Role.OUTSIDE_CALLER)
    assert outside.get("/api/v1/cadences").status_code == 403
    assert outside.get("/api/v1/enrolments").status_code == 403
    rep = api_as(Role.SALES_REP)
    assert rep.get("/api/v1/cadences").status_code == 200
    made = rep.post("/api/v1/cadences", NEW_TRIAL, content_type="application/json")
    assert made.status_code == 403
    assert not Cadence.objects.exists()
