"""The person page and the account page at a company of thousands (issue 8): the account
timeline read from the moment its own newest events give, without losing events that are newer
or hidden; the account's roster read once for every count and first-names list on the page
(merged people left out, former members last); the conversation form's boxes written as
Django writes them.

Run on SQLite and on PostgreSQL (LEADLINE_TEST_DATABASES=postgres)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Account, Person, Role, TimelineEvent
from leadline.core.selectors import account_members, account_people_first, account_roster
from leadline.journeys.models import Visibility
from leadline.web import choices, conversations
from tests import factories

HX = {"HX-Request": "true"}
RoleClient = Callable[[str], Client]
pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def html(response: Any) -> str:
    assert response.status_code == 200
    return str(response.content.decode())


def timeline_of(page: str) -> list[str]:
    """The summaries the account timeline shows, in order."""
    body = page.split('id="account-timeline-body"')[1]
    return re.findall(r'<p class="event-summary">([^<]+)</p>', body)


def event(summary: str, *, days: float, **where: Any) -> TimelineEvent:
    return TimelineEvent.objects.create(
        kind="note.added",
        summary=summary,
        occurred_at=START + dt.timedelta(days=days),
        **where,
    )


@pytest.fixture
def initech() -> tuple[Account, Person]:
    account = factories.account(name="Initech")
    member = factories.person(first_name="Ada", last_name="Adams")
    factories.membership(person=member, account=account)
    return account, member


# The account timeline ------------------------------------------------------------------------


def test_member_events_newer_than_the_accounts_own_come_first(
    role_client: RoleClient, initech: tuple[Account, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's own events are old; its member's (written without the account) are newer:
    the newest are the member's, though the account's own give the moment read from."""
    monkeypatch.setattr(conversations, "TIMELINE_SHOWN", 2)
    account, member = initech
    for n in range(5):  # the 3rd newest (2 shown and 1 to know of more): day 2
        event(f"Account event {n}", days=n, account=account)
    for n in range(3):
        event(f"Member event {n}", days=10 + n, person=member)
    event("Someone else's", days=20, person=factories.person())

    page = html(role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/"))
    assert timeline_of(page) == ["Member event 2", "Member event 1"]
    assert "The latest 2 events" in page


def test_the_accounts_own_newest_events_are_shown_among_its_members(
    role_client: RoleClient, initech: tuple[Account, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversations, "TIMELINE_SHOWN", 3)
    account, member = initech
    event("Member old", days=1, person=member)
    event("Account newest", days=9, account=account)
    event("Member newer", days=8, person=member)
    event("Both", days=7, account=account, person=member)
    event("Account older", days=2, account=account)

    page = html(role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/"))
    assert timeline_of(page) == ["Account newest", "Member newer", "Both"]

    page = html(role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/", {"events": 6}))
    assert timeline_of(page) == [
        "Account newest",
        "Member newer",
        "Both",
        "Account older",
        "Member old",
    ]


def test_hidden_newest_events_do_not_shorten_the_timeline(
    initech: tuple[Account, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's newest own events show a private note the viewer may not read: the
    timeline still shows as many events as it lists, the older ones in their place."""
    monkeypatch.setattr(conversations, "TIMELINE_SHOWN", 2)
    account, member = initech
    author = factories.user(role=Role.SALES_REP)
    private = factories.note(people=[member], logged_by=author, visibility=Visibility.AUTHOR)
    TimelineEvent.objects.all().delete()  # what logging it wrote: the events below instead
    for n in range(3):  # as many as the page reads: from the first of them on, none visible
        TimelineEvent.objects.create(
            kind="conversation.note",
            summary=f"Private {n}",
            account=account,
            person=member,
            occurred_at=START + dt.timedelta(days=10 + n),
            data={"conversation_id": private.pk},
        )
    event("Older 0", days=1, account=account)
    event("Older 1", days=2, person=member)
    viewer = Client()
    viewer.force_login(factories.user(role=Role.SALES_REP))

    page = html(viewer.get(f"/accounts/{account.pk}/"))
    assert timeline_of(page) == ["Older 1", "Older 0"]

    page = html(role_client_of(author).get(f"/accounts/{account.pk}/"))
    assert timeline_of(page) == ["Private 2", "Private 1"]  # its author reads it


def role_client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_timeline_narrowed_to_a_kind_reads_from_that_kinds_moment(
    role_client: RoleClient, initech: tuple[Account, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversations, "TIMELINE_SHOWN", 2)
    account, member = initech
    for n in range(3):
        TimelineEvent.objects.create(
            kind="request.created",
            summary=f"Request {n}",
            account=account,
            person=member,
            occurred_at=START + dt.timedelta(days=n),
        )
    for n in range(3):
        event(f"Note {n}", days=10 + n, account=account)

    page = html(
        role_client(Role.SALES_MANAGER).get(f"/accounts/{account.pk}/", {"show": "requests"})
    )
    assert timeline_of(page) == ["Request 2", "Request 1"]


# The roster: counts and first names ------------------------------------------------------------


@pytest.fixture
def company() -> tuple[Account, list[Person]]:
    """Globex: Adams, Baker, Clark (a former member), Dunn; and Evans, merged into Adams."""
    account = factories.account(name="Globex")
    people = [
        factories.person(first_name="A", last_name=name)
        for name in ("Adams", "Baker", "Clark", "Dunn", "Evans")
    ]
    for someone in people:
        factories.membership(
            person=someone, account=account, is_current=someone.last_name != "Clark"
        )
    people[4].merged_into = people[0]
    people[4].save(update_fields=["merged_into"])
    return account, people


def test_the_roster_leaves_out_merged_people_and_lists_former_members_last(
    company: tuple[Account, list[Person]],
) -> None:
    account, (adams, baker, clark, dunn, evans) = company
    roster = account_roster(account)
    assert roster.by_name == [adams.pk, baker.pk, clark.pk, dunn.pk, evans.pk]
    assert roster.live() == [adams.pk, baker.pk, clark.pk, dunn.pk]
    assert roster.former == {clark.pk}
    assert account_roster(account) is roster  # read once for this account object

    shown, count = account_members(account=account, limit=3)
    assert [m.person for m in shown] == [adams, baker, dunn]
    assert count == 4
    shown, _ = account_members(account=account, limit=10)
    assert [m.person for m in shown] == [adams, baker, dunn, clark]

    first, total = account_people_first(account=account, limit=2, leave_out=[adams.pk])
    assert (first, total) == ([baker, clark], 3)
    first, total = account_people_first(account=account, limit=10, live=False)
    assert (first, total) == ([adams, baker, clark, dunn, evans], 5)


def test_the_account_page_counts_and_offers_from_the_roster(
    role_client: RoleClient,
    company: tuple[Account, list[Person]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(choices, "CHOICES_SHOWN", 2)
    account, (adams, baker, clark, dunn, evans) = company
    factories.conversation(people=[adams], summary="Kick-off.")

    rep = role_client(Role.SALES_REP)
    page = html(rep.get(f"/accounts/{account.pk}/"))
    assert '<span class="count">4</span>' in page  # Evans was merged away
    committee = page.split('id="committee"')[1].split("</section>")[0]
    assert re.findall(r'<option value="(\d+)"', committee) == [str(adams.pk), str(baker.pk)]
    assert "The first 2 of 4, by name." in committee
    form = html(rep.get(f"/accounts/{account.pk}/conversations/new/", headers=HX))
    boxes = re.findall(r'name="people" value="(\d+)"', form)
    assert boxes == [str(adams.pk), str(baker.pk)]
    assert "The first 2 of 4, by name." in form
    filter_people = page.split('id="account-timeline"')[1].split("</form>")[0]
    offered = re.findall(r'<option value="(\d+)"', filter_people)
    assert offered == [str(p.pk) for p in (adams, baker, clark, dunn, evans)]


def test_the_conversation_form_writes_each_box_as_django_does(
    role_client: RoleClient, company: tuple[Account, list[Person]]
) -> None:
    """Each box of "Who took part": its own id, label and value; the person's ticked."""
    _, (adams, baker, *_) = company
    part = html(
        role_client(Role.SALES_REP).get(f"/people/{baker.pk}/conversations/new/", headers=HX)
    )
    assert (
        f'<label class="choice" for="conversation-people_1"><input type="checkbox" '
        f'name="people" value="{baker.pk}" id="conversation-people_1" checked> A Baker</label>'
    ) in part
    assert (
        f'<label class="choice" for="conversation-people_0"><input type="checkbox" '
        f'name="people" value="{adams.pk}" id="conversation-people_0"> A Adams</label>'
    ) in part
    ticked = re.findall(r'name="people" value="(\d+)" id="[^"]+" checked', part)
    assert ticked == [str(baker.pk)]
    assert re.findall(r'name="sellers" value="(\d+)" id="[^"]+" checked', part)  # the one logging
