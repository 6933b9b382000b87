"""Who starts on which journey: start signals put people on a product's or a segment's journey
by themselves; the default journey keeps starting everyone; taking someone off by hand holds."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.core import clock
from leadline.core.models import AuditEntry, Person, TimelineEvent
from leadline.journeys.models import (
    Journey,
    JourneyPosition,
    JourneyRemoval,
    JourneyTransition,
    TransitionCause,
)
from leadline.journeys.selectors import journeys_now, transition_why
from leadline.journeys.services import journey_import, journey_remove, signals_evaluate
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10


def payroll() -> Journey:
    return journey_import(
        data={
            "name": "Payroll",
            "audience": "Payroll — firms of 50 to 500",
            "start_signals": [
                {
                    "name": "Trial of payroll",
                    "event": "trial_started",
                    "properties": {"plan": "payroll"},
                },
                {
                    "name": "Read about payroll twice",
                    "event": "page_view",
                    "path_contains": "/payroll",
                    "count": 2,
                    "within_days": 30,
                },
            ],
            "steps": [
                {
                    "name": "Dreading the month end",
                    "exit_signals": [{"name": "Asked for a demo", "event": "demo_requested"}],
                },
                {"name": "Comparing payroll tools"},
            ],
        },
        actor=None,
    )


def where(person: Person, journey: Journey) -> str | None:
    found = JourneyPosition.objects.filter(journey=journey, person=person).first()
    return found.step.name if found is not None else None


def test_a_start_signal_puts_a_person_on_the_journey_and_says_which_rule_and_events() -> None:
    journey = payroll()
    person = factories.person()
    older = factories.buyer_event(
        person=person, name="page_view", path="/payroll/features", at=NOW - dt.timedelta(days=3)
    )
    newer = factories.buyer_event(
        person=person, name="page_view", path="/payroll/pricing", at=NOW - dt.timedelta(days=1)
    )
    factories.buyer_event(person=person, name="page_view", path="/blog")

    signals_evaluate(person_ids=[person.pk])

    assert where(person, journey) == "Dreading the month end"
    start = JourneyTransition.objects.get(journey=journey, person=person)
    assert (start.from_step, start.cause, start.signal_name) == (
        None,
        TransitionCause.START,
        "Read about payroll twice",
    )
    assert start.evidence["events"] == [older.pk, newer.pk]
    assert start.evidence["rule"]["path_contains"] == "/payroll"
    assert transition_why(start) == "Start signal: Read about payroll twice"
    said = TimelineEvent.objects.get(
        person=person, kind="journey.moved", data__journey_id=journey.pk
    )
    assert said.summary == (
        "Started on Payroll — Read about payroll twice "
        "(2 page views, the latest of /payroll/pricing on 22 Nov 2026)"
    )
    # The default journey starts them too, as it always has, with no signal named.
    default = Journey.objects.get(is_default=True)
    assert where(person, default) == "Noticing a problem"
    plain = JourneyTransition.objects.get(journey=default, person=person)
    assert (plain.cause, plain.signal_name) == (TransitionCause.START, "")

    # Idempotent: nothing new, nobody moves; new matching events do not start them twice.
    assert signals_evaluate(person_ids=[person.pk]) == []
    factories.buyer_event(person=person, name="page_view", path="/payroll/faq")
    assert signals_evaluate(person_ids=[person.pk]) == []
    assert JourneyTransition.objects.filter(journey=journey, person=person).count() == 1


def test_the_first_start_signal_that_holds_is_the_one_named_and_exit_signals_then_apply() -> None:
    journey = payroll()
    person = factories.person()
    factories.buyer_event(person=person, name="page_view", path="/payroll")
    factories.buyer_event(person=person, name="page_view", path="/payroll")
    trial = factories.buyer_event(
        person=person, name="trial_started", properties={"plan": "payroll"}
    )
    factories.buyer_event(person=person, name="demo_requested")

    moved = signals_evaluate(person_ids=[person.pk])

    on_payroll = [(m.cause, m.signal_name) for m in moved if m.journey_id == journey.pk]
    assert on_payroll == [
        (TransitionCause.START, "Trial of payroll"),
        (TransitionCause.SIGNAL, "Asked for a demo"),
    ]
    start = JourneyTransition.objects.get(journey=journey, person=person, cause="start")
    assert start.evidence["events"] == [trial.pk]
    assert TimelineEvent.objects.filter(
        person=person,
        summary="Started on Payroll — Trial of payroll (“trial_started” event on 23 Nov 2026)",
    ).exists()
    assert where(person, journey) == "Comparing payroll tools"


def test_nobody_starts_without_a_signal_and_a_journey_without_start_signals_is_by_hand() -> None:
    journey = payroll()
    by_hand = journey_import(
        data={"name": "Renewals", "steps": [{"name": "Reviewing the year"}]}, actor=None
    )
    person = factories.person()
    factories.buyer_event(person=person, name="page_view", path="/payroll")  # once: not enough
    factories.buyer_event(
        person=person, name="trial_started", properties={"plan": "crm"}
    )  # another plan
    factories.buyer_event(  # twice, but too long ago
        person=person, name="page_view", path="/payroll", at=NOW - dt.timedelta(days=45)
    )

    signals_evaluate(person_ids=[person.pk])

    assert where(person, journey) is None
    assert where(person, by_hand) is None
    assert where(person, Journey.objects.get(is_default=True)) == "Noticing a problem"


def test_an_inactive_journey_starts_nobody() -> None:
    journey = payroll()
    Journey.objects.filter(pk=journey.pk).update(is_active=False)
    person = factories.person()
    factories.buyer_event(person=person, name="trial_started", properties={"plan": "payroll"})
    signals_evaluate(person_ids=[person.pk])
    assert where(person, journey) is None


def test_someone_taken_off_by_hand_is_not_put_back_by_old_events_only_by_new_ones() -> None:
    rep = factories.user(first_name="Rosa", last_name="Lind")
    journey = payroll()
    person = factories.person()
    factories.buyer_event(
        person=person,
        name="trial_started",
        properties={"plan": "payroll"},
        at=NOW - dt.timedelta(hours=2),
    )
    factories.buyer_event(person=person, name="demo_requested", at=NOW - dt.timedelta(hours=1))
    signals_evaluate(person_ids=[person.pk])
    assert where(person, journey) == "Comparing payroll tools"

    removal = journey_remove(journey=journey, person=person, removed_by=rep, note="Not payroll")
    assert where(person, journey) is None
    assert (removal.step_name, removal.removed_by, removal.note) == (
        "Comparing payroll tools",
        rep,
        "Not payroll",
    )
    assert TimelineEvent.objects.filter(
        person=person,
        kind="journey.removed",
        summary="Taken off Payroll (was at “Comparing payroll tools”) — by Rosa Lind",
    ).exists()
    assert AuditEntry.objects.filter(action="journey.remove", object_id=str(removal.pk)).exists()
    # History stays.
    assert JourneyTransition.objects.filter(journey=journey, person=person).count() == 2

    with clock.frozen_at(NOW + dt.timedelta(minutes=5)):
        assert signals_evaluate(person_ids=[person.pk]) == []
    assert where(person, journey) is None

    # A new trial after the removal is a new reason: they start again, and only the events
    # since the removal count for moving on (the old demo request does not).
    with clock.frozen_at(NOW + dt.timedelta(days=1)):
        factories.buyer_event(person=person, name="trial_started", properties={"plan": "payroll"})
        moved = signals_evaluate(person_ids=[person.pk])
    assert [(m.cause, m.signal_name) for m in moved] == [("start", "Trial of payroll")]
    assert where(person, journey) == "Dreading the month end"


def test_someone_taken_off_the_default_journey_is_not_started_on_it_again() -> None:
    rep = factories.user()
    default = Journey.objects.get(is_default=True)
    person = factories.person()
    signals_evaluate(person_ids=[person.pk])
    journey_remove(journey=default, person=person, removed_by=rep)
    with clock.frozen_at(NOW + dt.timedelta(hours=1)):
        factories.buyer_event(person=person, name="form_submitted")
        assert signals_evaluate(person_ids=[person.pk]) == []
    assert where(person, default) is None
    # Someone else still starts on it, as before.
    other = factories.person()
    signals_evaluate(person_ids=[other.pk])
    assert where(other, default) == "Noticing a problem"


def test_taking_off_someone_not_on_the_journey_is_refused() -> None:
    journey = payroll()
    person = factories.person()
    with pytest.raises(ValueError, match="not on the journey"):
        journey_remove(journey=journey, person=person, removed_by=factories.user())
    assert not JourneyRemoval.objects.exists()


def test_the_account_follows_its_person_on_a_journey_they_started_by_signal() -> None:
    journey = payroll()
    account = factories.account()
    person = factories.person()
    factories.membership(person=person, account=account)
    factories.buyer_event(person=person, name="trial_started", properties={"plan": "payroll"})
    factories.buyer_event(person=person, name="demo_requested")
    signals_evaluate(person_ids=[person.pk])
    group = JourneyPosition.objects.get(journey=journey, account=account)
    assert group.step.name == "Comparing payroll tools"


def test_the_journey_list_reads_the_start_signals_in_words() -> None:
    payroll()
    (now,) = journeys_now(slug="payroll")
    assert [(s.name, s.words) for s in now.starts] == [
        ("Trial of payroll", "1 “trial_started” event, plan = payroll"),
        (
            "Read about payroll twice",
            "2 page views of a page whose address contains “/payroll” within 30 days",
        ),
    ]
