"""Call tasks: made, logged once (a routing touch, the timeline, the handlers), cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from leadline.calls.models import CallTask, Outcome, TaskStatus
from leadline.calls.services import call_task_create, call_task_log, call_tasks_cancel
from leadline.capture.models import RequestKind
from leadline.core import clock
from leadline.core.models import Role, TimelineEvent
from leadline.routing.models import Ownership, Touch, TouchKind
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

HEARD: list[tuple[int, str]] = []


def outcome_heard(*, task: CallTask) -> None:
    """A handler for settings.CALLS_OUTCOME_HANDLERS: sees the task inside the transaction."""
    assert TimelineEvent.objects.filter(kind="call.logged", data__task_id=task.pk).exists()
    HEARD.append((task.pk, task.outcome))


def test_a_task_goes_to_the_assignee_and_is_on_the_timeline() -> None:
    rep = factories.user(username="rita")
    someone = factories.person_with_phone()
    task = call_task_create(
        person=someone,
        title=" Intro call ",
        script="Ask about month-end close",
        due_at=clock.now() + dt.timedelta(hours=2),
        assignee=rep,
        outcome_options=["connected", "no_answer"],
        source="cadence",
        source_ref="enrolment:7",
    )
    assert task.status == TaskStatus.OPEN
    assert task.title == "Intro call"
    assert task.assignee == rep
    assert task.outcome_options == ["connected", "no_answer"]
    event = TimelineEvent.objects.get(kind="call.planned", person=someone)
    assert "rita" in event.summary
    assert event.data["source_ref"] == "enrolment:7"


def test_without_assignee_or_team_the_owner_calls_and_without_owner_it_is_refused() -> None:
    rep = factories.user()
    owned = factories.person()
    Ownership.objects.create(owner=rep, person=owned)
    assert call_task_create(person=owned, title="Call", due_at=clock.now()).assignee == rep
    with pytest.raises(ValidationError, match="no owner"):
        call_task_create(person=factories.person(), title="Call", due_at=clock.now())


def test_unknown_outcome_options_are_named() -> None:
    with pytest.raises(ValidationError, match="'maybe'"):
        call_task_create(
            person=factories.person(),
            title="Call",
            due_at=clock.now(),
            assignee=factories.user(),
            outcome_options=["connected", "maybe"],
        )
    assert not CallTask.objects.exists()


def test_logging_marks_it_done_records_a_call_touch_and_the_timeline(settings: object) -> None:
    settings.CALLS_OUTCOME_HANDLERS = ["tests.calls.test_services.outcome_heard"]  # type: ignore[attr-defined]
    HEARD.clear()
    caller = factories.outside_caller(username="olive")
    task = factories.call_task(team=caller.team)
    done = call_task_log(
        task=task, outcome=Outcome.VOICEMAIL, note="Back on Thursday", actor=caller
    )
    assert done.status == TaskStatus.DONE
    assert done.done_by == caller
    assert done.done_at == clock.now()
    assert done.outcome_note == "Back on Thursday"
    touch = Touch.objects.get(person=task.person)
    assert (touch.kind, touch.outcome, touch.user) == (TouchKind.CALL, "voicemail", caller)
    assert done.touch == touch
    event = TimelineEvent.objects.get(kind="call.logged", person=task.person)
    assert event.data == {"task_id": task.pk, "outcome": "voicemail", "private": False}
    assert "left a voicemail" in event.summary
    assert [(task.pk, "voicemail")] == HEARD


def test_an_appointment_is_a_connected_call_and_a_first_touch_of_the_open_request() -> None:
    rep = factories.user(role=Role.SALES_REP)
    request = factories.routed_request(at=clock.now(), owner=rep, kind=RequestKind.CONTACT)
    assert request.routing.first_touched_at is None
    task = factories.call_task(person=request.person, assignee=rep)
    later = clock.now() + dt.timedelta(minutes=20)
    call_task_log(task=task, outcome=Outcome.APPOINTMENT_SET, actor=rep, at=later)
    request.routing.refresh_from_db()
    assert request.routing.first_touched_at == later
    touch = Touch.objects.get(request=request)
    assert touch.outcome == "connected"
    assert TimelineEvent.objects.filter(kind="touch.recorded", person=request.person).exists()


def test_logging_twice_is_refused_and_changes_nothing() -> None:
    rep = factories.user(username="rita")
    task = factories.call_task(assignee=rep)
    call_task_log(task=task, outcome=Outcome.NO_ANSWER, actor=rep)
    with pytest.raises(ValidationError, match="already logged") as refused:
        call_task_log(task=task, outcome=Outcome.CONNECTED, actor=rep)
    assert "No answer" in str(refused.value)
    task.refresh_from_db()
    assert task.outcome == Outcome.NO_ANSWER
    assert Touch.objects.filter(person=task.person).count() == 1
    assert TimelineEvent.objects.filter(kind="call.logged").count() == 1


def test_an_outcome_the_task_does_not_offer_is_named_and_refused() -> None:
    rep = factories.user()
    task = factories.call_task(assignee=rep, outcome_options=["connected", "no_answer"])
    with pytest.raises(ValidationError, match="'voicemail' is not an outcome of this call"):
        call_task_log(task=task, outcome="voicemail", actor=rep)
    with pytest.raises(ValidationError, match="'bogus'"):
        call_task_log(task=task, outcome="bogus", actor=rep)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert not Touch.objects.exists()


def test_a_failing_handler_undoes_the_whole_log(settings: object) -> None:
    settings.CALLS_OUTCOME_HANDLERS = ["tests.calls.test_services.handler_that_fails"]  # type: ignore[attr-defined]
    rep = factories.user()
    task = factories.call_task(assignee=rep)
    with pytest.raises(RuntimeError):
        call_task_log(task=task, outcome=Outcome.CONNECTED, actor=rep)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert not Touch.objects.exists()
    assert not TimelineEvent.objects.filter(kind="call.logged").exists()


def handler_that_fails(*, task: CallTask) -> None:
    raise RuntimeError("the cadence could not branch")


def test_cancel_takes_only_open_tasks_with_the_ref() -> None:
    rep = factories.user()
    someone = factories.person_with_phone()
    first = factories.call_task(person=someone, assignee=rep, source_ref="enrolment:1")
    logged = factories.call_task(person=someone, assignee=rep, source_ref="enrolment:1")
    other = factories.call_task(person=someone, assignee=rep, source_ref="enrolment:2")
    call_task_log(task=logged, outcome=Outcome.CONNECTED, actor=rep)
    assert call_tasks_cancel(source_ref="enrolment:1", reason="replied") == 1
    assert call_tasks_cancel(source_ref="enrolment:1", reason="replied") == 0
    assert call_tasks_cancel(source_ref="enrolment:99", reason="replied") == 0
    first.refresh_from_db()
    logged.refresh_from_db()
    other.refresh_from_db()
    assert (first.status, first.cancel_reason) == (TaskStatus.CANCELLED, "replied")
    assert logged.status == TaskStatus.DONE
    assert other.status == TaskStatus.OPEN
    event = TimelineEvent.objects.get(kind="call.cancelled")
    assert event.person == someone
    assert "replied" in event.summary
    with pytest.raises(ValidationError, match="cancelled"):
        call_task_log(task=first, outcome=Outcome.CONNECTED, actor=rep)
