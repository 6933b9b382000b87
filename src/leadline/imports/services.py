"""Writes for imports: a CSV file read as a stream, in chunks, into people, accounts,
opportunities, events or journey history.

Each chunk (CHUNK rows) is one transaction that also advances the job's `rows_done`, so a crash
or Ctrl-C loses nothing and writes nothing twice: `import_run` goes on from the first row not
committed. Rows already imported are recognised by their external id (`ExternalRef`), else by
email (people), else by a hash of the row, and counted as duplicates. A row that does not fit
(bad number, unknown status, unknown person) is an `ImportRowError` with its row number, column
and reason; the rows that fit are kept.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.text import slugify
from django_countries import countries

from leadline.capture.services import email_domain, email_normalise
from leadline.core import clock
from leadline.core.models import (
    Account,
    AccountDomain,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    User,
)
from leadline.core.selectors import merge_survivor
from leadline.core.services import audit_record, people_search_refresh
from leadline.engagement.models import Opportunity, OpportunityStatus
from leadline.imports.mappings import (
    INFER_SAMPLE,
    Column,
    Mapping,
    MappingError,
    ValueProblem,
    mapping_check,
    mapping_complete,
    mapping_load,
    mapping_parse,
    value_convert,
)
from leadline.imports.models import (
    ExternalRef,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
)
from leadline.journeys.models import (
    Event,
    EventSource,
    Journey,
    JourneyPosition,
    JourneyStep,
    TransitionCause,
)
from leadline.journeys.services import _Moves

CHUNK = 1000
MAX_ERRORS = 10_000  # row errors kept per job; the rest are counted (errors_not_kept)
Progress = Callable[[int, int], None]
COUNTRY_ALIASES = {"united states": "US", "usa": "US", "uk": "GB", "england": "GB"}


class ImportFileError(ValueError):
    """The file cannot be read with this mapping (missing, wrong encoding, bad header)."""


# Reading ------------------------------------------------------------------------------------------


def _encoding(mapping: Mapping) -> str:
    name = mapping.encoding.lower().replace("_", "-")
    return "utf-8-sig" if name in ("utf-8", "utf8") else mapping.encoding


@contextmanager
def _csv_rows(path: Path, mapping: Mapping) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    """(header, the data rows) streamed from the file; never the whole file in memory."""
    try:
        handle: TextIO = open(path, newline="", encoding=_encoding(mapping))  # noqa: SIM115
    except OSError as exc:
        raise ImportFileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ImportFileError(f"{path.name} is empty: no header row") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"cannot read the header of {path.name}: {exc}") from exc
        yield header, reader


def file_preview(
    *, path: Path, mapping: Mapping, rows: int = 20
) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows, as they are in the file."""
    with _csv_rows(path, mapping) as (header, reader):
        try:
            return header, list(itertools.islice(reader, rows))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"cannot read {path.name}: {exc}") from exc


def _count_rows(path: Path, mapping: Mapping) -> int:
    with _csv_rows(path, mapping) as (_, reader):
        try:
            return sum(1 for _ in reader)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"cannot read {path.name}: {exc}") from exc


def mapping_for_file(*, path: Path, mapping: Mapping | str) -> Mapping:
    """The mapping checked against the file's header and completed (a column for every header,
    types inferred from the first rows). Raises MappingError naming each bad column, or
    ImportFileError."""
    if isinstance(mapping, str):
        mapping = mapping_load(mapping)
    header, sample = file_preview(path=path, mapping=mapping, rows=INFER_SAMPLE)
    problems = mapping_check(mapping, header)
    if problems:
        raise MappingError(problems)
    return mapping_complete(mapping, header, sample)


def mapping_problems(*, job: ImportJob, mapping: Mapping) -> list[str]:
    """What stops this mapping from reading the job's file (each problem naming its column)."""
    try:
        header, _ = file_preview(path=Path(job.file_path), mapping=mapping, rows=0)
    except ImportFileError as exc:
        return [str(exc)]
    return mapping_check(mapping, header)


# Starting and running ---------------------------------------------------------------------------


def import_start(
    *,
    path: Path,
    mapping: Mapping | str,
    actor: User | None = None,
    file_name: str = "",
    uploaded: bool = False,
    status: str = ImportStatus.QUEUED,
) -> ImportJob:
    """A job for this file, checked and counted, ready for `import_run`. Raises MappingError (a
    problem per column) or ImportFileError; nothing is stored then."""
    complete = mapping_for_file(path=path, mapping=mapping)
    total = _count_rows(path, complete)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=complete.kind,
            file_name=file_name or path.name,
            file_path=str(path),
            uploaded=uploaded,
            mapping=complete.as_dict(),
            source=complete.source,
            status=status,
            rows_total=total,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="import.start",
            obj=job,
            data={"file": job.file_name, "kind": job.kind, "rows": total},
        )
    return job


