"""Outgoing mail, the in-app inbox and signed webhooks: data and invariants, no workflows."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from leadline.core import clock


class SendStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Outbound(models.Model):
    """Something the worker sends to the outside world, trying again until it goes or gives up.

    `next_attempt_at` is when the row next needs the worker: for a queued row the earliest next
    try, for a row being sent the end of the sender's claim (after which another worker may take
    it over, because the first one died).
    """

    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=clock.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        abstract = True
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="%(class)s_waiting",
            ),
        ]


class OutgoingMail(Outbound):
    """One mail, kept as sent (or as it failed), to a person, a user or anyone."""

    to: models.JSONField[list[str]] = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True)
    headers: models.JSONField[dict[str, str]] = models.JSONField(default=dict, blank=True)
    # Small text files sent with it, e.g. a calendar invitation:
    # [{"filename": "invite.ics", "content": "BEGIN:VCALENDAR…", "mimetype": "text/calendar"}].
    attachments: models.JSONField[list[dict[str, str]]] = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=80, db_index=True, help_text="Why it was sent")
    subject_ref = models.CharField(
        max_length=80, blank=True, db_index=True, help_text='What it is about, e.g. "request:42"'
    )
    person = models.ForeignKey(
        "core.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outgoing_mail",
        help_text="The person it was sent to (a prospect, not a user)",
    )
    user = models.ForeignKey(
        "core.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outgoing_mail",
        help_text="The user it was sent to",
    )
    message_id = models.CharField(max_length=255, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(Outbound.Meta):
        verbose_name = "outgoing mail"
        verbose_name_plural = "outgoing mail"
        indexes = [
            *Outbound.Meta.indexes,
            models.Index(fields=["person", "sent_at"], name="mail_person_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)}"


class InboxItem(models.Model):
    """A notification in a user's in-app inbox."""

    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="inbox")
    kind = models.CharField(max_length=80)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True, help_text="Where clicking it leads")
    person = models.ForeignKey(
        "core.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbox_items",
        help_text="The person it is about",
    )
    subject_ref = models.CharField(
        max_length=80, blank=True, db_index=True, help_text='What it is about, e.g. "request:42"'
    )
    created_at = models.DateTimeField(default=clock.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="inbox_user_recent"),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="inbox_user_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


def _validate_kinds(value: Any) -> None:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(k, str) and k and k == k.strip() for k in value)
    ):
        raise ValidationError(
            'a list of event kinds, e.g. ["request.assigned", "escalation.*"], or ["*"] for all'
        )


class WebhookEndpoint(models.Model):
    """A URL that receives signed JSON events, e.g. a chat tool's incoming webhook."""

    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    description = models.CharField(max_length=200, blank=True)
    # Kept in the clear because every delivery is signed with it; shown once, at creation.
    secret = models.CharField(max_length=80)
    kinds: models.JSONField[list[str]] = models.JSONField(
        default=list,
        validators=[_validate_kinds],
        help_text='Event kinds to send: exact ("request.assigned"), patterns ("escalation.*"), '
        'or "*" for all',
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, kind: str) -> bool:
        return any(fnmatchcase(kind, pattern) for pattern in self.kinds)


class WebhookDelivery(Outbound):
    """One event on its way to one endpoint."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=80)
    payload: models.JSONField[dict[str, Any]] = models.JSONField(encoder=DjangoJSONEncoder)
    text = models.CharField(max_length=500, blank=True, help_text="One line for chat tools")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta(Outbound.Meta):
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.kind} → {self.endpoint}"
