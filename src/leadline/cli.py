"""The `leadline` command: the product's processes, plus every Django management command."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from leadline.demo import DEMO_LOGINS, DEMO_PASSWORD

OURS = {
    "demo": "start Leadline on its embedded default (SQLite) with demo data: web + worker",
    "serve": "run the web server (gunicorn, several processes) for production",
    "worker": "run the background worker (queued tasks and periodic sweeps)",
    "demo-data": "generate deterministic demo data (--people N --seed S)",
    "token": "API tokens: create (--user NAME [--scope read]), list, revoke",
    "doctor": "check configuration, database, mail and background work",
    "leaks": "list dropped requests and records still held by leavers (exit 1 if any)",
    "inbound-poll": "read the mailbox of LEADLINE_IMAP_URL once: replies and bounces",
    "import": "import a CSV file (FILE --mapping NAME_OR_PATH; --list-presets; --resume JOB)",
    "backup": "back up the database and uploaded files into one file ([PATH])",
    "restore": "restore a backup made by `leadline backup` (PATH [--yes])",
    "unlock": "end a login lockout now (USERNAME, or --address IP; --list shows current ones)",
}


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    import django

    django.setup()


def _help() -> str:
    lines = ["usage: leadline COMMAND [options]", "", "Leadline's commands:"]
    lines += [f"  {name:<12} {text}" for name, text in OURS.items()]
    lines += [
        "",
        "Django's management commands work too (leadline migrate, leadline createsuperuser, …);",
        "`leadline django-help` lists them. `leadline COMMAND --help` explains one.",
    ]
    return "\n".join(lines)


def serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="leadline serve", description=OURS["serve"])
    parser.add_argument("--bind", default=os.environ.get("LEADLINE_BIND", "127.0.0.1:8000"))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("LEADLINE_WEB_WORKERS", "2"))
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("LEADLINE_WEB_THREADS", "4"))
    )
    args = parser.parse_args(argv)
    command = [
        sys.executable, "-m", "gunicorn", "leadline.wsgi:application",
        "--bind", args.bind,
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--worker-class", "gthread",
        "--graceful-timeout", "5",
        "--log-level", "warning",
    ]  # fmt: skip
    os.execv(sys.executable, command)
    return 0  # pragma: no cover - execv does not return


def _sweeps() -> None:
    """The safety nets: nothing stored is left unprocessed, no request is left without an owner."""
    from django.db import connection

    from leadline.capture.services import submissions_requeue_stale
    from leadline.core.sqlite_backend.base import wal_checkpoint
    from leadline.journeys.tracking import event_batches_requeue_stale
    from leadline.notify.services import notifications_requeue_overdue
    from leadline.routing.services import owners_unavailable_reassign, unrouted_requests_assign

    submissions_requeue_stale()
    event_batches_requeue_stale()
    unrouted_requests_assign()
    owners_unavailable_reassign()
    notifications_requeue_overdue()
    # Issue 5's areas add their safety nets here, one line each (imports inside, as above).
    from leadline.cadences.services import enrolments_by_rule

    enrolments_by_rule()  # cadences: enrol the people each cadence's rule matches
    from leadline.engagement.services import qualification_sweep

    qualification_sweep()  # engagement: move people on fit and interest; hand the qualified over
    from leadline.inbound.services import inbound_requeue_stale

    inbound_requeue_stale()  # inbound: mail stored but not processed (or failed) is tried again
    from leadline.outreach.services import newsletters_resume

    newsletters_resume()  # outreach: a marketing email's send whose task was lost goes on
    from leadline.relationships.services import handovers_complete_due

    handovers_complete_due()  # relationships: on a handover's day, a leaver goes, a mover moves
    from leadline.relationships.capacity import capacity_alerts_check

    capacity_alerts_check()  # capacity: alert sellers at 90% of their cap; clear those below
    from leadline.privacy.services import retention_prune

    retention_prune()  # privacy: old events rolled up into days, raw batches and payloads
    from leadline.core.backups import backup_daily

    backup_daily()  # housekeeping: the embedded default's daily backup, the last N kept
    from leadline.insight.goals import goals_sweep

    goals_sweep()  # goals: today's value of each goal; the weekly digest to their owners
    from leadline.feedback.services import rating_asks_send_due

    rating_asks_send_due()  # feedback: rating asks held back by quiet hours go when those end
    wal_checkpoint(connection)


def _sweep_forever(interval: float) -> None:
    import logging

    from django.db import close_old_connections

    from leadline.core.heartbeats import pass_done

    while True:
        try:
            _sweeps()
            pass_done("sweeps")  # the heartbeat tells `leadline doctor` the sweeps go round
        except Exception:  # a sweep must never kill the worker
            logging.getLogger("leadline.worker").exception("sweep failed")
        finally:
            close_old_connections()
        time.sleep(interval)


# The longest a deadline loop sleeps: a row added or a clock moved is seen within this.
TIMERS_MAX_SLEEP = 0.5


def _escalations() -> list[tuple[Callable[..., int], Callable[[], dt.datetime | None]]]:
    """Each kind of deadline row the escalation loop does: (fire the due ones, next due)."""
    from leadline.commitments.selectors import commitment_timer_next_due
    from leadline.commitments.services import commitment_timers_fire_due
    from leadline.engagement.selectors import handoff_timer_next_due
    from leadline.engagement.services import handoff_timers_fire_due
    from leadline.routing.selectors import timer_next_due
    from leadline.routing.services import timers_fire_due

    return [
        (timers_fire_due, timer_next_due),  # a request's first-touch ladder
        (handoff_timers_fire_due, handoff_timer_next_due),  # a handoff's accept/reject deadline
        (commitment_timers_fire_due, commitment_timer_next_due),  # reminders; promises broken
    ]


def _cadence_steps() -> list[tuple[Callable[..., int], Callable[[], dt.datetime | None]]]:
    from leadline.cadences.selectors import enrolment_next_due
    from leadline.cadences.services import enrolments_run_due

    return [(enrolments_run_due, enrolment_next_due)]


def _deadlines_forever(
    kinds: list[tuple[Callable[..., int], Callable[[], dt.datetime | None]]],
    what: str,
    loop: str | None = None,
) -> None:
    """Do each kind's rows when they fall due: sleep until the next one (or a little while, to
    notice new ones), never on a minute-granular cron. One kind failing never stops the others.
    A pass in which no kind failed is noted for the heartbeat as `loop` ("timers", "cadences")."""
    import logging

    from django.db import close_old_connections

    from leadline.core import clock
    from leadline.core.heartbeats import pass_done

    batch = 200
    while True:
        wait = TIMERS_MAX_SLEEP
        failed = False
        for fire_due, next_due in kinds:
            try:
                if fire_due(limit=batch) == batch:
                    wait = 0.0  # more are due: no sleep
                    continue
                due = next_due()
                if due is not None:
                    wait = min(wait, max((due - clock.now()).total_seconds(), 0.0))
            except Exception:  # a failed row must never stop the others
                failed = True
                logging.getLogger("leadline.worker").exception("%s failed", what)
            finally:
                close_old_connections()
        if loop is not None and not failed:
            pass_done(loop)
        time.sleep(wait)


def worker(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="leadline worker", description=OURS["worker"])
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")
    args = parser.parse_args(argv)
    _django_setup()
    from django.core.management import call_command

    if args.batch:
        _sweeps()
        for fire_due, _ in _escalations() + _cadence_steps():
            while fire_due():
                pass
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0")
        return 0
    # Load the URL map now: notifications link to pages, and the first one would otherwise pay
    # for it inside a routing transaction, holding SQLite's write lock the while.
    from django.urls import reverse

    reverse("web:home")
    from leadline.journeys.pain_matching import pain_matching_warm

    pain_matching_warm()
    # As in leadline.wsgi: what is loaded now lives as long as the process, and the collector's
    # full passes need not scan it again (50-90 ms pauses, some while holding SQLite's lock).
    gc.freeze()
    from django.conf import settings

    from leadline.core.heartbeats import heartbeat_end, heartbeat_forever, worker_name

    # The heartbeat (`leadline doctor`, the System health page): a row of its own, written from
    # a thread of its own at once and every few seconds; deleted on a clean stop, left to go
    # stale on a kill or a freeze.
    name = worker_name()
    runs = "tasks, sweeps, timers, cadences" + (
        ", inbound mail" if settings.INBOUND_IMAP_URL else ""
    )
    threading.Thread(
        target=heartbeat_forever,
        kwargs={"name": name, "runs": runs, "every": settings.WORKER_HEARTBEAT_SECONDS},
        daemon=True,
    ).start()
    threading.Thread(target=_sweep_forever, args=(10.0,), daemon=True).start()
    threading.Thread(
        target=_deadlines_forever,
        args=(_escalations(), "escalation timers", "timers"),
        daemon=True,
    ).start()
    if settings.INBOUND_IMAP_URL:  # inbound: read replies and bounces from the mailbox
        from leadline.inbound.imap import imap_poll_forever

        threading.Thread(target=imap_poll_forever, daemon=True).start()
    # Cadence steps send mail and make tasks: their own loop, so escalations never wait on them.
    threading.Thread(
        target=_deadlines_forever,
        args=(_cadence_steps(), "cadence steps", "cadences"),
        daemon=True,
    ).start()
    try:
        _db_worker_forever(args.interval)
    finally:  # a clean stop (SIGTERM, Ctrl-C: db_worker exits): the worker is gone, not stuck
        with contextlib.suppress(Exception):
            heartbeat_end(name=name)
    return 0


# How long the worker waits before polling again after the database went away.
DATABASE_RETRY_SECONDS = 1.0


def _db_worker_forever(interval: float) -> None:
    """Run the task loop; when the database goes away (restarted, failed over, network), wait
    and start the loop again instead of exiting. The task that was running is left marked
    running: what it was doing is found again by the safety nets (a submission stays received,
    a mail is claimed for at most its hold). A signal (SIGTERM, Ctrl-C) ends the loop as usual.
    """
    import logging

    from django.core.management import call_command
    from django.db import DatabaseError, close_old_connections, connections

    log = logging.getLogger("leadline.worker")
    while True:
        try:
            call_command("db_worker", "--interval", str(interval), "--no-startup-delay")
            return
        except DatabaseError as exc:
            log.warning("database unavailable (%s: %s); retrying", type(exc).__name__, exc)
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(DatabaseError):
                connection.close()
        close_old_connections()
        time.sleep(DATABASE_RETRY_SECONDS)


def demo(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="leadline demo", description=OURS["demo"])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--people", type=int, default=400, help="size of the demo data")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    _django_setup()
    from django.core.management import call_command

    from leadline.core.models import User

    print("Preparing the database…", flush=True)
    call_command("migrate", verbosity=0)
    if not User.objects.exists():
        call_command("demo_data", people=args.people, seed=args.seed)
    else:
        print("Reusing the demo data already in the data directory.", flush=True)

    url = f"http://127.0.0.1:{args.port}/"
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "leadline.cli", "serve", "--bind", f"127.0.0.1:{args.port}"]
        ),
        subprocess.Popen([sys.executable, "-m", "leadline.cli", "worker"]),
    ]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"\nLeadline is running at {url}  (Ctrl-C stops it)\n", flush=True)
    print(f"Demo logins (password “{DEMO_PASSWORD}”):", flush=True)
    for username, role in DEMO_LOGINS:
        print(f"  {username:<7} {role}", flush=True)
    print(f"\nA public form to try: {url}f/cfo-guide/", flush=True)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A Leadline process stopped; shutting down.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave a server running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def doctor(argv: Sequence[str]) -> int:
    """Check configuration, mail, the worker, waiting work, space, migrations and backups, and
    say what to fix in plain words. Exit 0 when nothing fails (warnings do not fail), else 1."""
    parser = argparse.ArgumentParser(prog="leadline doctor", description=OURS["doctor"])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    _django_setup()
    import json

    from leadline.insight.health import checks_run, overall

    results = checks_run()
    worst = overall(results)
    if args.json:
        print(json.dumps({"status": worst, "checks": [r.as_dict() for r in results]}, indent=2))
        return 1 if worst == "fail" else 0
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    paint = {"ok": "32", "warn": "33", "fail": "31"}
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    print("Leadline doctor")
    for result in results:
        mark = marks[result.status]
        if colour:
            mark = f"\033[{paint[result.status]}m{mark}\033[0m"
        print(f"  {mark}  {result.title}: {result.message}")
        if result.fix and result.status != "ok":
            print(f"        What to do: {result.fix}")
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if worst == "ok":
        print("All checks passed.")
    else:
        print(f"{failed} failed, {warned} to look at, of {len(results)} checks.")
    return 1 if worst == "fail" else 0


def import_(argv: Sequence[str]) -> int:
    """`leadline import`: a CSV file through a mapping, with a progress bar and a summary.
    Exit 0 when the file was imported (rows with errors are reported, not fatal), 2 when the
    file or the mapping is unusable, 1 when the import failed part-way, 130 on Ctrl-C."""
    parser = argparse.ArgumentParser(prog="leadline import", description=OURS["import"])
    parser.add_argument("file", nargs="?", help="the CSV file (a preset's own file if left out)")
    parser.add_argument("--mapping", help="a preset's name or a YAML/JSON mapping file")
    parser.add_argument("--resume", type=int, metavar="JOB_ID", help="go on with a stopped job")
    parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    parser.add_argument("--list-presets", action="store_true", help="list the shipped mappings")
    args = parser.parse_args(argv)
    _django_setup()
    from pathlib import Path

    from tqdm import tqdm

    from leadline.imports import services
    from leadline.imports.mappings import (
        MappingError,
        mapping_load,
        mapping_presets,
        preset_file,
    )
    from leadline.imports.models import ImportJob, ImportStatus

    if args.list_presets:
        for name in mapping_presets():
            preset = mapping_load(name)
            path = preset_file(preset)
            where = f"{path}{'' if path and path.exists() else ' (missing)'}" if path else "-"
            print(f"{name:<22} {preset.kind:<15} {preset.description}\n{'':<22} file: {where}")
        return 0
    bar = tqdm(total=0, unit=" rows", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        if args.resume is not None:
            job = ImportJob.objects.filter(pk=args.resume).first()
            if job is None:
                print(f"leadline import: there is no import {args.resume}", file=sys.stderr)
                return 2
            bar.update(job.rows_done)
            job = services.import_run(job_id=job.pk, progress=progress)
        else:
            if not args.mapping:
                parser.error("give --mapping NAME_OR_PATH (leadline import --list-presets)")
            mapping = mapping_load(args.mapping)
            path = Path(args.file) if args.file else preset_file(mapping)
            if path is None:
                parser.error("give the CSV file: this mapping names none")
            if args.dry_run:
                job = services.import_dry_run(path=path, mapping=mapping)
            else:
                job = services.import_file(path=path, mapping=mapping, progress=progress)
    except (MappingError, services.ImportFileError) as exc:
        bar.close()
        problems = exc.problems if isinstance(exc, MappingError) else [str(exc)]
        print("leadline import: the file cannot be imported with this mapping:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        paused = ImportJob.objects.filter(status=ImportStatus.PAUSED).order_by("-pk").first()
        hint = f" (leadline import --resume {paused.pk})" if paused else ""
        print(f"\nPaused: what was committed stays; resume to go on{hint}.", file=sys.stderr)
        return 130
    bar.close()
    errors = getattr(job, "dry_errors", None)
    if errors is None:
        errors = list(job.row_errors.all()[:10])
    what = "Would import (dry run, nothing written)" if args.dry_run else f"Import {job.pk}"
    print(
        f"{what}: {job.rows_ok} imported, {job.rows_failed} with errors, "
        f"{job.rows_duplicate} duplicates, of {job.rows_done} rows "
        f"({job.get_status_display().lower()})."
    )
    if job.rows_failed:
        rows = "1 row was" if job.rows_failed == 1 else f"{job.rows_failed} rows were"
        print(f"{rows} not imported; the first errors:")
        for error in errors[:10]:
            column = f" {error.column}" if error.column else ""
            print(f"  row {error.row_number}{column}: {error.message}")
    if job.status == ImportStatus.FAILED:
        print(f"The import stopped: {job.error}", file=sys.stderr)
        print(f"Resume it with: leadline import --resume {job.pk}", file=sys.stderr)
        return 1
    return 0


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)  # pragma: no cover


def backup(argv: Sequence[str]) -> int:
    """`leadline backup [PATH]`: safe while the web and the worker run. Exit 2 on bad input."""
    parser = argparse.ArgumentParser(prog="leadline backup", description=OURS["backup"])
    parser.add_argument(
        "path", nargs="?", help="file (or folder) to write; default: DATA_DIR/backups/"
    )
    args = parser.parse_args(argv)
    _django_setup()
    from pathlib import Path

    from leadline.core import backups

    try:
        made = backups.backup(path=Path(args.path) if args.path else None)
    except backups.BackupError as exc:
        print(f"leadline backup: {exc}", file=sys.stderr)
        return 2
    files = "1 uploaded file" if made.media_files == 1 else f"{made.media_files} uploaded files"
    print(f"Backed up the {made.database} database and {files} to {made.path}")
    print(f"Size: {_size(made.size)}. Restore with: leadline restore {made.path}")
    return 0


def restore(argv: Sequence[str]) -> int:
    """`leadline restore PATH [--yes]`: refuses to replace data without --yes (exit 2)."""
    parser = argparse.ArgumentParser(prog="leadline restore", description=OURS["restore"])
    parser.add_argument("path", help="a file made by `leadline backup` (or a bare SQLite file "
                        "or pg_dump --format=custom file)")  # fmt: skip
    parser.add_argument(
        "--yes", action="store_true", help="replace the data the database holds now"
    )
    args = parser.parse_args(argv)
    _django_setup()
    from pathlib import Path

    from leadline.core import backups

    try:
        done = backups.restore(path=Path(args.path), overwrite=args.yes)
    except backups.BackupError as exc:
        print(f"leadline restore: {exc}", file=sys.stderr)
        return 2
    made = f" made {done.created_at}" if done.created_at else ""
    print(f"Restored the {done.database} database from {args.path} ({done.kind}{made}).")
    if done.media_files is not None:
        print(f"Uploaded files: {done.media_files} restored.")
    if done.media_kept is not None:
        print(f"The uploaded files that were there before are kept in {done.media_kept}")
    print("Run `leadline migrate` if the backup comes from an older release, then start Leadline.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_help())
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return demo(rest)
    if command == "serve":
        return serve(rest)
    if command == "worker":
        return worker(rest)
    if command == "doctor":
        return doctor(rest)
    if command == "import":
        return import_(rest)
    if command == "backup":
        return backup(rest)
    if command == "restore":
        return restore(rest)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    from django.core.management import execute_from_command_line

    if command == "django-help":
        execute_from_command_line(["leadline", "help"])
        return 0
    execute_from_command_line(["leadline", command.replace("-", "_"), *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
