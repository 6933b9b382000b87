"""Who owns which request and relationship, and by when the first touch is due."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Account, Person, Team, User


class RoutingRule(models.Model):
    """Requests matching every condition go to `team`. Rules are tried in `position` order.

    A condition is {"field": ..., "op": ..., "value": ...}; fields are those of
    `routing.services.ROUTABLE_FIELDS` (country, employees, industry, kind, form, campaign, ...).
    """

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="routing_rules")
    conditions: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Absence(models.Model):
    """A time someone is away (holiday, sick, off-site): routing skips them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "ends_at"], name="absence_user_end")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="absence_ends_after"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} away {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"


class Ownership(models.Model):
    """A seller's relationship with a person or an account. Active while `ended_at` is empty."""

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="ownerships")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    started_at = models.DateTimeField(default=clock.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) ^ Q(account__isnull=False),
                name="ownership_of_person_xor_account",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(ended_at__isnull=True, person__isnull=False),
                name="one_active_owner_per_person",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(ended_at__isnull=True, account__isnull=False),
                name="one_active_owner_per_account",
            ),
        ]
        indexes = [models.Index(fields=["owner", "ended_at"], name="ownership_owner_active")]

    def __str__(self) -> str:
        return f"{self.owner} owns {self.person or self.account}"


class Queue(models.TextChoices):
    OWNER = "owner", "With an owner"
    FALLBACK = "fallback", "Fallback queue"


class RequestRouting(models.Model):
    """The routing state of one request: its current owner and its first-touch deadline."""

    request = models.OneToOneField(
        Request, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="routed_requests"
    )
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.OWNER)
    assigned_at = models.DateTimeField(default=clock.now)
    first_touch_due = models.DateTimeField(null=True, blank=True)
    first_touched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "first_touch_due"], name="routing_owner_due"),
            models.Index(fields=["first_touched_at", "first_touch_due"], name="routing_due"),
        ]

    def __str__(self) -> str:
        return f"request {self.request_id} → {self.owner or self.queue}"


class Assignment(models.Model):
    """Every time a request got an owner (or went to the fallback queue), and why."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="assignments")
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL)
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.OWNER)
    why = models.TextField()
    skipped: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    at = models.DateTimeField(default=clock.now)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"request {self.request_id}: {self.why}"


class TouchKind(models.TextChoices):
    EMAIL = "email", "Email sent"
    CALL = "call", "Call attempt"
    MEETING = "meeting", "Meeting booked"


class CallOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"


class Touch(models.Model):
    """A real attempt to reach the person. Viewing their record is not one."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="touches")
    request = models.ForeignKey(
        Request, null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=20, choices=TouchKind.choices)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="call") | ~Q(outcome=""), name="call_touch_has_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.person}"


class EscalationLadder(models.Model):
    """A team's steps when a first touch is late. Times after the deadline are business time in
    the team's hours; the reminder is wall time before it. An empty step is skipped."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="escalation_ladder")
    remind_before = models.DurationField(
        null=True, blank=True, default=dt.timedelta(minutes=15), help_text="remind the owner"
    )
    reassign_after = models.DurationField(
        null=True, blank=True, default=dt.timedelta(hours=1), help_text="give it to the next rep"
    )
    fallback_after = models.DurationField(
        null=True, blank=True, default=dt.timedelta(hours=4), help_text="to the fallback queue"
    )
    calls_without_contact = models.PositiveSmallIntegerField(
        default=3, help_text="call attempts without reaching them before the manager hears"
    )
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reassign_after__isnull=True)
                | Q(fallback_after__isnull=True)
                | Q(fallback_after__gt=models.F("reassign_after")),
                name="ladder_fallback_after_reassign",
            ),
            models.CheckConstraint(
                condition=Q(calls_without_contact__gte=1), name="ladder_calls_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return f"escalation for {self.team}"


class Step(models.TextChoices):
    REMIND = "remind", "Reminder to the owner"
    BREACH = "breach", "Deadline missed: the manager hears"
    REASSIGN = "reassign", "Reassigned to the next rep"
    FALLBACK = "fallback", "Moved to the fallback queue"


class Timer(models.Model):
    """One step of a request's escalation ladder, due at `due_at`. The worker does each once:
    `done_at` is set in the same transaction as the step's effects, or when it is no longer
    needed (the person was touched, the request closed)."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="timers")
    step = models.CharField(max_length=20, choices=Step.choices)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "step"], name="one_timer_per_step"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(done_at__isnull=True), name="timer_pending_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for request {self.request_id} at {self.due_at}"
