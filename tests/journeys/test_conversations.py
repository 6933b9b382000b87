from __future__ import annotations

import pytest

from leadline.core.models import TimelineEvent
from leadline.journeys.conversations import (
    conversation_log,
    pain_point_decide,
    person_functions,
)
from leadline.journeys.models import (
    ConversationKind,
    Journey,
    JourneyPosition,
    PainPoint,
    PainStatus,
)
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
