"""`leadline doctor` and its checks (leadline.insight.health), the worker heartbeat
(leadline.core.heartbeats), and one end-to-end run against the real product."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from leadline import cli
from leadline.capture.models import Submission
from leadline.core import clock, heartbeats
from leadline.core.models import WorkerHeartbeat
from leadline.insight import health
from leadline.notify.models import OutgoingMail, SendStatus
from tests import factories
from tests.server import free_port, running_leadline
from tests.smtp import SmtpServer, smtp_server  # noqa: F401

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def at_now() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture(autouse=True)
def _no_passes() -> Iterator[None]:
    heartbeats._passes.clear()
    yield
    heartbeats._passes.clear()


def _beat(name: str = "worker@web1:123", *, at: dt.datetime = NOW, **extra: Any) -> Any:
    defaults = {"sweeps_at": at, "timers_at": at, "cadences_at": at}
    defaults.update(extra)
    host, _, pid = name.removeprefix("worker@").rpartition(":")
    return WorkerHeartbeat.objects.create(
        name=name, host=host, pid=int(pid), started_at=at, beat_at=at, **defaults
    )


# The heartbeat ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_heartbeat_writes_its_row_with_the_loops_passes_and_goes_on_a_clean_stop() -> None:
    with clock.frozen_at(NOW):
        heartbeats.heartbeat_beat(name="worker@web1:4242", runs="tasks, sweeps")
    row = WorkerHeartbeat.objects.get()
    assert (row.host, row.pid, row.runs, row.beat_at, row.sweeps_at) == (
        "web1",
        4242,
        "tasks, sweeps",
        NOW,
        None,
    )
    with clock.frozen_at(NOW + dt.timedelta(seconds=7)):
        heartbeats.pass_done("sweeps")
        heartbeats.pass_done("timers")
        heartbeats.heartbeat_beat(name="worker@web1:4242", runs="tasks, sweeps")
    row.refresh_from_db()
    later = NOW + dt.timedelta(seconds=7)
    assert (row.started_at, row.beat_at, row.sweeps_at, row.timers_at, row.cadences_at) == (
        NOW,
        later,
        later,
        later,
        None,
    )
    with pytest.raises(ValueError, match="unknown worker loop"):
        heartbeats.pass_done("naps")
    heartbeats.heartbeat_end(name="worker@web1:4242")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_a_starting_worker_forgets_dead_workers_of_its_host_and_long_silent_ones(
    at_now: None,
) -> None:
    import socket

    host = socket.gethostname()
    me = heartbeats.worker_name()
    _beat(me)
    _beat(f"worker@{host}:{os.getppid()}")  # alive (our parent)
    _beat(f"worker@{host}:999999999")  # no such process: crashed
    _beat("worker@elsewhere:77")  # another host: cannot tell, kept
    _beat("worker@gone:88", at=NOW - dt.timedelta(days=2))  # silent for two days
    assert heartbeats.heartbeats_forget(name=me) == 2
    assert set(WorkerHeartbeat.objects.values_list("name", flat=True)) == {
        me,
        f"worker@{host}:{os.getppid()}",
        "worker@elsewhere:77",
    }


# The worker check --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_worker_fails_and_says_to_start_one(at_now: None) -> None:
    check = health.check_worker()
    assert check.status == "fail"
    assert check.message.startswith("No worker is running")
    assert "`leadline worker`" in check.fix


@pytest.mark.django_db
def test_a_stale_heartbeat_names_the_worker_and_how_long_it_has_been_silent(
    at_now: None, settings: Any
) -> None:
    settings.HEALTH_WORKER_STALE_SECONDS = 60
    _beat("worker@web1:123", at=NOW - dt.timedelta(minutes=4))
    check = health.check_worker()
    assert check.status == "fail"
    assert "The worker worker@web1:123 last reported 4 minutes ago: it is stopped or stuck" in (
        check.message
    )
    # A second, live worker: the stale one is a warning, both are named.
    _beat("worker@web2:456", at=NOW - dt.timedelta(seconds=3))
    check = health.check_worker()
    assert check.status == "warn", check
    assert "worker@web1:123" in check.message
    assert "Still running: worker@web2:456" in check.message


@pytest.mark.django_db
def test_a_live_worker_whose_sweeps_are_stuck_fails(at_now: None, settings: Any) -> None:
    settings.HEALTH_LOOP_STALE_SECONDS = 600
    _beat("worker@web1:123", sweeps_at=NOW - dt.timedelta(minutes=25))
    check = health.check_worker()
    assert check.status == "fail"
    assert "runs, but its safety-net sweeps last finished a pass 25 minutes ago" in check.message
    WorkerHeartbeat.objects.all().delete()
    # Just started: no pass yet is fine until the loops are overdue.
    _beat("worker@web1:124", sweeps_at=None, timers_at=None, cadences_at=None)
    assert health.check_worker().status == "ok"
    WorkerHeartbeat.objects.update(started_at=NOW - dt.timedelta(minutes=11))
    assert "never finished a pass" in health.check_worker().message


@pytest.mark.django_db
def test_a_fresh_heartbeat_is_ok(at_now: None) -> None:
    _beat("worker@web1:123", at=NOW - dt.timedelta(seconds=5))
    check = health.check_worker()
    assert (check.status, check.message) == (
        "ok",
        "1 worker running (worker@web1:123); sweeps and timers go round.",
    )


# Deadlines and queues ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_overdue_timer_is_late_work(settings: Any) -> None:
    from leadline.engagement.models import HandoffTimer

    settings.HEALTH_LAG_SECONDS = 120
    with clock.frozen_at(NOW):
        factories.handoff(owner=factories.user())
        assert health.check_timers().status == "ok"
    due = HandoffTimer.objects.filter(done_at__isnull=True).order_by("due_at")[0].due_at
    with clock.frozen_at(due + dt.timedelta(minutes=5)):
        check = health.check_timers()
    assert check.status == "warn", check
    assert check.message == "A handoff deadline was due 5 minutes ago and has not been done."
    with clock.frozen_at(due + dt.timedelta(hours=1)):
        assert health.check_timers().status == "fail"


@pytest.mark.django_db
def test_a_task_waiting_in_the_queue_too_long(settings: Any) -> None:
    from leadline.capture.tasks import submission_process_task

    settings.HEALTH_LAG_SECONDS = 120
    submission_process_task.enqueue(1)
    assert health.check_task_queue().status == "ok"
    with clock.frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
        check = health.check_task_queue()
    assert check.status == "warn"
    assert check.message.startswith("1 queued tasks; the oldest has waited 10 minutes")


@pytest.mark.django_db
def test_unprocessed_submissions_are_a_backlog_once_they_wait(settings: Any) -> None:
    settings.HEALTH_LAG_SECONDS = 60
    form = factories.form()
    with clock.frozen_at(NOW):
        Submission.objects.create(form=form, idempotency_key="k", payload={"email": "a@b.example"})
        assert health.check_submissions().status == "ok"  # just arrived
    with clock.frozen_at(NOW + dt.timedelta(minutes=3)):
        check = health.check_submissions()
    assert (check.status, check.message) == (
        "warn",
        "1 form submissions not processed; the oldest arrived 3 minutes ago.",
    )


# Mail ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_mail_server_on_a_closed_port_fails(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    check = health.check_mail_server()
    assert check.status == "fail"
    assert f"The mail server 127.0.0.1:{settings.EMAIL_PORT} does not answer" in check.message
    assert "LEADLINE_EMAIL_URL" in check.fix


@pytest.mark.django_db
def test_a_mail_server_that_answers_is_ok(smtp_server: SmtpServer, settings: Any) -> None:  # noqa: F811
    check = health.check_mail_server()
    assert check.status == "ok", check
    settings.PUBLIC_URL = ""
    assert health.check_public_url().status == "warn"  # mail goes out, links say localhost
    settings.PUBLIC_URL = "https://leads.example.com"
    assert health.check_public_url().status == "ok"


def _mail(*, person: Any, status: str, **extra: Any) -> OutgoingMail:
    from email.utils import make_msgid

    return OutgoingMail.objects.create(
        person=person,
        to=["pat@example.com"],
        subject="A faster month-end close",
        text="Hi",
        reason="cadence.email",
        message_id=make_msgid(domain="leadline.localhost"),
        status=status,
        **extra,
    )


@pytest.mark.django_db
def test_failed_and_overdue_mail(settings: Any) -> None:
    settings.HEALTH_LAG_SECONDS = 120
    settings.HEALTH_MAIL_QUEUED_SECONDS = 3600
    person = factories.person()
    with clock.frozen_at(NOW):
        assert health.check_outgoing_mail().status == "ok"
        _mail(person=person, status=SendStatus.FAILED, last_error="550 mailbox unavailable")
        check = health.check_outgoing_mail()
    assert check.status == "warn"
    assert "1 mails given up on in the last 7 days (last error: 550 mailbox unavailable)" in (
        check.message
    )
    OutgoingMail.objects.all().delete()
    with clock.frozen_at(NOW):
        _mail(person=person, status=SendStatus.QUEUED)
    with clock.frozen_at(NOW + dt.timedelta(minutes=30)):
        check = health.check_outgoing_mail()
    assert check.status == "fail", check  # 30 minutes late: ten times the lag allowed
    assert "1 mails should have gone 30 minutes ago and have not" in check.message


# Configuration -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_configuration_checks(settings: Any) -> None:
    settings.DEBUG = True
    assert health.check_debug().status == "warn"
    settings.DEBUG = False
    assert health.check_debug().status == "ok"
    settings.ALLOWED_HOSTS = ["*"]
    settings.LEADLINE_HTTPS = True
    assert health.check_hosts().status == "warn"
    settings.ALLOWED_HOSTS = ["leads.example.com"]
    assert health.check_hosts().message == "Answers to leads.example.com."
    factories.team(name="Berlin", time_zone="Europe/Berlin")
    assert health.check_time_zones().status == "ok"
    factories.team(name="Mars", time_zone="Mars/Olympus")
    check = health.check_time_zones()
    assert check.status == "warn"
    assert "team Mars: 'Mars/Olympus'" in check.message


@pytest.mark.django_db
def test_migrations_up_to_date_then_one_pending() -> None:
    assert health.check_migrations().status == "ok"
    MigrationRecorder(connection).migration_qs.filter(
        app="core", name="0011_worker_heartbeat"
    ).delete()
    check = health.check_migrations()
    assert check.status == "fail"
    assert "1 database changes are not applied yet (core.0011_worker_heartbeat)" in check.message
    assert "leadline migrate" in check.fix


# Space and backups -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_size_against_its_threshold(tmp_path: Path, settings: Any) -> None:
    database = tmp_path / "leadline.sqlite3"
    database.write_bytes(b"x" * 3 * 1024 * 1024)
    Path(f"{database}-wal").write_bytes(b"x" * 1024 * 1024)
    size = health.sqlite_size(str(database))
    assert size == 4 * 1024 * 1024
    settings.HEALTH_DB_SIZE_WARN_MB = 3
    check = health.database_size_check(size)
    assert check.status == "warn"
    assert check.message.startswith("The database holds 4.0 MB, more than the 3.0 MB")
    settings.HEALTH_DB_SIZE_WARN_MB = 5
    assert health.database_size_check(size).status == "ok"
    # The database the tests run on: PostgreSQL's size is known; an in-memory SQLite's is not.
    real = health.database_size()
    if connection.vendor == "postgresql":
        assert real is not None
        assert real > 1024 * 1024
        settings.HEALTH_DB_SIZE_WARN_MB = 0
        assert health.check_database_size().status == "warn"


def test_disk_space_below_the_minimum(tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEALTH_DISK_FREE_MIN_MB = 1
    assert health.check_disk().status == "ok"
    settings.HEALTH_DISK_FREE_MIN_MB = 10**9  # a petabyte: more than any test machine has
    check = health.check_disk()
    assert check.status == "fail"
    assert check.message.startswith("Only ")


@pytest.mark.django_db
def test_backups_new_database_then_none_then_old_then_fresh(tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEALTH_BACKUP_MAX_AGE_HOURS = 48
    if connection.vendor == "sqlite":
        assert health.check_backups().message == "No backup yet: the database is new."
        with clock.frozen_at(clock.now() + dt.timedelta(days=3)):
            assert health.check_backups().status == "warn"
    backup = tmp_path / "backups" / "leadline-20260301-0200.tar"
    backup.parent.mkdir()
    backup.write_bytes(b"tar")
    three_days_ago = time.time() - 3 * 86400
    os.utime(backup, (three_days_ago, three_days_ago))
    check = health.check_backups()
    assert (check.status, check.message) == (
        "warn",
        "The newest backup (leadline-20260301-0200.tar) is 3 days old.",
    )
    os.utime(backup)
    assert health.check_backups().status == "ok"


# The command -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_doctor_names_the_missing_worker_and_exits_1_then_0_with_one_running(
    capsys: pytest.CaptureFixture[str], settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEALTH_DISK_FREE_MIN_MB = 1
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "  FAIL  Worker: No worker is running" in out
    assert "What to do: Start it: `leadline worker`" in out
    assert "  ok    Database schema: The database schema is up to date." in out
    assert "\033[" not in out  # no colour when not on a terminal
    _beat("worker@web1:123", at=clock.now())
    code = cli.main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] in {"ok", "warn"}
    worker = next(c for c in report["checks"] if c["key"] == "worker")
    assert worker["status"] == "ok"
    assert "worker@web1:123" in worker["message"]


@pytest.mark.django_db
def test_doctor_flags_submissions_left_unprocessed(
    capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.HEALTH_LAG_SECONDS = 60
    _beat("worker@web1:123", at=clock.now())
    Submission.objects.create(
        form=factories.form(),
        idempotency_key="k",
        payload={"email": "a@b.example"},
        received_at=clock.now() - dt.timedelta(minutes=20),
    )
    assert cli.main(["doctor"]) == 1
    assert "FAIL  Form submissions: 1 form submissions not processed" in capsys.readouterr().out


# End to end: the real product --------------------------------------------------------------------

POSTGRES = os.environ.get("LEADLINE_DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
STALE = 4.0


@pytest.mark.server
@pytest.mark.skipif(
    not POSTGRES, reason="a full server start: run once, in the PostgreSQL pass (CI time)"
)
def test_doctor_on_the_running_product_then_with_its_worker_stopped() -> None:
    """The demo's setup (migrate, demo data, web + worker, mail to a real SMTP server): the
    doctor passes every check; the worker frozen (SIGSTOP) past the staleness, it names it."""
    smtp = SmtpServer(host="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with running_leadline(
            extra_env={
                "LEADLINE_EMAIL_URL": smtp.url,
                "LEADLINE_WORKER_HEARTBEAT_SECONDS": "0.5",
                "LEADLINE_HEALTH_WORKER_STALE_SECONDS": str(STALE),
                "LEADLINE_HEALTH_DISK_FREE_MIN_MB": "100",
            }
        ) as server:
            server.env["LEADLINE_PUBLIC_URL"] = server.url.rstrip("/")
            # The worker's first passes (demo mail, due timers) take a few seconds.
            deadline = time.monotonic() + 90
            started = time.monotonic()
            while True:
                result = server.run("doctor", "--json", check=False)
                report = json.loads(result.stdout or "{}")
                if report.get("status") == "ok" or time.monotonic() > deadline:
                    break
                time.sleep(1)
            green_after = time.monotonic() - started
            print(f"doctor all green {green_after:.1f}s after the start", file=sys.stderr)
            assert report.get("status") == "ok", (
                f"not all green after {green_after:.0f}s: {result.stdout}{result.stderr}"
            )
            assert result.returncode == 0
            text = server.run("doctor")
            assert "All checks passed." in text.stdout
            assert "FAIL" not in text.stdout
            worker = next(c for c in report["checks"] if c["key"] == "worker")
            name = worker["message"].split("(")[1].split(")")[0]
            assert name.startswith("worker@"), worker

            process = server.processes["worker"]
            os.killpg(process.pid, signal.SIGSTOP)
            try:
                time.sleep(STALE + 1.5)
                stopped = server.run("doctor", check=False)
            finally:
                os.killpg(process.pid, signal.SIGCONT)
            print(f"doctor with the worker stopped: exit {stopped.returncode}", file=sys.stderr)
            assert stopped.returncode == 1, stopped.stdout
            assert f"FAIL  Worker: The worker {name} last reported" in stopped.stdout, (
                stopped.stdout
            )
            assert "it is stopped or stuck" in stopped.stdout
            # Stopped cleanly (SIGTERM, as systemd does), a worker takes its row along.
            process.terminate()
            process.wait(timeout=30)
            gone = server.run("doctor", check=False)
            assert gone.returncode == 1, gone.stdout
            assert "FAIL  Worker: No worker is running" in gone.stdout, gone.stdout
    finally:
        smtp.stop()
