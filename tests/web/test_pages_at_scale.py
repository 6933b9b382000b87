"""The everyday pages stay small when the data is large (issue 8): people search by parts of a
name, an email or a company; counts capped at "10,000+"; an account page that lists its first
members and says how many; choice lists of a company's people that offer the first ones but
accept any; an inbox that lists the most urgent requests and shows more on request.

Run on SQLite and on PostgreSQL (where the search uses the trigram indexes of
core.0005_scale_pages_indexes)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Account, Person, Role
from leadline.journeys.models import Stakeholder
from leadline.routing.models import RoutingRule
from leadline.web import choices, inbox, queries, views
from tests import factories

RoleClient = Callable[[str], Client]
HX = {"HX-Request": "true"}
pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


def html(response: Any) -> str:
    assert response.status_code == 200
    return str(response.content.decode())


def found(page: str) -> set[str]:
    """The people a people list shows, by the names in its links."""
    return set(re.findall(r'<a class="row-link" href="/people/\d+/">([^<]+)</a>', page))


# People search ---------------------------------------------------------------------------------


@pytest.fixture
def crowd() -> dict[str, Person]:
    acme = factories.account(name="Acme Widgets")
    globex = factories.account(name="Globex Holdings")
    ann = factories.person(
        first_name="Annika", last_name="van Geffen", email="annika@north.example"
    )
    bob = factories.person(first_name="Bob", last_name="Martin", email="bmartin@south.example")
    cy = factories.person(
        first_name="Cy", last_name="Okafor", email="cy.okafor@east.example", title="CFO"
    )
    dee = factories.person(first_name="Dee", last_name="Annand", email="dee@west.example")
    factories.membership(person=ann, account=acme)
    factories.membership(person=bob, account=globex)
    factories.membership(person=cy, account=acme)
    return {"ann": ann, "bob": bob, "cy": cy, "dee": dee}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("geff", {"Annika van Geffen"}),  # part of a surname
        ("GEFFEN", {"Annika van Geffen"}),  # any case
        ("annika geffen", {"Annika van Geffen"}),  # first name + surname
        ("ann", {"Annika van Geffen", "Dee Annand"}),  # a first name and a surname
        ("bmart", {"Bob Martin"}),  # an email's beginning
        ("okafor@east", {"Cy Okafor"}),  # across the email's @
        ("widgets", {"Annika van Geffen", "Cy Okafor"}),  # the company's name
        ("acme cfo", {"Cy Okafor"}),  # company and title together
        ("acme martin", set()),  # every word must match the same person
        ("cfo", {"Cy Okafor"}),  # a title
    ],
)
def test_people_search_finds_by_part_of_a_name_email_or_company(
    role_client: RoleClient, crowd: dict[str, Person], query: str, expected: set[str]
) -> None:
    page = html(role_client(Role.SALES_MANAGER).get("/people/", {"q": query}))
    assert found(page) == expected
    count = len(expected)
    assert f"{count} {'person' if count == 1 else 'people'}" in page


def test_people_search_skips_merged_people_and_narrows_to_an_account(
    role_client: RoleClient, crowd: dict[str, Person]
) -> None:
    crowd["dee"].merged_into = crowd["ann"]
    crowd["dee"].save(update_fields=["merged_into"])
    client = role_client(Role.SALES_MANAGER)
    assert found(html(client.get("/people/", {"q": "ann"}))) == {"Annika van Geffen"}
    acme = Account.objects.get(name="Acme Widgets")
    assert found(html(client.get("/people/", {"account": acme.pk}))) == {
        "Annika van Geffen",
        "Cy Okafor",
    }
    assert found(html(client.get("/people/", {"account": acme.pk, "q": "cy"}))) == {"Cy Okafor"}


def test_the_people_count_stops_at_the_cap_and_says_so(
    role_client: RoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries.CappedPaginator, "cap", 3)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for n in range(5):
        factories.person(first_name=f"Zed{n}")
    client = role_client(Role.SALES_MANAGER)
    page = html(client.get("/people/"))
    assert "3+ people" in page
    assert "Page 1 of 2+" in page  # 4 counted rows (the cap and one more), 2 a page
    assert len(found(page)) == 2
    under = html(client.get("/people/", {"q": "zed1"}))
    assert "1 person" in under
    assert "+ people" not in under


# The account page --------------------------------------------------------------------------------


def test_a_large_account_lists_its_first_members_and_says_how_many(
    role_client: RoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "MEMBERS_SHOWN", 2)
    account = factories.account(name="Initech")
    for name in ("Adams", "Baker", "Clark"):
        factories.membership(person=factories.person(last_name=name), account=account)
    page = html(role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/"))
    people = page.split('id="people-h"')[1].split("</section>")[0]
    assert '<span class="count">3</span>' in people
    assert "Adams" in people
    assert "Baker" in people
    assert "Clark" not in people
    assert "Showing the first 2 of 3." in people
    assert f'href="/people/?account={account.pk}">See all 3 people' in people

    monkeypatch.setattr(views, "MEMBERS_SHOWN", 50)
    page = html(role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/"))
    people = page.split('id="people-h"')[1].split("</section>")[0]
    assert "Clark" in people
    assert "Showing the first" not in people
    assert "Search within these people" in people


def test_choices_of_a_large_company_offer_the_first_and_accept_any(
    role_client: RoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(choices, "CHOICES_SHOWN", 2)
    account = factories.account(name="Initech")
    members = [factories.person(last_name=name) for name in ("Adams", "Baker", "Clark", "Dunn")]
    for member in members:
        factories.membership(person=member, account=account)
    rep = role_client(Role.SALES_REP)

    page = html(rep.get(f"/accounts/{account.pk}/"))
    committee = page.split('id="committee"')[1].split("</section>")[0]
    offered = re.findall(r'<option value="(\d+)"', committee)
    assert offered == [str(members[0].pk), str(members[1].pk)]
    assert "The first 2 of 4, by name." in committee

    # Dunn is not offered, but is a member: the form takes him.
    added = rep.post(
        f"/accounts/{account.pk}/committee/add/",
        {"person": members[3].pk, "part": "signs", "stance": "unknown", "influence": "high"},
    )
    assert added.status_code == 302
    assert Stakeholder.objects.filter(account=account, person=members[3]).exists()

    # The person page's conversation form offers the first two colleagues and the person.
    page = html(rep.get(f"/people/{members[2].pk}/conversations/new/", headers=HX))
    ticked = re.findall(r'name="people" value="(\d+)"', page)
    assert ticked == [str(members[0].pk), str(members[1].pk), str(members[2].pk)]


# The inbox -------------------------------------------------------------------------------------


@pytest.fixture
def busy_rep() -> Any:
    manager = factories.user(role=Role.SALES_MANAGER)
    team = factories.team(name="Inside Sales", manager=manager)
    RoutingRule.objects.create(name="Everyone", team=team, conditions=[])
    return factories.user(role=Role.SALES_REP, username="busy", first_name="Busy", team=team)


@pytest.mark.usefixtures("monday_morning")
def test_the_inbox_lists_the_most_urgent_and_shows_more_on_request(
    client: Client, busy_rep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "ROWS_SHOWN", 2)
    monkeypatch.setattr(inbox, "ROWS_SHOWN_MAX", 4)
    made = [
        factories.routed_request(at=factories.MONDAY_10 - dt.timedelta(minutes=50 - 10 * n))
        for n in range(5)
    ]
    client.force_login(busy_rep)

    page = html(client.get("/inbox/"))
    rows = re.findall(r'<li id="req-(\d+)"', page)
    assert rows == [str(made[0].pk), str(made[1].pk)]  # the earliest deadlines first
    assert "5 open · 5 waiting for a first touch · showing the 2 most urgent" in page
    assert "3 more open requests." in page
    assert 'href="?show=4">Show more</a>' in page
    assert "hx-vals='{\"show\": 2}'" in page  # the poll keeps to what the page lists

    page = html(client.get("/inbox/", {"show": "4"}))
    assert len(re.findall(r'<li id="req-(\d+)"', page)) == 4
    assert "1 more open request." in page
    assert "Show more" not in page  # the most a page lists

    # The poll, when something changed, sends as many rows as the page lists.
    live = client.get("/inbox/live/", {"v": "stale", "show": "4"})
    assert len(re.findall(r'<li id="req-(\d+)"', live.content.decode())) == 4


def test_the_account_timeline_lists_the_newest_and_shows_older_on_request(
    role_client: RoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadline.core.models import TimelineEvent
    from leadline.web import conversations

    monkeypatch.setattr(conversations, "TIMELINE_SHOWN", 2)
    monkeypatch.setattr(conversations, "TIMELINE_SHOWN_MAX", 4)
    account = factories.account(name="Initech")
    member = factories.person(last_name="Adams")
    factories.membership(person=member, account=account)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    for n in range(5):
        TimelineEvent.objects.create(
            person=member,
            kind="note.added",
            summary=f"Event number {n}",
            occurred_at=start + dt.timedelta(days=n),
        )
    client = role_client(Role.SALES_MANAGER)

    page = html(client.get(f"/accounts/{account.pk}/"))
    timeline = page.split('id="account-timeline-body"')[1]
    assert "Event number 4" in timeline
    assert "Event number 3" in timeline
    assert "Event number 2" not in timeline
    assert "The latest 2 events" in timeline
    assert 'href="?events=4#account-timeline">Show older events</a>' in timeline

    page = html(client.get(f"/accounts/{account.pk}/", {"events": "4"}))
    timeline = page.split('id="account-timeline-body"')[1]
    assert "Event number 1" in timeline
    assert "Event number 0" not in timeline
    assert "The latest 4 events" in timeline
    assert "Show older events" not in timeline  # the most the page lists
