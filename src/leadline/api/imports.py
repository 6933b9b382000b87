"""The API for imports: send a CSV file with a mapping (or a preset's name) and it is queued;
read the jobs, their progress and their row errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Router, Schema
from ninja.errors import ValidationError
from ninja.files import UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging
from leadline.core.permissions import access_imports
from leadline.imports import selectors, services
from leadline.imports.mappings import MappingError, mapping_load, mapping_parse
from leadline.imports.models import ImportJob, ImportRowError

router = Router(tags=["Imports"])


class ImportJobOut(Schema):
    id: int
    kind: str = Field(description="people, accounts, opportunities, events or journey_history")
    file_name: str
    source: str = Field(description="The namespace of the file's own ids")
    status: str = Field(description="draft, queued, running, paused, failed or done")
    rows_total: int | None
    rows_done: int = Field(description="Rows read and committed (where a resume starts)")
    rows_ok: int
    rows_failed: int
    rows_duplicate: int
    errors_not_kept: int = Field(description="Row errors counted but not stored (past 10,000)")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str = Field(description="Why the whole job stopped, if it did")
    mapping: dict[str, Any]


class ImportRowErrorOut(Schema):
    row_number: int = Field(description="1 = the first row after the header")
    column: str
    message: str


def _job(job_id: int) -> ImportJob:
    return get_object_or_404(ImportJob, pk=job_id)


@router.get("", response={200: list[ImportJobOut], **REFUSALS}, summary="Imports, newest first")
@paginate(Paging)
@rule(access_imports)
def imports_list(request: HttpRequest) -> QuerySet[ImportJob]:
    require(request, access_imports)
    return selectors.jobs_recent()


@router.get(
    "/{job_id}", response={200: ImportJobOut, 404: ErrorOut, **REFUSALS}, summary="One import"
)
@rule(access_imports)
def import_get(request: HttpRequest, job_id: int) -> Any:
    require(request, access_imports)
    return _job(job_id)


@router.get(
    "/{job_id}/errors",
    response={200: list[ImportRowErrorOut], 404: ErrorOut, **REFUSALS},
    summary="The rows of an import that were not imported, and why",
)
@paginate(Paging)
@rule(access_imports)
def import_errors(request: HttpRequest, job_id: int) -> QuerySet[ImportRowError]:
    require(request, access_imports)
    return selectors.job_errors(_job(job_id))


def _mapping_problem(problems: list[str], field: str = "mapping") -> ValidationError:
    return ValidationError(
        [{"type": "invalid", "loc": ["form", field], "msg": problem} for problem in problems]
    )


@router.post(
    "",
    response={201: ImportJobOut, 413: ErrorOut, **REFUSALS},
    summary="Import a CSV file (queued for the worker)",
    description=(
        "Multipart: `file` (the CSV, with a header row), and `mapping` (the mapping as JSON: "
        "kind, source, delimiter, missing, columns) or `preset` (a shipped mapping's name, "
        "e.g. x-education-leads). A mapping that does not fit the file answers 422, each "
        "problem naming its column."
    ),
)
@rule(access_imports)
def import_create(
    request: HttpRequest,
    file: File[UploadedFile],
    mapping: Form[str] = "",
    preset: Form[str] = "",
) -> Any:
    user = require(request, access_imports)
    if bool(mapping) == bool(preset):
        raise _mapping_problem(["send a mapping (JSON) or a preset's name, one of them"])
    try:
        if preset:
            chosen = mapping_load(preset)
        else:
            try:
                chosen = mapping_parse(json.loads(mapping))
            except json.JSONDecodeError as exc:
                raise MappingError([f"not JSON: {exc}"]) from exc
    except MappingError as exc:
        raise _mapping_problem(exc.problems, "preset" if preset else "mapping") from exc
    try:
        job = services.import_upload(upload=file, kind=chosen.kind, mapping=chosen, actor=user)
    except services.UploadTooLarge as exc:
        return Status(413, {"detail": str(exc)})
    except services.ImportFileError as exc:
        raise _mapping_problem([str(exc)], "file") from exc
    try:
        job = services.import_queue(job=job, mapping=chosen)
    except (MappingError, services.ImportFileError) as exc:
        services.import_discard(job=job)
        problems = exc.problems if isinstance(exc, MappingError) else [str(exc)]
        raise _mapping_problem(problems) from exc
    return Status(201, job)
