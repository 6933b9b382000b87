"""Import pages: upload a CSV file, map its columns (with the first rows shown), start, and
watch the job (a progress bar polled by htmx), with its row errors, paginated and as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import User
from leadline.core.permissions import access_imports
from leadline.imports import selectors, services
from leadline.imports.mappings import (
    ROLES,
    TYPES,
    MappingError,
    guess_role,
    mapping_load,
    mapping_parse,
    mapping_presets,
)
from leadline.imports.models import ImportJob, ImportKind, ImportStatus
from leadline.web.access import page

PROGRESS_EVERY = "1s"
ERRORS_PER_PAGE = 50
PREVIEW_ROWS = 20
ROLE_WORDS = {
    "external_id": "Their id (external id)",
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "title": "Job title",
    "role_own_words": "Role in their words",
    "phone": "Phone",
    "country": "Country",
    "account": "Company (account)",
    "created_at": "Created at",
    "attribute": "Custom field",
    "outcome": "Outcome (won / lost)",
    "outcome_at": "Outcome at",
    "ignore": "Leave out",
    "name": "Name",
    "domain": "Web domain",
    "industry": "Industry",
    "employees": "Employees",
    "person": "Person (their id or email)",
    "amount": "Amount",
    "status": "Status (open / won / lost)",
    "opened_at": "Opened at",
    "closed_at": "Closed at",
    "occurred_at": "Happened at",
    "campaign": "Campaign",
    "channel": "Channel",
    "content": "Content",
    "property": "Event property",
    "journey": "Journey",
    "step": "Step",
    "at": "Moved at",
}


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


@require_GET
@page(access_imports)
def imports_list(request: HttpRequest) -> HttpResponse:
    jobs = Paginator(selectors.jobs_recent(), 30).get_page(request.GET.get("page"))
    return render(request, "web/imports_list.html", {"nav": "imports", "page_obj": jobs})


def _presets() -> list[dict[str, str]]:
    found = []
    for name in mapping_presets():
        preset = mapping_load(name)
        found.append({"name": name, "kind": preset.kind, "description": preset.description})
    return found


@require_http_methods(["GET", "POST"])
@page(access_imports)
def imports_new(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    kind = request.POST.get("kind", ImportKind.PEOPLE)
    preset = request.POST.get("preset", "")
    limit_mb = settings.IMPORTS_MAX_UPLOAD_BYTES // (1024 * 1024)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = "Choose a CSV file.", 400
        else:
            try:
                job = services.import_upload(
                    upload=upload, kind=kind, preset=preset, actor=_user(request)
                )
            except services.UploadTooLarge as exc:
                error, status = f"Too large: {exc}.", 413
            except (MappingError, services.ImportFileError) as exc:
                error, status = str(exc), 400
            else:
                return redirect("web:imports_mapping", pk=job.pk)
    context = {
        "nav": "imports",
        "kinds": ImportKind.choices,
        "kind": kind,
        "presets": _presets(),
        "preset": preset,
        "error": error,
        "limit_mb": limit_mb,
    }
    return render(request, "web/imports_new.html", context, status=status)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _value_map(text: str) -> dict[str, str]:
    """ "Won=won; Engaging=open" → {"Won": "won", "Engaging": "open"}."""
    found = {}
    for part in text.split(";"):
        if "=" in part:
            said, _, meant = part.partition("=")
            if said.strip():
                found[said.strip()] = meant.strip()
    return found


def _value_map_text(values: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in values.items())


def _mapping_from_post(job: ImportJob, header: list[str], post: Any) -> dict[str, Any]:
    data = dict(job.mapping)
    data["source"] = post.get("source", "").strip()
    delimiter = post.get("delimiter", data.get("delimiter", ","))
    data["delimiter"] = "\t" if delimiter == "tab" else delimiter
    data["missing"] = _split(post.get("missing", ""))
    columns: dict[str, Any] = {}
    for index, head in enumerate(header):
        spec: dict[str, Any] = {"to": post.get(f"role-{index}", "attribute")}
        if (kind_of_value := post.get(f"type-{index}", "")) in TYPES:
            spec["type"] = kind_of_value
        if values := _value_map(post.get(f"values-{index}", "")):
            spec["values"] = values
        if spec["to"] == "outcome":
            spec["won"] = _split(post.get(f"won-{index}", ""))
            spec["lost"] = _split(post.get(f"lost-{index}", ""))
        columns[head] = spec
    data["columns"] = columns
    return data


def _columns_context(
    job: ImportJob, header: list[str], rows: list[list[str]], problems: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each column with its first values, its role (the mapping's, or guessed from the header)
    and the problems that name it; and the problems that name no column."""
    mapping = job.mapping if isinstance(job.mapping, dict) else {}
    specs = mapping.get("columns") or {}
    left = list(problems)
    columns = []
    for index, head in enumerate(header):
        spec = specs.get(head)
        if isinstance(spec, str):
            spec = {"to": spec}
        spec = spec or {"to": guess_role(head, job.kind)}
        mine = [p for p in problems if f"column {head!r}" in p]
        left = [p for p in left if p not in mine]
        seen: list[str] = []
        for row in rows:
            value = row[index] if index < len(row) else ""
            if value and value not in seen:
                seen.append(value)
        columns.append(
            {
                "index": index,
                "header": head,
                "values": seen[:6],
                "more": max(0, len(seen) - 6),
                "role": spec.get("to", "attribute"),
                "type": spec.get("type", "") if not spec.get("inferred") else "",
                "values_map": _value_map_text(spec.get("values") or {}),
                "won": ", ".join(str(v) for v in spec.get("won") or ()),
                "lost": ", ".join(str(v) for v in spec.get("lost") or ()),
                "problems": mine,
            }
        )
    return columns, left


