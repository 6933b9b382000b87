"""A person's labels through the API: GET /api/v1/people/{id} carries them, each with why."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import Role
from leadline.engagement.models import Stage
from leadline.engagement.services import lifecycle_set
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
NOW = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC
DAY = dt.timedelta(days=1)


def test_get_a_person_includes_their_labels_with_why(api: Client) -> None:
    person = factories.person(title="Chief Financial Officer")
    factories.membership(
        person=person,
        account=factories.account(name="Acme", employees=800, industry="Retail", country="GB"),
    )
    factories.person_request(person=person, wants_contact=True, created_at=NOW - DAY)
    lifecycle_set(
        person=person,
        stage=Stage.MARKETING_QUALIFIED,
        reason="Crossed the fit and interest thresholds",
        actor=None,
        at=NOW - DAY,
    )
    other = factories.person()
    factories.buyer_event(person=other, name="page_view", path="/pricing", at=NOW - DAY)

    with clock.frozen_at(NOW):
        response = api.get(f"/api/v1/people/{person.pk}")

    assert response.status_code == 200
    labels = response.json()["labels"]
    assert [label["name"] for label in labels] == ["Journey step", "Fit", "Interest", "Lifecycle"]
    by_name = {label["name"]: label for label in labels}
    assert by_name["Fit"]["value"] == "Strong fit"
    assert by_name["Fit"]["tone"] == "good"
    assert "Acme: 800 people — in the ideal range (200 to 5,000)" in by_name["Fit"]["why"]
    assert by_name["Interest"]["value"] == "Medium interest"
    assert by_name["Interest"]["why"][0] == "Asked to be contacted on 22 Nov"
    assert not any("/pricing" in line for line in by_name["Interest"]["why"])  # not theirs
    assert by_name["Lifecycle"] == {
        "name": "Lifecycle",
        "value": "Marketing-qualified",
        "tone": "good",
        "why": ["Crossed the fit and interest thresholds", "Since 22 Nov"],
    }
    assert by_name["Journey step"]["value"] == "Not started"
    assert all(isinstance(line, str) and line for label in labels for line in label["why"])


def test_labels_are_in_the_api_schema(api: Client) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    labels = schema["components"]["schemas"]["LabelOut"]
    assert set(labels["properties"]) == {"name", "value", "tone", "why"}


def test_a_role_without_access_to_people_gets_no_labels(api_as: ApiClient) -> None:
    person = factories.person()
    response = api_as(Role.OUTSIDE_CALLER).get(f"/api/v1/people/{person.pk}")
    assert response.status_code == 403
    assert "labels" not in response.json()
