"""The "My relationships" page and the health API: real HTTP, the rep/manager scoping, 403s."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from leadline.core.models import Person, Role, User
from tests import factories
from tests.api.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

NOW = factories.MONDAY_10
URL = "/relationships/"
API = "/api/v1/relationships/health"


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def waiting_on(owner: User, *, first_name: str, days: int = 5) -> Person:
    """A person `owner` holds who wrote `days` ago and got no answer."""
    person = factories.person(first_name=first_name, last_name="Example")
    factories.owned(owner=owner, of=person, since=days_ago(60))
    factories.inbound_message(person=person, at=days_ago(days))
    return person


@pytest.fixture
def sales() -> dict[str, User]:
    boss = factories.user(role=Role.SALES_MANAGER, username="boss", first_name="Bo")
    team = factories.team(manager=boss)
    return {
        "boss": boss,
        "rita": factories.user(username="rita", first_name="Rita", team=team),
        "sam": factories.user(username="sam", first_name="Sam", team=team),
        "olga": factories.user(username="olga", first_name="Olga", team=factories.team()),
        "ada": factories.user(role=Role.ADMIN, username="ada", first_name="Ada"),
    }


def names_in_order(html: str) -> list[str]:
    return re.findall(r'<th scope="row">\s*<a href="/(?:people|accounts)/\d+/">([^<]+)</a>', html)


def test_a_rep_sees_their_relationships_worst_first_with_the_reasons(
    sales: dict[str, User],
) -> None:
    rita = sales["rita"]
    calm = factories.person(first_name="Calm", last_name="Example")
    factories.owned(owner=rita, of=calm, since=days_ago(60))
    factories.conversation(people=[calm], occurred_at=days_ago(3))
    waiting_on(rita, first_name="Wanda", days=5)
    waiting_on(rita, first_name="Walt", days=9)
    acme = factories.account(name="Acme")
    factories.owned(owner=rita, of=acme, since=days_ago(60))
    waiting_on(sales["sam"], first_name="Samantha")  # not Rita's

    response = logged_in(rita).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "My relationships" in html
    assert names_in_order(html) == ["Walt Example", "Wanda Example", "Acme", "Calm Example"]
    assert "1 message unanswered since 14 Nov" in html
    assert "Samantha" not in html
    counts = re.sub(r"\s+", " ", re.search(r'id="health-counts">(.*?)</p>', html, re.S)[1])
    assert "<strong>4</strong> relationships" in counts
    assert "<strong>2</strong> going cold" in counts
    # No owner picker for a rep.
    assert 'name="owner"' not in html

    # The going-cold tab shows only those.
    html = logged_in(rita).get(URL, {"show": "cold"}).content.decode()
    assert names_in_order(html) == ["Walt Example", "Wanda Example"]
    assert 'aria-current="page">Going cold' in html

    # Sort by a column, and back.
    html = logged_in(rita).get(URL, {"sort": "name", "dir": "asc"}).content.decode()
    assert names_in_order(html) == ["Acme", "Calm Example", "Walt Example", "Wanda Example"]
    assert 'aria-sort="ascending"><a class="sort-link" href="?sort=name&amp;dir=desc"' in html
    html = logged_in(rita).get(URL, {"sort": "name", "dir": "desc"}).content.decode()
    assert names_in_order(html)[0] == "Wanda Example"
    # Last touch ascending: the longest silence first, never-touched last.
    html = logged_in(rita).get(URL, {"sort": "touch", "dir": "asc"}).content.decode()
    assert names_in_order(html) == ["Walt Example", "Wanda Example", "Calm Example", "Acme"]


def test_a_long_list_is_paginated(sales: dict[str, User]) -> None:
    rita = sales["rita"]
    for n in range(55):
        factories.owned(owner=rita, of=factories.person(first_name=f"P{n:02d}"))
    client = logged_in(rita)
    first = client.get(URL, {"sort": "name"}).content.decode()
    assert len(names_in_order(first)) == 50
    assert "Page 1 of 2" in first
    assert 'href="?sort=name&amp;page=2"' in first
    second = client.get(URL, {"sort": "name", "page": 2}).content.decode()
    assert names_in_order(second) == [f"P{n} Example" for n in range(50, 55)]


def test_a_manager_sees_their_team_or_one_seller_and_a_rep_gets_403_for_another(
    sales: dict[str, User],
) -> None:
    waiting_on(sales["rita"], first_name="Ritas")
    waiting_on(sales["sam"], first_name="Sams")
    waiting_on(sales["olga"], first_name="Olgas")
    boss = logged_in(sales["boss"])

    html = boss.get(URL, {"owner": "team"}).content.decode()
    assert "My team&#x27;s relationships</h1>" in html
    assert sorted(names_in_order(html)) == ["Ritas Example", "Sams Example"]
    assert '<th scope="col">Owner</th>' in html
    html = boss.get(URL, {"owner": sales["rita"].pk}).content.decode()
    assert names_in_order(html) == ["Ritas Example"]
    assert "Rita&#x27;s relationships</h1>" in html
    assert f'value="{sales["sam"].pk}"' in html
    # Another team's seller: not theirs.
    assert boss.get(URL, {"owner": sales["olga"].pk}).status_code == 403
    assert boss.get(URL, {"owner": 99999}).status_code == 404
    # An admin reads everyone's.
    html = logged_in(sales["ada"]).get(URL, {"owner": "team"}).content.decode()
    assert "Everyone&#x27;s relationships</h1>" in html
    assert sorted(names_in_order(html)) == ["Olgas Example", "Ritas Example", "Sams Example"]
    assert logged_in(sales["ada"]).get(URL, {"owner": sales["olga"].pk}).status_code == 200

    rita = logged_in(sales["rita"])
    assert rita.get(URL, {"owner": sales["sam"].pk}).status_code == 403
    assert rita.get(URL, {"owner": "team"}).status_code == 403
    assert rita.get(URL, {"owner": sales["rita"].pk}).status_code == 200


def test_the_page_is_for_sellers_only(sales: dict[str, User]) -> None:
    assert Client().get(URL).status_code == 302
    for role in (Role.MARKETING, Role.OUTSIDE_CALLER):
        assert logged_in(factories.user(role=role)).get(URL).status_code == 403


# The API ----------------------------------------------------------------------------------------


def test_the_api_answers_the_figures_and_reasons(sales: dict[str, User]) -> None:
    rita = sales["rita"]
    wanda = waiting_on(rita, first_name="Wanda", days=5)
    calm = factories.person(first_name="Calm")
    factories.owned(owner=rita, of=calm, since=days_ago(60))
    factories.conversation(people=[calm], occurred_at=days_ago(3), kind="meeting")
    api = bearer(rita)

    response = api.get(API)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["items"][0]
    assert first["person_id"] == wanda.pk
    assert first["kind"] == "person"
    assert first["owner_id"] == rita.pk
    assert (first["unanswered"], first["going_cold"]) == (1, True)
    assert first["unanswered_since"].startswith("2026-11-18")
    assert first["reasons"] == ["1 message unanswered since 18 Nov"]
    assert first["last_two_way_touch"] == "their email"
    assert first["days_since_two_way_touch"] == 5
    assert (first["their_moves"], first["our_moves"], first["reciprocity"]) == (1, 0, None)
    second = body["items"][1]
    assert (second["last_two_way_touch"], second["days_since_two_way_touch"]) == ("meeting", 3)
    assert second["reasons"] == []

    cold = api.get(API, {"cold": "true"}).json()
    assert [i["name"] for i in cold["items"]] == ["Wanda Example"]
    paged = api.get(API, {"limit": 1, "offset": 1}).json()
    assert (paged["count"], [i["person_id"] for i in paged["items"]]) == (2, [calm.pk])


def test_the_api_scopes_like_the_page(sales: dict[str, User]) -> None:
    waiting_on(sales["rita"], first_name="Ritas")
    waiting_on(sales["olga"], first_name="Olgas")
    boss = bearer(sales["boss"])
    team = boss.get(API, {"team": "true"}).json()
    assert [i["owner"] for i in team["items"]] == ["Rita"]
    assert boss.get(API, {"owner_id": sales["rita"].pk}).json()["count"] == 1
    assert boss.get(API, {"owner_id": sales["olga"].pk}).status_code == 403
    assert boss.get(API, {"owner_id": 99999}).status_code == 404
    rita = bearer(sales["rita"])
    assert rita.get(API, {"owner_id": sales["olga"].pk}).status_code == 403
    assert rita.get(API, {"team": "true"}).status_code == 403
    assert rita.get(API, {"owner_id": sales["rita"].pk}).json()["count"] == 1
    assert bearer(factories.user(role=Role.MARKETING)).get(API).status_code == 403
    assert Client().get(API).status_code == 401
