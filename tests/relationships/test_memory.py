"""Company memory's reads: who may read which conversation, which timeline events each user
sees, and the account's whole timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadline.core.models import TimelineEvent
from leadline.journeys.conversations import conversation_log
from leadline.journeys.models import Conversation, Visibility
from leadline.relationships.memory import (
    account_timeline_all,
    conversations_visible,
    may_read,
    timeline_visible,
)
from leadline.routing.models import Ownership
from leadline.routing.services import touch_record
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

# Who reads what: (viewer, company, team, author). The author is in team B, not the owner's.
MATRIX = [
    ("author", True, True, True),
    ("teammate", True, True, False),
    ("owner", True, True, False),
    ("other", True, False, False),
    ("manager", True, True, True),
    ("admin", True, True, True),
    ("marketer", True, False, False),
    ("caller", True, False, False),
]


@pytest.fixture
def cast() -> Any:
    return factories.memory_cast()


def _notes(cast: Any) -> dict[str, Conversation]:
    return {
        v: factories.note(people=[cast.ann], logged_by=cast.author, visibility=v)
        for v in Visibility.values
    }


@pytest.mark.parametrize(("who", "company", "team", "author"), MATRIX)
def test_who_reads_which_note(cast: Any, who: str, company: bool, team: bool, author: bool) -> None:
    notes = _notes(cast)
    viewer = getattr(cast, who)

    seen = set(
        conversations_visible(user=viewer, conversations=Conversation.objects.all()).values_list(
            "pk", flat=True
        )
    )

    expected = {"company": company, "team": team, "author": author}
    assert {v: notes[v].pk in seen for v in Visibility.values} == expected
    assert all(may_read(user=viewer, conversation=notes[v]) == expected[v] for v in expected)


def test_outside_callers_never_see_a_private_conversation(cast: Any) -> None:
    hidden = factories.note(
        people=[cast.ann], logged_by=cast.author, visibility="company", private=True
    )
    assert not may_read(user=cast.caller, conversation=hidden)
    assert may_read(user=cast.other, conversation=hidden)  # staff only, not a personal note


def test_the_team_follows_the_current_owner(cast: Any) -> None:
    """Personal context is for whoever's team owns the relationship now: after a handover to a
    rep in team B, team B reads it and team A (but for the author and managers) no longer."""
    team_note = factories.note(people=[cast.vera], logged_by=cast.owner, visibility="team")
    # Vera herself has no owner: her company's owner's team reads it.
    assert may_read(user=cast.teammate, conversation=team_note)
    assert not may_read(user=cast.other, conversation=team_note)

    Ownership.objects.filter(account=cast.acme).update(ended_at=factories.MONDAY_10)
    Ownership.objects.create(owner=cast.other, account=cast.acme, reason="handover")

    assert may_read(user=cast.author, conversation=team_note)  # team B now
    assert not may_read(user=cast.teammate, conversation=team_note)
    assert may_read(user=cast.owner, conversation=team_note)  # its author


def test_a_note_logged_against_the_account_is_read_by_the_accounts_team(cast: Any) -> None:
    outsider = factories.person()  # at no company the team owns
    noted = factories.note(
        people=[outsider], logged_by=cast.author, visibility="team", account=cast.acme
    )
    assert may_read(user=cast.teammate, conversation=noted)
    assert not may_read(user=cast.other, conversation=noted)


def test_inactive_and_anonymous_users_read_nothing(cast: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    factories.note(people=[cast.ann], logged_by=cast.author, visibility="company")
    cast.admin.is_active = False
    for nobody in (AnonymousUser(), cast.admin, None):
        found = conversations_visible(user=nobody, conversations=Conversation.objects.all())
        assert not found.exists()


def test_visibility_is_validated_by_the_service(cast: Any) -> None:
    with pytest.raises(ValueError, match=r"^visibility: "):
        conversation_log(
            kind="note", summary="x", people=[cast.ann], logged_by=cast.owner, visibility="all"
        )
    assert not Conversation.objects.exists()


def test_timeline_hides_the_events_of_notes_one_may_not_read(cast: Any) -> None:
    notes = _notes(cast)
    events = TimelineEvent.objects.filter(person=cast.ann)
    summaries = {
        who: " ".join(
            timeline_visible(user=getattr(cast, who), events=events).values_list(
                "summary", flat=True
            )
        )
        for who in ("author", "teammate", "other", "marketer")
    }
    for who in ("author", "teammate", "other", "marketer"):
        assert notes["company"].summary in summaries[who]
    assert notes["author"].summary in summaries["author"]
    assert notes["team"].summary in summaries["teammate"]
    for who in ("teammate", "other", "marketer"):
        assert notes["author"].summary not in summaries[who]
    assert notes["team"].summary not in summaries["other"]


def test_a_confirmed_pain_from_a_private_note_stays_private(cast: Any) -> None:
    from leadline.journeys.conversations import pain_point_decide

    factories.pain_point(name="Slow close", phrases="month-end")
    private = factories.note(
        people=[cast.ann],
        logged_by=cast.author,
        visibility="author",
        quotes="Our month-end is a nightmare.",
    )
    suggestion = private.pain_points.get()
    pain_point_decide(suggestion=suggestion, confirmed=True, decided_by=cast.author)
    events = TimelineEvent.objects.filter(person=cast.ann, kind="pain_point.confirmed")

    assert timeline_visible(user=cast.author, events=events).count() == 1
    assert timeline_visible(user=cast.teammate, events=events).count() == 0


def test_the_check_is_one_query(cast: Any) -> None:
    _notes(cast)
    with CaptureQueriesContext(connection) as queries:
        listed = list(timeline_visible(user=cast.teammate, events=TimelineEvent.objects.all())[:50])
    assert len(queries.captured_queries) == 1
    assert listed


def test_the_account_timeline_has_every_touch_by_anyone(cast: Any) -> None:
    """A colleague's call with a member, and a touch on a member by someone other than the
    owner, both show on the account's timeline, saying who did it and with whom; a former
    member's history stays."""
    call = factories.conversation(
        people=[cast.vera], logged_by=cast.other, summary="Vera walked us through the budget."
    )
    request = factories.person_request(person=cast.ann)
    with_ann = touch_record(
        request=request, user=cast.teammate, kind="email", note="Sent the case study"
    )
    former = factories.person(first_name="Fred", last_name="Former")
    factories.membership(person=former, account=cast.acme, is_current=False)
    factories.conversation(
        people=[former],
        logged_by=cast.author,
        summary="Fred's last call before leaving.",
        occurred_at=factories.MONDAY_10 - dt.timedelta(days=400),
    )
    stranger = factories.person()
    factories.conversation(people=[stranger], logged_by=cast.author, summary="Not Acme.")

    events = list(account_timeline_all(account=cast.acme, user=cast.marketer))

    by_summary = {e.summary: e for e in events}
    said = f"Call: {call.summary}"
    assert by_summary[said].actor == cast.other
    assert by_summary[said].person == cast.vera
    touch = next(e for e in events if e.data.get("touch_id") == with_ann.pk)
    assert (touch.actor, touch.person) == (cast.teammate, cast.ann)
    assert "Call: Fred's last call before leaving." in by_summary
    assert "Call: Not Acme." not in by_summary
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)


