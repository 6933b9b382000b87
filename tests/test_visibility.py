"""Record visibility (relationships.visibility): a rep sees their team's people and accounts
and those they have open work with; a manager their teams' and the unowned; admin and marketing
everything; a record out of view is a 404 on its page and in the API; "all" turns it off."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Person, User
from leadline.core.services import person_merge
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

PEOPLE = ("mine", "mates", "theirs", "nobodys", "at_acme", "worked")
ACCOUNTS = ("acme_a", "acme_b")

# Who sees which person, with the default "team".
SEES_PEOPLE = {
    # Own, teammate's, at the team's account, and the one with the rep's open call task.
    "rep": {"mine", "mates", "at_acme", "worked"},
    "mate": {"mine", "mates", "at_acme"},
    # Team A's (the manager is a member) and the unowned; not team B's, not the rep's task.
    "boss_a": {"mine", "mates", "at_acme", "nobodys"},
    # Team B's (managed, not a member of it) and the unowned.
    "boss_b": {"theirs", "worked", "nobodys", "at_acme"},
    "stranger": {"theirs", "worked"},
    "admin": set(PEOPLE),
    "marketer": set(PEOPLE),
}
SEES_ACCOUNTS = {
    "rep": {"acme_a"},
    "mate": {"acme_a"},
    "boss_a": {"acme_a"},
    # acme_a shows: Ada, who works there, has no owner of her own.
    "boss_b": {"acme_a", "acme_b"},
    "stranger": {"acme_b"},
    "admin": set(ACCOUNTS),
    "marketer": set(ACCOUNTS),
}


@pytest.fixture
def cast() -> Any:
    return factories.visibility_cast()


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _names(cast: Any, found: set[int], among: tuple[str, ...]) -> set[str]:
    return {name for name in among if getattr(cast, name).pk in found}


def _listed(cast: Any, html: str, among: tuple[str, ...]) -> set[str]:
    shown = set()
    for name in among:
        record = getattr(cast, name)
        link = f"/people/{record.pk}/" if isinstance(record, Person) else f"/accounts/{record.pk}/"
        if link in html:
            shown.add(name)
    return shown


@pytest.mark.parametrize("who", sorted(SEES_PEOPLE))
def test_the_people_list_shows_each_role_its_records(cast: Any, who: str) -> None:
    response = _browser(getattr(cast, who)).get("/people/")

    assert response.status_code == 200
    assert _listed(cast, response.content.decode(), PEOPLE) == SEES_PEOPLE[who]


@pytest.mark.parametrize("who", sorted(SEES_ACCOUNTS))
def test_the_account_list_shows_each_role_its_accounts(cast: Any, who: str) -> None:
    response = _browser(getattr(cast, who)).get("/accounts/")

    assert response.status_code == 200
    assert _listed(cast, response.content.decode(), ACCOUNTS) == SEES_ACCOUNTS[who]


@pytest.mark.parametrize("who", ["rep", "boss_a", "boss_b", "admin"])
def test_a_page_out_of_view_is_not_found(cast: Any, who: str) -> None:
    client = _browser(getattr(cast, who))

    for name in PEOPLE:
        status = client.get(f"/people/{getattr(cast, name).pk}/").status_code
        assert status == (200 if name in SEES_PEOPLE[who] else 404), (who, name, status)
    for name in ACCOUNTS:
        status = client.get(f"/accounts/{getattr(cast, name).pk}/").status_code
        assert status == (200 if name in SEES_ACCOUNTS[who] else 404), (who, name, status)


def test_search_finds_only_the_people_in_view(cast: Any) -> None:
    rep, admin = _browser(cast.rep), _browser(cast.admin)

    theo = f"/people/{cast.theirs.pk}/"
    assert theo not in rep.get("/people/", {"q": "Theo"}).content.decode()
    assert theo in admin.get("/people/", {"q": "Theo"}).content.decode()
    mina = f"/people/{cast.mine.pk}/"
    assert mina in rep.get("/people/", {"q": "mina"}).content.decode()
    # Filtering by an account out of view shows neither its people nor its name.
    page = rep.get("/people/", {"account": cast.acme_b.pk}).content.decode()
    assert theo not in page
    assert "Bravo B" not in page


def test_a_merged_record_out_of_view_is_not_redirected(cast: Any) -> None:
    loser = factories.person(first_name="Theo", last_name="Duplicate")
    person_merge(survivor=cast.theirs, loser=loser, actor=cast.admin)

    assert _browser(cast.rep).get(f"/people/{loser.pk}/").status_code == 404
    assert _browser(cast.stranger).get(f"/people/{loser.pk}/").status_code == 302


def test_the_setting_all_shows_everything(cast: Any, settings: Any) -> None:
    settings.RECORD_VISIBILITY = "all"
    client = _browser(cast.rep)

    assert _listed(cast, client.get("/people/").content.decode(), PEOPLE) == set(PEOPLE)
    assert _listed(cast, client.get("/accounts/").content.decode(), ACCOUNTS) == set(ACCOUNTS)
    assert client.get(f"/people/{cast.theirs.pk}/").status_code == 200


def test_a_rep_sees_a_person_once_routed_to_them(cast: Any) -> None:
    """Open work is enough: a request routed to the rep shows its person to them."""
    from leadline.capture.models import Request
    from leadline.routing.models import RequestRouting

    asked = factories.person_request(person=cast.nobodys)
    client = _browser(cast.rep)
    assert client.get(f"/people/{cast.nobodys.pk}/").status_code == 404

    RequestRouting.objects.create(request=Request.objects.get(pk=asked.pk), owner=cast.rep)

    assert client.get(f"/people/{cast.nobodys.pk}/").status_code == 200


# API ---------------------------------------------------------------------------------------------


def _api(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {factories.api_key(user=user)}"})


def test_the_api_lists_only_what_is_in_view(cast: Any) -> None:
    rep = _api(cast.rep)

    people = {row["id"] for row in rep.get("/api/v1/people").json()["items"]}
    assert _names(cast, people, PEOPLE) == SEES_PEOPLE["rep"]
    found = {row["id"] for row in rep.get("/api/v1/people", {"q": "theo"}).json()["items"]}
    assert found == set()
    accounts = {row["id"] for row in rep.get("/api/v1/accounts").json()["items"]}
    assert _names(cast, accounts, ACCOUNTS) == SEES_ACCOUNTS["rep"]

    admin_people = {row["id"] for row in _api(cast.admin).get("/api/v1/people").json()["items"]}
    assert _names(cast, admin_people, PEOPLE) == set(PEOPLE)


def test_the_api_answers_404_out_of_view(cast: Any) -> None:
    rep = _api(cast.rep)
    theirs, mine = cast.theirs.pk, cast.mine.pk

    for url in (
        f"/api/v1/people/{theirs}",
        f"/api/v1/people/{theirs}/timeline",
        f"/api/v1/people/{theirs}/conversations",
        f"/api/v1/accounts/{cast.acme_b.pk}",
        f"/api/v1/accounts/{cast.acme_b.pk}/timeline",
    ):
        response = rep.get(url)
        assert response.status_code == 404, (url, response.status_code)
    patched = rep.patch(
        f"/api/v1/people/{theirs}", {"title": "Changed"}, content_type="application/json"
    )
    assert patched.status_code == 404
    assert rep.get(f"/api/v1/people/{mine}").status_code == 200
    assert rep.get(f"/api/v1/accounts/{cast.acme_a.pk}").status_code == 200
    assert _api(cast.stranger).get(f"/api/v1/people/{theirs}").status_code == 200


def test_the_api_requests_follow_their_person(cast: Any) -> None:
    theirs = factories.person_request(person=cast.theirs)
    mine = factories.person_request(person=cast.mine)
    rep = _api(cast.rep)

    listed = {row["id"] for row in rep.get("/api/v1/requests").json()["items"]}
    assert mine.pk in listed
    assert theirs.pk not in listed
    assert rep.get(f"/api/v1/requests/{theirs.pk}").status_code == 404
    assert rep.get(f"/api/v1/requests/{mine.pk}").status_code == 200
    everything = {row["id"] for row in _api(cast.marketer).get("/api/v1/requests").json()["items"]}
    assert {mine.pk, theirs.pk} <= everything


def _pages_under(prefix: str) -> list[str]:
    """The web routes under a person's or an account's page (`people/<int:pk>/…`)."""
    from django.urls import URLPattern, get_resolver

    found = []
    for pattern in get_resolver("leadline.web.urls").url_patterns:
        route = str(getattr(pattern, "pattern", ""))
        if isinstance(pattern, URLPattern) and route.startswith(f"{prefix}/<int:pk>/"):
            found.append(route)
    return found


@pytest.mark.parametrize(("prefix", "record"), [("people", "theirs"), ("accounts", "acme_b")])
def test_every_page_under_a_record_out_of_view_is_not_found(
    cast: Any, prefix: str, record: str
) -> None:
    """Not only the record's page: each page and form under it (log a conversation, the
    committee, journeys, commitments, export…) answers a rep as if it did not exist, and a
    post there writes nothing."""
    from django.apps import apps

    client = _browser(cast.rep)
    pk = getattr(cast, record).pk
    routes = _pages_under(prefix)
    assert len(routes) >= 5, routes
    rows = {m._meta.label: m._default_manager.count() for m in apps.get_models()}
    for route in routes:
        # Every id in the route is the record's own: enough to reach the check.
        url = "/" + "/".join(str(pk) if part.startswith("<") else part for part in route.split("/"))
        answered = {client.get(url).status_code, client.post(url, {}).status_code}
        assert answered <= {403, 404, 405}, (url, answered)
        assert 404 in answered or 403 in answered, (url, answered)
    rows.pop("sessions.Session", None)
    after = {m._meta.label: m._default_manager.count() for m in apps.get_models()}
    after.pop("sessions.Session", None)
    assert after == rows, "a post under a record out of view wrote something"
