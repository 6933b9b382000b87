"""Is Leadline looking after itself? The checks `leadline doctor` prints and the System health
page shows: configuration, mail, the worker's heartbeat, work waiting past its time, the
database's size, the disk, pending migrations and backups.

Each check answers a `Check`: ok, warn or fail, a title, what it found in plain words and what
to do about it. Warnings are worth a look; a failure means something the product relies on is
not happening (the doctor exits 1). Every check is a few indexed reads, so the page can run
them all every 30 seconds. It lives in insight because it reads every app (decision 28).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.db.models import Min, QuerySet

from leadline.core import clock
from leadline.core.models import Team, WorkerHeartbeat

Status = Literal["ok", "warn", "fail"]
RANK: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}
# Recent outgoing mail looked at for failures: the newest rows by id, so the read stays small
# on a table of millions.
RECENT_MAIL = 5000
RECENT_DAYS = 7


@dataclass(frozen=True)
class Check:
    key: str
    status: Status
    title: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _ok(key: str, title: str, message: str) -> Check:
    return Check(key=key, status="ok", title=title, message=message)


def ago(seconds: float) -> str:
    """A duration in words: "40 seconds", "4 minutes", "3 hours", "2 days"."""
    seconds = max(seconds, 0.0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * (2 if unit != "minute" else 1):
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    count = int(seconds)
    return f"{count} second{'s' if count != 1 else ''}"


def size_words(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def _lag_status(seconds: float) -> Status:
    if seconds > 10 * settings.HEALTH_LAG_SECONDS:
        return "fail"
    return "warn" if seconds > settings.HEALTH_LAG_SECONDS else "ok"


# --- the database ---------------------------------------------------------------------------


def check_database() -> Check:
    title = "Database"
    vendor = "SQLite" if connection.vendor == "sqlite" else connection.vendor.title()
    if connection.vendor == "postgresql":
        vendor = "PostgreSQL"
    try:
        connection.ensure_connection()
    except Exception as exc:
        return Check(
            key="database",
            status="fail",
            title=title,
            message=f"The {vendor} database cannot be reached: {exc}",
            fix="Check LEADLINE_DATABASE_URL and that the database server is running.",
        )
    return _ok("database", title, f"The {vendor} database answers.")


def check_migrations() -> Check:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:3])
        more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
        return Check(
            key="migrations",
            status="fail",
            title="Database schema",
            message=f"{len(pending)} database changes are not applied yet ({names}{more}).",
            fix="Run `leadline migrate`, then restart the web server and the workers.",
        )
    return _ok("migrations", "Database schema", "The database schema is up to date.")


# --- configuration --------------------------------------------------------------------------


def check_secret_key() -> Check:
    title = "Secret key"
    if os.environ.get("LEADLINE_SECRET_KEY"):
        return _ok("secret_key", title, "The secret key comes from LEADLINE_SECRET_KEY.")
    key_file = Path(settings.DATA_DIR) / "secret_key"
    if key_file.exists() and key_file.stat().st_mode & 0o077:
        return Check(
            key="secret_key",
            status="warn",
            title=title,
            message=f"The secret key file {key_file} can be read by other users of this machine.",
            fix=f"Run `chmod 600 {key_file}`.",
        )
    return _ok("secret_key", title, f"The secret key is kept in {key_file}.")


def check_debug() -> Check:
    if settings.DEBUG:
        return Check(
            key="debug",
            status="warn",
            title="Debug pages",
            message="Debug pages are on: an error shows code and settings to whoever sees it.",
            fix="Remove LEADLINE_DEBUG (or set it to 0) unless you are developing Leadline.",
        )
    return _ok("debug", "Debug pages", "Debug pages are off.")


def check_hosts() -> Check:
    title = "Host names"
    hosts = settings.ALLOWED_HOSTS
    from urllib.parse import urlsplit

    public_host = urlsplit(settings.PUBLIC_URL).hostname or ""
    loopback = public_host in {"", "localhost", "127.0.0.1", "::1"}
    public = settings.LEADLINE_HTTPS or settings.BEHIND_PROXY or not loopback
    if "*" in hosts and public:
        return Check(
            key="hosts",
            status="warn",
            title=title,
            message="Leadline answers to any host name, and it is reachable from outside.",
            fix="Set LEADLINE_ALLOWED_HOSTS to the name people use, e.g. leads.example.com.",
        )
    if "*" in hosts:
        return _ok(
            "hosts", title, "Any host name is accepted (fine while only this machine uses it)."
        )
    return _ok("hosts", title, f"Answers to {', '.join(hosts)}.")


def _mail_is_smtp() -> bool:
    return str(settings.EMAIL_BACKEND).endswith("smtp.EmailBackend")


def check_public_url() -> Check:
    title = "Links in mail"
    if settings.PUBLIC_URL:
        return _ok("public_url", title, f"Links in mail start with {settings.PUBLIC_URL}.")
    if _mail_is_smtp():
        return Check(
            key="public_url",
            status="warn",
            title=title,
            message="Mail goes out, but links in it point at http://localhost:8000: "
            "LEADLINE_PUBLIC_URL is not set.",
            fix="Set LEADLINE_PUBLIC_URL to the address people open Leadline at, "
            "e.g. https://leads.example.com.",
        )
    return _ok("public_url", title, "No mail goes out yet; set LEADLINE_PUBLIC_URL when it does.")


def check_time_zones() -> Check:
    title = "Time zones"
    wrong = []
    for name, zone in [("the server (TIME_ZONE)", settings.TIME_ZONE)] + [
        (f"team {team}", team.time_zone) for team in Team.objects.only("name", "time_zone")
    ]:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            wrong.append(f"{name}: {zone!r}")
    if wrong:
        return Check(
            key="time_zones",
            status="warn",
            title=title,
            message="Unknown time zones, read as UTC (business hours and deadlines are off): "
            + "; ".join(wrong),
            fix="Give each team a time zone such as Europe/London (Team settings).",
        )
    return _ok(
        "time_zones",
        title,
        f"Times are stored in {settings.TIME_ZONE}; every team's time zone is known.",
    )


# --- mail -----------------------------------------------------------------------------------


def check_mail_server() -> Check:
    title = "Mail server"
    if not _mail_is_smtp():
        backend = str(settings.EMAIL_BACKEND).rsplit(".", 2)[-2]
        return _ok(
            "mail_server",
            title,
            f"Mail is not sent: it goes to the {backend} backend "
            "(set LEADLINE_EMAIL_URL to send it).",
        )
    from django.core.mail import get_connection

    where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    try:
        mail = get_connection(timeout=5)
        mail.open()
        mail.close()
    except Exception as exc:
        return Check(
            key="mail_server",
            status="fail",
            title=title,
            message=f"The mail server {where} does not answer: {exc or type(exc).__name__}",
            fix="Check LEADLINE_EMAIL_URL (host, port, user, password, tls) and that this "
            "machine may reach the server.",
        )
    return _ok("mail_server", title, f"The mail server {where} answers.")


def _last_error(rows: Any) -> str:
    """The words " (last error: …)" from one of the rows that has one; empty if none has."""
    error = rows.exclude(last_error="").values_list("last_error", flat=True).first()
    return f" (last error: {error[:160]})" if error else ""


def _outbound_check(model: Any, *, key: str, title: str, what: str, one: str, fix: str) -> Check:
    from leadline.notify.models import SendStatus

    now = clock.now()
    overdue = model.objects.filter(
        status__in=[SendStatus.QUEUED, SendStatus.SENDING],
        next_attempt_at__lt=now - dt.timedelta(seconds=settings.HEALTH_LAG_SECONDS),
    )
    oldest = overdue.aggregate(at=Min("next_attempt_at"))["at"]
    long_queued = model.objects.filter(
        status__in=[SendStatus.QUEUED, SendStatus.SENDING],
        created_at__lt=now - dt.timedelta(seconds=settings.HEALTH_MAIL_QUEUED_SECONDS),
    )
    newest = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    failed = model.objects.filter(
        pk__gt=newest - RECENT_MAIL,
        status=SendStatus.FAILED,
        created_at__gte=now - dt.timedelta(days=RECENT_DAYS),
    )
    problems: list[str] = []
    status: Status = "ok"
    if oldest is not None:
        lag = (now - oldest).total_seconds()
        status = _lag_status(lag)
        count = overdue.count()
        problems.append(f"{count} {what} should have gone {ago(lag)} ago and have not")
    waiting = long_queued.count()
    if waiting:
        status = max(status, "warn", key=RANK.__getitem__)
        problems.append(
            f"{waiting} {what} still not sent after {ago(settings.HEALTH_MAIL_QUEUED_SECONDS)}"
            + _last_error(long_queued)
        )
    gave_up = failed.count()
    if gave_up:
        status = max(status, "warn", key=RANK.__getitem__)
        problems.append(
            f"{gave_up} {what} given up on in the last {RECENT_DAYS} days" + _last_error(failed)
        )
    if problems:
        return Check(
            key=key, status=status, title=title, message="; ".join(problems) + ".", fix=fix
        )
    return _ok(key, title, f"Every {one} goes out in time; none given up on lately.")


def check_outgoing_mail() -> Check:
    from leadline.notify.models import OutgoingMail

    return _outbound_check(
        OutgoingMail,
        key="outgoing_mail",
        title="Outgoing mail",
        what="mails",
        one="mail",
        fix="Look at the mail server check and the worker; the errors say what the mail "
        "server answered.",
    )


def check_webhooks() -> Check:
    from leadline.notify.models import WebhookDelivery

    return _outbound_check(
        WebhookDelivery,
        key="webhooks",
        title="Webhooks",
        what="webhook deliveries",
        one="webhook delivery",
        fix="Check that each webhook's receiving address is right and answers (Admin → "
        "Webhook endpoints); a worker must be running.",
    )


# --- the worker -----------------------------------------------------------------------------


def check_worker() -> Check:
    title = "Worker"
    now = clock.now()
    beats = list(WorkerHeartbeat.objects.all())
    start = "Start it: `leadline worker` (or `systemctl start leadline-worker`)."
    if not beats:
        return Check(
            key="worker",
            status="fail",
            title=title,
            message="No worker is running: nothing processes forms, sends mail or fires deadlines.",
            fix=start,
        )
    stale_after = settings.HEALTH_WORKER_STALE_SECONDS
    loop_after = settings.HEALTH_LOOP_STALE_SECONDS
    stale, stuck, alive = [], [], []
    for beat in beats:
        silent = (now - beat.beat_at).total_seconds()
        if silent > stale_after:
            stale.append(
                f"The worker {beat.name} last reported {ago(silent)} ago: it is stopped or stuck"
            )
            continue
        alive.append(beat.name)
        for loop, at, words in (
            ("sweeps", beat.sweeps_at, "safety-net sweeps"),
            ("timers", beat.timers_at, "escalation timers"),
            ("cadences", beat.cadences_at, "cadence steps"),
        ):
            since = (now - (at or beat.started_at)).total_seconds()
            if since > loop_after:
                done = f"last finished a pass {ago(since)} ago" if at else "never finished a pass"
                stuck.append(f"The worker {beat.name} runs, but its {words} {done} ({loop})")
    if stale or stuck:
        message = "; ".join(stale + stuck) + "."
        if alive and not stuck:
            message += f" Still running: {', '.join(alive)}."
        return Check(
            key="worker",
            status="fail" if not alive or stuck else "warn",
            title=title,
            message=message,
            fix=(
                "Restart the worker named (`systemctl restart leadline-worker`); its log "
                "(`journalctl -u leadline-worker`) says why it stopped. A worker stopped for "
                "good leaves this list within a day."
                if alive and not stuck
                else "Restart the worker named (`systemctl restart leadline-worker`, or "
                "`leadline worker`); its log (`journalctl -u leadline-worker`) says why it "
                "stopped."
            ),
        )
    names = ", ".join(alive)
    return _ok(
        "worker",
        title,
        f"{len(alive)} worker{'s' if len(alive) != 1 else ''} running ({names}); "
        "sweeps and timers go round.",
    )


def _timer_kinds() -> list[tuple[str, Callable[[], dt.datetime | None]]]:
    from leadline.cadences.selectors import enrolment_next_due
    from leadline.commitments.selectors import commitment_timer_next_due
    from leadline.engagement.selectors import handoff_timer_next_due
    from leadline.routing.selectors import timer_next_due

    return [
        ("a first-touch escalation", timer_next_due),
        ("a handoff deadline", handoff_timer_next_due),
        ("a promise's reminder", commitment_timer_next_due),
        ("a cadence step", enrolment_next_due),
    ]


def check_timers() -> Check:
    title = "Deadlines"
    now = clock.now()
    late: list[tuple[float, str]] = []
    for words, next_due in _timer_kinds():
        due = next_due()
        if due is not None and due < now:
            late.append(((now - due).total_seconds(), words))
    if late:
        lag, words = max(late)
        status = _lag_status(lag)
        if status != "ok":
            return Check(
                key="timers",
                status=status,
                title=title,
                message=f"{words[0].upper()}{words[1:]} was due {ago(lag)} ago and has not "
                "been done.",
                fix="Check the worker check above; if workers run, their log says which "
                "deadline fails.",
            )
    return _ok("timers", title, "Every deadline is done when it falls due.")


def check_task_queue() -> Check:
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    title = "Task queue"
    now = clock.now()
    ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    waiting: list[dt.datetime] = []
    first = ready.filter(run_after=get_date_max()).aggregate(at=Min("enqueued_at"))["at"]
    if first is not None:
        waiting.append(first)
    later = (
        ready.exclude(run_after=get_date_max())
        .filter(run_after__lte=now)
        .aggregate(at=Min("run_after"))["at"]
    )
    if later is not None:
        waiting.append(later)
    if waiting:
        lag = (now - min(waiting)).total_seconds()
        status = _lag_status(lag)
        if status != "ok":
            count = ready.count()
            return Check(
                key="task_queue",
                status=status,
                title=title,
                message=f"{count} queued tasks; the oldest has waited {ago(lag)}.",
                fix="Check the worker check above; with a lot of work, run another "
                "`leadline worker`.",
            )
    return _ok("task_queue", title, "Queued tasks are taken up promptly.")


def _backlog_check(rows: QuerySet[Any], *, key: str, title: str, what: str, one: str) -> Check:
    now = clock.now()
    oldest = rows.aggregate(at=Min("received_at"))["at"]
    if oldest is not None:
        lag = (now - oldest).total_seconds()
        status = _lag_status(lag)
        if status != "ok":
            count = rows.count()
            return Check(
                key=key,
                status=status,
                title=title,
                message=f"{count} {what} not processed; the oldest arrived {ago(lag)} ago.",
                fix="Check the worker check above: the worker processes them (and tries "
                "failed ones again every few minutes). Its log says why one fails.",
            )
    return _ok(key, title, f"Every {one} is processed promptly.")


def check_submissions() -> Check:
    from leadline.capture.models import Submission, SubmissionStatus

    return _backlog_check(
        Submission.objects.filter(status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.FAILED]),
        key="submissions",
        title="Form submissions",
        what="form submissions",
        one="form submission",
    )


def check_tracking() -> Check:
    from leadline.journeys.models import BatchStatus, EventBatch

    return _backlog_check(
        EventBatch.objects.filter(status__in=[BatchStatus.RECEIVED, BatchStatus.FAILED]),
        key="tracking",
        title="Website visits",
        what="batches of website visits",
        one="batch of website visits",
    )


# --- space and backups ----------------------------------------------------------------------


def sqlite_size(name: str) -> int | None:
    """An SQLite database's bytes on disk: the file and its write-ahead log."""
    path = Path(name)
    if not path.is_file():
        return None
    wal = Path(f"{name}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def database_size() -> int | None:
    """The database's bytes on disk, None when unknown (an in-memory test database)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            row = cursor.fetchone()
            return int(row[0]) if row else None
    if connection.vendor == "sqlite":  # an in-memory database has no file: None
        return sqlite_size(str(connection.settings_dict["NAME"]))
    return None


def database_size_check(size: int | None) -> Check:
    """What a database of `size` bytes means against HEALTH_DB_SIZE_WARN_MB."""
    title = "Database size"
    if size is None:
        return _ok("database_size", title, "The database's size is not known (in memory).")
    limit = settings.HEALTH_DB_SIZE_WARN_MB * 1024 * 1024
    if size > limit:
        return Check(
            key="database_size",
            status="warn",
            title=title,
            message=f"The database holds {size_words(size)}, more than the "
            f"{size_words(limit)} set as a warning (LEADLINE_HEALTH_DB_SIZE_WARN_MB).",
            fix="Check the retention settings (old tracking data is rolled up and pruned); "
            "past tens of GB on SQLite, move to PostgreSQL (docs/deploy.md).",
        )
    return _ok("database_size", title, f"The database holds {size_words(size)}.")


def check_database_size() -> Check:
    return database_size_check(database_size())


def check_disk() -> Check:
    title = "Disk space"
    data_dir = Path(settings.DATA_DIR)
    free = shutil.disk_usage(data_dir).free
    minimum = settings.HEALTH_DISK_FREE_MIN_MB * 1024 * 1024
    if free < minimum:
        return Check(
            key="disk",
            status="fail" if free < minimum / 10 else "warn",
            title=title,
            message=f"Only {size_words(free)} free where the data directory is ({data_dir}).",
            fix="Free some space (old backups in the backups folder, logs) or give the disk "
            "more; a full disk stops the database from writing.",
        )
    return _ok("disk", title, f"{size_words(free)} free for the data directory ({data_dir}).")


def _newest_backup() -> Path | None:
    folder = Path(settings.DATA_DIR) / "backups"
    if not folder.is_dir():
        return None
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return max(files, key=lambda p: p.stat().st_mtime, default=None)


def _database_age() -> float | None:
    from django.db.migrations.recorder import MigrationRecorder

    first = MigrationRecorder(connection).migration_qs.aggregate(at=Min("applied"))["at"]
    return None if first is None else (clock.now() - first).total_seconds()


def check_backups() -> Check:
    title = "Backups"
    newest = _newest_backup()
    max_age = settings.HEALTH_BACKUP_MAX_AGE_HOURS * 3600
    if newest is None:
        if connection.vendor == "postgresql":
            return _ok(
                "backups",
                title,
                "No backup file in the data directory: back PostgreSQL up with your usual "
                "tooling, or run `leadline backup` from cron.",
            )
        age = _database_age()
        if age is not None and age < max_age:
            return _ok("backups", title, "No backup yet: the database is new.")
        return Check(
            key="backups",
            status="warn",
            title=title,
            message="There is no backup in the data directory's backups folder.",
            fix="Run `leadline backup` now, and daily (the worker takes one a day on the "
            "embedded database); copy the files to another machine.",
        )
    age = clock.now().timestamp() - newest.stat().st_mtime
    if age > max_age:
        return Check(
            key="backups",
            status="warn",
            title=title,
            message=f"The newest backup ({newest.name}) is {ago(age)} old.",
            fix="Run `leadline backup`; check that the worker is running (it takes the daily "
            "backup) or that your backup job runs.",
        )
    return _ok("backups", title, f"The newest backup ({newest.name}) is {ago(age)} old.")


CHECKS: list[Callable[[], Check]] = [
    check_database,
    check_migrations,
    check_secret_key,
    check_debug,
    check_hosts,
    check_public_url,
    check_time_zones,
    check_mail_server,
    check_outgoing_mail,
    check_webhooks,
    check_worker,
    check_timers,
    check_task_queue,
    check_submissions,
    check_tracking,
    check_database_size,
    check_disk,
    check_backups,
]


def checks_run() -> list[Check]:
    """Every check, in order. A database that cannot be reached stops there; a check that
    raises is reported as failed (it says what went wrong), never taken as a pass."""
    results: list[Check] = []
    for check in CHECKS:
        try:
            result = check()
        except Exception as exc:
            key = check.__name__.removeprefix("check_")
            result = Check(
                key=key,
                status="fail",
                title=key.replace("_", " ").capitalize(),
                message=f"The check itself failed: {type(exc).__name__}: {exc}",
                fix="Look at the database check; if it passes, report this error.",
            )
        results.append(result)
        if check is check_database and result.status == "fail":
            break
    return results


def overall(results: list[Check]) -> Status:
    """The worst status among the results."""
    worst: Status = "ok"
    for result in results:
        if RANK[result.status] > RANK[worst]:
            worst = result.status
    return worst
