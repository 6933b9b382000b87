"""Reads for imports: jobs, their row errors, a file's first rows."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet

from leadline.imports.mappings import Mapping, MappingError, mapping_parse
from leadline.imports.models import ImportJob, ImportRowError
from leadline.imports.services import file_preview


def jobs_recent() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")


def job_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    return job.row_errors.order_by("row_number", "id")


def job_preview(job: ImportJob, *, rows: int = 20) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows of the job's file, read with its mapping's separator and
    encoding (whatever else the mapping gets wrong). Raises ImportFileError when the file
    cannot be read so."""
    chosen = job.mapping if isinstance(job.mapping, dict) else {}
    reading = {"kind": job.kind, "source": "preview", "columns": {}}
    for key in ("delimiter", "encoding"):
        if key in chosen:
            reading[key] = chosen[key]
    try:
        mapping = mapping_parse(reading)
    except MappingError:  # a bad separator or encoding: read as the default CSV
        mapping = Mapping(kind=job.kind, source="preview", columns={})
    return file_preview(path=Path(job.file_path), mapping=mapping, rows=rows)