class UploadTooLarge(ValueError):
    pass


def _sniff_delimiter(path: Path) -> str:
    """The separator the header line uses most: , ; tab or |."""
    with open(path, "rb") as handle:
        line = handle.readline(64 * 1024).decode("utf-8", errors="replace")
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def import_upload(
    *,
    upload: Any,
    kind: str,
    actor: User | None,
    preset: str = "",
    mapping: Mapping | None = None,
) -> ImportJob:
    """Keep an uploaded file (until its import is done) and make a draft job for it, its
    mapping a preset's, the one given, or empty (to be chosen on the mapping page). Raises
    UploadTooLarge, MappingError (unknown preset) or ImportFileError (no header)."""
    limit = settings.IMPORTS_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadTooLarge(f"the file is larger than {limit // (1024 * 1024)} MB")
    if mapping is None and preset:
        mapping = mapping_load(preset)
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.csv"
    with open(path, "wb") as handle:
        for piece in upload.chunks():
            handle.write(piece)
    name = Path(str(upload.name or "upload.csv")).name[:255]
    if mapping is None:
        if kind not in ImportKind.values:
            path.unlink(missing_ok=True)
            raise MappingError([f"kind: {kind!r} is not one of {', '.join(ImportKind.values)}"])
        stem = slugify(Path(name).stem)[:60] or "upload"
        data: dict[str, Any] = {
            "name": "",
            "kind": kind,
            "source": stem,
            "delimiter": _sniff_delimiter(path),
            "columns": {},
        }
    else:
        data = mapping.as_dict()
    try:
        file_preview(path=path, mapping=mapping_parse(data), rows=1)
    except ImportFileError:
        path.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=data["kind"],
            file_name=name,
            file_path=str(path),
            uploaded=True,
            mapping=data,
            source=data["source"],
            status=ImportStatus.DRAFT,
            created_by=actor,
        )
        audit_record(actor=actor, action="import.upload", obj=job, data={"file": name})
    return job


def import_discard(*, job: ImportJob) -> None:
    """Drop a draft that will not be imported, and our copy of its file."""
    if job.status != ImportStatus.DRAFT:
        raise ValueError("only a draft import can be dropped")
    if job.uploaded:
        Path(job.file_path).unlink(missing_ok=True)
    job.delete()


def import_queue(*, job: ImportJob, mapping: Mapping | None = None) -> ImportJob:
    """Queue a job (a draft with its mapping now chosen, or a paused or failed one to resume) for
    the worker. Raises MappingError when the mapping does not fit the file."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status in (ImportStatus.DONE, ImportStatus.RUNNING):
            raise ValueError(f"the import is {job.get_status_display().lower()}")
        if mapping is not None:
            complete = mapping_for_file(path=Path(job.file_path), mapping=mapping)
            if job.rows_done and complete.kind != job.kind:
                raise ValueError("a started import keeps its kind")
            job.mapping, job.kind, job.source = complete.as_dict(), complete.kind, complete.source
        if job.rows_total is None:
            job.rows_total = _count_rows(Path(job.file_path), mapping_parse(job.mapping))
        job.status, job.error = ImportStatus.QUEUED, ""
        job.save()

        def enqueue() -> None:
            from leadline.imports.tasks import import_run_task

            import_run_task.enqueue(job.pk)

        transaction.on_commit(enqueue, robust=True)
    return job


def import_file(
    *,
    path: Path,
    mapping: Mapping | str,
    actor: User | None = None,
    progress: Progress | None = None,
) -> ImportJob:
    """Import a file now (synchronously) and return the finished job."""
    job = import_start(path=Path(path), mapping=mapping, actor=actor)
    return import_run(job_id=job.pk, progress=progress)


class _DryRun(Exception):  # a signal to roll back, not an error
    pass


def import_dry_run(*, path: Path, mapping: Mapping | str) -> ImportJob:
    """Everything an import would do, rolled back: the counts and errors it would have. The
    returned job is not stored; its errors are in `job.dry_errors`."""
    outcome: dict[str, Any] = {}
    try:
        with transaction.atomic():
            job = import_start(path=Path(path), mapping=mapping)
            job = import_run(job_id=job.pk)
            outcome["job"] = job
            outcome["errors"] = list(job.row_errors.all()[:100])
            raise _DryRun
    except _DryRun:
        pass
    result: ImportJob = outcome["job"]
    result.dry_errors = outcome["errors"]  # type: ignore[attr-defined]
    return result


def import_run(*, job_id: int, progress: Progress | None = None) -> ImportJob:
    """Run (or resume) a job from its first row not committed; returns the job when it stops.

    A file that turns out unreadable half-way fails the job (its committed chunks stay). An
    exception from `progress` or a Ctrl-C stops it too, paused, and is raised again; running
    the job again goes on where it stopped."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status == ImportStatus.DONE:
            return job
        job.status, job.error = ImportStatus.RUNNING, ""
        job.started_at = job.started_at or clock.now()
        job.save(update_fields=["status", "error", "started_at"])
    mapping = mapping_parse(job.mapping)
    try:
        _run(job, mapping, progress)
    except (ImportFileError, UnicodeDecodeError, csv.Error, OSError) as exc:
        _stop(job, ImportStatus.FAILED, f"the file could not be read further: {exc}")
        return job
    except KeyboardInterrupt:
        _stop(job, ImportStatus.PAUSED, "stopped by hand; resume to go on")
        raise
    except _Superseded:
        job.refresh_from_db()
        return job
    except Exception as exc:
        _stop(job, ImportStatus.FAILED, f"stopped: {exc}")
        raise
    with transaction.atomic():
        job.status, job.finished_at = ImportStatus.DONE, clock.now()
        job.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=job.created_by,
            action="import.done",
            obj=job,
            data={
                "file": job.file_name,
                "ok": job.rows_ok,
                "failed": job.rows_failed,
                "duplicate": job.rows_duplicate,
            },
        )
    if job.uploaded:
        Path(job.file_path).unlink(missing_ok=True)
    return job


