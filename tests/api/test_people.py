"""People through the API: list, read, add, change, timeline and merge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.capture.models import Consent
from leadline.core import clock
from leadline.core.models import Channel, Person, PersonEmail, PersonPhone, Role, TimelineEvent
from leadline.core.services import timeline_record
from tests import factories
from tests.api.conftest import ApiClient


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


def _ids(response: Any) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


def _field_errors(response: Any) -> dict[str, str]:
    """422 body → {field name: message}, from the last element of each `loc`."""
    assert response.status_code == 422, response.content
    return {str(e["loc"][-1]): e["msg"] for e in response.json()["detail"]}


def test_list_pages_with_a_total_count(api: Client) -> None:
    people = [factories.person() for _ in range(5)]

    first = api.get("/api/v1/people", {"limit": 2})
    rest = api.get("/api/v1/people", {"limit": 2, "offset": 2})

    assert first.status_code == 200
    assert first.json()["count"] == 5
    assert len(first.json()["items"]) == 2
    # Newest first, pages do not overlap, and together they are everyone.
    assert set(_ids(first)).isdisjoint(_ids(rest))
    everyone = _ids(api.get("/api/v1/people", {"limit": 10}))
    assert everyone == sorted((p.pk for p in people), reverse=True)


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"offset": -1}, "offset")])
def test_bad_paging_names_the_parameter(api: Client, params: dict[str, int], field: str) -> None:
    assert field in _field_errors(api.get("/api/v1/people", params))


def test_search_finds_words_in_their_own_description(api: Client) -> None:
    wanted = factories.person(role_own_words="I run the finance systems team")
    factories.person(role_own_words="I look after the warehouse")

    response = api.get("/api/v1/people", {"q": "finance"})

    assert _ids(response) == [wanted.pk]
    item = response.json()["items"][0]
    assert item["role_own_words"] == "I run the finance systems team"
    assert item["email"] == wanted.emails.get().email


def test_filter_by_account_and_by_creation_time(api: Client) -> None:
    account = factories.account(name="Acme Widgets")
    old = factories.person()
    Person.objects.filter(pk=old.pk).update(created_at=clock.now() - dt.timedelta(days=30))
    member = factories.person()
    factories.membership(person=member, account=account, title="CFO")

    by_account = api.get("/api/v1/people", {"account_id": account.pk})
    recent = api.get(
        "/api/v1/people", {"created_after": (clock.now() - dt.timedelta(days=1)).isoformat()}
    )

    assert _ids(by_account) == [member.pk]
    assert by_account.json()["items"][0]["accounts"] == [{"id": account.pk, "name": "Acme Widgets"}]
    assert old.pk not in _ids(recent)
    assert member.pk in _ids(recent)


def test_bad_filter_names_the_parameter(api: Client) -> None:
    assert "created_after" in _field_errors(
        api.get("/api/v1/people", {"created_after": "last tuesday"})
    )


def test_get_shows_the_person_in_their_own_words_with_everything_we_know(api: Client) -> None:
    account = factories.account(name="Acme Widgets")
    person = factories.person(
        email="ann@acme-widgets.example",
        role_own_words="I run the finance systems team",
        title="Head of Finance Systems",
        cares_about="Month-end close takes nine days",
        preferred_channel=Channel.VIDEO,
        preferred_hours="mornings",
        time_zone="Europe/Berlin",
    )
    PersonEmail.objects.create(person=person, email="ann@home.example")
    PersonPhone.objects.create(person=person, e164="+442071234567", label="work")
    factories.membership(person=person, account=account, role_in_company="owns the ERP")
    Consent.objects.create(person=person, purpose="marketing_email", granted=True, text="Yes")

    response = api.get(f"/api/v1/people/{person.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["role_own_words"] == "I run the finance systems team"
    assert body["title"] == "Head of Finance Systems"
    assert body["cares_about"] == "Month-end close takes nine days"
    assert body["preferred_channel"] == "video"
    assert body["preferred_hours"] == "mornings"
    assert body["time_zone"] == "Europe/Berlin"
    assert body["email"] == "ann@acme-widgets.example"
    assert {e["email"] for e in body["emails"]} == {"ann@acme-widgets.example", "ann@home.example"}
    assert body["phones"] == [{"e164": "+442071234567", "label": "work"}]
    assert body["memberships"][0]["account"] == {"id": account.pk, "name": "Acme Widgets"}
    assert body["memberships"][0]["role_in_company"] == "owns the ERP"
    assert body["consents"][0]["purpose"] == "marketing_email"
    assert body["consents"][0]["granted"] is True
    assert body["merged_into"] is None


def test_unknown_person_is_404_json(api: Client) -> None:
    response = api.get("/api/v1/people/999999")

    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


def test_create_adds_a_person_and_puts_it_on_their_timeline(api: Client) -> None:
    response = api.post(
        "/api/v1/people",
        {"email": " Bo@Example.COM ", "first_name": "Bo", "role_own_words": "I buy the tools"},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["person"]["email"] == "bo@example.com"
    assert body["person"]["role_own_words"] == "I buy the tools"
    person = Person.objects.get(pk=body["person"]["id"])
    event = TimelineEvent.objects.get(person=person)
    assert event.kind == "person.created"
    assert event.actor is not None


def test_create_with_a_known_email_returns_that_person_unchanged(api: Client) -> None:
    known = factories.person(email="ann@acme.example", first_name="Ann")

    response = api.post(
        "/api/v1/people",
        {"email": "ANN@acme.example", "first_name": "Someone else"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert response.json()["person"]["id"] == known.pk
    assert response.json()["person"]["first_name"] == "Ann"
    assert Person.objects.count() == 1


def test_create_follows_a_merge_to_the_survivor(api: Client) -> None:
    survivor = factories.person()
    loser = factories.person(email="old@acme.example")
    Person.objects.filter(pk=loser.pk).update(merged_into=survivor)

    response = api.post(
        "/api/v1/people", {"email": "old@acme.example"}, content_type="application/json"
    )

    assert response.json()["person"]["id"] == survivor.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": "a@b.example", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "a@b.example", "country": "Narnia"}, "country"),
        ({"email": "a@b.example", "preferred_channel": "pigeon"}, "preferred_channel"),
        ({"email": "a@b.example", "first_name": "x" * 500}, "first_name"),
        ({"email": "a@b.example", "phone": "+44 20 7123 4567"}, "phone"),
    ],
)
def test_create_with_bad_input_names_the_field_and_stores_nothing(
    api: Client, payload: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/people", payload, content_type="application/json")

    assert field in _field_errors(response)
    assert not Person.objects.exists()


def test_patch_changes_only_what_is_sent_and_records_who(api_as: ApiClient) -> None:
    person = factories.person(first_name="Ann", title="Controller")
    rep = api_as(Role.SALES_REP)

    response = rep.patch(
        f"/api/v1/people/{person.pk}",
        {"title": "CFO", "preferred_channel": "phone", "time_zone": "America/Chicago"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["title"] == "CFO"
    assert response.json()["first_name"] == "Ann"
    person.refresh_from_db()
    assert (person.title, person.preferred_channel) == ("CFO", "phone")
    event = TimelineEvent.objects.get(person=person, kind="person.updated")
    assert event.data["changes"]["title"] == {"from": "Controller", "to": "CFO"}
    assert event.actor is not None
    assert event.actor.role == Role.SALES_REP


def test_patch_that_changes_nothing_adds_no_timeline_row(api: Client) -> None:
    person = factories.person(title="CFO")

    response = api.patch(
        f"/api/v1/people/{person.pk}", {"title": "CFO"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert not TimelineEvent.objects.filter(person=person).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": None}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"time_zone": "Nowhere"}, "time_zone"),
        ({"first_name": 12}, "first_name"),
    ],
)
def test_patch_with_bad_input_names_the_field_and_changes_nothing(
    api: Client, payload: dict[str, Any], field: str
) -> None:
    person = factories.person(title="Controller")

    response = api.patch(f"/api/v1/people/{person.pk}", payload, content_type="application/json")

    assert field in _field_errors(response)
    person.refresh_from_db()
    assert person.title == "Controller"
    assert not TimelineEvent.objects.filter(person=person).exists()


def test_patch_clears_a_preference_with_null(api: Client) -> None:
    person = factories.person(preferred_channel=Channel.EMAIL)

    response = api.patch(
        f"/api/v1/people/{person.pk}", {"preferred_channel": None}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["preferred_channel"] == ""


def test_patch_on_a_merged_record_is_a_conflict(api: Client) -> None:
    survivor = factories.person()
    loser = factories.person()
    Person.objects.filter(pk=loser.pk).update(merged_into=survivor)

    response = api.patch(
        f"/api/v1/people/{loser.pk}", {"title": "CFO"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert str(survivor.pk) in response.json()["detail"]


def test_timeline_lists_events_newest_first_in_pages(api: Client) -> None:
    person = factories.person()
    start = clock.now() - dt.timedelta(days=10)
    for day in range(3):
        timeline_record(
            kind="note", summary=f"day {day}", person=person, occurred_at=start + dt.timedelta(day)
        )

    response = api.get(f"/api/v1/people/{person.pk}/timeline", {"limit": 2})

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert [e["summary"] for e in response.json()["items"]] == ["day 2", "day 1"]
    assert response.json()["items"][0]["person_id"] == person.pk


def test_timeline_of_an_unknown_person_is_404(api: Client) -> None:
    assert api.get("/api/v1/people/424242/timeline").status_code == 404


def test_merge_keeps_everything_of_both_and_the_loser_points_at_the_survivor(
    api: Client,
) -> None:
    survivor = factories.person(email="ann@acme.example", title="")
    loser = factories.person(email="ann.lee@acme.example", title="CFO")
    timeline_record(kind="note", summary="met at a fair", person=loser)

    response = api.post(
        f"/api/v1/people/{survivor.pk}/merge",
        {"loser_id": loser.pk},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert {e["email"] for e in body["emails"]} == {"ann@acme.example", "ann.lee@acme.example"}
    assert body["title"] == "CFO"
    summaries = [
        e["summary"] for e in api.get(f"/api/v1/people/{survivor.pk}/timeline").json()["items"]
    ]
    assert "met at a fair" in summaries
    merged = api.get(f"/api/v1/people/{loser.pk}")
    assert merged.status_code == 200
    assert merged.json()["merged_into"] == survivor.pk
    assert loser.pk not in _ids(api.get("/api/v1/people"))


@pytest.mark.parametrize("loser", ["self", "unknown", "merged"])
def test_merge_with_a_bad_loser_names_loser_id(api: Client, loser: str) -> None:
    survivor = factories.person()
    other = factories.person()
    loser_id = {"self": survivor.pk, "unknown": 999999, "merged": other.pk}[loser]
    if loser == "merged":
        Person.objects.filter(pk=other.pk).update(merged_into=factories.person())

    response = api.post(
        f"/api/v1/people/{survivor.pk}/merge",
        {"loser_id": loser_id},
        content_type="application/json",
    )

    assert "loser_id" in _field_errors(response)
    assert not TimelineEvent.objects.filter(kind="person.merged").exists()


def test_merge_without_a_loser_names_loser_id(api: Client) -> None:
    survivor = factories.person()

    response = api.post(f"/api/v1/people/{survivor.pk}/merge", {}, content_type="application/json")

    assert "loser_id" in _field_errors(response)


def test_merge_into_a_merged_record_is_a_conflict(api: Client) -> None:
    survivor, gone, loser = factories.person(), factories.person(), factories.person()
    Person.objects.filter(pk=gone.pk).update(merged_into=survivor)

    response = api.post(
        f"/api/v1/people/{gone.pk}/merge", {"loser_id": loser.pk}, content_type="application/json"
    )

    assert response.status_code == 409
    loser.refresh_from_db()
    assert loser.merged_into_id is None
