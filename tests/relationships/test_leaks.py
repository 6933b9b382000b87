"""Nothing is left with someone who has gone, and nothing new is given to them."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from leadline.booking.models import Meeting
from leadline.booking.services import meeting_book
from leadline.cadences.models import EnrolmentLog
from leadline.cadences.services import enrolment_step_run, manual_task_create
from leadline.calls.services import call_task_create
from leadline.commitments.services import Promise, commitments_record
from leadline.core import clock
from leadline.core.selectors import unassignable_because
from leadline.engagement.models import Opportunity
from leadline.engagement.services import handoff_accept
from leadline.notify.models import OutgoingMail
from leadline.relationships.leaks import inactive_owner_leaks
from leadline.relationships.models import HandoverPlan
from leadline.relationships.services import (
    handover_plan_apply,
    handover_plan_create,
    handovers_complete_due,
)
from leadline.routing.models import Ownership
from leadline.routing.services import user_deactivate
from tests import factories

pytestmark = pytest.mark.django_db
NOW = factories.MONDAY_10
LEAVES = NOW + dt.timedelta(days=5)


@pytest.fixture(autouse=True)
def _frozen() -> object:
    with clock.frozen_at(NOW):
        yield


def _leaving(user: Any, when: dt.datetime = LEAVES) -> Any:
    type(user).objects.filter(pk=user.pk).update(departs_at=when)
    user.refresh_from_db()
    return user


def test_unassignable_because() -> None:
    rep = factories.user()
    assert unassignable_because(rep) is None
    _leaving(rep)
    assert unassignable_because(rep) is None  # not yet: the day has not come
    assert unassignable_because(rep, at=LEAVES) == "left on 28 Nov"
    rep.is_active = False
    assert unassignable_because(rep) == "deactivated"


def _holdings(leaver: Any) -> dict[str, Any]:
    """One of every kind of thing a seller can hold."""
    ana = factories.prospect(owner=leaver, first_name="Ana", last_name="Silva")
    acme = factories.account(name="Acme")
    factories.membership(person=ana, account=acme)
    Ownership.objects.create(owner=leaver, account=acme, reason="tests")
    bo = factories.person(first_name="Bo", last_name="Lee")
    return {
        "ana": ana,
        "deal": factories.deal(person=ana, owner=leaver, name="Pilot"),
        "handoff": factories.handoff(person=bo, owner=leaver),
        "enrolment": factories.enrolment(person=ana, owner_at_enrolment=leaver),
        "commitment": factories.commitment(person=ana, promised_by=leaver),
        "meeting": Meeting.objects.create(
            host=leaver,
            person=ana,
            starts_at=LEAVES + dt.timedelta(days=3),
            ends_at=LEAVES + dt.timedelta(days=3, minutes=30),
            title="Review",
            uid="leak-1@test",
        ),
        "call": factories.call_task(person=ana, assignee=leaver),
        "task": manual_task_create(person=ana, assignee=leaver, title="Send a card"),
        "page": factories.booking_page(host=leaver),
    }


def _kinds(at: dt.datetime) -> set[str]:
    return {leak.kind for leak in inactive_owner_leaks(at=at)}


def test_every_kind_of_leak_is_found_once_the_day_has_come() -> None:
    leaver = factories.user(first_name="Leo", last_name="Vance")
    held = _holdings(leaver)
    _leaving(leaver)
    assert inactive_owner_leaks() == []  # before the day they still hold them, rightly

    leaks = inactive_owner_leaks(at=LEAVES)
    assert {leak.kind for leak in leaks} == {
        "ownership",
        "opportunity",
        "handoff",
        "enrolment",
        "commitment",
        "meeting",
        "call_task",
        "manual_task",
        "booking_page",
    }
    assert {leak.why for leak in leaks} == {"left on 28 Nov"}
    assert all(leak.owner == leaver for leak in leaks)
    by_kind = {(leak.kind, leak.object_id) for leak in leaks}
    assert ("opportunity", held["deal"].pk) in by_kind
    assert ("commitment", held["commitment"].pk) in by_kind
    assert ("meeting", held["meeting"].pk) in by_kind

    user_deactivate(user=leaver, actor=None)
    assert {leak.why for leak in inactive_owner_leaks()} == {"deactivated"}


def test_leaks_are_gone_once_handed_over() -> None:
    manager = factories.user(role="sales_manager")
    squad = factories.team(manager=manager)
    leaver = factories.user(first_name="Leo", last_name="Vance", team=squad)
    factories.user(first_name="Rita", last_name="Santos", team=squad)
    held = _holdings(leaver)
    plan = handover_plan_create(user=leaver, kind="leaving", effective_at=LEAVES, actor=manager)
    result = handover_plan_apply(plan_id=plan.pk, actor=manager)
    assert result.applied, result.problems
    with clock.frozen_at(LEAVES):
        handovers_complete_due()
    plan = HandoverPlan.objects.get(pk=plan.pk)
    assert plan.completed_at is not None
    # Booking pages are not handover items: a leaver's page is only closed by hand (reported).
    held["page"].active = False
    held["page"].save()
    assert inactive_owner_leaks(at=LEAVES) == []


def test_the_command_lists_them_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    leaver = factories.user(first_name="Leo", last_name="Vance")
    factories.deal(person=factories.person(), owner=leaver, name="Pilot")
    out = StringIO()
    call_command("leaks", stdout=out)
    assert out.getvalue().strip().endswith("0 dropped leads")

    user_deactivate(user=leaver, actor=None)
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("leaks", stdout=out)
    assert exit_info.value.code == 1
    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith("opportunity ")
    assert "held by Leo Vance, deactivated" in lines[0]
    assert lines[-2] == "1 records held by people who have left"
    assert lines[-1] == "0 dropped leads"


# Guards: nothing new for someone who has gone ----------------------------------------------------


def _gone() -> Any:
    return _leaving(factories.user(first_name="Leo", last_name="Vance"), NOW)


def _field(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_no_promise_in_the_name_of_a_leaver() -> None:
    leaver = _gone()
    with pytest.raises(ValidationError) as exc:
        factories.commitment(promised_by=leaver)
    assert _field(exc) == {"promised_by": ["Leo Vance cannot take this (left on 23 Nov)."]}
    conversation = factories.conversation(people=[factories.person()])
    with pytest.raises(ValidationError) as exc:
        commitments_record(
            conversation=conversation,
            person=conversation.people.get(),
            promised_by=leaver,
            promises=[Promise(what="Call back", due_at=NOW + dt.timedelta(days=1))],
        )
    assert list(_field(exc)) == ["promised_by"]


def test_no_call_task_or_manual_task_for_a_leaver() -> None:
    leaver = _gone()
    with pytest.raises(ValidationError) as exc:
        call_task_create(person=factories.person(), title="Call", due_at=NOW, assignee=leaver)
    assert list(_field(exc)) == ["assignee"]
    with pytest.raises(ValidationError) as exc:
        manual_task_create(person=factories.person(), assignee=leaver, title="Card")
    assert list(_field(exc)) == ["assignee"]


def test_no_handoff_or_deal_for_a_leaver() -> None:
    leaver = _gone()
    with pytest.raises(ValidationError) as exc:
        factories.handoff(owner=leaver)
    assert _field(exc) == {"owner": ["Leo Vance cannot take this (left on 23 Nov)."]}
    handoff = factories.handoff(owner=factories.user())
    with pytest.raises(ValidationError) as exc:
        handoff_accept(handoff=handoff, actor=leaver)
    assert list(_field(exc)) == ["owner"]
    assert not Opportunity.objects.exists()


def test_a_handoff_does_not_go_to_a_departed_owner() -> None:
    leaver = _gone()
    ana = factories.prospect(owner=leaver)
    handoff = factories.handoff(person=ana)
    assert handoff.owner != leaver


def test_a_leavers_booking_page_takes_no_bookings(client: Any) -> None:
    page = factories.booking_page()
    assert page.user is not None
    factories.bookable_hours(host=page.user)
    _leaving(page.user, NOW)
    with pytest.raises(ValidationError) as exc:
        meeting_book(
            page=page, starts_at=NOW + dt.timedelta(hours=1), name="A", email="a@x.example"
        )
    assert list(_field(exc)) == ["host"]
    response = client.post(
        f"/book/{page.slug}/",
        {"name": "Ann", "email": "ann@example.com", "start": "2026-11-23T11:00:00+00:00"},
    )
    assert response.status_code == 400
    assert "no longer takes bookings" in response.content.decode()
    assert not Meeting.objects.exists()


def test_cadence_mail_does_not_go_out_from_a_leaver() -> None:
    leaver = _gone()
    ana = factories.prospect(owner=leaver, time_zone="UTC")
    enrolment = factories.enrolment(person=ana, owner_at_enrolment=leaver)
    enrolment_step_run(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    assert enrolment.status == "active"
    assert enrolment.next_run_at == NOW + dt.timedelta(days=1)
    assert not OutgoingMail.objects.exists()
    log = EnrolmentLog.objects.get(enrolment=enrolment)
    assert log.action == "held"
    assert "Leo Vance left on 23 Nov" in log.text
