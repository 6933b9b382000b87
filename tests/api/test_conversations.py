"""Conversations and pain points through the API: logging, reading, the catalogue, decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Role, TimelineEvent
from leadline.journeys.models import Conversation, PainPoint, PainStatus
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


def post(api: Client, url: str, body: dict[str, Any]) -> Any:
    return api.post(url, body, content_type="application/json")


def patch(api: Client, url: str, body: dict[str, Any]) -> Any:
    return api.patch(url, body, content_type="application/json")


def fields_named(response: Any) -> set[str]:
    assert response.status_code == 422, response.content
    return {error["loc"][-1] for error in response.json()["detail"]}


def test_logging_a_call_suggests_pain_points_in_their_words_then_a_rep_confirms(
    api_as: ApiClient,
) -> None:
    pain = factories.pain_point(name="Slow month-end close", phrases="month-end")
    account = factories.account(name="Acme Widgets")
    ann = factories.person(first_name="Ann", last_name="Lee")
    cfo = factories.person(first_name="Vera", last_name="Stone", title="CFO")
    seller = factories.user(username="rita", first_name="Rita", last_name="Santos")
    rep = api_as(Role.SALES_REP)

    response = post(
        rep,
        "/api/v1/conversations",
        {
            "kind": "call",
            "summary": "Talked about month-end and the audit.",
            "quotes": "Month-end eats a week of my team.\nWe want it in five days.",
            "person_ids": [ann.pk, cfo.pk],
            "seller_ids": [seller.pk],
            "account_id": account.pk,
            "occurred_at": "2026-11-23T09:15:00+01:00",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "call"
    assert body["occurred_at"].startswith("2026-11-23T08:15:00")
    assert body["quotes"] == ["Month-end eats a week of my team.", "We want it in five days."]
    assert [p["name"] for p in body["people"]] == ["Ann Lee", "Vera Stone"]
    assert body["sellers"] == [{"id": seller.pk, "username": "rita", "name": "Rita Santos"}]
    assert body["account_id"] == account.pk
    (suggestion,) = body["pain_points"]
    assert suggestion["pain_point_id"] == pain.pk
    assert suggestion["status"] == "suggested"
    assert suggestion["evidence"] == "Month-end eats a week of my team."
    assert TimelineEvent.objects.filter(person=cfo, kind="conversation.call").exists()

    decided = post(
        rep, f"/api/v1/pain-point-suggestions/{suggestion['id']}/decision", {"confirmed": True}
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "confirmed"
    assert decided.json()["decided_by"] is not None

    listed = rep.get(f"/api/v1/people/{cfo.pk}/conversations")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert listed.json()["items"][0]["pain_points"][0]["status"] == "confirmed"


def test_a_persons_conversations_come_newest_first_and_page(api: Client) -> None:
    person = factories.person()
    for n, day in enumerate((20, 22, 21)):
        factories.conversation(
            people=[person],
            summary=f"Talk {n}",
            occurred_at=dt.datetime(2026, 11, day, 9, tzinfo=dt.UTC),
        )
    factories.conversation(people=[factories.person()], summary="Someone else")

    body = api.get(f"/api/v1/people/{person.pk}/conversations?limit=2").json()
    assert body["count"] == 3
    assert [c["summary"] for c in body["items"]] == ["Talk 1", "Talk 2"]
    assert api.get("/api/v1/people/999999/conversations").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "visit"}, "kind"),
        ({"summary": "   "}, "summary"),
        ({"person_ids": []}, "person_ids"),
        ({"occurred_at": "2026-12-01T10:00:00Z"}, "occurred_at"),
        ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),
        ({"quotes": "x" * 5001}, "quotes"),
        ({"mood": "great"}, "mood"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    api: Client, change: dict[str, Any], field: str
) -> None:
    person = factories.person()
    body = {"kind": "call", "summary": "Hi", "person_ids": [person.pk], **change}
    assert field in fields_named(post(api, "/api/v1/conversations", body))
    assert not Conversation.objects.exists()


def test_unknown_ids_are_404_and_nothing_is_logged(api: Client) -> None:
    person = factories.person()
    response = post(
        api,
        "/api/v1/conversations",
        {"kind": "note", "summary": "Hi", "person_ids": [person.pk, 424242]},
    )
    assert response.status_code == 404
    assert "424242" in response.json()["detail"]
    assert (
        post(
            api,
            "/api/v1/conversations",
            {"kind": "note", "summary": "Hi", "person_ids": [person.pk], "seller_ids": [999]},
        ).status_code
        == 404
    )
    assert not Conversation.objects.exists()
    assert (
        post(api, "/api/v1/pain-point-suggestions/999/decision", {"confirmed": True}).status_code
        == 404
    )


def test_a_merged_persons_id_logs_against_the_survivor(api: Client) -> None:
    survivor, loser = factories.person(), factories.person()
    loser.merged_into = survivor
    loser.save()
    response = post(
        api, "/api/v1/conversations", {"kind": "call", "summary": "Hi", "person_ids": [loser.pk]}
    )
    assert response.status_code == 201
    assert [p["id"] for p in response.json()["people"]] == [survivor.pk]


def test_the_catalogue_is_read_by_reps_and_kept_by_marketing(api_as: ApiClient) -> None:
    marketing, rep = api_as(Role.MARKETING), api_as(Role.SALES_REP)

    made = post(
        marketing,
        "/api/v1/pain-points",
        {
            "name": "Slow month-end close",
            "product": "Ledger",
            "phrases": ["month-end", " Closing the books ", "MONTH-END"],
        },
    )
    assert made.status_code == 201, made.content
    pain = made.json()
    assert pain["phrases"] == ["month-end", "Closing the books"]
    assert (pain["confirmed"], pain["rejected"], pain["waiting"]) == (0, 0, 0)

    refused = post(rep, "/api/v1/pain-points", {"name": "Anything"})
    assert refused.status_code == 403
    assert refused.json()["missing"] == "access_pain_point_edit"
    assert "sales_manager" in refused.json()["allowed_roles"]
    assert patch(rep, f"/api/v1/pain-points/{pain['id']}", {"is_active": False}).status_code == 403
    assert api_as(Role.OUTSIDE_CALLER).get("/api/v1/pain-points").status_code == 403

    assert "name" in fields_named(
        post(
            marketing, "/api/v1/pain-points", {"name": "slow MONTH-END close", "product": "ledger"}
        )
    )
    assert "phrases" in fields_named(
        post(marketing, "/api/v1/pain-points", {"name": "Other", "phrases": ["ab"]})
    )
    assert "phrases" in fields_named(
        post(marketing, "/api/v1/pain-points", {"name": "Other", "phrases": ["a\nb c"]})
    )

    changed = patch(
        marketing, f"/api/v1/pain-points/{pain['id']}", {"is_active": False, "phrases": ["close"]}
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["is_active"], changed.json()["phrases"]) == (False, ["close"])
    assert changed.json()["name"] == "Slow month-end close"  # not sent, not changed
    assert "name" in fields_named(
        patch(marketing, f"/api/v1/pain-points/{pain['id']}", {"name": None})
    )
    assert patch(marketing, "/api/v1/pain-points/999", {"name": "X"}).status_code == 404

    factories.pain_point(name="Audit findings", phrases="auditor")
    listed = rep.get("/api/v1/pain-points")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["items"]] == ["Audit findings", "Slow month-end close"]
    active = rep.get("/api/v1/pain-points?active=true").json()["items"]
    assert [p["name"] for p in active] == ["Audit findings"]
    by_product = rep.get("/api/v1/pain-points?product=Ledger").json()["items"]
    assert [p["name"] for p in by_product] == ["Slow month-end close"]
    assert rep.get(f"/api/v1/pain-points/{pain['id']}").json()["is_active"] is False


def test_decisions_are_counted_per_pain_point_and_need_a_role_that_edits_people(
    api_as: ApiClient,
) -> None:
    pain = factories.pain_point(name="Audit findings", phrases="auditor")
    people = [factories.person() for _ in range(3)]
    suggestions = [
        factories.conversation(people=[p], summary="The auditor again.").pain_points.get()
        for p in people
    ]
    rep = api_as(Role.SALES_REP)
    post(rep, f"/api/v1/pain-point-suggestions/{suggestions[0].pk}/decision", {"confirmed": True})
    post(rep, f"/api/v1/pain-point-suggestions/{suggestions[1].pk}/decision", {"confirmed": False})
    caller = api_as(Role.OUTSIDE_CALLER)
    refused = post(
        caller, f"/api/v1/pain-point-suggestions/{suggestions[2].pk}/decision", {"confirmed": True}
    )
    assert refused.status_code == 403
    assert refused.json()["missing"] == "access_person_edit"
    suggestions[2].refresh_from_db()
    assert suggestions[2].status == PainStatus.SUGGESTED
    assert "confirmed" in fields_named(
        post(rep, f"/api/v1/pain-point-suggestions/{suggestions[2].pk}/decision", {})
    )

    body = rep.get(f"/api/v1/pain-points/{pain.pk}").json()
    assert (body["confirmed"], body["rejected"], body["waiting"]) == (1, 1, 1)
    assert PainPoint.objects.count() == 1


def test_logging_needs_a_role_that_edits_people(api_as: ApiClient) -> None:
    person = factories.person()
    response = post(
        api_as(Role.OUTSIDE_CALLER),
        "/api/v1/conversations",
        {"kind": "call", "summary": "Hi", "person_ids": [person.pk]},
    )
    assert response.status_code == 403
    assert Client().get(f"/api/v1/people/{person.pk}/conversations").status_code == 401