def _stop(job: ImportJob, status: str, error: str) -> None:
    # Whatever happened to the connection's transaction, the counters committed stay right.
    ImportJob.objects.filter(pk=job.pk).update(status=status, error=error[:2000])
    job.refresh_from_db()


class _Superseded(Exception):
    """Someone else moved this job's cursor: another worker runs it."""


def _run(job: ImportJob, mapping: Mapping, progress: Progress | None) -> None:
    total = job.rows_total or 0
    with _csv_rows(Path(job.file_path), mapping) as (header, reader):
        problems = mapping_check(mapping, header)
        if problems:
            raise ImportFileError("; ".join(problems))
        rows = enumerate(reader, start=1)
        for _ in itertools.islice(rows, job.rows_done):  # resume: skip what is committed
            pass
        writer = WRITERS[job.kind]
        while chunk := list(itertools.islice(rows, CHUNK)):
            _chunk_commit(job, mapping, header, chunk, writer)
            if progress is not None:
                progress(job.rows_done, max(total, job.rows_done))


# Chunks ------------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Row:
    number: int
    cells: list[str]
    values: dict[str, Any] = dataclasses.field(default_factory=dict)  # role → value
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # role → column header
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    attributes_at: dict[str, str] = dataclasses.field(default_factory=dict)
    key: str = ""
    failed: bool = False
    duplicate: bool = False


class _Chunk:
    def __init__(self, job: ImportJob, mapping: Mapping, rows: list[_Row]) -> None:
        self.job, self.mapping, self.rows = job, mapping, rows
        self.errors: list[ImportRowError] = []
        self.now = clock.now()

    def fail(self, row: _Row, column: str, message: str) -> None:
        row.failed = True
        self.errors.append(
            ImportRowError(job=self.job, row_number=row.number, column=column, message=message)
        )

    def live(self) -> list[_Row]:
        return [row for row in self.rows if not row.failed and not row.duplicate]

    def column(self, role: str) -> str:
        column = self.mapping.role_column(role)
        return column.header if column else ""

    def dedupe(self, kind: str) -> list[_Row]:
        """Mark rows whose key this source has imported before (or earlier in the chunk) as
        duplicates; returns the rest."""
        rows = [row for row in self.rows if not row.failed]
        known = set(
            ExternalRef.objects.filter(
                source=self.mapping.source, kind=kind, external_id__in={r.key for r in rows}
            ).values_list("external_id", flat=True)
        )
        for row in rows:
            if row.key in known:
                row.duplicate = True
            known.add(row.key)
        return self.live()

    def refs(self, kind: str, made: Sequence[tuple[_Row, int]]) -> None:
        ExternalRef.objects.bulk_create(
            ExternalRef(
                source=self.mapping.source,
                kind=kind,
                external_id=row.key[:255],
                object_id=object_id,
                job=self.job,
            )
            for row, object_id in made
        )


Writer = Callable[[_Chunk], None]