@require_http_methods(["GET", "POST"])
@page(access_imports)
def imports_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status != ImportStatus.DRAFT:
        return redirect("web:imports_detail", pk=job.pk)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            header, _ = selectors.job_preview(job, rows=1)
        except services.ImportFileError as exc:
            header, problems = [], [str(exc)]
        data = _mapping_from_post(job, header, request.POST)
        job.mapping = data  # shown again as chosen, whatever happens next
        try:
            mapping = mapping_parse(data)
            if request.POST.get("action") == "start":
                services.import_queue(job=job, mapping=mapping)
                messages.success(request, "Import queued: the worker is on it.")
                return redirect("web:imports_detail", pk=job.pk)
            ImportJob.objects.filter(pk=job.pk).update(mapping=data, source=mapping.source)
            problems += services.mapping_problems(job=job, mapping=mapping)
        except MappingError as exc:
            problems += exc.problems
        except (ValueError, services.ImportFileError) as exc:
            problems.append(str(exc))
        status = 400 if problems else 200
    try:
        header, rows = selectors.job_preview(job, rows=PREVIEW_ROWS)
    except services.ImportFileError as exc:
        header, rows = [], []
        problems.append(str(exc))
    columns, general = _columns_context(job, header, rows, problems)
    chosen: dict[str, Any] = job.mapping if isinstance(job.mapping, dict) else {}
    delimiter = chosen.get("delimiter", ",")
    context = {
        "nav": "imports",
        "job": job,
        "columns": columns,
        "general": general,
        "roles": [(role, ROLE_WORDS.get(role, role)) for role in ROLES[job.kind]],
        "types": TYPES,
        "source": chosen.get("source", job.source),
        "delimiter": "tab" if delimiter == "\t" else delimiter,
        "missing": ", ".join(chosen.get("missing") or []),
        "preview_rows": len(rows),
    }
    return render(request, "web/imports_mapping.html", context, status=status)


def _progress_context(job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "poll": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "poll_every": PROGRESS_EVERY,
        "percent": round(100 * job.share_done),
    }


@require_GET
@page(access_imports)
def imports_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if job.status == ImportStatus.DRAFT:
        return redirect("web:imports_mapping", pk=job.pk)
    errors = Paginator(selectors.job_errors(job), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "nav": "imports",
        **_progress_context(job),
        "page_obj": errors,
        "may_resume": job.status in (ImportStatus.PAUSED, ImportStatus.FAILED),
    }
    return render(request, "web/imports_detail.html", context)


@require_GET
@page(access_imports)
def imports_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    context = _progress_context(job)
    # 286: htmx stops polling once the job has stopped (and still shows this last answer).
    status = 200 if context["poll"] else 286
    return render(request, "web/_imports_progress.html", context, status=status)


@require_GET
@page(access_imports)
def imports_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(["row", "column", "error"])
        for row_number, column, message in (
            selectors.job_errors(job).values_list("row_number", "column", "message").iterator()
        ):
            yield writer.writerow([row_number, column, message])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response  # type: ignore[return-value]  # streamed: an HttpResponse in all but type


@require_POST
@page(access_imports)
def imports_resume(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        services.import_queue(job=job)
    except (ValueError, services.ImportFileError) as exc:
        messages.error(request, f"Cannot resume: {exc}")
    else:
        messages.success(request, f"Resuming from row {job.rows_done + 1}.")
    return redirect("web:imports_detail", pk=job.pk)


urlpatterns: list[URLPattern] = [
    path("imports/", imports_list, name="imports"),
    path("imports/new/", imports_new, name="imports_new"),
    path("imports/<int:pk>/", imports_detail, name="imports_detail"),
    path("imports/<int:pk>/mapping/", imports_mapping, name="imports_mapping"),
    path("imports/<int:pk>/progress/", imports_progress, name="imports_progress"),
    path("imports/<int:pk>/errors.csv", imports_errors_csv, name="imports_errors_csv"),
    path("imports/<int:pk>/resume/", imports_resume, name="imports_resume"),
]
