"""enrolments_stop: what inbound, booking and outreach call when a person must leave every
cadence (a reply, a meeting, an unsubscribe, a bounce)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from leadline.cadences.models import EnrolmentStatus, ManualTask, TaskStatus
from leadline.cadences.services import enrolment_stop, enrolments_stop
from leadline.calls.models import TaskStatus as CallStatus
from leadline.core.models import TimelineEvent
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def test_stops_every_active_enrolment_cancels_its_tasks_and_says_why() -> None:
    person = factories.person_with_phone()
    first = factories.enrolment(person=person, cadence=factories.cadence(name="New trial"))
    second = factories.enrolment(person=person)
    finished = factories.enrolment(person=person, status=EnrolmentStatus.FINISHED)
    someone_else = factories.enrolment()
    call = factories.call_task(person=person, source="cadence", source_ref=first.ref)
    other_call = factories.call_task(person=person, source="cadence", source_ref="enrolment:999")
    task = ManualTask.objects.create(person=person, enrolment=second, title="Connect on LinkedIn")

    assert enrolments_stop(person=person, reason="replied", detail="“Thanks, call me”") == 2

    for row in (first, second):
        row.refresh_from_db()
        assert row.status == EnrolmentStatus.STOPPED
        assert row.stopped_reason == "replied"
        assert row.ended_at is not None
        assert row.next_run_at is None
    finished.refresh_from_db()
    someone_else.refresh_from_db()
    assert finished.status == EnrolmentStatus.FINISHED
    assert someone_else.status == EnrolmentStatus.ACTIVE
    call.refresh_from_db()
    other_call.refresh_from_db()
    task.refresh_from_db()
    assert call.status == CallStatus.CANCELLED
    assert other_call.status == CallStatus.OPEN
    assert task.status == TaskStatus.CANCELLED
    exits = TimelineEvent.objects.filter(person=person, kind="cadence.exited").order_by("id")
    assert [e.data["reason"] for e in exits] == ["replied", "replied"]
    assert exits[0].summary.startswith("Left cadence ‘New trial’ because they replied")


def test_safe_when_there_is_nothing_to_stop_and_refuses_an_unknown_reason() -> None:
    person = factories.person()
    assert enrolments_stop(person=person, reason="bounced") == 0
    assert not TimelineEvent.objects.filter(person=person, kind="cadence.exited").exists()
    with pytest.raises(ValidationError):
        enrolments_stop(person=person, reason="bored")


def test_a_stopped_person_can_be_enrolled_again_later() -> None:
    """The one-active-enrolment constraint holds only for active ones."""
    person = factories.person()
    cadence = factories.cadence()
    factories.enrolment(person=person, cadence=cadence)
    enrolments_stop(person=person, reason="meeting_booked")
    factories.enrolment(person=person, cadence=cadence)
    assert cadence.enrolments.count() == 2


def test_the_stop_button_stops_one_enrolment_and_names_who() -> None:
    rep = factories.user(first_name="Rita", last_name="Rep")
    person = factories.person()
    kept = factories.enrolment(person=person)
    stopped = factories.enrolment(person=person, cadence=factories.cadence(name="Welcome"))
    assert enrolment_stop(enrolment=stopped, actor=rep) is True
    assert enrolment_stop(enrolment=stopped, actor=rep) is False
    kept.refresh_from_db()
    assert kept.status == EnrolmentStatus.ACTIVE
    event = TimelineEvent.objects.get(person=person, kind="cadence.exited")
    assert event.summary == "Left cadence ‘Welcome’ because Rita Rep took them out"
    assert event.actor == rep


def test_merge_fields_are_filled_in_never_run() -> None:
    from leadline.cadences.services import merge_fields_check
    from leadline.notify.merge import merge_render

    values = {"first_name": "<b>Ann</b>", "company": "{% now 'Y' %}", "owner_name": "Rita"}
    text = "Hi {{ first_name }} at {{company}} — {{ unknown }}, {{ owner_name }}"
    assert merge_render(text, values) == "Hi <b>Ann</b> at {% now 'Y' %} — {{ unknown }}, Rita"
    assert merge_render("{{ first_name }}", values, html=True) == "&lt;b&gt;Ann&lt;/b&gt;"
    assert merge_fields_check("Hi {{ first_name }}") == []
    assert merge_fields_check("{% if x %}") != []
    assert "{{ unknown }}" in merge_fields_check("{{ unknown }}")[0]