def _row_parse(chunk: _Chunk, row: _Row, header: list[str], columns: list[Column | None]) -> None:
    mapping = chunk.mapping
    if not any(cell.strip() for cell in row.cells):
        chunk.fail(row, "", "empty row")
        return
    if len(row.cells) != len(header):
        chunk.fail(row, "", f"has {len(row.cells)} values; the header has {len(header)} columns")
        return
    known_at: dict[str, dt.datetime | None] = {}
    for index, column in enumerate(columns):
        if column is None or column.to == "ignore":
            continue
        try:
            value = value_convert(column, row.cells[index], mapping.missing)
        except ValueProblem as exc:
            chunk.fail(row, column.header, str(exc))
            continue
        if column.to in ("attribute", "property"):
            if value is None:
                continue
            row.attributes[column.field_name] = (
                value.isoformat() if isinstance(value, dt.datetime) else value
            )
            if column.known_at:
                if column.known_at not in known_at:
                    known_at[column.known_at] = _known_at(chunk, row, header, column.known_at)
                moment = known_at[column.known_at]
                if moment is not None:
                    row.attributes_at[column.field_name] = moment.isoformat()
        else:
            row.values[column.to] = value
            row.headers[column.to] = column.header
    external = row.values.get("external_id")
    row.key = str(external) if external not in (None, "") else "row:" + _row_hash(row.cells)


def _known_at(chunk: _Chunk, row: _Row, header: list[str], name: str) -> dt.datetime | None:
    index = header.index(name)
    column = chunk.mapping.columns.get(name) or Column(header=name)
    try:
        moment: dt.datetime | None = value_convert(
            dataclasses.replace(column, type="date", inferred=False),
            row.cells[index],
            chunk.mapping.missing,
        )
        return moment
    except ValueProblem as exc:
        chunk.fail(row, name, str(exc))
        return None


def _row_hash(cells: Sequence[str]) -> str:
    return hashlib.sha1("\x1f".join(cells).encode(), usedforsecurity=False).hexdigest()


def _chunk_commit(
    job: ImportJob,
    mapping: Mapping,
    header: list[str],
    numbered: list[tuple[int, list[str]]],
    writer: Writer,
) -> None:
    """One chunk: parse, check, dedupe, write; the counters and the cursor move with it."""
    columns = [mapping.columns.get(h) for h in header]
    rows = [_Row(number=number, cells=cells) for number, cells in numbered]
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.rows_done != job.rows_done:
            raise _Superseded
        chunk = _Chunk(job, mapping, rows)
        for row in rows:
            _row_parse(chunk, row, header, columns)
        writer(chunk)
        kept = max(0, MAX_ERRORS - job.row_errors.count()) if chunk.errors else 0
        ImportRowError.objects.bulk_create(chunk.errors[:kept])
        job.errors_not_kept += max(0, len(chunk.errors) - kept)
        job.rows_done += len(rows)
        job.rows_failed += sum(row.failed for row in rows)
        job.rows_duplicate += sum(row.duplicate for row in rows)
        job.rows_ok += sum(not row.failed and not row.duplicate for row in rows)
        job.save(
            update_fields=[
                "rows_done", "rows_ok", "rows_failed", "rows_duplicate", "errors_not_kept",
            ]
        )  # fmt: skip


# Looking things up -------------------------------------------------------------------------------


def country_code(value: str) -> str:
    """ "IN", "in", "India" → "IN". Raises ValueProblem for a name nobody knows."""
    code = _country_lookup(value.strip())
    if not code:
        raise ValueProblem(f"not a country: {value!r} (give its name or ISO code)")
    return code


@functools.lru_cache(maxsize=4096)
def _country_lookup(text: str) -> str:
    """The ISO code of a code or a name (any case); "" if none. Cached: by_name is slow."""
    codes = {str(code): str(name) for code, name in countries}
    if len(text) == 2 and text.upper() in codes:
        return text.upper()
    code = countries.by_name(text) or COUNTRY_ALIASES.get(text.lower(), "")
    if not code:
        code = {name.lower(): c for c, name in codes.items()}.get(text.lower(), "")
    return str(code)


def _people_by_ref(chunk: _Chunk, values: set[str]) -> dict[str, int]:
    """Each reference (an external id of a person this source imported, or an email) → the
    person's id; references nobody has are left out."""
    found: dict[str, int] = {
        ref: object_id
        for ref, object_id in ExternalRef.objects.filter(
            source=chunk.mapping.source, kind="person", external_id__in=values
        ).values_list("external_id", "object_id")
    }
    emails: dict[str, list[str]] = {}
    for value in values - set(found):
        if "@" in value:
            emails.setdefault(email_normalise(value), []).append(value)
    for owned in PersonEmail.objects.select_related("person").filter(email__in=set(emails)):
        for value in emails[owned.email]:
            found[value] = merge_survivor(owned.person).pk
    return found


