"""Relationship health: each signal computed from rows, the going-cold reasons, the scoping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadline.commitments.models import Commitment
from leadline.core import clock
from leadline.core.models import Account, Person, Role, User
from leadline.journeys.models import Conversation
from leadline.notify.models import OutgoingMail
from leadline.relationships.health import (
    Health,
    going_cold,
    health_of,
    may_read_health_of,
    relationship_health,
)
from leadline.relationships.selectors import ownerships_current
from tests import factories

pytestmark = pytest.mark.django_db

NOW = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def health(of: Person | Account, *, at: dt.datetime = NOW) -> Health:
    (found,) = [
        h
        for h in relationship_health(ownerships=ownerships_current(at=at), at=at)
        if (h.person or h.account) == of
    ]
    return found


def talk(*, people: list[Person], at: dt.datetime, kind: str = "call", **extra: object) -> object:
    with clock.frozen_at(at):
        return factories.conversation(people=people, kind=kind, occurred_at=at, **extra)


def promise(*, person: Person, due: dt.datetime, status: str = "open", **extra: object) -> object:
    with clock.frozen_at(due - dt.timedelta(days=5)):
        made = factories.commitment(person=person, due_at=due)
    changes: dict[str, object] = {"status": status, **extra}
    if status == "broken":
        changes.setdefault("broken_at", due)
    if status == "kept":
        changes.setdefault("kept_at", due)
    Commitment.objects.filter(pk=made.pk).update(**changes)
    return made


@pytest.fixture
def rep() -> User:
    return factories.user(username="rita")


# The last two-way touch -------------------------------------------------------------------------


def test_the_last_two_way_touch_is_the_latest_conversation_connected_call_reply_or_meeting(
    rep: User,
) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(200))
    talk(people=[anna], at=days_ago(50), kind="call")
    assert (health(anna).last_touch_at, health(anna).last_touch_kind) == (days_ago(50), "call")

    # Notes, emails we sent, calls nobody answered, bounces and automatic replies are one-way.
    talk(people=[anna], at=days_ago(40), kind="note")
    factories.touch(person=anna, at=days_ago(39), kind="email")
    factories.touch(person=anna, at=days_ago(38), kind="call", outcome="voicemail")
    factories.sent_mail(person=anna, sent_at=days_ago(37))
    factories.inbound_message(person=anna, at=days_ago(36), kind="bounce")
    factories.inbound_message(person=anna, at=days_ago(35), kind="auto_reply")
    # A meeting still to come, and a cancelled one, have not taken place.
    factories.booked_meeting(person=anna, host=rep, starts_at=NOW + dt.timedelta(days=1))
    factories.booked_meeting(person=anna, host=rep, starts_at=days_ago(34), cancelled=True)
    assert health(anna).last_touch_at == days_ago(50)
    assert health(anna).days_since_touch == 50

    factories.touch(person=anna, at=days_ago(30), kind="call", outcome="connected")
    assert (health(anna).last_touch_at, health(anna).last_touch_kind) == (days_ago(30), "call")
    factories.inbound_message(person=anna, at=days_ago(20))
    assert (health(anna).last_touch_at, health(anna).last_touch_kind) == (
        days_ago(20),
        "their email",
    )
    factories.booked_meeting(person=anna, host=rep, starts_at=days_ago(10))
    assert (health(anna).last_touch_at, health(anna).last_touch_kind) == (
        days_ago(10) + dt.timedelta(minutes=30),
        "meeting",
    )
    talk(people=[anna], at=days_ago(5), kind="email")
    assert (health(anna).last_touch_kind, health(anna).days_since_touch) == ("email", 5)


def test_the_clock_window_ignores_what_happened_after_the_moment_asked(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(200))
    talk(people=[anna], at=days_ago(50))
    talk(people=[anna], at=days_ago(5), kind="meeting")
    factories.inbound_message(person=anna, at=days_ago(4))

    earlier = days_ago(10)
    then = health(anna, at=earlier)
    assert then.last_touch_at == days_ago(50)
    assert then.days_since_touch == 40
    assert then.unanswered == 0
    assert health(anna).last_touch_kind == "their email"


# Unanswered messages ----------------------------------------------------------------------------


def test_messages_after_our_last_outgoing_touch_are_unanswered_until_we_write_or_call(
    rep: User,
) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(100))
    factories.touch(person=anna, at=days_ago(12), kind="email")
    factories.inbound_message(person=anna, at=days_ago(13))  # answered by the touch after it
    factories.inbound_message(person=anna, at=days_ago(11))
    factories.inbound_message(person=anna, at=days_ago(9))
    factories.inbound_message(person=anna, at=days_ago(8), kind="auto_reply")
    found = health(anna)
    assert (found.unanswered, found.unanswered_since) == (2, days_ago(11))
    assert found.reasons[0].text == "2 messages unanswered since 12 Nov"

    # A logged note is not an answer; a mail that left is.
    talk(people=[anna], at=days_ago(7), kind="note")
    assert health(anna).unanswered == 2
    factories.sent_mail(person=anna, sent_at=days_ago(6))
    assert (health(anna).unanswered, health(anna).unanswered_since) == (0, None)

    # One more from them, a day old: waiting, but not yet a reason.
    factories.inbound_message(person=anna, at=days_ago(1))
    found = health(anna)
    assert found.unanswered == 1
    assert not any(r.kind == "unanswered" for r in found.reasons)
    # A call or conversation we log answers it too.
    talk(people=[anna], at=NOW - dt.timedelta(hours=1), kind="call")
    assert health(anna).unanswered == 0


def test_a_message_with_no_outgoing_touch_ever_is_unanswered(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(10))
    factories.inbound_message(person=anna, at=days_ago(3))
    found = health(anna)
    assert (found.unanswered, found.unanswered_since) == (1, days_ago(3))
    assert [r.text for r in found.reasons] == ["1 message unanswered since 20 Nov"]


# Broken commitments -----------------------------------------------------------------------------


def test_broken_promises_of_the_last_180_days_and_overdue_open_ones_count(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(400))
    promise(person=anna, due=days_ago(10), status="broken", what="Send the pricing")
    promise(person=anna, due=days_ago(200), status="broken")  # too long ago
    promise(person=anna, due=days_ago(2), status="open", what="Call back")  # overdue
    promise(person=anna, due=NOW + dt.timedelta(days=2))  # not due yet
    promise(person=anna, due=days_ago(3), status="kept")
    promise(
        person=anna, due=days_ago(4), status="cancelled", cancelled_at=days_ago(4)
    )  # no longer stands
    found = health(anna)
    assert [(p.what, p.status) for p in found.promises] == [
        ("Send the pricing", "broken"),
        ("Call back", "open"),
    ]
    assert found.broken == 2
    assert "2 promises broken or overdue, the oldest “Send the pricing” (due 13 Nov)" in [
        r.text for r in found.reasons
    ]


def test_one_overdue_promise_reads_as_overdue(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(5))
    promise(person=anna, due=days_ago(1), what="Send the case study")
    assert [r.text for r in health(anna).reasons] == [
        "Promise overdue: “Send the case study” (due 22 Nov)"
    ]


# Reciprocity ------------------------------------------------------------------------------------


def test_reciprocity_counts_their_moves_against_ours_over_90_days(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(400))
    found = health(anna)
    assert (found.their_moves, found.our_moves, found.reciprocity) == (0, 0, None)
    assert found.reciprocity_text == "too few to say"

    factories.inbound_message(person=anna, at=days_ago(60))
    factories.inbound_message(person=anna, at=days_ago(100))  # outside the window
    talk(people=[anna], at=days_ago(30), kind="meeting")
    talk(people=[anna], at=days_ago(29), kind="note")  # not a move of theirs
    factories.booked_meeting(person=anna, host=rep, starts_at=days_ago(20))
    factories.touch(person=anna, at=days_ago(80), kind="email")
    factories.touch(person=anna, at=days_ago(70), kind="call", outcome="no_answer")
    factories.touch(person=anna, at=days_ago(95), kind="email")  # outside
    factories.sent_mail(person=anna, sent_at=days_ago(50))
    factories.sent_mail(person=anna, sent_at=days_ago(40))
    failed = factories.sent_mail(person=anna, sent_at=days_ago(10))
    OutgoingMail.objects.filter(pk=failed.pk).update(status="failed")  # it never left
    found = health(anna)
    assert (found.their_moves, found.our_moves) == (3, 4)
    assert found.reciprocity == pytest.approx(3 / 7)
    assert found.reciprocity_text == "43% theirs"


def test_under_three_moves_is_too_few_to_say(rep: User) -> None:
    anna = factories.person()
    factories.owned(owner=rep, of=anna, since=days_ago(400))
    factories.inbound_message(person=anna, at=days_ago(6))
    factories.touch(person=anna, at=days_ago(5), kind="email")
    found = health(anna)
    assert (found.their_moves, found.our_moves, found.reciprocity) == (1, 1, None)


# An account: its current members and its own conversations -------------------------------------


def test_an_account_reads_its_current_members_and_its_own_conversations(rep: User) -> None:
    acme = factories.account(name="Acme")
    anna, ben, gone = factories.person(), factories.person(), factories.person()
    for member in (anna, ben):
        factories.membership(person=member, account=acme)
    factories.membership(person=gone, account=acme, is_current=False)
    factories.owned(owner=rep, of=acme, since=days_ago(300))
    stranger = factories.person()

    # The former member's and a stranger's rows do not count.
    talk(people=[gone], at=days_ago(3))
    factories.inbound_message(person=gone, at=days_ago(3))
    talk(people=[stranger], at=days_ago(2))
    found = health(acme)
    assert found.kind == "account"
    assert found.last_touch_at is None
    assert found.unanswered == 0

    talk(people=[anna], at=days_ago(40), kind="call")
    with clock.frozen_at(days_ago(20)):
        Conversation.objects.create(
            kind="meeting", account=acme, summary="Quarterly review", occurred_at=days_ago(20)
        )
    factories.inbound_message(person=ben, at=days_ago(15))
    factories.inbound_message(person=anna, at=days_ago(14))
    factories.touch(person=anna, at=days_ago(12), kind="email")  # answers Anna, not Ben
    promise(person=ben, due=days_ago(4))
    # A conversation with both counts once among their moves.
    talk(people=[anna, ben], at=days_ago(10), kind="call")
    found = health(acme)
    assert (found.last_touch_at, found.last_touch_kind) == (days_ago(10), "call")
    assert found.unanswered == 0  # the call with Ben answered him
    factories.inbound_message(person=ben, at=days_ago(8))
    found = health(acme)
    assert (found.last_touch_at, found.last_touch_kind) == (days_ago(8), "their email")
    assert (found.unanswered, found.unanswered_since) == (1, days_ago(8))
    assert found.broken == 1
    # Theirs: 3 replies, 3 conversations (Anna's call, the account's meeting, the joint call).
    assert (found.their_moves, found.our_moves) == (6, 1)
    assert found.account_name == ""
    # The account's own conversation answers everyone there.
    with clock.frozen_at(days_ago(1)):
        Conversation.objects.create(
            kind="email", account=acme, summary="Agenda sent", occurred_at=days_ago(1)
        )
    assert health(acme).unanswered == 0


def test_a_person_shows_the_company_they_work_at_now(rep: User) -> None:
    anna = factories.person()
    factories.membership(person=anna, account=factories.account(name="Old Co"), is_current=False)
    factories.membership(person=anna, account=factories.account(name="Acme"))
    factories.owned(owner=rep, of=anna)
    assert health(anna).account_name == "Acme"


# Going cold -------------------------------------------------------------------------------------


def test_an_active_relationship_silent_for_longer_than_the_cold_days_is_going_cold(
    rep: User, settings: object
) -> None:
    anna, dormant, fresh, never, new = (factories.person() for _ in range(5))
    for p in (anna, dormant, fresh, never):
        factories.owned(owner=rep, of=p, since=days_ago(300))
    factories.owned(owner=rep, of=new, since=days_ago(10))
    # Anna: a call 41 days ago, and an email of ours since (active, but one-way).
    talk(people=[anna], at=days_ago(41))
    factories.touch(person=anna, at=days_ago(5), kind="email")
    # Dormant: last spoken to 200 days ago, nothing open: no longer active, not going cold.
    talk(people=[dormant], at=days_ago(200))
    # Fresh: a call 10 days ago.
    talk(people=[fresh], at=days_ago(10))
    # Never: an open request keeps it active, owned 300 days, never a two-way touch.
    factories.person_request(person=never)
    # New: never spoken to, but theirs only 10 days: not yet.
    factories.person_request(person=new)

    assert [r.text for r in health(anna).reasons] == [
        "No two-way touch in 41 days (last: call on 13 Oct)"
    ]
    assert health(dormant).is_active is False
    assert health(dormant).reasons == []
    assert health(fresh).reasons == []
    assert [r.text for r in health(never).reasons] == [
        "No two-way touch yet, in 300 days since 27 Jan"
    ]
    assert health(new).reasons == []

    cold = going_cold(user=rep, at=NOW)
    assert [h.person for h in cold] == [never, anna]

    settings.RELATIONSHIP_COLD_DAYS = 45  # type: ignore[attr-defined]
    assert [h.person for h in going_cold(user=rep, at=NOW)] == [never]


def test_the_going_cold_list_is_worst_first(rep: User) -> None:
    silent, promised, waiting, waiting_long = (factories.person() for _ in range(4))
    for p in (silent, promised, waiting, waiting_long):
        factories.owned(owner=rep, of=p, since=days_ago(300))
        factories.touch(person=p, at=days_ago(60), kind="email")
        talk(people=[p], at=days_ago(61))
    promise(person=promised, due=days_ago(3))
    factories.inbound_message(person=waiting, at=days_ago(4))
    factories.inbound_message(person=waiting_long, at=days_ago(9))
    cold = going_cold(user=rep, at=NOW)
    assert [h.person for h in cold] == [waiting_long, waiting, promised, silent]
    # Their mail is a two-way touch: only the promised and the silent ones are silent.
    assert [r.text for r in cold[0].reasons] == ["1 message unanswered since 14 Nov"]
    assert [r.text for r in cold[2].reasons] == [
        "Promise overdue: “Send the pricing” (due 20 Nov)",
        "No two-way touch in 61 days (last: call on 23 Sep)",
    ]


def test_going_cold_for_a_rep_a_manager_and_an_admin() -> None:
    boss = factories.user(role=Role.SALES_MANAGER, username="boss")
    team = factories.team(manager=boss)
    other_team = factories.team()
    rita = factories.user(username="rita", team=team)
    sam = factories.user(username="sam", team=team)
    olga = factories.user(username="olga", team=other_team)
    admin = factories.user(role=Role.ADMIN, username="ada")
    waiting = {}
    for seller in (rita, sam, olga, boss):
        p = factories.person()
        factories.owned(owner=seller, of=p, since=days_ago(50))
        factories.inbound_message(person=p, at=days_ago(5))
        waiting[seller.username] = p

    assert [h.person for h in going_cold(user=rita, at=NOW)] == [waiting["rita"]]
    # team=True for a rep: still only their own.
    assert [h.person for h in going_cold(user=rita, team=True, at=NOW)] == [waiting["rita"]]
    assert {h.owner.username for h in going_cold(user=boss, team=True, at=NOW)} == {
        "boss",
        "rita",
        "sam",
    }
    assert {h.owner.username for h in going_cold(user=admin, team=True, at=NOW)} == {
        "boss",
        "rita",
        "sam",
        "olga",
    }
    assert may_read_health_of(viewer=boss, owner=rita)
    assert not may_read_health_of(viewer=boss, owner=olga)
    assert not may_read_health_of(viewer=rita, owner=sam)
    assert may_read_health_of(viewer=rita, owner=rita)
    assert may_read_health_of(viewer=admin, owner=olga)


def test_ended_ownerships_are_not_relationships(rep: User) -> None:
    anna = factories.person()
    ownership = factories.owned(owner=rep, of=anna, since=days_ago(100))
    factories.inbound_message(person=anna, at=days_ago(5))
    assert len(health_of(owners=[rep], at=NOW)) == 1
    ownership.ended_at = days_ago(1)
    ownership.save()
    assert health_of(owners=[rep], at=NOW) == []


# A fixed number of queries ----------------------------------------------------------------------


def _relationships(owner: User, n: int, *, first: int = 0) -> None:
    for i in range(first, first + n):
        acme = factories.account()
        anna, ben = factories.person(), factories.person()
        factories.membership(person=anna, account=acme)
        factories.membership(person=ben, account=acme)
        factories.owned(owner=owner, of=acme, since=days_ago(100))
        factories.owned(owner=owner, of=anna, since=days_ago(100))
        talk(people=[anna, ben], at=days_ago(40))
        factories.touch(person=anna, at=days_ago(20), kind="call", outcome="connected")
        factories.sent_mail(person=ben, sent_at=days_ago(15))
        factories.inbound_message(person=ben, at=days_ago(10))
        factories.booked_meeting(
            person=anna, host=owner, starts_at=days_ago(8) + dt.timedelta(hours=i)
        )
        promise(person=ben, due=days_ago(3))


def test_health_takes_the_same_number_of_queries_for_2_or_20_relationships(rep: User) -> None:
    _relationships(rep, 1)
    rep = User.objects.get(pk=rep.pk)
    with CaptureQueriesContext(connection) as few:
        small = health_of(owners=[rep], at=NOW)
    _relationships(rep, 9, first=1)
    with CaptureQueriesContext(connection) as many:
        large = health_of(owners=[rep], at=NOW)
    assert (len(small), len(large)) == (2, 20)
    assert len(many.captured_queries) == len(few.captured_queries) <= 12
    # Each account waits on Ben's mail and promise; each Anna met them a week ago.
    assert [h.kind for h in large if h.going_cold] == ["account"] * 10
    assert {(h.unanswered, h.broken) for h in large if h.kind == "account"} == {(1, 1)}
