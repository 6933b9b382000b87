"""Engagement's services on a stopped clock: lifecycle history, the qualification sweep, the
handoff's deadline in business hours and its escalation, decisions and opportunities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import TimelineEvent
from leadline.engagement import services
from leadline.engagement.models import (
    Handoff,
    HandoffStatus,
    HandoffStep,
    HandoffTimer,
    LifecycleChange,
    Opportunity,
    Stage,
)
from leadline.engagement.selectors import handoff_timer_next_due, people_at_stage
from leadline.notify.models import InboxItem
from leadline.routing.models import Ownership
from tests import factories
from tests.engagement.conftest import Sales

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def history(person: object) -> list[tuple[str, str]]:
    return list(
        LifecycleChange.objects.filter(person=person)
        .order_by("at", "id")
        .values_list("from_stage", "to_stage")
    )


# Lifecycle ----------------------------------------------------------------------------------------


def test_a_move_is_a_change_row_and_a_timeline_row_and_moving_again_to_it_is_nothing() -> None:
    person = factories.person()
    assert services.lifecycle_set(
        person=person, stage=Stage.ENGAGED, reason="Opened 3 mails", actor=None
    )
    assert not services.lifecycle_set(
        person=person, stage=Stage.ENGAGED, reason="Again", actor=None
    )
    assert history(person) == [("", "engaged")]
    event = TimelineEvent.objects.get(person=person, kind="lifecycle.changed")
    assert event.data == {"from": "subscriber", "to": "engaged"}
    assert event.summary == "no stage → Engaged: Opened 3 mails"
    assert list(people_at_stage(stage=Stage.ENGAGED)) == [person]
    assert person not in people_at_stage(stage=Stage.SUBSCRIBER)


def test_a_move_needs_a_known_stage_and_a_reason() -> None:
    person = factories.person()
    with pytest.raises(ValidationError) as bad_stage:
        services.lifecycle_set(person=person, stage="hot", reason="x", actor=None)
    assert "stage" in bad_stage.value.message_dict
    with pytest.raises(ValidationError) as no_reason:
        services.lifecycle_set(person=person, stage=Stage.ENGAGED, reason="  ", actor=None)
    assert "reason" in no_reason.value.message_dict
    assert not LifecycleChange.objects.exists()


# The qualification sweep --------------------------------------------------------------------------


def test_crossing_the_thresholds_hands_over_exactly_once(sales: Sales) -> None:
    # Fit 5 of 5; interest 8 (contact) + 2 pricing visits (6) = 14: engaged, not yet qualified.
    person = factories.qualified_lead(at=NOW - HOUR, pricing_views=2)
    Ownership.objects.create(owner=sales.rita, person=person)
    assert services.qualification_sweep() == 1
    assert history(person) == [("", "engaged")]
    assert not Handoff.objects.exists()

    factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW)  # 17
    assert services.qualification_sweep() == 1
    assert services.qualification_sweep() == 0  # nothing new: nobody looked at again
    services.qualification_evaluate(person_ids=[person.pk])  # evaluated again: no second one
    [handoff] = Handoff.objects.all()
    assert (handoff.person, handoff.trigger, handoff.owner) == (person, "threshold", sales.rita)
    assert history(person) == [("", "engaged"), ("engaged", "marketing_qualified")]
    reason = LifecycleChange.objects.filter(person=person).last()
    assert reason is not None
    assert reason.reason == (
        "Crossed the thresholds: fit 5 of 5 (at least 4), interest 17 (at least 15)"
    )
    # Copied from the request, for the report.
    assert (handoff.campaign, handoff.source, handoff.form_name) == (
        "Q4 finance push",
        "linkedin",
        "Get the CFO's guide",
    )
    [item] = InboxItem.objects.filter(user=sales.rita, kind="handoff.created")
    assert item.title.startswith("New lead to accept or reject by Tue 24 Nov 10:00")


def test_the_thresholds_come_from_settings(settings: object, sales: Sales) -> None:
    person = factories.qualified_lead(at=NOW - HOUR, pricing_views=2)  # interest just under 14
    settings.MQL_INTEREST_MIN = 13  # type: ignore[attr-defined]
    services.qualification_sweep()
    assert Handoff.objects.filter(person=person, trigger="threshold").count() == 1


def test_a_poor_fit_with_high_interest_is_engaged_not_handed_over(sales: Sales) -> None:
    person = factories.person(title="Student")
    factories.membership(person=person, account=factories.account(employees=10, industry="Media"))
    factories.person_request(person=person, wants_contact=True, created_at=NOW - HOUR)
    for _ in range(5):
        factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW)
    services.qualification_sweep()
    assert history(person) == [("", "engaged")]
    assert not Handoff.objects.exists()


def test_a_recycled_lead_qualifies_again_only_on_what_it_does_afterwards(sales: Sales) -> None:
    person = factories.qualified_lead(at=NOW - HOUR)
    services.lifecycle_set(person=person, stage=Stage.RECYCLED, reason="No budget", actor=None)
    services.qualification_evaluate(person_ids=[person.pk])
    assert not Handoff.objects.exists()  # the old signals do not count twice

    later = NOW + DAY
    with clock.frozen_at(later):
        factories.person_request(person=person, wants_contact=True, created_at=later)
        for _ in range(3):
            factories.buyer_event(person=person, name="page_view", path="/pricing", at=later)
        services.qualification_sweep()
    assert Handoff.objects.filter(person=person).count() == 1


# The handoff --------------------------------------------------------------------------------------


def test_the_deadline_is_one_business_day_friday_afternoon_is_monday_afternoon(
    sales: Sales,
) -> None:
    friday_15 = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    with clock.frozen_at(friday_15):
        handoff = factories.handoff(owner=sales.rita, actor=sales.marketer)
    monday_15 = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
    assert handoff.due_at == monday_15
    timers = {t.step: t.due_at for t in HandoffTimer.objects.filter(handoff=handoff)}
    assert timers == {
        HandoffStep.REMIND: monday_15 - 2 * HOUR,
        HandoffStep.EXPIRE: monday_15,
        # 4 business hours later: 2 on Monday, 2 on Tuesday morning.
        HandoffStep.REASSIGN: dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC),
    }


def test_the_deadline_follows_the_owners_team_hours(sales: Sales) -> None:
    sales.team.working_hours = "Mon-Thu 08:00-12:00"
    sales.team.time_zone = "Europe/Berlin"
    sales.team.save()
    with clock.frozen_at(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)):  # Thu 11:00 Berlin
        handoff = factories.handoff(owner=sales.rita)
    assert handoff.due_at == dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)  # Mon 11:00 Berlin


def test_while_a_handoff_is_open_handing_over_again_returns_it(sales: Sales) -> None:
    person = factories.person()
    first = factories.handoff(person=person, owner=sales.rita, actor=sales.marketer)
    again = factories.handoff(person=person, trigger="appointment", actor=None)
    assert again.pk == first.pk
    assert Handoff.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="handoff.created").count() == 1


def test_without_an_owner_the_persons_owner_decides(sales: Sales) -> None:
    person = factories.person()
    Ownership.objects.create(owner=sales.tom, person=person)
    assert factories.handoff(person=person).owner == sales.tom
    nobodys = factories.handoff()  # nobody owns them: the sales manager holds it
    assert nobodys.owner == sales.manager


def test_escalation_reminds_then_tells_the_manager_then_hands_on(sales: Sales) -> None:
    person = factories.person(first_name="Ann", last_name="Lee")
    handoff = factories.handoff(person=person, owner=sales.rita, actor=sales.marketer)
    due = NOW + DAY  # Tuesday 10:00
    assert handoff_timer_next_due() == due - 2 * HOUR

    def fire(at: dt.datetime) -> int:
        with clock.frozen_at(at):
            return services.handoff_timers_fire_due()

    assert fire(due - 2 * HOUR - dt.timedelta(seconds=1)) == 0
    assert fire(due - 2 * HOUR) == 1
    assert InboxItem.objects.filter(user=sales.rita, kind="handoff.reminder").count() == 1

    assert fire(due) == 1
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.EXPIRED
    [heard] = InboxItem.objects.filter(user=sales.manager, kind="handoff.expired")
    assert heard.title == "Handoff not decided in time: Ann Lee"
    assert TimelineEvent.objects.filter(person=person, kind="handoff.expired").exists()

    assert fire(due + 4 * HOUR) == 1  # 14:00: four business hours on
    handoff.refresh_from_db()
    assert (handoff.owner, handoff.status, handoff.round) == (sales.tom, HandoffStatus.OPEN, 1)
    assert handoff.due_at == due + 4 * HOUR + DAY
    assert InboxItem.objects.filter(user=sales.tom, kind="handoff.created").count() == 1

    # Tom misses it too (remind, expire, hand on: 3 steps): next the manager, then nobody is left.
    def last_step() -> dt.datetime:
        return HandoffTimer.objects.filter(handoff=handoff).latest("due_at").due_at

    assert last_step() == dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)  # Wed 14:00 + 4 h
    assert fire(last_step()) == 3
    handoff.refresh_from_db()
    assert (handoff.owner, handoff.round) == (sales.manager, 2)
    assert fire(last_step()) == 3
    handoff.refresh_from_db()
    assert (handoff.owner, handoff.round, handoff.status) == (sales.manager, 2, "expired")
    last = HandoffTimer.objects.filter(handoff=handoff, step=HandoffStep.REASSIGN).latest("round")
    assert last.outcome == "skipped: nobody else to hand it to"


def test_a_decision_makes_the_remaining_steps_unneeded(sales: Sales) -> None:
    handoff = factories.handoff(owner=sales.rita)
    services.handoff_accept(handoff=handoff, actor=sales.rita)
    with clock.frozen_at(NOW + 3 * DAY):
        assert services.handoff_timers_fire_due() == 0
    assert set(HandoffTimer.objects.values_list("outcome", flat=True)) == {"not needed: accepted"}
    assert not InboxItem.objects.filter(kind__in=["handoff.reminder", "handoff.expired"]).exists()


def test_rejecting_needs_a_reason_and_words_and_stores_nothing_without(sales: Sales) -> None:
    handoff = factories.handoff(owner=sales.rita)
    with pytest.raises(ValidationError) as refused:
        services.handoff_reject(handoff=handoff, actor=sales.rita, reason=None, reason_text=" ")
    assert set(refused.value.message_dict) == {"reason", "reason_text"}
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.OPEN
    assert not TimelineEvent.objects.filter(kind="handoff.rejected").exists()


@pytest.mark.parametrize(
    ("reason", "stage"),
    [("No budget / no project", Stage.RECYCLED), ("Duplicate", Stage.DISQUALIFIED)],
)
def test_a_rejection_recycles_or_disqualifies_as_its_reason_says(
    sales: Sales, reason: str, stage: str
) -> None:
    handoff = factories.handoff(owner=sales.rita)
    services.handoff_reject(
        handoff=handoff,
        actor=sales.rita,
        reason=factories.rejection_reason(name=reason),
        reason_text="Spoke to them",
    )
    assert history(handoff.person)[-1] == ("marketing_qualified", stage)
    event = TimelineEvent.objects.get(kind="handoff.rejected")
    assert event.data["reason"] == reason
    assert event.data["reason_text"] == "Spoke to them"
    with pytest.raises(ValidationError):  # decided once
        services.handoff_accept(handoff=handoff, actor=sales.rita)


def test_accepting_opens_an_opportunity_and_winning_it_makes_a_customer(sales: Sales) -> None:
    handoff = factories.handoff(owner=sales.rita)
    opportunity = services.handoff_accept(
        handoff=handoff, actor=sales.rita, amount=Decimal("12000")
    )
    assert (opportunity.owner, opportunity.status, opportunity.amount) == (
        sales.rita,
        "open",
        Decimal("12000"),
    )
    person = handoff.person
    assert history(person)[-2:] == [
        ("marketing_qualified", "sales_accepted"),
        ("sales_accepted", "opportunity"),
    ]
    with pytest.raises(ValidationError) as bad:
        services.opportunity_close(opportunity=opportunity, outcome="maybe", actor=sales.rita)
    assert "outcome" in bad.value.message_dict
    services.opportunity_close(
        opportunity=opportunity, outcome="won", amount=Decimal("15000"), actor=sales.rita
    )
    opportunity.refresh_from_db()
    assert (opportunity.status, opportunity.amount) == ("won", Decimal("15000.00"))
    assert history(person)[-1] == ("opportunity", "customer")
    assert Opportunity.objects.count() == 1


def test_a_lost_deal_goes_back_to_nurture(sales: Sales) -> None:
    opportunity = services.handoff_accept(
        handoff=factories.handoff(owner=sales.rita), actor=sales.rita
    )
    services.opportunity_close(
        opportunity=opportunity, outcome="lost", actor=sales.rita, note="Chose a rival"
    )
    assert history(opportunity.person)[-1] == ("opportunity", "recycled")


def test_rejection_reasons_are_a_managed_list(sales: Sales) -> None:
    made = services.rejection_reason_save(
        reason=None, name="  Wrong  country ", sends_to_nurture=False, actor=sales.manager
    )
    assert made.name == "Wrong country"
    with pytest.raises(ValidationError) as clash:
        services.rejection_reason_save(
            reason=None, name="wrong country", sends_to_nurture=True, actor=None
        )
    assert "name" in clash.value.message_dict
    services.rejection_reason_save(
        reason=made, name="Wrong country", sends_to_nurture=False, is_active=False, actor=None
    )
    handoff = factories.handoff(owner=sales.rita)
    with pytest.raises(ValidationError) as off:
        services.handoff_reject(handoff=handoff, actor=sales.rita, reason=made, reason_text="x")
    assert "reason" in off.value.message_dict