def _accounts_by_ref(chunk: _Chunk, values: set[str]) -> dict[str, Account]:
    """Each reference (an account's external id in this source, or its name) → the account."""
    refs = dict(
        ExternalRef.objects.filter(
            source=chunk.mapping.source,
            kind="account",
            external_id__in=values | {_name_key(v) for v in values},
        ).values_list("external_id", "object_id")
    )
    ids = {v: refs.get(v) or refs.get(_name_key(v)) for v in values}
    accounts = Account.objects.in_bulk({i for i in ids.values() if i is not None})
    found = {v: merge_survivor(accounts[i]) for v, i in ids.items() if i in accounts}
    rest = {v.lower(): v for v in values - set(found)}
    if rest:
        by_name = (
            Account.objects.annotate(lowered=Lower("name"))
            .filter(lowered__in=set(rest), merged_into__isnull=True)
            .order_by("pk")
        )
        for account in by_name:
            found.setdefault(rest[account.name.lower()], account)
    return found


def _references_resolve(
    chunk: _Chunk, *, account_hint: str = ""
) -> tuple[dict[str, int], dict[str, Account]]:
    """The people (→ id) and accounts the chunk's rows name, by external id, email or name; a
    row naming one nobody has fails, naming its column."""
    pending = [row for row in chunk.rows if not row.failed]
    named = {
        role: {str(r.values[role]) for r in pending if r.values.get(role) is not None}
        for role in ("person", "account")
    }
    people = _people_by_ref(chunk, named["person"])
    accounts = _accounts_by_ref(chunk, named["account"])
    for row in pending:
        if (person := row.values.get("person")) is not None and str(person) not in people:
            chunk.fail(row, row.headers["person"], f"no person with id or email {person!r}")
        if (account := row.values.get("account")) is not None and str(account) not in accounts:
            chunk.fail(row, row.headers["account"], f"no account {account!r}{account_hint}")
    return people, accounts


def _name_key(name: str) -> str:
    return "name:" + name.strip().lower()


def _stamp(target: Any, row: _Row) -> None:
    """Custom fields onto a person, account or opportunity: new values win, times go with them."""
    if not row.attributes:
        return
    target.attributes = {**(target.attributes or {}), **row.attributes}
    times = dict(target.attributes_at or {})
    for name in row.attributes:
        if name in row.attributes_at:
            times[name] = row.attributes_at[name]
        else:
            times.pop(name, None)  # a value written now, at a time nobody recorded
    target.attributes_at = times


# People ------------------------------------------------------------------------------------------

PERSON_FIELDS = ("first_name", "last_name", "title", "role_own_words", "country")


def _people_write(chunk: _Chunk) -> None:
    mapping = chunk.mapping
    outcome_column = mapping.role_column("outcome")
    for row in chunk.rows:
        if row.failed:
            continue
        _person_values_check(chunk, row, outcome_column)
    rows = chunk.dedupe("person")
    emails = {row.values["email"] for row in rows if row.values.get("email")}
    known = {
        owned.email: merge_survivor(owned.person)
        for owned in PersonEmail.objects.select_related("person").filter(email__in=emails)
    }
    accounts = _accounts_for_people(chunk, rows)
    new: list[Person] = []
    new_emails: dict[str, Person] = {}
    changed: dict[int, Person] = {}
    person_of: dict[_Row, Person] = {}
    for row in rows:
        email = row.values.get("email")
        person = known.get(email) if email else None
        person = person or (new_emails.get(email) if email else None)
        if person is None:
            person = Person(created_at=row.values.get("created_at") or chunk.now)
            new.append(person)
            if email:
                new_emails[email] = person
        elif person.pk is not None:
            changed[person.pk] = person
        for name in PERSON_FIELDS:
            value = row.values.get(name)
            if value and not getattr(person, name):
                setattr(person, name, value)
        _stamp(person, row)
        person.updated_at = chunk.now
        person_of[row] = person
    Person.objects.bulk_create(new)
    Person.objects.bulk_update(
        changed.values(), [*PERSON_FIELDS, "attributes", "attributes_at", "updated_at"]
    )
    PersonEmail.objects.bulk_create(
        PersonEmail(person=person, email=email, is_primary=True)
        for email, person in new_emails.items()
    )
    PersonPhone.objects.bulk_create(
        (
            PersonPhone(person=person_of[row], e164=row.values["phone"])
            for row in rows
            if row.values.get("phone")
        ),
        ignore_conflicts=True,
    )
    Membership.objects.bulk_create(
        (
            Membership(person=person_of[row], account=accounts[row.values["account"]])
            for row in rows
            if row.values.get("account")
        ),
        ignore_conflicts=True,
    )
    people_search_refresh(person_ids=[person.pk for person in person_of.values()])
    Opportunity.objects.bulk_create(
        Opportunity(
            person=person_of[row],
            status=row.values["outcome"],
            opened_at=row.values.get("created_at") or row.values.get("outcome_at") or chunk.now,
            closed_at=row.values.get("outcome_at") or chunk.now,
        )
        for row in rows
        if row.values.get("outcome")
    )
    chunk.refs("person", [(row, person_of[row].pk) for row in rows])


