"""Qualification, lifecycle, marketing-to-sales handoff: data and invariants, no workflows.

A lifecycle stage is a state a person is in, with history — never who they are: every move is a
LifecycleChange row (from, to, when, why, who), and PersonLifecycle keeps the current stage per
person so that "everyone at stage X" is one indexed query.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.capture.models import Form, Request
from leadline.core import clock
from leadline.core.models import Account, Person, Team, User


class Stage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    ENGAGED = "engaged", "Engaged"
    MARKETING_QUALIFIED = "marketing_qualified", "Marketing-qualified"
    SALES_ACCEPTED = "sales_accepted", "Sales-accepted"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    RECYCLED = "recycled", "Recycled (back to nurture)"
    DISQUALIFIED = "disqualified", "Disqualified"


class PersonLifecycle(models.Model):
    """A person's current stage, and the last change's reason (a copy of the newest
    LifecycleChange, kept in the same transaction). No row: a subscriber nothing has moved."""

    person = models.OneToOneField(
        Person, primary_key=True, on_delete=models.CASCADE, related_name="lifecycle"
    )
    stage = models.CharField(max_length=30, choices=Stage.choices, db_index=True)
    since = models.DateTimeField(default=clock.now)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.person_id}: {self.get_stage_display()}"


class LifecycleChange(models.Model):
    """One move from a stage to another, with why and by whom (nobody: the system)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="lifecycle_changes")
    from_stage = models.CharField(max_length=30, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=30, choices=Stage.choices)
    at = models.DateTimeField(default=clock.now)
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["person", "at"], name="lifecycle_change_person")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.from_stage or '—'} → {self.to_stage}"


class RejectionReason(models.Model):
    """The managed list a seller picks from when rejecting a handoff."""

    name = models.CharField(max_length=120, unique=True)
    sends_to_nurture = models.BooleanField(
        default=True,
        help_text="Yes: the person goes back to nurture (recycled). No: disqualified.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Trigger(models.TextChoices):
    THRESHOLD = "threshold", "Crossed the qualification thresholds"
    MARKETING = "marketing", "Handed over by marketing"
    APPOINTMENT = "appointment", "An appointment was set"


class HandoffStatus(models.TextChoices):
    OPEN = "open", "Waiting for a decision"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Deadline missed"


UNDECIDED = (HandoffStatus.OPEN, HandoffStatus.EXPIRED)


class Handoff(models.Model):
    """A lead handed from marketing to sales, to accept or reject by `due_at`.

    `source`, `form` and `campaign` are copied from the request at creation, so the lead-quality
    report does not change when the person sends another form later. `round` counts
    reassignments: the escalation timers of an earlier round are no longer needed."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="handoffs")
    request = models.ForeignKey(
        Request, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    note = models.TextField(blank=True)
    source = models.CharField(max_length=200, blank=True)
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL)
    form_name = models.CharField(max_length=200, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    handed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    due_at = models.DateTimeField()
    round = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=HandoffStatus.choices, default=HandoffStatus.OPEN
    )
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.ForeignKey(
        RejectionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    reason_text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(status__in=["open", "expired"]),
                name="one_undecided_handoff_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | (Q(reason__isnull=False) & ~Q(reason_text="")),
                name="rejected_handoff_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="handoff_owner_open"),
            models.Index(fields=["status", "due_at"], name="handoff_status_due"),
        ]

    def __str__(self) -> str:
        return f"Handoff of {self.person} ({self.get_status_display()})"

    @property
    def is_undecided(self) -> bool:
        return self.status in UNDECIDED


class HandoffStep(models.TextChoices):
    REMIND = "remind", "Reminder to the owner"
    EXPIRE = "expire", "Deadline missed: the manager hears"
    REASSIGN = "reassign", "Handed on to the next seller"


class HandoffTimer(models.Model):
    """One escalation step of a handoff's round, due at `due_at`; the worker does each once
    (`done_at` set in the same transaction as its effects, or when it is no longer needed)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="timers")
    step = models.CharField(max_length=20, choices=HandoffStep.choices)
    round = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["handoff", "step", "round"], name="one_handoff_timer_per_step"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(done_at__isnull=True),
                name="handoff_timer_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for handoff {self.handoff_id} at {self.due_at}"


class OpportunityStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Opportunity(models.Model):
    """A deal sales is working, opened when a handoff is accepted (or imported); closed won or
    lost. It belongs to a person, to an account's buying group, or to both."""

    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="opportunities"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="opportunities"
    )
    name = models.CharField(max_length=200, blank=True)
    handoff = models.OneToOneField(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunity"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    opened_at = models.DateTimeField(default=clock.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    close_note = models.TextField(blank=True)
    # Custom fields (product, sales agent, ...) and when each was set, as on Person.
    attributes: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    attributes_at: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "closed_at"], name="opportunity_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) | Q(account__isnull=False),
                name="opportunity_person_or_account",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False),
                name="closed_opportunity_has_date",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="opportunity_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Opportunity with {self.person or self.account} ({self.get_status_display()})"


class QualificationMark(models.Model):
    """How far the qualification sweep has read new events and requests (ids), so each sweep
    looks only at people with something new. One row."""

    events_after = models.BigIntegerField(default=0)
    requests_after = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"events > {self.events_after}, requests > {self.requests_after}"
