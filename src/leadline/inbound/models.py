"""Replies and bounces, read and matched: data and invariants, no workflows."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.core import clock


class Source(models.TextChoices):
    IMAP = "imap", "Mailbox (IMAP)"
    WEBHOOK = "webhook", "Inbound webhook"


class Kind(models.TextChoices):
    """What the message turned out to be; empty until it is processed."""

    REPLY = "reply", "Reply"
    BOUNCE = "bounce", "Bounce"
    AUTO_REPLY = "auto_reply", "Automatic reply"
    UNMATCHED = "unmatched", "Not matched"


class Status(models.TextChoices):
    RECEIVED = "received", "Waiting"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will be tried again)"


class MatchedBy(models.TextChoices):
    HEADERS = "headers", "Message headers"
    ADDRESS = "address", "Sender's address"


class InboundMessage(models.Model):
    """One mail read from the mailbox or posted to the inbound webhook, stored as it came before
    anything else happens to it (so a failure in processing loses nothing).

    `message_id` is its Message-ID (or, for one without, a hash of its bytes): reading the same
    mail twice stores it once.
    """

    message_id = models.CharField(max_length=255, unique=True)
    raw = models.BinaryField(help_text="The message as received (RFC 5322 bytes)")
    truncated = models.BooleanField(
        default=False, help_text="Larger than the limit: only its beginning was kept"
    )
    from_address = models.CharField(max_length=254, blank=True)
    to = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(default=clock.now, db_index=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=clock.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    kind = models.CharField(max_length=12, choices=Kind.choices, blank=True)
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices, blank=True)
    mail = models.ForeignKey(
        "notify.OutgoingMail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound",
        help_text="Our mail it answers (or that bounced)",
    )
    person = models.ForeignKey(
        "core.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_mail",
    )
    # What processing found: the reply's first lines, a bounce's recipients and status codes.
    details: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["received", "failed"]),
                name="inbound_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display() or 'Mail'} from {self.from_address or 'unknown'}"