def _person_values_check(chunk: _Chunk, row: _Row, outcome: Column | None) -> None:
    values = row.values
    if email := values.get("email"):
        email = email_normalise(email)
        if "@" not in email or not email_domain(email) or len(email) > 254:
            chunk.fail(row, row.headers["email"], f"not an email address: {values['email']!r}")
        values["email"] = email
    if full := values.pop("full_name", None):
        first, _, last = full.strip().rpartition(" ")
        values.setdefault("first_name", first or last)
        values.setdefault("last_name", last if first else "")
    if country := values.get("country"):
        try:
            values["country"] = country_code(country)
        except ValueProblem as exc:
            chunk.fail(row, row.headers["country"], str(exc))
    if phone := values.get("phone"):
        try:
            parsed = phonenumbers.parse(phone, values.get("country") or None)
            if not phonenumbers.is_possible_number(parsed):
                raise phonenumbers.NumberParseException(0, "impossible")
            values["phone"] = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
        except phonenumbers.NumberParseException:
            chunk.fail(row, row.headers["phone"], f"not a phone number: {phone!r}")
    for name in PERSON_FIELDS:
        if isinstance(values.get(name), str):
            limit = getattr(Person._meta.get_field(name), "max_length", None)
            if limit and len(values[name]) > limit:
                chunk.fail(row, row.headers[name], f"longer than {limit} characters")
    if (said := values.get("outcome")) is not None and outcome is not None:
        word = str(said)
        if word in outcome.won or word == "won":
            values["outcome"] = OpportunityStatus.WON
        elif word in outcome.lost or word == "lost":
            values["outcome"] = OpportunityStatus.LOST
        else:
            meant = f"won: {', '.join(outcome.won) or '-'}; lost: {', '.join(outcome.lost) or '-'}"
            chunk.fail(row, outcome.header, f"not an outcome value: {word!r} ({meant})")


def _accounts_for_people(chunk: _Chunk, rows: list[_Row]) -> dict[str, Account]:
    """The companies the rows name: found by this source's ids or by name, else made."""
    names = {str(row.values["account"]) for row in rows if row.values.get("account")}
    if not names:
        return {}
    found = _accounts_by_ref(chunk, names)
    made = {name: Account(name=name[:200]) for name in names - set(found)}
    Account.objects.bulk_create(made.values())
    ExternalRef.objects.bulk_create(
        ExternalRef(
            source=chunk.mapping.source,
            kind="account",
            external_id=_name_key(name)[:255],
            object_id=account.pk,
            job=chunk.job,
        )
        for name, account in made.items()
    )
    return {**found, **made}


# Accounts ----------------------------------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "industry", "employees", "country")


def _accounts_write(chunk: _Chunk) -> None:
    for row in chunk.rows:
        if row.failed:
            continue
        values = row.values
        if not values.get("name"):
            if values.get("external_id") in (None, ""):
                chunk.fail(row, chunk.column("name"), "no name")
                continue
            values["name"] = str(values["external_id"])
        values["name"] = str(values["name"])[:200]
        if "external_id" not in row.headers or values.get("external_id") in (None, ""):
            row.key = _name_key(values["name"])
        employees = values.get("employees")
        if employees is not None and (not isinstance(employees, int) or employees < 0):
            chunk.fail(row, row.headers["employees"], f"not a head count: {employees!r}")
        if country := values.get("country"):
            try:
                values["country"] = country_code(country)
            except ValueProblem as exc:
                chunk.fail(row, row.headers["country"], str(exc))
        if domain := values.get("domain"):
            values["domain"] = _domain(domain)
    rows = chunk.dedupe("account")
    domains = {row.values["domain"] for row in rows if row.values.get("domain")}
    by_domain = {
        owned.domain: merge_survivor(owned.account)
        for owned in AccountDomain.objects.select_related("account").filter(domain__in=domains)
    }
    by_name = _accounts_by_ref(chunk, {row.values["name"] for row in rows})
    new: list[Account] = []
    new_domains: dict[str, Account] = {}
    changed: dict[int, Account] = {}
    account_of: dict[_Row, Account] = {}
    for row in rows:
        domain = row.values.get("domain") or ""
        account = by_domain.get(domain) or new_domains.get(domain)
        account = account or by_name.get(row.values["name"])
        if account is None:
            account = Account(name=row.values["name"])
            new.append(account)
            by_name[row.values["name"]] = account
        elif account.pk is not None:
            changed[account.pk] = account
        if domain and domain not in by_domain:
            new_domains.setdefault(domain, account)
        for name in ACCOUNT_FIELDS[1:]:
            value = row.values.get(name)
            if value not in (None, "") and not getattr(account, name):
                setattr(account, name, value)
        _stamp(account, row)
        account.updated_at = chunk.now
        account_of[row] = account
    Account.objects.bulk_create(new)
    Account.objects.bulk_update(
        changed.values(), [*ACCOUNT_FIELDS[1:], "attributes", "attributes_at", "updated_at"]
    )
    AccountDomain.objects.bulk_create(
        (AccountDomain(account=account, domain=d) for d, account in new_domains.items()),
        ignore_conflicts=True,
    )
    chunk.refs("account", [(row, account_of[row].pk) for row in rows])


