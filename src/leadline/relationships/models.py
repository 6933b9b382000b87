"""Handover plans, the briefings they leave behind, and capacity alerts: data and invariants."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Account, Person, Team, User


class PlanKind(models.TextChoices):
    LEAVING = "leaving", "Leaving the company"
    MOVING = "moving", "Moving to another team"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft: being reviewed"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


class HandoverPlan(models.Model):
    """Who takes over everything `user` holds, proposed by Leadline and reviewed by a manager.

    Applying it moves every item in one transaction. On `effective_at` the worker finishes it:
    a leaver is deactivated, a mover joins `to_team` (`completed_at` records when)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="handover_plans")
    kind = models.CharField(max_length=10, choices=PlanKind.choices)
    effective_at = models.DateTimeField(help_text="When they leave or move")
    to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    note = models.TextField(blank=True, help_text="Why, for the people taking over")
    send_intro_emails = models.BooleanField(
        default=False, help_text="Email each key relationship an introduction from the leaver"
    )
    intro_subject = models.CharField(max_length=200, blank=True)
    intro_body = models.TextField(
        blank=True, help_text="Merge fields: {first_name} {company} {old_owner} {new_owner}"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="draft"), name="one_draft_handover_per_user"
            ),
            models.CheckConstraint(
                condition=~Q(kind="moving") | Q(to_team__isnull=False),
                name="handover_move_has_team",
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(applied_at__isnull=False),
                name="handover_applied_has_date",
            ),
        ]
        indexes = [
            models.Index(
                fields=["effective_at"],
                condition=Q(status="applied", completed_at__isnull=True),
                name="handover_to_complete",
            )
        ]

    def __str__(self) -> str:
        return f"Handover of {self.user} ({self.get_kind_display()}, {self.effective_at:%Y-%m-%d})"


class ItemKind(models.TextChoices):
    # Relationships first: every other item belongs to one of them and follows it by default.
    PERSON = "person", "Person"
    ACCOUNT = "account", "Account"
    REQUEST = "request", "Open request"
    OPPORTUNITY = "opportunity", "Open opportunity"
    HANDOFF = "handoff", "Handoff waiting for a decision"
    ENROLMENT = "enrolment", "Cadence enrolment"
    COMMITMENT = "commitment", "Open commitment"
    MEETING = "meeting", "Booked meeting"
    CALL_TASK = "call_task", "Call task"
    MANUAL_TASK = "manual_task", "Task"


RELATIONSHIP_KINDS = (ItemKind.PERSON, ItemKind.ACCOUNT)


class HandoverItem(models.Model):
    """One thing the leaver holds and who takes it over. `proposed_owner` is what the plan
    proposed and why; `new_owner` is what applying will do (the manager may change it)."""

    plan = models.ForeignKey(HandoverPlan, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=12, choices=ItemKind.choices)
    object_id = models.PositiveBigIntegerField(help_text="The id of the row of that kind")
    # The relationship the item belongs to: itself for a person or an account.
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    label = models.CharField(max_length=300)
    proposed_owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_why = models.CharField(max_length=300, blank=True)
    new_owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_key = models.BooleanField(
        default=False, help_text="A key relationship: the new owner gets a warm introduction"
    )
    is_active_relationship = models.BooleanField(
        default=False, help_text="Counts against the new owner's cap"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True, help_text="What applying did")

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "kind", "object_id"], name="handover_item_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label} → {self.new_owner or 'nobody yet'}"


class Briefing(models.Model):
    """What a new owner needs to know about one relationship they took over: history in brief,
    the person in their own words, open commitments, stakeholders and stance, the last
    conversation and what was promised next. Written once when the plan is applied."""

    plan = models.ForeignKey(HandoverPlan, on_delete=models.CASCADE, related_name="briefings")
    item = models.OneToOneField(HandoverItem, on_delete=models.CASCADE, related_name="briefing")
    recipient = models.ForeignKey(User, on_delete=models.PROTECT, related_name="briefings")
    from_user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="briefings"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="briefings"
    )
    title = models.CharField(max_length=300)
    sections: models.JSONField[Any] = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=clock.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "-created_at"], name="briefing_recipient")]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) ^ Q(account__isnull=False),
                name="briefing_person_xor_account",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CapacityAlert(models.Model):
    """A seller's load reached the alert share of their cap. One open alert per seller: it
    closes (`cleared_at`) when the load falls back below, so the next rise alerts again."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="capacity_alerts")
    raised_at = models.DateTimeField(default=clock.now)
    load = models.PositiveIntegerField()
    cap = models.PositiveIntegerField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(cleared_at__isnull=True),
                name="one_open_alert_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.load} of {self.cap}"
