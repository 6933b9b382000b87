"""Conversations and pain points in the staff UI: logging from the person and account pages,
confirming or rejecting suggestions, "What they said hurts", and the pain-point catalogue."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Account, AuditEntry, Person, Role, TimelineEvent
from leadline.journeys.conversations import pain_point_decide
from leadline.journeys.models import Conversation, PainPoint, PainStatus
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]
HX = {"HX-Request": "true"}


@pytest.fixture
def slow_close() -> PainPoint:
    return factories.pain_point(
        name="Slow month-end close", phrases="month-end\nclosing the books", product="Ledger"
    )


def _section(html: str, id_: str) -> str:
    match = re.search(rf'<section[^>]*id="{id_}".*?</section>', html, re.S)
    assert match, f"no section #{id_}"
    return match.group(0)


def test_the_person_page_offers_the_log_form_with_them_preselected(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    _account, ann, vera = acme
    rep = role_client(Role.SALES_REP)
    html = rep.get(f"/people/{ann.pk}/").content.decode()

    section = _section(html, "conversations")
    log_url = f"/people/{ann.pk}/conversations/new/"
    # The form is fetched when its panel first opens; without JavaScript, a link to its page.
    assert f'hx-get="{log_url}"' in section
    assert 'hx-trigger="toggle once from:closest details"' in section
    assert f'<a href="{log_url}">log it on a page of its own</a>' in section
    form = rep.get(log_url, headers=HX).content.decode()
    assert "<html" not in form
    assert f'hx-post="{log_url}"' in form
    assert re.search(rf'<input[^>]*value="{ann.pk}"[^>]*checked', form)
    # Her colleague at Acme can be ticked too, but is not preselected.
    assert re.search(rf'<input[^>]*value="{vera.pk}"', form)
    assert not re.search(rf'<input[^>]*value="{vera.pk}"[^>]*checked', form)
    assert "No conversations logged yet." in section
    assert "What they said hurts" in html
    assert "Nothing confirmed yet." in _section(html, "pains-said")


def test_logging_a_call_by_htmx_shows_it_and_its_suggestions_at_once(
    role_client: RoleClient, acme: tuple[Account, Person, Person], slow_close: PainPoint
) -> None:
    account, ann, vera = acme
    rep = role_client(Role.SALES_REP)
    response = rep.post(
        f"/people/{ann.pk}/conversations/new/",
        {
            "kind": "call",
            "occurred_at": "2026-11-23T09:30",  # the rep's zone is UTC
            "people": [ann.pk, vera.pk],
            "summary": "Walked through their close process.",
            "quotes": "Closing the books takes us twelve days.\nAudit is fine.",
        },
        headers=HX,
    )

    assert response.status_code == 200, response.content
    html = response.content.decode()
    conversation = Conversation.objects.get()
    assert conversation.account == account
    assert set(conversation.people.all()) == {ann, vera}
    assert conversation.occurred_at.isoformat() == "2026-11-23T09:30:00+00:00"
    # The body of the section, the live region out of band, the new conversation focused.
    assert 'id="conversations-body"' in html
    assert re.search(
        r'id="conversations-status" hx-swap-oob="innerHTML">Call logged\. 1 pain', html
    )
    assert re.search(rf'id="conversation-{conversation.pk}-h" tabindex="-1" autofocus', html)
    assert "<p>Closing the books takes us twelve days.</p>" in html  # quotes shown as quotes
    (suggestion,) = conversation.pain_points.all()
    assert f'id="suggestion-{suggestion.pk}"' in html
    assert 'Confirm<span class="visually-hidden"> Slow month-end close</span>' in html
    assert 'Reject<span class="visually-hidden"> Slow month-end close</span>' in html
    assert TimelineEvent.objects.filter(person=vera, kind="conversation.call").exists()


def test_a_refused_log_names_each_field_and_keeps_what_was_typed(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    _account, ann, _ = acme
    response = role_client(Role.SALES_REP).post(
        f"/people/{ann.pk}/conversations/new/",
        {"kind": "call", "occurred_at": "2026-12-01T09:00", "summary": "", "quotes": "Ouch."},
        headers=HX,
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert Conversation.objects.count() == 0
    assert 'role="alert"' in html
    assert '<a href="#conversation-occurred_at">When</a>: That is in the future' in html
    assert '<a href="#conversation-people_0">Who took part</a>: Choose at least one' in html
    assert '<a href="#conversation-summary">What was talked about</a>: Say what' in html
    assert 'id="conversation-summary_error"' in html
    assert re.search(
        r'<textarea[^>]*aria-invalid="true" aria-describedby="conversation-summary_error"', html
    )
    assert "Ouch.</textarea>" in html
    assert '<details class="conversation-log" open>' in html


def test_without_javascript_a_log_redirects_and_a_refusal_gets_its_own_page(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    _, ann, _ = acme
    rep = role_client(Role.SALES_REP)
    url = f"/people/{ann.pk}/conversations/new/"
    refused = rep.post(url, {"kind": "visit", "occurred_at": "2026-11-23T09:00"})
    assert refused.status_code == 400
    assert "<h1>Log a conversation</h1>" in refused.content.decode()
    assert "What kind" in refused.content.decode()
    assert "hx-post" not in re.search(r"<form.*?>", refused.content.decode(), re.S).group(0)  # type: ignore[union-attr]

    done = rep.post(
        url,
        {"kind": "note", "occurred_at": "2026-11-23T09:00", "people": [ann.pk], "summary": "Hi"},
    )
    conversation = Conversation.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/people/{ann.pk}/#conversation-{conversation.pk}"
    page = rep.get(f"/people/{ann.pk}/").content.decode()
    assert "Note logged." in page
    assert f'id="conversation-{conversation.pk}"' in _section(page, "conversations")


def test_confirming_shows_it_under_what_they_said_hurts_in_their_words(
    role_client: RoleClient, acme: tuple[Account, Person, Person], slow_close: PainPoint
) -> None:
    _, ann, _ = acme
    conversation = factories.conversation(
        people=[ann], summary="Talked about month-end.", quotes="Month-end is a nightmare."
    )
    (suggestion,) = conversation.pain_points.all()
    # The prospect's own words are the evidence, not the rep's summary.
    assert suggestion.evidence == "Month-end is a nightmare."
    rep = role_client(Role.SALES_REP)

    response = rep.post(
        f"/pain-point-suggestions/{suggestion.pk}/decide/",
        {"decision": "confirm", "person": ann.pk},
        headers=HX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    suggestion.refresh_from_db()
    assert suggestion.status == PainStatus.CONFIRMED
    assert re.search(rf'id="suggestion-{suggestion.pk}" tabindex="-1" autofocus', html)
    assert ">Confirmed</span>" in html
    assert "Confirm<span" not in html  # decided: only "Reject" is offered now
    assert "Confirmed: Slow month-end close." in html  # the live region, out of band
    said = _section(html, "pains-said")
    assert 'hx-swap-oob="true"' in said
    assert "Slow month-end close" in said
    assert '<blockquote class="their-words"><p>Month-end is a nightmare.</p></blockquote>' in said
    assert f'href="#conversation-{conversation.pk}"' in said

    page = rep.get(f"/people/{ann.pk}/").content.decode()
    assert "Month-end is a nightmare." in _section(page, "pains-said")


def test_rejecting_without_javascript_returns_to_the_page(
    role_client: RoleClient, acme: tuple[Account, Person, Person], slow_close: PainPoint
) -> None:
    account, ann, _ = acme
    conversation = factories.conversation(people=[ann], summary="Month-end came up.")
    (suggestion,) = conversation.pain_points.all()
    response = role_client(Role.SALES_MANAGER).post(
        f"/pain-point-suggestions/{suggestion.pk}/decide/",
        {"decision": "reject", "account": account.pk},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/#conversations"
    suggestion.refresh_from_db()
    assert suggestion.status == PainStatus.REJECTED
    bad = role_client(Role.SALES_REP).post(
        f"/pain-point-suggestions/{suggestion.pk}/decide/", {"decision": "maybe"}
    )
    assert bad.status_code == 400


def test_the_account_page_lists_conversations_with_any_of_its_people_and_logs_them(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    account, ann, vera = acme
    factories.conversation(people=[vera], summary="Budget talk", kind="meeting")
    elsewhere = factories.person(first_name="Otto")
    factories.conversation(people=[elsewhere], summary="Not about Acme")
    rep = role_client(Role.SALES_REP)

    page = rep.get(f"/accounts/{account.pk}/").content.decode()
    section = _section(page, "conversations")
    assert "Budget talk" in section
    assert "Not about Acme" not in section
    assert f'hx-get="/accounts/{account.pk}/conversations/new/"' in section
    form = rep.get(f"/accounts/{account.pk}/conversations/new/", headers=HX).content.decode()
    assert f'action="/accounts/{account.pk}/conversations/new/"' in form
    assert not re.search(r'<input[^>]*name="people"[^>]*checked', form)

    response = rep.post(
        f"/accounts/{account.pk}/conversations/new/",
        {"kind": "email", "occurred_at": "2026-11-23T08:00", "people": [ann.pk], "summary": "Sent"},
        headers=HX,
    )
    assert response.status_code == 200
    assert Conversation.objects.get(summary="Sent").account == account
    # A person from another company is not one of the choices.
    refused = rep.post(
        f"/accounts/{account.pk}/conversations/new/",
        {
            "kind": "email",
            "occurred_at": "2026-11-23T08:00",
            "people": [elsewhere.pk],
            "summary": "x",
        },
        headers=HX,
    )
    assert refused.status_code == 400
    assert "Who took part" in refused.content.decode()


def test_roles_that_may_not_edit_people_cannot_log_or_decide(
    role_client: RoleClient, acme: tuple[Account, Person, Person], slow_close: PainPoint
) -> None:
    _, ann, _ = acme
    conversation = factories.conversation(people=[ann], summary="month-end")
    suggestion = conversation.pain_points.get()
    caller = role_client(Role.OUTSIDE_CALLER)
    assert caller.get(f"/people/{ann.pk}/conversations/new/").status_code == 403
    assert (
        caller.post(
            f"/pain-point-suggestions/{suggestion.pk}/decide/", {"decision": "confirm"}
        ).status_code
        == 403
    )
    assert Client().get(f"/people/{ann.pk}/conversations/new/").status_code == 302


# The catalogue ------------------------------------------------------------------------------------


def test_the_catalogue_shows_each_pain_point_with_how_often_it_was_confirmed(
    role_client: RoleClient, slow_close: PainPoint
) -> None:
    factories.pain_point(name="Audit findings", phrases="auditor")
    people = [factories.person() for _ in range(4)]
    rep_user = factories.user()
    for n, person in enumerate(people):
        c = factories.conversation(people=[person], summary="month-end again")
        if n < 3:
            pain_point_decide(suggestion=c.pain_points.get(), confirmed=n < 2, decided_by=rep_user)

    rep = role_client(Role.SALES_REP)
    html = rep.get("/pain-points/").content.decode()
    assert 'aria-current="page">Pain points</a>' in html
    row = re.search(rf'<tr id="pain-{slow_close.pk}".*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["2", "1", "1"]  # confirmed, rejected, waiting
    assert "67%" in row
    assert "<li>month-end</li>" in row
    assert "Any product" in html
    assert "Ledger" in html
    # A rep reads the catalogue but does not change it.
    assert "Add a pain point" not in html
    assert f"/pain-points/{slow_close.pk}/" not in html
    assert rep.post("/pain-points/new/", {"name": "X"}).status_code == 403
    assert rep.get(f"/pain-points/{slow_close.pk}/").status_code == 403
    assert rep.post(f"/pain-points/{slow_close.pk}/active/", {"active": "0"}).status_code == 403
    assert role_client(Role.OUTSIDE_CALLER).get("/pain-points/").status_code == 403


def test_marketing_adds_edits_and_turns_off_pain_points(role_client: RoleClient) -> None:
    marketing = role_client(Role.MARKETING)
    made = marketing.post(
        "/pain-points/new/",
        {
            "name": "Too many spreadsheets",
            "product": "Ledger",
            "phrases": "spreadsheet\n  Excel hell \nspreadsheet",
        },
    )
    pain = PainPoint.objects.get(name="Too many spreadsheets")
    assert made.status_code == 302
    assert made["Location"] == f"/pain-points/#pain-{pain.pk}"
    assert pain.phrase_list() == ["spreadsheet", "Excel hell"]
    assert AuditEntry.objects.filter(action="pain_point.create", object_id=str(pain.pk)).exists()

    refused = marketing.post(
        "/pain-points/new/", {"name": "too many SPREADSHEETS", "product": "ledger", "phrases": "ab"}
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert '<a href="#pain-new-name">Pain point</a>: There is already a pain point' in html
    assert '<a href="#pain-new-phrases">Phrases buyers use</a>: “ab” is too short' in html

    edit = marketing.get(f"/pain-points/{pain.pk}/")
    assert edit.status_code == 200
    assert "Excel hell</textarea>" in edit.content.decode()
    saved = marketing.post(
        f"/pain-points/{pain.pk}/",
        {"name": "Living in spreadsheets", "product": "Ledger", "phrases": "spreadsheet"},
    )
    assert saved.status_code == 302
    pain.refresh_from_db()
    assert (pain.name, pain.is_active) == ("Living in spreadsheets", False)  # box left unticked

    marketing.post(f"/pain-points/{pain.pk}/active/", {"active": "1"})
    pain.refresh_from_db()
    assert pain.is_active
    marketing.post(f"/pain-points/{pain.pk}/active/", {"active": "0"})
    pain.refresh_from_db()
    assert not pain.is_active
    # Turned off: no longer suggested.
    person = factories.person()
    assert not factories.conversation(
        people=[person], summary="A spreadsheet."
    ).pain_points.exists()
    html = marketing.get("/pain-points/").content.decode()
    assert 'Turn on<span class="visually-hidden"> Living in spreadsheets</span>' in html