def _domain(value: str) -> str:
    text = value.strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0].removeprefix("www.")
    return email_domain(text) if "@" in text else text


# Opportunities -----------------------------------------------------------------------------------


def _opportunities_write(chunk: _Chunk) -> None:
    status_column = chunk.mapping.role_column("status")
    for row in chunk.rows:
        if row.failed:
            continue
        values = row.values
        said = values.get("status")
        status = str(said).strip().lower() if said is not None else ""
        if status not in OpportunityStatus.values:
            header = status_column.header if status_column else ""
            chunk.fail(
                row,
                header,
                f"not a status: {said!r} (map it to open, won or lost under values:)"
                if said is not None
                else "no status",
            )
            continue
        values["status"] = status
        if (amount := values.get("amount")) is not None:
            try:
                money = Decimal(str(amount)).quantize(Decimal("0.01"))
            except InvalidOperation:
                money = Decimal(-1)
            if money < 0 or money >= Decimal("1e10"):
                chunk.fail(row, row.headers["amount"], f"not an amount: {amount!r}")
            values["amount"] = money
        if values.get("name"):
            values["name"] = str(values["name"])[:200]
    people, accounts = _references_resolve(chunk, account_hint=" (import accounts first)")
    for row in chunk.rows:
        if row.failed:
            continue
        if row.values.get("person") is None and row.values.get("account") is None:
            chunk.fail(
                row,
                chunk.column("account") or chunk.column("person"),
                "no account or person: an opportunity belongs to one",
            )
    rows = chunk.dedupe("opportunity")
    made: list[tuple[_Row, Opportunity]] = []
    for row in rows:
        values = row.values
        closed = values["status"] != OpportunityStatus.OPEN
        opened_at = values.get("opened_at") or chunk.now
        opportunity = Opportunity(
            person_id=people.get(str(values["person"])) if values.get("person") else None,
            account=accounts.get(str(values["account"])) if values.get("account") else None,
            name=values.get("name") or "",
            amount=values.get("amount"),
            status=values["status"],
            opened_at=opened_at,
            closed_at=(values.get("closed_at") or chunk.now) if closed else None,
        )
        _stamp(opportunity, row)
        made.append((row, opportunity))
    Opportunity.objects.bulk_create(o for _, o in made)
    chunk.refs("opportunity", [(row, o.pk) for row, o in made])


# Events ------------------------------------------------------------------------------------------

EVENT_PROPERTIES = (
    "campaign", "channel", "content", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "utm_term",
)  # fmt: skip


def _events_write(chunk: _Chunk) -> None:
    for row in chunk.rows:
        if row.failed:
            continue
        for role in ("person", "name", "occurred_at"):
            if row.values.get(role) in (None, ""):
                chunk.fail(row, chunk.column(role), f"no {role.replace('_', ' ')}")
    people, _ = _references_resolve(chunk)
    source = chunk.mapping.source
    pending = [row for row in chunk.rows if not row.failed]
    for row in pending:
        row.key = f"import:{source}:{row.key}"[:200]
    seen = set(
        Event.objects.filter(dedupe_key__in={r.key for r in pending}).values_list(
            "dedupe_key", flat=True
        )
    )
    events: list[Event] = []
    for row in pending:
        if row.key in seen:
            row.duplicate = True
            continue
        seen.add(row.key)
        properties = dict(row.attributes)
        for role in EVENT_PROPERTIES:
            if row.values.get(role) not in (None, ""):
                properties[role] = row.values[role]
        events.append(
            Event(
                source=EventSource.IMPORT,
                name=str(row.values["name"])[:80],
                person_id=people[str(row.values["person"])],
                occurred_at=row.values["occurred_at"],
                recorded_at=chunk.now,
                properties=properties,
                dedupe_key=row.key,
            )
        )
    Event.objects.bulk_create(events)


