"""Imports: a CSV file brought in as people, accounts, opportunities, events or journey history.

An `ImportJob` is one file with its mapping; `rows_done` is its resume cursor (the data rows
fully processed and committed, each chunk in the transaction that wrote it). Rows that could not
be imported are `ImportRowError`s; `ExternalRef` remembers which object each outside id (or, for
files without ids, each row's hash) became, so the same file imported twice adds nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from leadline.core import clock
from leadline.core.models import User


class ImportKind(models.TextChoices):
    PEOPLE = "people", "People"
    ACCOUNTS = "accounts", "Accounts"
    OPPORTUNITIES = "opportunities", "Opportunities"
    EVENTS = "events", "Events and touches"
    JOURNEY_HISTORY = "journey_history", "Journey history"


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Waiting for its mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    FAILED = "failed", "Failed"
    DONE = "done", "Done"


class ImportJob(models.Model):
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255, help_text="The name the file had when it came")
    file_path = models.CharField(
        max_length=1000, help_text="Where the file is read from (uploads: kept until done)"
    )
    uploaded = models.BooleanField(
        default=False, help_text="The file is our copy of an upload (deleted once imported)"
    )
    mapping: models.JSONField[Any] = models.JSONField(default=dict)
    source = models.CharField(
        max_length=80, help_text="Namespace of the file's own ids (e.g. 'x-education')"
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(
        default=0, help_text="Data rows processed and committed: where a resume starts"
    )
    rows_ok = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    errors_not_kept = models.PositiveIntegerField(
        default=0, help_text="Row errors counted but not stored (past the limit per job)"
    )
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True, help_text="Why the whole job stopped, if it did")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name} ({self.get_status_display()})"

    @property
    def share_done(self) -> float:
        return self.rows_done / self.rows_total if self.rows_total else 0.0


class ImportRowError(models.Model):
    """One row that was not imported, and why. Row 1 is the first data row (the header is not
    counted), so row N is line N + 1 of a file without line breaks inside values."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["row_number", "id"]
        indexes = [models.Index(fields=["job", "row_number"], name="import_error_row")]

    def __str__(self) -> str:
        return f"row {self.row_number} {self.column}: {self.message}"


class ExternalRef(models.Model):
    """The object an outside id became: (source, kind, external id) → object id. Rows without an
    id are remembered by their hash ("row:<sha1>")."""

    source = models.CharField(max_length=80)
    kind = models.CharField(max_length=20)
    external_id = models.CharField(max_length=255)
    object_id = models.BigIntegerField()
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "external_id"], name="external_ref_unique"
            ),
        ]
        indexes = [models.Index(fields=["kind", "object_id"], name="external_ref_object")]

    def __str__(self) -> str:
        return f"{self.source}:{self.kind}:{self.external_id} → {self.object_id}"
