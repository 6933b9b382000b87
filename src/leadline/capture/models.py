"""Forms, gated assets, raw submissions, requests and consent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from leadline.core import clock
from leadline.core.links import origin_listed
from leadline.core.models import Account, Person, User


class RequestKind(models.TextChoices):
    CONTACT = "contact", "Contact me"
    DEMO = "demo", "Demo"
    PRICING = "pricing", "Pricing"
    DOWNLOAD = "download", "Download"
    EVENT = "event", "Event"


# Fields a form may ask for that land on the person; any other field name is kept as an answer.
PERSON_FIELDS: dict[str, dict[str, Any]] = {
    "email": {"label": "Work email", "type": "email"},
    "first_name": {"label": "First name", "type": "text"},
    "last_name": {"label": "Last name", "type": "text"},
    "company": {"label": "Company", "type": "text"},
    "role_own_words": {"label": "What do you do, in your own words?", "type": "text"},
    "title": {"label": "Job title", "type": "text"},
    "phone": {"label": "Phone", "type": "tel"},
    "country": {"label": "Country", "type": "text"},
    "message": {"label": "What would you like to talk about?", "type": "textarea"},
    "preferred_channel": {
        "label": "How do you prefer to be contacted?",
        "type": "select",
        "options": ["email", "phone", "video", "in_person", "chat"],
    },
}
FIELD_TYPES = ("text", "email", "tel", "textarea", "select", "checkbox", "number")
MAX_FIELD_LENGTH = 5000


def validate_field_specs(value: Any) -> None:
    """A form's fields: a list of {name, label, type, required, options}; email is compulsory."""
    if not isinstance(value, list) or not value:
        raise ValidationError("fields must be a non-empty list")
    names: set[str] = set()
    for spec in value:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValidationError("each field needs a name")
        name = spec["name"]
        if not name.isidentifier() or name.startswith("_"):
            raise ValidationError(f"field name {name!r}: letters, digits and underscores only")
        if name in names:
            raise ValidationError(f"field {name!r} appears twice")
        names.add(name)
        if spec.get("type", "text") not in FIELD_TYPES:
            raise ValidationError(f"field {name!r}: type must be one of {', '.join(FIELD_TYPES)}")
        if spec.get("type") == "select" and not spec.get("options"):
            raise ValidationError(f"field {name!r}: a select needs options")
    if "email" not in names:
        raise ValidationError("every form asks for an email address")


def origin_allowed(allowed: tuple[str, ...], origin: str) -> bool:
    """Whether another site's `origin` is listed (nothing listed: none is; see origin_listed)."""
    return origin_listed(allowed, origin)


class Asset(models.Model):
    """Gated content: a white paper, a report, a recording."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to="assets/")
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.title


class Form(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200, help_text="Internal name")
    title = models.CharField(max_length=200, help_text="Heading the visitor sees")
    intro = models.TextField(blank=True)
    fields: models.JSONField[Any] = models.JSONField(validators=[validate_field_specs])
    request_kind = models.CharField(
        max_length=20, choices=RequestKind.choices, default=RequestKind.DOWNLOAD
    )
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT)
    contact_box = models.BooleanField(
        default=True, help_text='Offer "please have someone contact me"'
    )
    contact_box_label = models.CharField(
        max_length=200, default="Please have someone contact me", blank=True
    )
    consent_text = models.TextField(
        blank=True, help_text="Shown beside a consent box; stored with every submission"
    )
    consent_required = models.BooleanField(default=False)
    submit_label = models.CharField(max_length=60, default="Submit")
    thank_you_title = models.CharField(max_length=200, default="Thank you")
    thank_you_message = models.TextField(blank=True)
    thank_you_url = models.URLField(blank=True, help_text="Send visitors here instead")
    campaign = models.CharField(max_length=200, blank=True)
    journey = models.CharField(max_length=200, blank=True)
    allowed_origins = models.TextField(
        blank=True,
        help_text="Sites that may embed this form, one origin per line"
        " (https://www.example.com); empty: only Leadline's own hosted page",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.name

    def origins(self) -> tuple[str, ...]:
        """The sites that may embed this form; empty means none but Leadline's own page."""
        return tuple(origin.rstrip("/") for origin in self.allowed_origins.split())

    def origin_allowed(self, origin: str) -> bool:
        return origin_allowed(self.origins(), origin)

    def version(self) -> str:
        """A short fingerprint of what the visitor was shown (fields, boxes, consent words):
        a consent row keeps it as proof of which version of the form they agreed on."""
        shown = [self.title, self.fields, self.consent_text, self.contact_box_label]
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:12]


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will retry)"


class Submission(models.Model):
    """The raw submission, stored before anything else happens to it."""

    # No index of its own: submission_idempotency (form, idempotency_key) serves lookups by
    # form, and each index is one more page written per submission on the capture path.
    form = models.ForeignKey(
        Form, on_delete=models.PROTECT, related_name="submissions", db_index=False
    )
    idempotency_key = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=clock.now, db_index=True)
    payload: models.JSONField[Any] = models.JSONField()
    meta: models.JSONField[Any] = models.JSONField(default=dict)
    status = models.CharField(
        max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["form", "idempotency_key"], name="submission_idempotency"
            ),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="submission_status")]

    def __str__(self) -> str:
        return f"Submission {self.pk} to {self.form_id}"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Request(models.Model):
    """What a person asked for, and where they asked it."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="requests")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    wants_contact = models.BooleanField(default=False)
    message = models.TextField(blank=True, help_text="What they wrote, in their words")
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL)
    submission = models.OneToOneField(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="request"
    )
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=40, default="form", help_text="form, api, import, ...")
    page_url = models.URLField(max_length=1000, blank=True)
    referrer = models.URLField(max_length=1000, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} request from {self.person}"


class Consent(models.Model):
    """What a person agreed to, when, how and on which form."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=60, help_text="marketing_email, contact, ...")
    granted = models.BooleanField()
    text = models.TextField(blank=True, help_text="The words they agreed to")
    method = models.CharField(max_length=40, default="form")
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL)
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.SET_NULL)
    captured_at = models.DateTimeField(default=clock.now)
    # The proof (issue 9): which version of the form, where it was given, from which address,
    # and the staff member who recorded it when it did not come through a form.
    form_version = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=1000, blank=True, help_text="Page, API client, ...")
    ip = models.GenericIPAddressField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.purpose}: {'yes' if self.granted else 'no'}"


class AssetDownload(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="downloads")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="downloads")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    downloaded_at = models.DateTimeField(default=clock.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.asset} by {self.person}"