# Journey history ---------------------------------------------------------------------------------


def _journey_history_write(chunk: _Chunk) -> None:
    mapping = chunk.mapping
    journeys: dict[str, Journey | None] = {}

    def journey_named(name: str) -> Journey | None:
        if name not in journeys:
            journeys[name] = (
                Journey.objects.filter(slug=name).first()
                or Journey.objects.filter(name__iexact=name).first()
            )
        return journeys[name]

    steps: dict[tuple[int, str], JourneyStep | None] = {}
    for row in chunk.rows:
        if row.failed:
            continue
        values = row.values
        if (values.get("person") is None) == (values.get("account") is None):
            column = chunk.column("person") or chunk.column("account")
            chunk.fail(row, column, "name a person or an account (one of them)")
            continue
        for role in ("step", "at"):
            if values.get(role) in (None, ""):
                chunk.fail(row, chunk.column(role), f"no {role}")
        name = str(values.get("journey") or mapping.journey or "")
        journey = journey_named(name) if name else None
        if journey is None:
            chunk.fail(row, chunk.column("journey"), f"no journey {name!r}")
            continue
        if row.failed:
            continue
        step_key = (journey.pk, str(values["step"]).strip().lower())
        if step_key not in steps:
            steps[step_key] = next(
                (s for s in journey.steps.all() if s.name.strip().lower() == step_key[1]), None
            )
        if steps[step_key] is None:
            chunk.fail(row, chunk.column("step"), f"no step {values['step']!r} on {journey.name}")
            continue
        values["journey"], values["step"] = journey, steps[step_key]
    people, accounts = _references_resolve(chunk)
    rows = chunk.dedupe("transition")
    person_ids = {
        people[str(r.values["person"])] for r in rows if r.values.get("person") is not None
    }
    person_objects = Person.objects.in_bulk(person_ids)

    def subject_of(row: _Row) -> Person | Account:
        if row.values.get("person") is not None:
            return person_objects[people[str(row.values["person"])]]
        return accounts[str(row.values["account"])]

    subjects = {row: subject_of(row) for row in rows}
    positions: dict[tuple[int, str, int], JourneyPosition] = {}
    if rows:
        journey_ids = {r.values["journey"].pk for r in rows}
        for kind, model in (("person", Person), ("account", Account)):
            ids = {s.pk for s in subjects.values() if isinstance(s, model)}
            if not ids:
                continue
            for found in (
                JourneyPosition.objects.select_for_update()
                .select_related("step")
                .filter(journey_id__in=journey_ids, **{f"{kind}_id__in": ids})
            ):
                subject_id = found.person_id if kind == "person" else found.account_id
                positions[(found.journey_id, kind, subject_id or 0)] = found
    moves = _Moves()
    moved_rows: list[_Row] = []
    for row in sorted(rows, key=lambda r: r.values["at"]):
        subject = subjects[row]
        on: Journey = row.values["journey"]
        key = (on.pk, "person" if isinstance(subject, Person) else "account", subject.pk)
        position = positions.get(key)
        if position is not None and position.step_id == row.values["step"].pk:
            row.duplicate = True  # already there: nothing moved
            continue
        if position is not None and row.values["at"] < position.since:
            chunk.fail(
                row,
                chunk.column("at"),
                f"older than the move to “{position.step.name}” already recorded "
                f"({position.since:%Y-%m-%d %H:%M}); import history oldest first",
            )
            continue
        positions[key] = moves.add(
            journey=on,
            subject=subject,
            position=position,
            to_step=row.values["step"],
            cause=TransitionCause.IMPORT,
            at=row.values["at"],
            note=f"import {chunk.job.pk}",
        )
        moved_rows.append(row)
    transitions = moves.save()
    chunk.refs("transition", [(r, t.pk) for r, t in zip(moved_rows, transitions, strict=True)])


WRITERS: dict[str, Writer] = {
    ImportKind.PEOPLE: _people_write,
    ImportKind.ACCOUNTS: _accounts_write,
    ImportKind.OPPORTUNITIES: _opportunities_write,
    ImportKind.EVENTS: _events_write,
    ImportKind.JOURNEY_HISTORY: _journey_history_write,
}
