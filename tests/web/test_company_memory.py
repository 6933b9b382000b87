"""Company memory in the staff UI: who reads which note on the person and account pages (the
conversation list, the timeline, "What they said hurts"), logging a note with its visibility,
and the account's whole timeline with its filter."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import User
from leadline.journeys.conversations import pain_point_decide
from leadline.journeys.models import Conversation, Visibility
from leadline.routing.services import touch_record
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


HX = {"HX-Request": "true"}

# Who reads what: (viewer, company, team, author). The author is in team B, not the owner's.
MATRIX = [
    ("author", True, True, True),
    ("teammate", True, True, False),
    ("other", True, False, False),
    ("manager", True, True, True),
    ("admin", True, True, True),
    ("marketer", True, False, False),
]


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def cast() -> Any:
    return factories.memory_cast()


@pytest.fixture
def notes(cast: Any) -> dict[str, Conversation]:
    """One note of each visibility with Ann, by the author; each with words of its own."""
    return {
        v: factories.note(
            people=[cast.ann],
            logged_by=cast.author,
            visibility=v,
            summary=f"Summary-{v}-zq: what Ann told us.",
            quotes=f"Quote-{v}-zq",
        )
        for v in Visibility.values
    }


@pytest.mark.parametrize(("who", "company", "team", "author"), MATRIX)
def test_the_person_page_shows_each_note_to_who_may_read_it(
    cast: Any, notes: dict[str, Conversation], who: str, company: bool, team: bool, author: bool
) -> None:
    response = _as(getattr(cast, who)).get(f"/people/{cast.ann.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    expected = {"company": company, "team": team, "author": author}
    # Neither the list, nor the timeline, nor anything else on the page shows a hidden one.
    assert {v: f"Summary-{v}-zq" in html for v in expected} == expected
    assert {v: f"Quote-{v}-zq" in html for v in expected} == expected
    timeline = re.search(r'<ol id="timeline".*?</ol>', html, re.S)
    assert timeline
    assert {v: f"Summary-{v}-zq" in timeline.group(0) for v in expected} == expected
    assert {v: f'id="conversation-{notes[v].pk}"' in html for v in expected} == expected


@pytest.mark.parametrize(("who", "company", "team", "author"), MATRIX)
def test_the_account_page_shows_each_note_to_who_may_read_it(
    cast: Any, notes: dict[str, Conversation], who: str, company: bool, team: bool, author: bool
) -> None:
    html = _as(getattr(cast, who)).get(f"/accounts/{cast.acme.pk}/").content.decode()

    expected = {"company": company, "team": team, "author": author}
    assert {v: f"Summary-{v}-zq" in html for v in expected} == expected


def test_outside_callers_get_neither_page(cast: Any, notes: dict[str, Conversation]) -> None:
    caller = _as(cast.caller)
    assert caller.get(f"/people/{cast.ann.pk}/").status_code == 403
    assert caller.get(f"/accounts/{cast.acme.pk}/").status_code == 403
    assert caller.get(f"/accounts/{cast.acme.pk}/?part=timeline", headers=HX).status_code == 403


def test_the_list_marks_personal_context_and_private_notes(
    cast: Any, notes: dict[str, Conversation]
) -> None:
    html = _as(cast.manager).get(f"/people/{cast.ann.pk}/").content.decode()

    def item(v: str) -> str:
        found = re.search(
            rf'<li class="conversation[^"]*" id="conversation-{notes[v].pk}".*?</li>', html, re.S
        )
        assert found
        return found.group(0)

    assert "Personal context" in item("team")
    assert "Only author and managers" in item("author")
    assert "badge-visibility" not in item("company")


def test_what_they_said_hurts_keeps_a_private_notes_words_private(cast: Any) -> None:
    factories.pain_point(name="Slow month-end close", phrases="month-end")
    private = factories.note(
        people=[cast.ann],
        logged_by=cast.author,
        visibility="author",
        quotes="Our month-end is a nightmare-zq.",
    )
    pain_point_decide(suggestion=private.pain_points.get(), confirmed=True, decided_by=cast.author)

    assert "nightmare-zq" in _as(cast.author).get(f"/people/{cast.ann.pk}/").content.decode()
    html = _as(cast.teammate).get(f"/people/{cast.ann.pk}/").content.decode()
    assert "nightmare-zq" not in html
    assert "Slow month-end close" not in html
    # Nor may they confirm or reject what it suggested; its author may.
    suggestion = private.pain_points.get()
    url = f"/pain-point-suggestions/{suggestion.pk}/decide/"
    form = {"decision": "reject", "person": cast.ann.pk}
    assert _as(cast.teammate).post(url, form, headers=HX).status_code == 404
    assert _as(cast.author).post(url, form, headers=HX).status_code == 200


def test_logging_a_note_for_my_team(cast: Any) -> None:
    response = _as(cast.owner).post(
        f"/people/{cast.ann.pk}/conversations/new/",
        {
            "kind": "note",
            "occurred_at": "2026-11-23T09:30",
            "people": [cast.ann.pk],
            "summary": "Her daughter starts school on Monday; do not call early.",
            "visibility": "team",
        },
        headers=HX,
    )

    assert response.status_code == 200, response.content
    note = Conversation.objects.get()
    assert note.visibility == Visibility.TEAM
    assert "Personal context" in response.content.decode()
    page = _as(cast.teammate).get(f"/people/{cast.ann.pk}/").content.decode()
    assert "do not call early" in page
    assert (
        "do not call early" not in _as(cast.other).get(f"/people/{cast.ann.pk}/").content.decode()
    )


def test_the_form_offers_the_three_choices_and_defaults_to_everyone(cast: Any) -> None:
    html = _as(cast.owner).get(f"/people/{cast.ann.pk}/conversations/new/").content.decode()

    fieldset = re.search(r'<fieldset class="[^"]*conversation-visibility.*?</fieldset>', html, re.S)
    assert fieldset
    text = fieldset.group(0)
    assert "<legend>Who may read it</legend>" in text
    for label in ("Everyone", "My team (personal context)", "Only me and managers"):
        assert label in text
    assert re.search(r'<input[^>]*value="company"[^>]*checked', text)

    # A call logged without choosing is company memory.
    _as(cast.owner).post(
        f"/people/{cast.ann.pk}/conversations/new/",
        {
            "kind": "call",
            "occurred_at": "2026-11-23T09:30",
            "people": [cast.ann.pk],
            "summary": "Intro call.",
        },
    )
    assert Conversation.objects.get().visibility == Visibility.COMPANY


def test_an_unknown_visibility_is_refused_naming_the_field(cast: Any) -> None:
    response = _as(cast.owner).post(
        f"/people/{cast.ann.pk}/conversations/new/",
        {
            "kind": "note",
            "occurred_at": "2026-11-23T09:30",
            "people": [cast.ann.pk],
            "summary": "x",
            "visibility": "everyone-and-their-dog",
        },
        headers=HX,
    )
    assert response.status_code == 400
    assert re.search(
        r'<a href="#conversation-visibility_0">Who may read it</a>: Choose who',
        response.content.decode(),
    )
    assert not Conversation.objects.exists()


def test_the_account_timeline_shows_every_touch_by_anyone(cast: Any) -> None:
    """A new owner sees a colleague's call with a member and a touch on a member by someone
    else, each saying who and with whom."""
    factories.conversation(
        people=[cast.vera], logged_by=cast.other, summary="Vera walked us through the budget."
    )
    touch_record(
        request=factories.person_request(person=cast.ann),
        user=cast.teammate,
        kind="email",
        note="Sent the case study",
    )
    newcomer = factories.user(team=cast.team_b)

    html = _as(newcomer).get(f"/accounts/{cast.acme.pk}/").content.decode()

    section = re.search(r'<section class="card account-timeline".*?</section>', html, re.S)
    assert section
    timeline = section.group(0)
    call = re.search(
        r"<li[^>]*>(?:(?!</li>).)*Vera walked us through the budget.*?</li>", timeline, re.S
    )
    assert call
    assert f'with <a href="/people/{cast.vera.pk}/">Vera Stone</a>' in call.group(0)
    assert f"by {cast.other}" in call.group(0)
    touch = re.search(r"<li[^>]*>(?:(?!</li>).)*Sent the case study.*?</li>", timeline, re.S)
    assert touch
    assert f'with <a href="/people/{cast.ann.pk}/">Ann Lee</a>' in touch.group(0)
    assert f"by {cast.teammate}" in touch.group(0)


def test_the_account_timeline_filter(cast: Any, notes: dict[str, Conversation]) -> None:
    factories.conversation(people=[cast.vera], logged_by=cast.other, summary="Vera-call-zq")
    touch_record(
        request=factories.person_request(person=cast.ann),
        user=cast.teammate,
        kind="email",
        note="Touch-zq",
    )
    client = _as(cast.manager)
    url = f"/accounts/{cast.acme.pk}/"

    page = client.get(url).content.decode()
    assert '<select name="show" id="timeline-show">' in page
    assert f'<option value="{cast.vera.pk}">Vera Stone</option>' in page

    touches = client.get(url, {"part": "timeline", "show": "touches"}, headers=HX)
    assert touches.status_code == 200
    body = touches.content.decode()
    assert body.lstrip().startswith('<div id="account-timeline-body"')
    assert "Touch-zq" in body
    assert "Vera-call-zq" not in body
    assert "Summary-company-zq" not in body
    assert 'hx-swap-oob="innerHTML">Showing 1 event.' in body

    with_vera = client.get(url, {"part": "timeline", "with": cast.vera.pk}, headers=HX)
    body = with_vera.content.decode()
    assert "Vera-call-zq" in body
    assert "Touch-zq" not in body
    assert "with Vera Stone" in body

    # Without htmx (no JavaScript) the whole page comes back, filtered the same way.
    plain = client.get(url, {"show": "conversations"}).content.decode()
    assert "<h1>Acme Memory</h1>" in plain
    timeline = re.search(r'<ol id="timeline".*?</ol>', plain, re.S)
    assert timeline
    assert "Vera-call-zq" in timeline.group(0)
    assert "Touch-zq" not in timeline.group(0)

    # Someone not at Acme, or a made-up choice, narrows nothing.
    stranger = factories.person()
    loose = client.get(url, {"part": "timeline", "with": stranger.pk, "show": "x"}, headers=HX)
    assert "Touch-zq" in loose.content.decode()
    assert "Vera-call-zq" in loose.content.decode()
