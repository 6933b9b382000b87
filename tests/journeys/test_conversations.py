from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from leadline.core.models import TimelineEvent
from leadline.journeys.conversations import (
    conversation_log,
    pain_point_create,
    pain_point_decide,
    pain_point_update,
    person_functions,
)
from leadline.journeys.models import (
    ConversationKind,
    Journey,
    JourneyPosition,
    PainPoint,
    PainStatus,
)
from leadline.journeys.selectors import conversations_of, pain_point_tallies, pains_said
from leadline.journeys.services import journey_move
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def test_functions_come_from_the_title_and_own_words_as_whole_words() -> None:
    assert person_functions(factories.person(title="CFO")) == ["finance"]
    assert person_functions(factories.person(role_own_words="I run our IT director's office")) == [
        "it"
    ]
    assert person_functions(factories.person(role_own_words="I keep it running")) == []
    assert person_functions(factories.person(title="Head of Controlling")) == []


def test_a_call_with_finance_moves_the_buyer_past_building_the_case() -> None:
    rep = factories.user()
    champion = factories.person(title="Head of Operations")
    cfo = factories.person(title="CFO")
    journey = Journey.objects.get(is_default=True)
    journey_move(
        journey=journey, to_step=journey.steps.get(position=4), person=champion, moved_by=rep
    )

    conversation_log(
        kind=ConversationKind.CALL,
        summary="Walked through the business case with their CFO.",
        quotes="We lose a week every month-end.",
        people=[champion, cfo],
        sellers=[rep],
        logged_by=rep,
    )

    position = JourneyPosition.objects.get(journey=journey, person=champion)
    assert position.step.name == "Deciding"
    assert champion.journey_transitions.latest("id").signal_name == "Finance joined a call"
    said = TimelineEvent.objects.get(person=cfo, kind="conversation.call")
    assert said.summary == "Call: Walked through the business case with their CFO."
    assert said.data["quotes"] == "We lose a week every month-end."


def test_pain_points_named_in_a_conversation_are_suggested_then_confirmed_by_a_rep() -> None:
    rep = factories.user()
    person = factories.person()
    slow_close = PainPoint.objects.create(
        name="Slow month-end close", phrases="month-end\nclosing the books"
    )
    PainPoint.objects.create(name="Audit findings", phrases="auditor")
    conversation = conversation_log(
        kind=ConversationKind.MEETING,
        summary="Intro meeting.",
        quotes="Honestly, month-end is a nightmare. Everything else is fine.",
        people=[person],
        logged_by=rep,
    )
    (suggestion,) = conversation.pain_points.all()
    assert (suggestion.pain_point, suggestion.status) == (slow_close, PainStatus.SUGGESTED)
    assert suggestion.evidence == "Honestly, month-end is a nightmare."

    pain_point_decide(suggestion=suggestion, confirmed=True, decided_by=rep)
    assert TimelineEvent.objects.get(person=person, kind="pain_point.confirmed").summary == (
        "Said it hurts: Slow month-end close — “Honestly, month-end is a nightmare.”"
    )


def test_a_conversation_needs_a_summary_and_people() -> None:
    with pytest.raises(ValueError, match="summary"):
        conversation_log(kind="call", summary=" ", people=[factories.person()], logged_by=None)
    with pytest.raises(ValueError, match="people"):
        conversation_log(kind="call", summary="Hi", people=[], logged_by=None)


def test_the_prospects_own_words_are_the_evidence_when_they_name_the_pain() -> None:
    slow = PainPoint.objects.create(name="Slow month-end close", phrases="month-end")
    audit = PainPoint.objects.create(name="Audit findings", phrases="auditor")
    PainPoint.objects.create(name="Turned off", phrases="month-end", is_active=False)
    conversation = conversation_log(
        kind="call",
        summary="We talked about month-end. The auditor came up.",
        quotes="Month-end is brutal for us.",
        people=[factories.person()],
        logged_by=None,
    )
    found = {s.pain_point: s.evidence for s in conversation.pain_points.all()}
    assert found == {slow: "Month-end is brutal for us.", audit: "The auditor came up."}


def test_a_conversation_kind_must_be_one_we_know() -> None:
    with pytest.raises(ValueError, match="kind"):
        conversation_log(kind="visit", summary="Hi", people=[factories.person()], logged_by=None)


