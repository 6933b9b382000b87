"""What privacy keeps: the purposes people consent to, the log of who saw or changed a person,
erasures done, the hashed addresses that must not come back, and where retention got to."""

from __future__ import annotations

from django.db import models

from leadline.core import clock
from leadline.core.models import Person, User


class Purpose(models.Model):
    """Something we ask consent for. The code is what consent rows carry (capture.Consent.purpose);
    outreach reads "marketing_email" for marketing and "contact" for a sales contact."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AccessAction(models.TextChoices):
    VIEW = "view", "Viewed"
    CHANGE = "change", "Changed"
    MERGE = "merge", "Merged"
    EXPORT = "export", "Exported"
    ERASE = "erase", "Erased"
    CONSENT = "consent", "Recorded consent"


class AccessEntry(models.Model):
    """One look at, or change to, a person's data by a staff member or an API key: one insert,
    no text of the person's own. `person_id` is a plain number (no foreign key), so the log
    survives merges untouched and costs no lookups when written."""

    at = models.DateTimeField(default=clock.now)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    person_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=AccessAction.choices)
    via = models.CharField(max_length=10, default="web", help_text="web or api")
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["person_id", "-at"], name="access_person"),
            models.Index(fields=["-at"], name="access_at"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.action} person {self.person_id}"


class Erasure(models.Model):
    """A person erased on request: who did it, why, what was cleared (counts per table)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="erasures")
    erased_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField()
    erased_at = models.DateTimeField(default=clock.now)
    cleared: models.JSONField[dict[str, int]] = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Erasure of person {self.person_id}"


class Tombstone(models.Model):
    """An erased address, hashed (SHA-256 of the normalised address with the site's secret): an
    import meeting the same address again can skip it without us keeping the address."""

    address_hash = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.address_hash[:12]


class RetentionCursor(models.Model):
    """How far retention has walked a table by id, so each sweep goes on from there."""

    name = models.CharField(max_length=60, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_id}"
