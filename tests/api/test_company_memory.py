"""Company memory through the API: logging with a visibility, and who reads which note in a
person's conversations, a person's timeline and an account's timeline."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.journeys.models import Conversation, Visibility
from leadline.routing.services import touch_record
from tests import factories
from tests.api.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


MATRIX = [
    ("author", True, True, True),
    ("teammate", True, True, False),
    ("other", True, False, False),
    ("manager", True, True, True),
    ("admin", True, True, True),
    ("marketer", True, False, False),
]


@pytest.fixture
def cast() -> Any:
    return factories.memory_cast()


def _log(client: Client, cast: Any, **body: Any) -> Any:
    body = {"kind": "note", "summary": "Noted.", "person_ids": [cast.ann.pk], **body}
    return client.post("/api/v1/conversations", body, content_type="application/json")


def test_logging_takes_a_visibility_and_answers_with_it(cast: Any) -> None:
    response = _log(bearer(cast.owner), cast, visibility="author", summary="Only for me.")

    assert response.status_code == 201, response.content
    assert response.json()["visibility"] == "author"
    assert Conversation.objects.get().visibility == Visibility.AUTHOR
    # Not said: company memory.
    call = _log(bearer(cast.owner), cast, kind="call", summary="A call.")
    assert call.json()["visibility"] == "company"


def test_an_unknown_visibility_is_422_naming_the_field(cast: Any) -> None:
    response = _log(bearer(cast.owner), cast, visibility="everyone")

    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "payload", "visibility"] in locs
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(("who", "company", "team", "author"), MATRIX)
def test_who_reads_which_note_through_the_api(
    cast: Any, who: str, company: bool, team: bool, author: bool
) -> None:
    for v in Visibility.values:
        _log(bearer(cast.author), cast, visibility=v, summary=f"Summary-{v}-zq")
    client = bearer(getattr(cast, who))
    expected = {"company": company, "team": team, "author": author}

    listed = client.get(f"/api/v1/people/{cast.ann.pk}/conversations").json()
    assert {
        v: any(c["summary"] == f"Summary-{v}-zq" for c in listed["items"]) for v in expected
    } == expected
    assert listed["count"] == sum(expected.values())
    for path in (
        f"/api/v1/people/{cast.ann.pk}/timeline",
        f"/api/v1/accounts/{cast.acme.pk}/timeline",
    ):
        text = client.get(path).content.decode()
        assert {v: f"Summary-{v}-zq" in text for v in expected} == expected, path


def test_outside_callers_read_no_conversations_or_timelines(cast: Any) -> None:
    _log(bearer(cast.author), cast, visibility="company")
    caller = bearer(cast.caller)
    for path in (
        f"/api/v1/people/{cast.ann.pk}/conversations",
        f"/api/v1/people/{cast.ann.pk}/timeline",
        f"/api/v1/accounts/{cast.acme.pk}/timeline",
    ):
        assert caller.get(path).status_code == 403, path


def test_the_account_timeline_has_a_colleagues_call_and_anyones_touch(cast: Any) -> None:
    factories.conversation(
        people=[cast.vera], logged_by=cast.other, summary="Vera walked us through the budget."
    )
    touch_record(
        request=factories.person_request(person=cast.ann),
        user=cast.teammate,
        kind="email",
        note="Sent the case study",
    )

    items = bearer(cast.marketer).get(f"/api/v1/accounts/{cast.acme.pk}/timeline").json()["items"]

    call = next(i for i in items if i["summary"] == "Call: Vera walked us through the budget.")
    assert (call["actor"], call["person_id"]) == (cast.other.username, cast.vera.pk)
    touch = next(i for i in items if "Sent the case study" in i["summary"])
    assert (touch["actor"], touch["person_id"]) == (cast.teammate.username, cast.ann.pk)
