"""Writes for call tasks: make one, log what came of it, cancel the ones no longer wanted.

Other areas call these (cadences make call tasks and cancel them when an enrolment stops;
booking logs "appointment_set"). Apps further down the flow hear of a logged outcome through
settings.CALLS_OUTCOME_HANDLERS, called in the same transaction with task=<CallTask>.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string

from leadline.calls.models import DEFAULT_OUTCOMES, CallTask, Outcome, TaskStatus
from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.models import Person, Team, TimelineEvent, User
from leadline.core.selectors import assignable_check, merge_survivor
from leadline.core.services import timeline_event, timeline_record
from leadline.routing.models import CallOutcome, Ownership, Touch, TouchKind
from leadline.routing.services import touch_record

# What a call's outcome means for routing's record of attempts to reach the person: anything
# but voicemail, no answer or a wrong number means someone picked up.
ROUTING_OUTCOME: dict[str, str] = {
    Outcome.CONNECTED: CallOutcome.CONNECTED,
    Outcome.APPOINTMENT_SET: CallOutcome.CONNECTED,
    Outcome.CALL_BACK: CallOutcome.CONNECTED,
    Outcome.NOT_INTERESTED: CallOutcome.CONNECTED,
    Outcome.VOICEMAIL: CallOutcome.VOICEMAIL,
    Outcome.NO_ANSWER: CallOutcome.NO_ANSWER,
    Outcome.WRONG_NUMBER: CallOutcome.WRONG_NUMBER,
}


def _options_checked(options: list[str] | None) -> list[str]:
    if options is None:
        return list(DEFAULT_OUTCOMES)
    unknown = [o for o in options if o not in Outcome.values]
    if unknown:
        raise ValidationError(
            {
                "outcome_options": f"Unknown outcome(s): {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(Outcome.values)}"
            }
        )
    if not options:
        raise ValidationError({"outcome_options": "A call needs at least one possible outcome."})
    return list(dict.fromkeys(options))


def _owner(person: Person) -> User | None:
    held = Ownership.objects.filter(person=person, ended_at=None).select_related("owner").first()
    return held.owner if held is not None else None


def call_task_create(
    *,
    person: Person,
    title: str,
    due_at: dt.datetime,
    script: str = "",
    assignee: User | None = None,
    team: Team | None = None,
    outcome_options: list[str] | None = None,
    source: str = "manual",
    source_ref: str = "",
    request: Request | None = None,
    actor: User | None = None,
) -> CallTask:
    """A call to make: in `assignee`'s queue, or (no assignee) in `team`'s queue (e.g. an
    outside calling team). With neither, it goes to the person's owner."""
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Say what the call is for, e.g. “Intro call”."})
    options = _options_checked(outcome_options)
    person = merge_survivor(person)
    if assignee is None and team is None:
        assignee = _owner(person)
        if assignee is None:
            raise ValidationError(
                {"assignee": f"{person} has no owner: say who should call them (or which team)."}
            )
    assignable_check(assignee, field="assignee")
    if request is not None and request.person_id != person.pk:
        raise ValidationError({"request": "That request is another person's."})
    now = clock.now()
    with transaction.atomic():
        task = CallTask.objects.create(
            person=person,
            request=request,
            assignee=assignee,
            team=team,
            title=title,
            script=script.strip(),
            outcome_options=options,
            due_at=due_at,
            source=source,
            source_ref=source_ref,
            created_at=now,
            created_by=actor,
        )
        timeline_record(
            kind="call.planned",
            summary=f"Call planned: “{title}” for {assignee or team}, "
            f"due {due_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
            person=person,
            actor=actor,
            occurred_at=now,
            data={"task_id": task.pk, "source": source, "source_ref": source_ref},
        )
    return task


def _open_request(task: CallTask) -> Request | None:
    """The request the call answers: the task's own while it is open, else the person's newest
    open one (a call is a first touch for every request still waiting on one)."""
    if task.request is not None and task.request.status == RequestStatus.OPEN:
        return task.request
    return (
        Request.objects.filter(person=task.person, status=RequestStatus.OPEN)
        .order_by("-created_at", "-id")
        .first()
    )


