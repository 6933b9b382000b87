"""Promises made to prospects: data and invariants, no workflows.

A commitment is what a seller promised a person ("Send the pricing") and by when. It is open
until it is kept (on time or late), cancelled, or its due time passes unkept: then it is broken,
and can still be kept late. Its reminders and its due time are rows the worker fires
(`CommitmentTimer`), on the project clock, as routing's escalation timers are (decision 5).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Person, User
from leadline.journeys.models import Conversation


class CommitmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    KEPT = "kept", "Kept"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


class Commitment(models.Model):
    """A promise to a prospect, with its due time.

    `broken_at` is when it passed its due time unkept (the due time itself); it stays set when
    the promise is kept late afterwards, so "kept late" and "broken" are both known.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="commitments")
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commitments",
    )
    promised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="commitments")
    what = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=CommitmentStatus.choices, default=CommitmentStatus.OPEN
    )
    made_at = models.DateTimeField(default=clock.now)
    made_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kept_at = models.DateTimeField(null=True, blank=True)
    broken_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["person", "status", "due_at"], name="commitment_person"),
            models.Index(fields=["promised_by", "made_at"], name="commitment_promiser"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="kept") | Q(kept_at__isnull=False),
                name="commitment_kept_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="broken") | Q(broken_at__isnull=False),
                name="commitment_broken_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="commitment_cancelled_has_time",
            ),
            models.CheckConstraint(condition=~Q(what=""), name="commitment_says_what"),
        ]

    def __str__(self) -> str:
        return f"{self.what} (to {self.person}, due {self.due_at:%Y-%m-%d %H:%M})"

    @property
    def kept_on_time(self) -> bool:
        return self.kept_at is not None and self.kept_at <= self.due_at

    @property
    def kept_late(self) -> bool:
        return self.kept_at is not None and self.kept_at > self.due_at

    def is_overdue(self, at: dt.datetime | None = None) -> bool:
        """Still to do and past its due time (open past due, or broken and not kept since)."""
        moment = at or clock.now()
        return self.status in (CommitmentStatus.OPEN, CommitmentStatus.BROKEN) and (
            self.due_at <= moment
        )


class CommitmentStep(models.TextChoices):
    REMIND_DAY_BEFORE = "remind_day_before", "Reminder the business day before"
    REMIND_MORNING = "remind_morning", "Reminder on the morning it is due"
    DUE = "due", "Due: broken if not kept"


class CommitmentTimer(models.Model):
    """One reminder or the due time of a commitment, fired once by the worker at `due_at`.
    `done_at` is set in the same transaction as its effects, or when it is no longer needed
    (the promise was kept or cancelled)."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="timers")
    step = models.CharField(max_length=20, choices=CommitmentStep.choices)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commitment", "step"], name="one_commitment_step"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(done_at__isnull=True),
                name="commitment_timer_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for commitment {self.commitment_id} at {self.due_at}"
