"""Events from other systems through the API: recorded once, on the timeline, moving journeys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Person, Role, TimelineEvent
from leadline.journeys.models import Event, JourneyPosition, JourneyTransition
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def post(api: Client, *events: dict[str, Any]) -> Any:
    return api.post("/api/v1/events", {"events": list(events)}, content_type="application/json")


def test_events_land_on_the_timeline_once_and_move_the_journey(api: Client) -> None:
    person = factories.person()
    trial = {
        "name": "trial_started",
        "person_id": person.pk,
        "properties": {"title": "Team plan"},
        "id": "trial-81",
    }
    reads = [{"name": "form_submitted", "person_id": person.pk}]
    reads += [{"name": "contact_requested", "person_id": person.pk}]

    response = post(api, *reads, trial)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["recorded"], body["duplicates"]) == (3, 0)
    assert {e["name"] for e in body["events"]} == {
        "form_submitted",
        "contact_requested",
        "trial_started",
    }
    assert TimelineEvent.objects.filter(
        person=person, kind="signal", summary="Trial started: Team plan"
    ).exists()
    # Noticing → Exploring → Comparing vendors → Building the internal case ("A trial started").
    position = JourneyPosition.objects.get(person=person)
    assert position.step.name == "Building the internal case"
    assert (
        JourneyTransition.objects.filter(person=person).latest("id").signal_name
        == "A trial started"
    )

    again = post(api, trial)
    assert again.json() == {"recorded": 0, "duplicates": 1, "events": []}
    assert Event.objects.filter(name="trial_started").count() == 1


def test_an_unknown_address_makes_the_person(api: Client) -> None:
    response = post(api, {"name": "webinar_attended", "email": "New.Comer@Example.org"})
    assert response.status_code == 201
    person = Person.objects.get(emails__email="new.comer@example.org")
    assert person.events.get().name == "webinar_attended"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"name": "Trial Started", "email": "a@b.example"}, "name"),
        ({"name": "x", "email": "not an address"}, "email"),
        ({"name": "x"}, "events"),  # neither person_id nor email
        (
            {"name": "x", "email": "a@b.example", "occurred_at": "2030-01-01T00:00:00Z"},
            "occurred_at",
        ),
        (
            {"name": "x", "email": "a@b.example", "occurred_at": "2026-11-20T10:00:00"},
            "occurred_at",
        ),
        ({"name": "x", "email": "a@b.example", "properties": {"a": "x" * 5000}}, "properties"),
        ({"name": "x", "email": "a@b.example", "colour": "red"}, "colour"),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_nothing_is_recorded(
    api: Client, event: dict[str, Any], field: str
) -> None:
    good = {"name": "webinar_attended", "email": "good@b.example"}
    response = post(api, good, event)
    assert response.status_code == 422, response.content
    assert field in {str(part) for e in response.json()["detail"] for part in e["loc"]}
    assert not Event.objects.exists()


def test_an_unknown_person_id_is_404_and_nothing_is_recorded(api: Client) -> None:
    response = post(api, {"name": "x", "email": "a@b.example"}, {"name": "x", "person_id": 99999})
    assert response.status_code == 404
    assert "99999" in response.json()["detail"]
    assert not Event.objects.exists()


def test_past_events_keep_their_time(api: Client) -> None:
    person = factories.person()
    when = factories.MONDAY_10 - dt.timedelta(days=2)
    post(api, {"name": "webinar_attended", "person_id": person.pk, "occurred_at": when.isoformat()})
    assert person.events.get().occurred_at == when


def test_outside_callers_may_not_send_events(api_as: ApiClient) -> None:
    person = factories.person()
    response = post(api_as(Role.OUTSIDE_CALLER), {"name": "x", "person_id": person.pk})
    assert response.status_code == 403
    assert not Event.objects.exists()
