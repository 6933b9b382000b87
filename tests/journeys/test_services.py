from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import AuditEntry, Person, Role, TimelineEvent
from leadline.journeys.models import Journey, JourneyPosition, JourneyTransition
from leadline.journeys.services import journey_move, signals_evaluate
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10


def default_journey() -> Journey:
    return Journey.objects.get(is_default=True)


def step_of(person: Person) -> str:
    return JourneyPosition.objects.get(journey=default_journey(), person=person).step.name


def test_signals_move_a_person_as_far_as_their_events_show_and_say_which() -> None:
    person = factories.person()
    factories.buyer_event(person=person, name="form_submitted", at=NOW - dt.timedelta(days=3))
    factories.buyer_event(
        person=person, name="page_view", path="/pricing", at=NOW - dt.timedelta(days=2)
    )
    factories.buyer_event(
        person=person, name="page_view", path="/pricing", at=NOW - dt.timedelta(hours=1)
    )

    signals_evaluate(person_ids=[person.pk])

    assert step_of(person) == "Comparing vendors"
    moves = list(
        JourneyTransition.objects.filter(person=person)
        .order_by("id")
        .values_list("from_step__name", "to_step__name", "cause", "signal_name")
    )
    assert moves == [
        (None, "Noticing a problem", "start", ""),
        ("Noticing a problem", "Exploring ways to solve it", "signal", "Read a guide"),
        ("Exploring ways to solve it", "Comparing vendors", "signal", "Visited pricing twice"),
    ]
    said = TimelineEvent.objects.filter(person=person, kind="journey.moved").order_by("id")
    assert said.last().summary == (  # type: ignore[union-attr]
        "Moved to “Comparing vendors” (The buyer's journey) — signal: Visited pricing twice"
    )
    last = JourneyTransition.objects.filter(person=person).latest("id")
    assert said.last().data["transition_id"] == last.pk  # type: ignore[union-attr]
    assert last.evidence == {"events": sorted(last.evidence["events"])}
    assert len(last.evidence["events"]) == 2
    # Nothing new: nobody moves again.
    assert signals_evaluate(person_ids=[person.pk]) == []


def test_visits_outside_the_window_do_not_move_anyone() -> None:
    person = factories.person()
    factories.buyer_event(person=person, name="form_submitted", at=NOW - dt.timedelta(days=60))
    for days in (45, 40):
        factories.buyer_event(
            person=person, name="page_view", path="/pricing", at=NOW - dt.timedelta(days=days)
        )
    signals_evaluate(person_ids=[person.pk])
    assert step_of(person) == "Exploring ways to solve it"


def test_a_move_back_by_hand_is_recorded_and_earlier_signals_no_longer_count() -> None:
    rep = factories.user(role=Role.SALES_REP, first_name="Rosa", last_name="Lind")
    person = factories.person()
    factories.buyer_event(person=person, name="form_submitted", at=NOW - dt.timedelta(days=1))
    signals_evaluate(person_ids=[person.pk])
    assert step_of(person) == "Exploring ways to solve it"

    first = default_journey().steps.get(position=1)
    moved = journey_move(
        journey=default_journey(),
        to_step=first,
        person=person,
        moved_by=rep,
        note="They are still sizing the problem",
    )
    assert (moved.from_step.name, moved.cause, moved.moved_by) == (  # type: ignore[union-attr]
        "Exploring ways to solve it",
        "user",
        rep,
    )
    assert AuditEntry.objects.filter(action="journey.move", object_id=str(moved.pk)).exists()
    assert TimelineEvent.objects.filter(
        person=person, summary__startswith="Moved back to “Noticing a problem”"
    ).exists()

    signals_evaluate(person_ids=[person.pk])
    assert step_of(person) == "Noticing a problem"  # the old download is weighed already

    with clock.frozen_at(NOW + dt.timedelta(hours=1)):
        factories.buyer_event(person=person, name="form_submitted")
        signals_evaluate(person_ids=[person.pk])
    assert step_of(person) == "Exploring ways to solve it"


def test_a_move_to_the_step_they_are_at_or_onto_another_journey_is_refused() -> None:
    rep = factories.user()
    person = factories.person()
    signals_evaluate(person_ids=[person.pk])
    journey = default_journey()
    with pytest.raises(ValueError, match="already at"):
        journey_move(
            journey=journey, to_step=journey.steps.get(position=1), person=person, moved_by=rep
        )
    other = Journey.objects.create(name="Renewals", slug="renewals")
    elsewhere = other.steps.create(position=1, name="Reviewing the year")
    with pytest.raises(ValueError, match="not on the journey"):
        journey_move(journey=journey, to_step=elsewhere, person=person, moved_by=rep)


def test_the_account_follows_its_furthest_person_and_never_back() -> None:
    account = factories.account()
    ahead, behind = factories.person(), factories.person()
    for person in (ahead, behind):
        factories.membership(person=person, account=account)
    factories.buyer_event(person=ahead, name="form_submitted")
    factories.buyer_event(person=ahead, name="contact_requested")

    signals_evaluate(person_ids=[ahead.pk, behind.pk])

    group = JourneyPosition.objects.get(journey=default_journey(), account=account)
    assert group.step.name == "Comparing vendors"
    move = JourneyTransition.objects.filter(account=account).latest("id")
    assert (move.signal_name, move.note) == ("Asked to be contacted", f"via {ahead}")

    factories.buyer_event(person=behind, name="form_submitted")
    signals_evaluate(person_ids=[behind.pk])
    group.refresh_from_db()
    assert group.step.name == "Comparing vendors"


def test_a_form_with_the_contact_box_is_two_signals_and_moves_the_person(
    client: Client, run_worker: Any
) -> None:
    form = factories.form()
    data = factories.submission_data(email="nadia@lindgren.example", contact_me=True)
    response = client.post(
        f"/f/{form.slug}/", data=json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 201
    run_worker()

    person = Person.objects.get(emails__email="nadia@lindgren.example")
    assert step_of(person) == "Comparing vendors"
    assert set(person.events.values_list("name", flat=True)) == {
        "form_submitted",
        "contact_requested",
    }