def test_the_account_timeline_filters_and_hides(cast: Any) -> None:
    notes = _notes(cast)
    factories.conversation(people=[cast.vera], logged_by=cast.other, summary="Vera's call.")
    touch_record(request=factories.person_request(person=cast.ann), user=cast.owner, kind="email")
    TimelineEvent.objects.create(
        kind="request.created", summary="Asked for a demo", person=cast.ann
    )

    def summaries(user: Any, **kw: Any) -> list[str]:
        return [e.summary for e in account_timeline_all(account=cast.acme, user=user, **kw)]

    everything = summaries(cast.other)
    assert f"Note: {notes['company'].summary}" in everything
    assert f"Note: {notes['team'].summary}" not in everything
    assert f"Note: {notes['author'].summary}" not in everything
    assert f"Note: {notes['author'].summary}" in summaries(cast.manager)

    talks = summaries(cast.other, show="conversations")
    assert talks
    assert all(s.startswith(("Note: ", "Call: ")) for s in talks)
    touches = summaries(cast.other, show="touches")
    assert touches
    assert not any(s.startswith("Note: ") for s in touches)
    assert summaries(cast.other, show="requests") == ["Asked for a demo"]
    with_vera = summaries(cast.other, person=cast.vera)
    assert "Call: Vera's call." in with_vera
    assert not any(s.startswith("Note: ") for s in with_vera)  # the notes were with Ann
    assert len(summaries(cast.manager, limit=2)) == 2