def test_a_decision_can_be_changed_and_the_same_one_twice_changes_nothing() -> None:
    rep = factories.user()
    person = factories.person()
    factories.pain_point(name="Audit findings", phrases="auditor")
    suggestion = factories.conversation(people=[person], summary="The auditor.").pain_points.get()

    pain_point_decide(suggestion=suggestion, confirmed=True, decided_by=rep)
    pain_point_decide(suggestion=suggestion, confirmed=True, decided_by=rep)
    assert TimelineEvent.objects.filter(person=person, kind="pain_point.confirmed").count() == 1
    pain_point_decide(suggestion=suggestion, confirmed=False, decided_by=rep)
    suggestion.refresh_from_db()
    assert suggestion.status == PainStatus.REJECTED
    assert pains_said(person=person) == []


def test_pain_points_are_checked_field_by_field() -> None:
    made = pain_point_create(
        name=" Slow close ",
        product="Ledger",
        phrases="month-end\n\n Month-End \nbooks",
        created_by=None,
    )
    assert (made.name, made.phrase_list()) == ("Slow close", ["month-end", "books"])
    with pytest.raises(ValidationError) as taken:
        pain_point_create(name="slow CLOSE", product="ledger", created_by=None)
    assert set(taken.value.message_dict) == {"name"}
    # The same name for another product is another pain point.
    pain_point_create(name="Slow close", product="Payroll", created_by=None)
    with pytest.raises(ValidationError) as short:
        pain_point_create(name="", phrases="ok", created_by=None)
    assert set(short.value.message_dict) == {"name", "phrases"}

    pain_point_update(pain_point=made, changes={"is_active": False}, changed_by=None)
    made.refresh_from_db()
    assert not made.is_active
    with pytest.raises(ValueError, match="not a pain point field"):
        pain_point_update(pain_point=made, changes={"id": 5}, changed_by=None)


def test_what_they_said_hurts_groups_their_confirmed_pains_newest_first() -> None:
    rep = factories.user()
    ann, other = factories.person(), factories.person()
    slow = factories.pain_point(name="Slow month-end close", phrases="month-end")
    audit = factories.pain_point(name="Audit findings", phrases="auditor")
    first = factories.conversation(
        people=[ann, other],
        summary="Month-end and the auditor.",
        quotes="Month-end takes twelve days.",
        occurred_at=dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC),
    )
    later = factories.conversation(
        people=[ann],
        summary="Follow-up on month-end.",
        occurred_at=dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC),
    )
    for suggestion in [*first.pain_points.all(), *later.pain_points.all()]:
        pain_point_decide(
            suggestion=suggestion, confirmed=suggestion.pain_point == slow, decided_by=rep
        )

    said = pains_said(person=ann)
    assert [s.pain_point for s in said] == [slow]
    mentions = said[0].mentions
    assert [m.conversation for m in mentions] == [later, first]
    assert [m.in_their_words for m in mentions] == [False, True]
    assert mentions[1].evidence == "Month-end takes twelve days."
    assert [s.pain_point for s in pains_said(person=other)] == [slow]

    tallies = {t.pain_point: t for t in pain_point_tallies()}
    assert (tallies[slow].confirmed, tallies[slow].rejected, tallies[slow].confirmed_share) == (
        2,
        0,
        100,
    )
    assert (tallies[audit].rejected, tallies[audit].confirmed_share) == (1, 0)


def test_an_accounts_conversations_include_those_with_any_of_its_people() -> None:
    account = factories.account()
    member = factories.person()
    factories.membership(person=member, account=account)
    with_member = factories.conversation(people=[member], summary="With a member")
    logged_on = factories.conversation(
        people=[factories.person()], summary="Logged on the account", account=account
    )
    factories.conversation(people=[factories.person()], summary="Elsewhere")
    found = [i.conversation for i in conversations_of(account=account)]
    assert sorted(c.pk for c in found) == sorted([with_member.pk, logged_on.pk])


@pytest.mark.parametrize(
    ("title", "functions"),
    [
        ("Accounts Payable Manager", ["finance"]),
        ("Senior Accountant", ["finance"]),
        ("Head of Tax", ["finance"]),
        ("Chief Financial Officer", ["finance"]),
        ("Head of IT", ["it"]),
        ("Audit Manager", []),  # an outside auditor, not a finance team
        ("Student", []),
    ],
)
def test_the_function_from_the_title(title: str, functions: list[str]) -> None:
    assert person_functions(factories.person(title=title)) == functions