def call_task_log(
    *,
    task: CallTask,
    outcome: str,
    actor: User,
    note: str = "",
    private: bool = False,
    at: dt.datetime | None = None,
) -> CallTask:
    """What came of the call: the task is done, routing records the call attempt (a first touch
    for the person's open requests), the timeline says "call.logged", and each of
    settings.CALLS_OUTCOME_HANDLERS hears of it in the same transaction. `private`: the note is
    for staff only."""
    at = at or clock.now()
    note = note.strip()
    with transaction.atomic():
        task = (
            CallTask.objects.select_for_update(of=("self",))
            .select_related("person", "request")
            .get(pk=task.pk)
        )
        if task.status == TaskStatus.DONE:
            when = f"{task.done_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if task.done_at else ""
            by = f" by {task.done_by}" if task.done_by_id else ""
            raise ValidationError(
                {
                    "task": f"This call was already logged ({task.get_outcome_display()}"
                    f"{by}, {when}); it cannot be logged twice."
                }
            )
        if task.status == TaskStatus.CANCELLED:
            raise ValidationError(
                {"task": f"This call was cancelled ({task.cancel_reason or 'no reason given'})."}
            )
        if outcome not in task.outcome_options:
            offered = ", ".join(task.outcome_options)
            raise ValidationError(
                {"outcome": f"{outcome!r} is not an outcome of this call; choose from {offered}."}
            )
        request = _open_request(task)
        routing_outcome = ROUTING_OUTCOME[outcome]
        if request is not None:
            touch = touch_record(
                request=request,
                user=actor,
                kind=TouchKind.CALL,
                outcome=routing_outcome,
                note=note,
                at=at,
            )
        else:
            touch = Touch.objects.create(
                person=task.person,
                user=actor,
                kind=TouchKind.CALL,
                outcome=routing_outcome,
                note=note,
                at=at,
            )
        task.status = TaskStatus.DONE
        task.outcome = outcome
        task.outcome_note = note
        task.note_private = private and bool(note)
        task.done_at = at
        task.done_by = actor
        task.touch = touch
        task.save(
            update_fields=[
                "status",
                "outcome",
                "outcome_note",
                "note_private",
                "done_at",
                "done_by",
                "touch",
            ]
        )
        label = Outcome(outcome).label.lower()
        timeline_record(
            kind="call.logged",
            summary=f"Call “{task.title}”: {label}" + (f" — {note}" if note else ""),
            person=task.person,
            actor=actor,
            occurred_at=at,
            data={"task_id": task.pk, "outcome": outcome, "private": task.note_private},
        )
        for path in settings.CALLS_OUTCOME_HANDLERS:
            import_string(path)(task=task)
    return task


def call_tasks_cancel(*, source_ref: str, reason: str) -> int:
    """Cancel the open call tasks with this ref (e.g. "enrolment:12" when that enrolment stops).
    Returns how many. Safe to call when there are none."""
    if not source_ref:
        raise ValidationError({"source_ref": "Say which tasks: a source_ref is needed."})
    now = clock.now()
    reason = reason.strip()[:200]
    with transaction.atomic():
        tasks = list(
            CallTask.objects.select_for_update(of=("self",))
            .filter(source_ref=source_ref, status=TaskStatus.OPEN)
            .select_related("person")
        )
        if not tasks:
            return 0
        CallTask.objects.filter(pk__in=[t.pk for t in tasks]).update(
            status=TaskStatus.CANCELLED, cancelled_at=now, cancel_reason=reason
        )
        events = [
            timeline_event(
                kind="call.cancelled",
                summary=f"Call “{t.title}” cancelled" + (f": {reason}" if reason else ""),
                person=t.person,
                occurred_at=now,
                data={"task_id": t.pk, "source_ref": source_ref, "reason": reason},
            )
            for t in tasks
        ]
        TimelineEvent.objects.bulk_create(events)
    return len(tasks)
