"""Sequences of emails, calls and tasks: data and invariants, no workflows.

A cadence is an ordered list of steps. A person enrolled in it walks the steps: an email is
sent, a call task is made (the enrolment waits until its outcome is logged), a manual task is
made for the owner (it waits until it is done), a wait lets N business days pass, a branch
jumps to another step when the last call's outcome is one of its outcomes. `Enrolment.next_run_at`
is the deadline row the worker fires (cadences.services.enrolments_run_due).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Person, Team, User


class Purpose(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"


class RuleKind(models.TextChoices):
    """Who a cadence enrols by itself (the sweep enrols each matching person once)."""

    NONE = "", "Nobody (enrol by hand)"
    LIFECYCLE_STAGE = "lifecycle_stage", "People at a lifecycle stage"
    REQUEST_KIND = "request_kind", "People with an open request of a kind"
    JOURNEY_STEP = "journey_step", "People at a journey step"


class Cadence(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SALES)
    is_active = models.BooleanField(
        default=True, help_text="Inactive: nobody new is enrolled; enrolled people carry on"
    )
    call_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who makes its calls (e.g. the outside callers); empty: the person's owner",
    )
    rule_kind = models.CharField(max_length=20, choices=RuleKind.choices, blank=True, default="")
    rule_value = models.CharField(
        max_length=120, blank=True, help_text="The stage, the request kind or the step's id"
    )
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    EMAIL = "email", "Email"
    CALL = "call", "Call task"
    MANUAL = "manual", "Manual task"
    WAIT = "wait", "Wait"
    BRANCH = "branch", "Branch on call outcome"


# The kinds that do something to the person (the others only decide when and where next).
ACTION_KINDS = frozenset({StepKind.EMAIL, StepKind.CALL, StepKind.MANUAL})


class CadenceStep(models.Model):
    """One step. Which fields count depends on `kind` (cadences.services checks them)."""

    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    # email
    subject = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True, help_text="The plain-text part (every mail has one)")
    html = models.TextField(blank=True, help_text="An optional HTML part")
    # call and manual
    title = models.CharField(max_length=200, blank=True)
    script = models.TextField(blank=True, help_text="Call: what to say")
    instructions = models.TextField(blank=True, help_text='Manual: e.g. "Connect on LinkedIn"')
    outcome_options: models.JSONField[list[str]] = models.JSONField(default=list, blank=True)
    # wait
    wait_days = models.PositiveIntegerField(default=0)
    # branch
    branch_outcomes: models.JSONField[list[str]] = models.JSONField(default=list, blank=True)
    branch_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["cadence", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.describe()}"

    def describe(self) -> str:
        """The step in a few words, e.g. 'Email “Welcome”' or 'Wait 2 business days'."""
        if self.kind == StepKind.EMAIL:
            return f"Email “{self.subject}”"
        if self.kind == StepKind.CALL:
            return f"Call: {self.title}"
        if self.kind == StepKind.MANUAL:
            return f"Task: {self.title}"
        if self.kind == StepKind.WAIT:
            unit = "day" if self.wait_days == 1 else "days"
            return f"Wait {self.wait_days} business {unit}"
        target = f"step {self.branch_to.position}" if self.branch_to else "(no step chosen)"
        outcomes = ", ".join(self.branch_outcomes) or "(no outcome chosen)"
        return f"If the last call was {outcomes}: go to {target}"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"


class StopReason(models.TextChoices):
    REPLIED = "replied", "Replied"
    MEETING_BOOKED = "meeting_booked", "Booked a meeting"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Mail bounced"
    OWNER_CHANGED = "owner_changed", "Owner changed"
    JOURNEY_STEP_CHANGED = "journey_step_changed", "Journey step changed"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"
    NO_ADDRESS = "no_address", "No address"
    BY_HAND = "by_hand", "Taken out by hand"


# "Left cadence 'X' because …"
STOP_WORDS = {
    StopReason.REPLIED: "they replied",
    StopReason.MEETING_BOOKED: "they booked a meeting",
    StopReason.UNSUBSCRIBED: "they unsubscribed",
    StopReason.BOUNCED: "their email bounced",
    StopReason.OWNER_CHANGED: "their owner changed",
    StopReason.JOURNEY_STEP_CHANGED: "they moved to another journey step",
    StopReason.DO_NOT_CONTACT: "they may not be contacted",
    StopReason.NO_ADDRESS: "there is no address to reach them",
    StopReason.BY_HAND: "someone took them out",
}


class Waiting(models.TextChoices):
    TIME = "", "Until the next step is due"
    CALL_TASK = "call_task", "For the call to be logged"
    MANUAL_TASK = "manual_task", "For the task to be done"


class EnrolmentSource(models.TextChoices):
    BY_HAND = "by_hand", "By hand"
    BULK = "bulk", "In bulk"
    RULE = "rule", "By the cadence's rule"
    API = "api", "Through the API"


class Enrolment(models.Model):
    """A person walking a cadence. While active, `current_step` is the next step to run (an
    email, call or manual step: waits and branches are resolved when a step is done) and
    `next_run_at` when, unless it waits for a task (`waiting_on`)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="enrolments")
    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="enrolments")
    status = models.CharField(
        max_length=10, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    current_step = models.ForeignKey(
        CadenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    waiting_on = models.CharField(
        max_length=12, choices=Waiting.choices, blank=True, default=Waiting.TIME
    )
    last_call_outcome = models.CharField(max_length=20, blank=True)
    source = models.CharField(
        max_length=10, choices=EnrolmentSource.choices, default=EnrolmentSource.BY_HAND
    )
    enrolled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrolled_at = models.DateTimeField(default=clock.now)
    owner_at_enrolment = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    journey_at_enrolment: models.JSONField[dict[str, Any]] = models.JSONField(
        default=dict, blank=True, help_text="{journey id: step id} when enrolled"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.CharField(max_length=24, choices=StopReason.choices, blank=True)
    stopped_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "cadence"],
                condition=Q(status="active"),
                name="one_active_enrolment_per_cadence",
            ),
            models.CheckConstraint(
                condition=~Q(status="stopped") | ~Q(stopped_reason=""),
                name="stopped_enrolment_has_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=Q(status="active"), name="enrolment_due"
            ),
            models.Index(fields=["person", "status"], name="enrolment_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person} in {self.cadence}"

    @property
    def ref(self) -> str:
        return f"enrolment:{self.pk}"


class EnrolmentLog(models.Model):
    """What the cadence did for an enrolment, step by step (sent, postponed, task made, ...)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="log")
    step = models.ForeignKey(
        CadenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=clock.now)
    action = models.CharField(max_length=20, help_text="sent, postponed, call_task, task, ...")
    text = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}: {self.text}"


class TaskStatus(models.TextChoices):
    OPEN = "open", "To do"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class ManualTask(models.Model):
    """Something a person must do by hand for a cadence, e.g. "Connect on LinkedIn"."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="manual_tasks")
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.CASCADE, related_name="manual_tasks"
    )
    step = models.ForeignKey(
        CadenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="manual_tasks"
    )
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    due_at = models.DateTimeField(default=clock.now)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(default=clock.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["assignee", "due_at"], condition=Q(status="open"), name="manual_open_mine"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.person})"
