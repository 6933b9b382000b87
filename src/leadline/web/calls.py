"""The call queue (also the outside callers' restricted view).

Everyone may work a call queue; an outside caller sees only what a call needs (calls.selectors
builds that card) and any task outside their own or their team's queue is "not found" to them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadline.booking.services import SlotUnavailable, call_appointment_set, when_text
from leadline.calls.models import CallTask, Outcome, TaskStatus
from leadline.calls.selectors import (
    call_card,
    call_next,
    call_queue,
    call_tasks_visible,
)
from leadline.calls.services import call_task_log
from leadline.core import clock
from leadline.core.models import User
from leadline.core.permissions import access_call_queue, access_people
from leadline.web.access import page, zone_or_none

NOTE_MAX_CHARS = 2000


class LogForm(forms.Form):
    outcome = forms.ChoiceField(
        label="What came of it",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what came of the call."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What they said, when to call back.",
    )
    private = forms.BooleanField(
        label="Private note", required=False, help_text="Staff only: outside callers never see it."
    )

    def __init__(self, *args: Any, task: CallTask, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [  # type: ignore[attr-defined]
            (value, Outcome(value).label) for value in task.outcome_options
        ]
        if not staff:
            del self.fields["private"]


class AppointmentForm(forms.Form):
    starts_at = forms.DateTimeField(
        label="Starts at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": "Say when the meeting starts.",
            "invalid": "Enter a date and time.",
        },
    )
    note = forms.CharField(
        label="Note for the meeting",
        required=False,
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_starts_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["starts_at"]
        if at <= clock.now():
            raise forms.ValidationError("That is in the past: choose a time still to come.")
        return at


def _task(request: HttpRequest, pk: int) -> CallTask:
    """A task the user may open; any other is "not found" (a caller learns nothing of it)."""
    task = call_tasks_visible(user=request.user).filter(pk=pk).first()  # type: ignore[arg-type]
    if task is None:
        raise Http404("No such call in your queue.")
    return task


@require_GET
@page(access_call_queue)
def calls_queue(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    now = clock.now()
    tasks = list(call_queue(user=user)[:200])
    context = {
        "nav": "calls",
        "due": [task for task in tasks if task.due_at <= now],
        "later": [task for task in tasks if task.due_at > now],
        "now": now,
    }
    return render(request, "web/calls_queue.html", context)


@require_GET
@page(access_call_queue)
def call_next_page(request: HttpRequest) -> HttpResponse:
    """Take the next due call; the ones passed over (may not be called now) are named."""
    user: User = request.user  # type: ignore[assignment]
    task, skipped = call_next(user=user)
    for passed in skipped:
        messages.warning(
            request, f"Skipped {passed.task.person}: {passed.reason or 'may not be called now'}."
        )
    if task is None:
        messages.info(request, "No call is due now.")
        return redirect("web:calls")
    return redirect("web:call_task", pk=task.pk)


def _person_zone_name(task: CallTask) -> str:
    zone = zone_or_none(task.person.time_zone)
    return str(zone) if zone is not None else ""


def _task_page(
    request: HttpRequest,
    task: CallTask,
    *,
    log_form: LogForm | None = None,
    appointment_form: AppointmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    staff = access_people(user)
    zone_name = _person_zone_name(task)
    context = {
        "nav": "calls",
        "card": call_card(task=task, viewer=user),
        "task": task,
        "staff": staff,
        "is_open": task.status == TaskStatus.OPEN,
        "log_form": log_form or LogForm(task=task, staff=staff, auto_id="log-%s"),
        "appointment_form": appointment_form or AppointmentForm(auto_id="appointment-%s"),
        "may_set_appointment": Outcome.APPOINTMENT_SET in task.outcome_options,
        "appointment_zone": zone_name or str(timezone.get_current_timezone()),
    }
    return render(request, "web/calls_task.html", context, status=status)


@require_GET
@page(access_call_queue)
def call_task_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _task_page(request, _task(request, pk))


@require_POST
@page(access_call_queue)
def call_log(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    user: User = request.user  # type: ignore[assignment]
    form = LogForm(request.POST, task=task, staff=access_people(user), auto_id="log-%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            call_task_log(
                task=task,
                outcome=data["outcome"],
                note=data["note"],
                private=bool(data.get("private")),
                actor=user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"Logged: {Outcome(data['outcome']).label} — {task.person}.")
            return redirect("web:calls")
    return _task_page(request, task, log_form=form, status=400)


@require_POST
@page(access_call_queue)
def call_appointment(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    user: User = request.user  # type: ignore[assignment]
    zone = zone_or_none(task.person.time_zone)
    with timezone.override(zone or timezone.get_current_timezone()):
        # The time is agreed with the person, so it is read in their time zone.
        form = AppointmentForm(request.POST, auto_id="appointment-%s")
        valid = form.is_valid()
    if valid:
        try:
            meeting = call_appointment_set(
                task=task,
                starts_at=form.cleaned_data["starts_at"],
                actor=user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        except (SlotUnavailable, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            when = when_text(meeting.starts_at, _person_zone_name(task) or "UTC")
            messages.success(
                request, f"Appointment set: {task.person} meets {meeting.host}, {when}."
            )
            return redirect("web:calls")
    return _task_page(request, task, appointment_form=form, status=400)


urlpatterns: list[URLPattern] = [
    path("calls/", calls_queue, name="calls"),
    path("calls/next/", call_next_page, name="call_next"),
    path("calls/<int:pk>/", call_task_page, name="call_task"),
    path("calls/<int:pk>/log/", call_log, name="call_log"),
    path("calls/<int:pk>/appointment/", call_appointment, name="call_appointment"),
]
