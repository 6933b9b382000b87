"""Promises in the staff UI: made with a conversation through the web form, the Promises card on
a person's page (overdue highlighted, Kept and Cancel by htmx), and the promises report."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.commitments.services import commitment_keep, commitment_timers_fire_due
from leadline.core import clock
from leadline.core.models import Account, Person, Role, User
from leadline.journeys.models import Conversation
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]
HX = {"HX-Request": "true"}
MONDAY_10 = factories.MONDAY_10
DAY = dt.timedelta(days=1)


@pytest.fixture
def rep() -> User:
    return factories.user(username="rita", first_name="Rita", time_zone="Europe/Berlin")


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _card(html: str) -> str:
    match = re.search(r'<section[^>]*id="commitments".*?</section>', html, re.S)
    assert match, "no Promises card"
    return match.group(0)


def _conversation_post(**promises: str) -> dict[str, object]:
    return {
        "kind": "call",
        "occurred_at": "2026-11-23T09:30",
        "summary": "Went through pricing.",
        **promises,
    }


def test_a_promise_is_made_with_a_conversation_through_the_web_form(
    rep: User, acme: tuple[Account, Person, Person]
) -> None:
    _account, ann, vera = acme
    client = as_user(rep)
    form = _card(client.get(f"/people/{ann.pk}/").content.decode())  # the card is there…
    assert "Nothing promised to them is waiting." in form
    page = client.get(f"/people/{ann.pk}/conversations/new/", headers=HX).content.decode()
    assert 'name="promise_1_what"' in page  # …and the conversation form asks
    assert re.search(r'<input type="date" name="promise_1_due"', page)

    response = client.post(
        f"/people/{ann.pk}/conversations/new/",
        {
            **_conversation_post(promise_1_what="Send the pricing", promise_1_due="2026-11-27"),
            "people": [vera.pk, ann.pk],
            "sellers": [rep.pk],
        },
        headers=HX,
    )

    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get()
    promise = Commitment.objects.get()
    assert promise.conversation == conversation
    assert promise.person == ann  # the page's person, not the first ticked
    assert promise.promised_by == rep
    assert promise.what == "Send the pricing"
    # The end of Friday where Rita works (Berlin, UTC+1 in November).
    assert promise.due_at == dt.datetime(2026, 11, 27, 22, 59, 59, tzinfo=dt.UTC)
    assert re.search(
        r'id="conversations-status" hx-swap-oob="innerHTML">Call logged\. 1 promise recorded',
        response.content.decode(),
    )
    # The card shows it (it reloads itself after the log, as this GET does).
    card = client.get(f"/people/{ann.pk}/commitments/", headers=HX).content.decode()
    assert "Send the pricing" in card
    assert 'datetime="2026-11-27T23:59:59+01:00"' in card
    assert "Overdue" not in card


def test_a_promise_without_a_date_is_refused_and_nothing_is_logged(
    rep: User, acme: tuple[Account, Person, Person]
) -> None:
    _account, ann, _vera = acme
    response = as_user(rep).post(
        f"/people/{ann.pk}/conversations/new/",
        {**_conversation_post(promise_2_what="Book a demo"), "people": [ann.pk]},
        headers=HX,
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Due by (promise 2): Give the date it is due by." in html
    assert re.search(r"<details class=\"commitment-promises\" open>", html)
    assert not Conversation.objects.exists()
    assert not Commitment.objects.exists()


def test_a_past_date_is_refused(rep: User, acme: tuple[Account, Person, Person]) -> None:
    _account, ann, _vera = acme
    response = as_user(rep).post(
        f"/people/{ann.pk}/conversations/new/",
        {
            **_conversation_post(promise_1_what="Send it", promise_1_due="2026-11-20"),
            "people": [ann.pk],
        },
    )
    assert response.status_code == 400
    assert "That date is past" in response.content.decode()
    assert not Conversation.objects.exists()


def test_a_conversation_without_promises_is_logged_as_before(
    rep: User, acme: tuple[Account, Person, Person]
) -> None:
    _account, ann, _vera = acme
    response = as_user(rep).post(
        f"/people/{ann.pk}/conversations/new/", {**_conversation_post(), "people": [ann.pk]}
    )
    assert response.status_code == 302
    assert Conversation.objects.count() == 1
    assert not Commitment.objects.exists()


def test_the_card_highlights_overdue_promises_and_shows_what_was_kept(rep: User) -> None:
    ann = factories.person(first_name="Ann")
    overdue = factories.commitment(
        person=ann,
        promised_by=rep,
        what="Send the contract",
        due_at=MONDAY_10 + dt.timedelta(hours=1),
    )
    soon = factories.commitment(
        person=ann, promised_by=rep, what="Call back", due_at=MONDAY_10 + DAY
    )
    kept = factories.commitment(person=ann, promised_by=rep, what="Send the pricing")
    commitment_keep(commitment=kept, actor=rep)
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=2)):
        commitment_timers_fire_due()
        html = as_user(rep).get(f"/people/{ann.pk}/").content.decode()

    card = _card(html)
    items = re.findall(r'<li class="commitment[^"]*" id="commitment-(\d+)"', card)
    assert items == [str(overdue.pk), str(soon.pk)]  # soonest due first
    assert re.search(
        rf'<li class="commitment commitment-overdue" id="commitment-{overdue.pk}"', card
    )
    assert "Broken: not kept in time" in card
    assert re.search(rf'<li class="commitment" id="commitment-{soon.pk}"', card)
    assert re.search(
        r'<span class="badge badge-good">Kept on time</span>\s*'
        r'<span class="commitment-what">Send the pricing',
        card,
    )
    assert "kept 1, broken 1" in card


def test_kept_by_htmx_updates_the_card_and_says_so(rep: User) -> None:
    ann = factories.person(first_name="Ann")
    promise = factories.commitment(person=ann, promised_by=rep, what="Send the pricing")

    response = as_user(rep).post(f"/commitments/{promise.pk}/kept/", headers=HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="commitments-body"')
    assert re.search(
        r'id="commitments-status" hx-swap-oob="innerHTML">Kept on time: Send the pricing\.', html
    )
    assert re.search(r'id="commitments-count" hx-swap-oob="innerHTML">0<', html)
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT
    assert promise.kept_at == MONDAY_10


def test_kept_without_javascript_goes_back_to_the_card(rep: User) -> None:
    ann = factories.person(first_name="Ann")
    promise = factories.commitment(person=ann, promised_by=rep)
    response = as_user(rep).post(f"/commitments/{promise.pk}/kept/")
    assert response.status_code == 302
    assert response["Location"] == f"/people/{ann.pk}/#commitments"
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT


def test_cancel_needs_a_reason(rep: User) -> None:
    ann = factories.person(first_name="Ann")
    promise = factories.commitment(person=ann, promised_by=rep, what="Send the pricing")
    client = as_user(rep)

    refused = client.post(f"/commitments/{promise.pk}/cancel/", {"reason": " "}, headers=HX)
    assert refused.status_code == 400
    assert "Not cancelled: Say why it no longer stands." in refused.content.decode()
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.OPEN

    done = client.post(
        f"/commitments/{promise.pk}/cancel/", {"reason": "They bought elsewhere"}, headers=HX
    )
    assert done.status_code == 200
    assert "They bought elsewhere" in done.content.decode()
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.CANCELLED


def test_only_the_promiser_or_a_manager_settles_a_promise(
    rep: User, role_client: RoleClient
) -> None:
    ann = factories.person(first_name="Ann")
    promise = factories.commitment(person=ann, promised_by=rep)

    other_rep = role_client(Role.SALES_REP)
    assert other_rep.post(f"/commitments/{promise.pk}/kept/").status_code == 403
    assert 'action="/commitments/' not in _card(
        other_rep.get(f"/people/{ann.pk}/").content.decode()
    )
    assert (
        role_client(Role.OUTSIDE_CALLER).post(f"/commitments/{promise.pk}/kept/").status_code == 403
    )
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.OPEN

    manager = role_client(Role.SALES_MANAGER)
    assert f'action="/commitments/{promise.pk}/kept/"' in _card(
        manager.get(f"/people/{ann.pk}/").content.decode()
    )
    assert manager.post(f"/commitments/{promise.pk}/kept/").status_code == 302
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT


def test_anonymous_visitors_are_sent_to_log_in(rep: User) -> None:
    promise = factories.commitment(promised_by=rep)
    response = Client().post(f"/commitments/{promise.pk}/kept/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or "login" in response["Location"]
    assert Client().get("/commitments/report/").status_code == 302


# The report ---------------------------------------------------------------------------------------


def test_a_rep_cannot_see_the_report(role_client: RoleClient) -> None:
    assert role_client(Role.SALES_REP).get("/commitments/report/").status_code == 403
    assert role_client(Role.MARKETING).get("/commitments/report/").status_code == 403
    assert role_client(Role.OUTSIDE_CALLER).get("/commitments/report/").status_code == 403
    html = role_client(Role.SALES_REP).get("/people/").content.decode()
    assert "/commitments/report/" not in html  # nor is it in their menu


def test_a_manager_reads_the_figures_per_seller_for_a_period(
    rep: User, role_client: RoleClient
) -> None:
    sam = factories.user(username="sam", first_name="Sam")
    on_time = factories.commitment(promised_by=rep, due_at=MONDAY_10 + DAY)
    factories.commitment(promised_by=rep, due_at=MONDAY_10 + dt.timedelta(hours=1))
    factories.commitment(promised_by=sam, due_at=MONDAY_10 + 5 * DAY)
    commitment_keep(commitment=on_time, actor=rep)
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=2)):
        commitment_timers_fire_due()
        manager = role_client(Role.SALES_MANAGER)
        html = manager.get("/commitments/report/").content.decode()
        assert 'aria-current="page">Promises</a>' in html
        rows = {
            name: re.findall(r'<td class="num[^"]*">([^<]*|<span[^>]*>[^<]*</span>)</td>', row)
            for name, row in re.findall(
                r'<tr>\s*<th scope="row">(\w+).*?</th>(.*?)</tr>', html, re.S
            )
        }
        # Made, kept on time, kept late, broken, open overdue, open not due, cancelled, rate.
        assert rows["Rita"] == ["2", "1", "0", "1", "1", "0", "0", "50%"]
        assert rows["Sam"][:7] == ["1", "0", "0", "0", "0", "1", "0"]
        assert "None fell due yet" in rows["Sam"][7]
        assert rows["Everyone"] == ["3", "1", "0", "1", "1", "1", "0", "50%"]

        # A period before any of it: nothing.
        earlier = manager.get("/commitments/report/?start=2026-10-01&end=2026-11-22")
        assert "No promises were made in this period." in earlier.content.decode()
        assert 'value="2026-10-01"' in earlier.content.decode()
        swapped = manager.get("/commitments/report/?start=2026-11-30&end=2026-11-01")
        assert "the dates are swapped" in swapped.content.decode()
        assert "Rita" in swapped.content.decode()
        bad = manager.get("/commitments/report/?start=yesterday")
        assert bad.status_code == 200
        assert "could not be read" in bad.content.decode()


def test_from_an_account_page_the_promise_goes_to_the_first_person_ticked(
    rep: User, acme: tuple[Account, Person, Person]
) -> None:
    account, _ann, vera = acme
    client = as_user(rep)
    page = client.get(f"/accounts/{account.pk}/conversations/new/").content.decode()
    assert 'name="promise_1_what"' in page  # the form on a page of its own has the part too

    response = client.post(
        f"/accounts/{account.pk}/conversations/new/",
        {
            **_conversation_post(promise_1_what="Send the case study", promise_1_due="2026-11-30"),
            "people": [vera.pk],
        },
    )

    assert response.status_code == 302
    promise = Commitment.objects.get()
    assert promise.person == vera
    assert promise.conversation == Conversation.objects.get()
