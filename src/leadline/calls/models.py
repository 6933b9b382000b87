"""Call tasks: a call someone should make to a person, and what came of it. Data and invariants,
no workflows (calls.services makes and logs them)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Person, Team, User
from leadline.routing.models import Touch


class Outcome(models.TextChoices):
    """What can come of a call. A task offers some of these (`CallTask.outcome_options`)."""

    CONNECTED = "connected", "Spoke to them"
    APPOINTMENT_SET = "appointment_set", "Appointment set"
    CALL_BACK = "call_back", "Asked to be called back"
    NOT_INTERESTED = "not_interested", "Not interested"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"


DEFAULT_OUTCOMES: list[str] = [o.value for o in Outcome]


def default_outcomes() -> list[str]:
    return list(DEFAULT_OUTCOMES)


class TaskStatus(models.TextChoices):
    OPEN = "open", "To do"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class CallTask(models.Model):
    """A call to make. It sits in `assignee`'s queue, or (no assignee) in `team`'s queue, e.g. an
    outside calling team, from `due_at`. Done when an outcome is logged; cancelled when it is no
    longer wanted (the cadence that made it stopped, the person may not be called)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="call_tasks")
    request = models.ForeignKey(
        Request, null=True, blank=True, on_delete=models.SET_NULL, related_name="call_tasks"
    )
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="call_tasks"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="call_tasks"
    )
    title = models.CharField(max_length=200, help_text='What the call is for, e.g. "Intro call"')
    script = models.TextField(blank=True, help_text="What to say, for whoever makes the call")
    outcome_options: models.JSONField[list[str]] = models.JSONField(
        default=default_outcomes, help_text="The outcomes the caller may log (Outcome values)"
    )
    due_at = models.DateTimeField(default=clock.now)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    note_private = models.BooleanField(
        default=False, help_text="The note is for staff only: outside callers do not see it"
    )
    touch = models.ForeignKey(
        Touch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The call attempt logging it recorded (routing)",
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=40, default="manual", help_text="cadence, manual, ...")
    source_ref = models.CharField(
        max_length=80, blank=True, db_index=True, help_text='What made it, e.g. "enrolment:12"'
    )
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(outcome=""), name="done_call_task_has_outcome"
            ),
        ]
        indexes = [
            models.Index(
                fields=["assignee", "due_at"], condition=Q(status="open"), name="call_open_mine"
            ),
            models.Index(
                fields=["team", "due_at"], condition=Q(status="open"), name="call_open_team"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} with {self.person}"
