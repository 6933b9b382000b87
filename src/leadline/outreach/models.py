"""Contact pressure, do-not-contact, unsubscribe, marketing emails: data, no workflows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from leadline.core import clock
from leadline.core.models import Person, User


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    MANUAL = "manual", "Manual (LinkedIn, post, …)"


class ContactPurpose(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"


def _zone_name(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone (e.g. Europe/Berlin)") from None


class ContactPolicy(models.Model):
    """The one contact-pressure policy (one row, pk 1): how often anyone may be touched, and
    when not."""

    weekly_cap = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Most touches per person in any 7 days, all channels together",
    )
    quiet_start = models.TimeField(
        default=dt.time(20, 0), help_text="Quiet from (the person's local time)"
    )
    quiet_end = models.TimeField(
        default=dt.time(8, 0), help_text="Quiet until (the person's local time)"
    )
    weekends_quiet = models.BooleanField(default=True, help_text="No touches on Saturday, Sunday")
    default_time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[_zone_name],
        help_text="For people whose time zone and country are unknown",
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name_plural = "contact policies"

    def __str__(self) -> str:
        return f"At most {self.weekly_cap} touches a week"


class ContactState(models.Model):
    """One per person, made on first need: the row `contact_reserve` locks so that two touches
    reserved at once cannot both pass the cap, and the person's unsubscribes."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="contact_state")
    marketing_unsubscribed_at = models.DateTimeField(null=True, blank=True)
    sales_unsubscribed_at = models.DateTimeField(
        null=True, blank=True, help_text="Unsubscribed from a sales mail: no automated email"
    )
    unsubscribe_method = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"Contact state of {self.person_id}"

    @property
    def unsubscribed(self) -> bool:
        return bool(self.marketing_unsubscribed_at or self.sales_unsubscribed_at)


class DoNotContact(models.Model):
    """Never reach this person on this channel, for any purpose."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="do_not_contact")
    channel = models.CharField(max_length=20, choices=ContactChannel.choices)
    reason = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=40, help_text="by_hand, bounce, unsubscribe page, api…")
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "channel"], name="do_not_contact_unique")
        ]

    def __str__(self) -> str:
        return f"Do not contact {self.person_id} by {self.channel}"


class ContactAttempt(models.Model):
    """A touch that passed the gate: it counts against the cap until released."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="contact_attempts")
    channel = models.CharField(max_length=20, choices=ContactChannel.choices)
    purpose = models.CharField(max_length=20, choices=ContactPurpose.choices)
    source = models.CharField(max_length=40, help_text="cadence, newsletter, call_task, …")
    ref = models.CharField(max_length=80, blank=True, db_index=True)
    at = models.DateTimeField(help_text="When the touch happens")
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["person", "at"], name="contact_attempt_person_at")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.person_id} at {self.at:%Y-%m-%d %H:%M} ({self.source})"


# Marketing emails ------------------------------------------------------------------------------


class NewsletterStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"


class Audience(models.TextChoices):
    CONSENTED = "consented", "Everyone who agreed to marketing email"
    LIFECYCLE = "lifecycle", "Everyone at a lifecycle stage"
    JOURNEY_STEP = "journey_step", "Everyone at a journey step"
    PEOPLE = "people", "A list of people"


class Newsletter(models.Model):
    """A marketing email written once and sent to many, each through the contact gate."""

    name = models.CharField(max_length=200, help_text="Internal name")
    subject = models.CharField(max_length=200)
    text = models.TextField(help_text="Plain text; merge fields: {{ first_name }}, {{ company }}")
    html = models.TextField(blank=True, help_text="Optional HTML part; same merge fields")
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.CONSENTED)
    audience_value = models.CharField(
        max_length=120, blank=True, help_text="The lifecycle stage, or the journey step's id"
    )
    audience_ids: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=20, choices=NewsletterStatus.choices, default=NewsletterStatus.DRAFT
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    queued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or self.subject


class RecipientStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    SENT = "sent", "Sent"
    HELD = "held", "Held back"


class NewsletterRecipient(models.Model):
    newsletter = models.ForeignKey(Newsletter, on_delete=models.CASCADE, related_name="recipients")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=20, choices=RecipientStatus.choices, default=RecipientStatus.WAITING
    )
    code = models.CharField(max_length=20, blank=True, help_text="Why held (the gate's code)")
    reason = models.CharField(max_length=300, blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True)
    mail = models.ForeignKey(
        "notify.OutgoingMail", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["newsletter", "person"], name="newsletter_recipient")
        ]
        indexes = [models.Index(fields=["newsletter", "status"], name="newsletter_recipient_st")]

    def __str__(self) -> str:
        return f"{self.newsletter_id} → {self.person_id}: {self.status}"
