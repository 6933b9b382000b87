"""Accounts through the API: list, read, timeline and merge."""

from __future__ import annotations

from typing import Any

from django.test import Client

from leadline.core.models import Account, AccountDomain, Membership, Role
from leadline.core.services import timeline_record
from tests import factories
from tests.api.conftest import ApiClient


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_list_searches_names_and_domains_and_pages(api: Client) -> None:
    acme = factories.account(name="Acme Widgets", domain="acme-widgets.example")
    globex = factories.account(name="Globex", domain="globex.example")
    factories.account(name="Initech", domain="initech.example")

    assert _ids(api.get("/api/v1/accounts", {"q": "acme"})) == [acme.pk]
    assert _ids(api.get("/api/v1/accounts", {"q": "globex.example"})) == [globex.pk]
    page = api.get("/api/v1/accounts", {"limit": 2, "offset": 2})
    assert page.json()["count"] == 3
    assert [a["name"] for a in page.json()["items"]] == ["Initech"]


def test_list_leaves_out_merged_accounts(api: Client) -> None:
    survivor = factories.account()
    loser = factories.account()
    Account.objects.filter(pk=loser.pk).update(merged_into=survivor)

    assert _ids(api.get("/api/v1/accounts")) == [survivor.pk]


def test_get_shows_domains_and_the_people_in_it(api: Client) -> None:
    account = factories.account(name="Acme Widgets", domain="acme-widgets.example")
    AccountDomain.objects.create(account=account, domain="acme.example")
    ann = factories.person(first_name="Ann", last_name="Lee")
    factories.membership(
        person=ann, account=account, title="CFO", role_in_company="signs off every tool"
    )

    response = api.get(f"/api/v1/accounts/{account.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Acme Widgets"
    assert sorted(body["domains"]) == ["acme-widgets.example", "acme.example"]
    assert body["members"] == [
        {
            "person_id": ann.pk,
            "name": "Ann Lee",
            "title": "CFO",
            "role_in_company": "signs off every tool",
            "is_current": True,
        }
    ]


def test_unknown_account_is_404(api: Client) -> None:
    response = api.get("/api/v1/accounts/987654")

    assert response.status_code == 404
    assert "987654" in response.json()["detail"]


def test_timeline_has_the_accounts_events_and_its_peoples(api: Client) -> None:
    account = factories.account()
    person = factories.person()
    factories.membership(person=person, account=account)
    timeline_record(kind="note", summary="renewal talk", account=account)
    timeline_record(kind="note", summary="Ann downloaded the guide", person=person)
    timeline_record(kind="note", summary="someone else", person=factories.person())

    response = api.get(f"/api/v1/accounts/{account.pk}/timeline")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert {e["summary"] for e in response.json()["items"]} == {
        "renewal talk",
        "Ann downloaded the guide",
    }


def test_merge_keeps_domains_and_members_of_both(api: Client) -> None:
    survivor = factories.account(name="Acme", domain="acme.example")
    loser = factories.account(name="ACME Inc", domain="acme-inc.example")
    person = factories.person()
    factories.membership(person=person, account=loser)

    response = api.post(
        f"/api/v1/accounts/{survivor.pk}/merge",
        {"loser_id": loser.pk},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert sorted(response.json()["domains"]) == ["acme-inc.example", "acme.example"]
    assert [m["person_id"] for m in response.json()["members"]] == [person.pk]
    assert Membership.objects.get(person=person).account_id == survivor.pk
    assert api.get(f"/api/v1/accounts/{loser.pk}").json()["merged_into"] == survivor.pk


def test_merge_into_itself_names_loser_id(api: Client) -> None:
    account = factories.account()

    response = api.post(
        f"/api/v1/accounts/{account.pk}/merge",
        {"loser_id": account.pk},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "loser_id"


def test_merge_needs_the_merge_permission(api_as: ApiClient) -> None:
    survivor, loser = factories.account(), factories.account()

    response = api_as(Role.SALES_REP).post(
        f"/api/v1/accounts/{survivor.pk}/merge",
        {"loser_id": loser.pk},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "access_merge"
    loser.refresh_from_db()
    assert loser.merged_into_id is None
