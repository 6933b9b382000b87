"""Three `leadline worker` processes on one PostgreSQL database at once: every due step is done
exactly once, every submission processed once, no mail sent twice, and the work is shared.

Real processes (tests/server.py), real mail (tests/smtp.py), a clock moved through
LEADLINE_CLOCK_FILE so hours of deadlines fall due in seconds. PostgreSQL only: on SQLite one
writer at a time (BEGIN IMMEDIATE) is what keeps several workers apart, and there is no row lock
to prove anything about.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server import (
    LiveLeadline,
    _postgres_connect_kwargs,
    free_port,
    server_start,
    server_stop,
)
from tests.smtp import SmtpServer

POSTGRES = os.environ.get("LEADLINE_DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not POSTGRES, reason="several workers racing for rows: PostgreSQL only"),
]

WORKERS = 3
SUBMISSIONS = 240
ADDRESSES = 200  # fewer than the submissions: some people send twice, maybe to two workers
HANDOFFS = 40
# Generous: a loaded 2-core machine; the work itself takes seconds.
PHASE_TIMEOUT = 120.0

# Run inside the server's environment (`leadline shell -c`): store raw submissions the way the
# public form does (each queues the drain), and hand people to sales (handoff timers). Prints
# what it made as JSON on its last line.
LOAD = f"""
import json
from leadline.capture.ingest import submission_store
from leadline.capture.models import Form
from leadline.capture.services import person_for_email
from leadline.core.models import Role, User
from leadline.engagement.services import handoff_create

form = Form.objects.get(slug="demo-request")
submissions = []
for n in range({SUBMISSIONS}):
    a = n % {ADDRESSES}
    payload = {{
        "email": f"buyer{{a}}@workers-{{a % 40}}.example", "first_name": "Buyer",
        "last_name": f"No{{a}}", "company": f"Workers {{a % 40}} Ltd",
        "role_own_words": "I run operations", "contact_me": True, "consent": True,
    }}
    pk, _ = submission_store(
        form_id=form.pk, idempotency_key=f"workers-{{n}}", payload=payload, meta={{}}
    )
    submissions.append(pk)
sellers = list(User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("pk"))
handoffs = []
for n in range({HANDOFFS}):
    person, _ = person_for_email(
        email=f"handed{{n}}@handoffs.example",
        defaults={{"first_name": "Handed", "last_name": str(n)}},
    )
    handoff = handoff_create(
        person=person, trigger="marketing", actor=None, owner=sellers[n % len(sellers)]
    )
    handoffs.append(handoff.pk)
print(json.dumps({{"submissions": submissions, "handoffs": handoffs}}))
"""


class Database:
    """Reads of the server's own database, straight SQL (the test process's Django points at
    the test database, not the server's)."""

    def __init__(self, server: LiveLeadline) -> None:
        import psycopg

        assert server.postgres_database
        assert server.postgres_admin_url
        self.conn = psycopg.connect(
            dbname=server.postgres_database,
            autocommit=True,
            **_postgres_connect_kwargs(server.postgres_admin_url),
        )

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def one(self, sql: str, *params: Any) -> Any:
        return self.rows(sql, *params)[0][0]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def three_workers(tmp_path: Any) -> Iterator[tuple[LiveLeadline, SmtpServer]]:
    smtp = SmtpServer(host="127.0.0.1", port=free_port())
    smtp.start()
    try:
        server = server_start(
            data_dir=tmp_path / "leadline",
            web_workers=1,
            worker=False,
            extra_env={
                "LEADLINE_EMAIL_URL": smtp.url,
                "LEADLINE_CLOCK_FILE": str(tmp_path / "clock-offset"),
                # A handoff's reminder and reassignment within the hours the clock moves.
                "LEADLINE_HANDOFF_REMIND_HOURS": "1",
                "LEADLINE_HANDOFF_REASSIGN_HOURS": "2",
            },
        )
    except BaseException:
        smtp.stop()
        raise
    server.smtp = smtp
    try:
        yield server, smtp
    finally:
        server_stop(server)
        smtp.stop()


def _wait(what: str, done: Callable[[], bool], server: LiveLeadline) -> None:
    deadline = time.monotonic() + PHASE_TIMEOUT
    while not done():
        if server.stopped():
            raise AssertionError(f"{server.stopped()} stopped while {what}\n{server.logs_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {PHASE_TIMEOUT:.0f}s: {what}")
        time.sleep(0.3)


def test_three_workers_do_each_step_once(
    three_workers: tuple[LiveLeadline, SmtpServer],
) -> None:
    server, smtp = three_workers
    loaded = json.loads(server.run("shell", "-c", LOAD).stdout.strip().splitlines()[-1])
    submissions, handoffs = loaded["submissions"], loaded["handoffs"]
    assert len(set(submissions)) == SUBMISSIONS
    db = Database(server)
    try:
        sent_before = db.one("SELECT count(*) FROM notify_outgoingmail WHERE status = 'sent'")
        inbox_after = db.one("SELECT coalesce(max(id), 0) FROM notify_inboxitem")
        for n in range(1, WORKERS + 1):
            server.worker_start(f"worker-{n}")
        offset = dt.timedelta(0)

        def mail_settled() -> bool:
            # Nothing being sent, nothing due waiting: the clock may move without a claimed
            # mail's hold running out under it (that would be the test's doing, not a bug).
            now = dt.datetime.now(dt.UTC) + offset
            return not db.one(
                "SELECT count(*) FROM notify_outgoingmail WHERE status = 'sending'"
                " OR (status = 'queued' AND next_attempt_at <= %s)",
                now,
            )

        mine = "SELECT id FROM capture_request WHERE submission_id = ANY(%s)"

        def captured() -> bool:
            waiting = db.one(
                "SELECT count(*) FROM capture_submission WHERE id = ANY(%s)"
                " AND status <> 'processed'",
                submissions,
            )
            unrouted = db.one(
                f"SELECT count(*) FROM ({mine}) r WHERE NOT EXISTS"  # noqa: S608
                " (SELECT 1 FROM routing_requestrouting rr WHERE rr.request_id = r.id)",
                submissions,
            )
            return not waiting and not unrouted and mail_settled()

        _wait("processing the submissions", captured, server)

        # The deadlines of our requests and handoffs, then the clock moved past them in two
        # steps: first to the reminders (before any first-touch deadline, so they remind), then
        # past every step.
        def pending_due() -> list[dt.datetime]:
            return [
                due
                for (due,) in db.rows(
                    f"SELECT due_at FROM routing_timer WHERE request_id IN ({mine})"  # noqa: S608
                    " AND done_at IS NULL UNION ALL SELECT due_at FROM engagement_handofftimer"
                    " WHERE handoff_id = ANY(%s) AND done_at IS NULL",
                    submissions,
                    handoffs,
                )
            ]

        reminders = [
            due
            for (due,) in db.rows(
                f"SELECT due_at FROM routing_timer WHERE request_id IN ({mine})"  # noqa: S608
                " AND step = 'remind'",
                submissions,
            )
        ]
        breaches = db.one(
            f"SELECT min(due_at) FROM routing_timer WHERE request_id IN ({mine})"  # noqa: S608
            " AND step = 'breach'",
            submissions,
        )
        assert breaches is not None, "the requests were given no first-touch deadline"
        targets = []
        if reminders and max(reminders) < breaches:
            targets.append(max(reminders) + dt.timedelta(seconds=1))
        targets.append(max(pending_due()) + dt.timedelta(minutes=1))
        for target in targets:
            offset = target - dt.datetime.now(dt.UTC)
            server.clock_move(offset)

            def stepped(target: dt.datetime = target) -> bool:
                left = [due for due in pending_due() if due <= target]
                return not left and mail_settled()

            _wait(f"doing the steps due by {target}", stepped, server)
        time.sleep(1.0)  # anything done twice would be done by now
        assert not server.stopped(), server.logs_tail()

        # Every submission processed once: one request each, one person per address.
        assert (
            db.one(
                "SELECT count(*) FROM capture_request WHERE submission_id = ANY(%s)", submissions
            )
            == SUBMISSIONS
        )
        people = db.rows(
            "SELECT email, count(*) FROM core_personemail WHERE email LIKE %s GROUP BY email",
            "buyer%@workers-%.example",
        )
        assert len(people) == ADDRESSES
        assert all(count == 1 for _, count in people)

        # Every due step done once: its effect recorded once, and nothing more.
        timers = db.rows(
            f"SELECT request_id, step, outcome FROM routing_timer"  # noqa: S608
            f" WHERE request_id IN ({mine}) AND done_at IS NOT NULL",
            submissions,
        )
        assert not db.one(
            f"SELECT count(*) FROM routing_timer WHERE request_id IN ({mine})"  # noqa: S608
            " AND done_at IS NULL AND due_at <= %s",
            submissions,
            targets[-1],
        )
        effective = collections.Counter(
            (request_id, step)
            for request_id, step, outcome in timers
            if not outcome.startswith(("not needed", "skipped"))
        )
        assert effective, "no escalation step had anything to do"
        events = collections.Counter(
            (int(request_id), kind.removeprefix("escalation."))
            for request_id, kind in db.rows(
                "SELECT data->>'request_id', kind FROM core_timelineevent"
                " WHERE kind IN ('escalation.reminder', 'escalation.breach')"
                " AND (data->>'request_id')::int = ANY(%s)",
                [pk for (pk,) in db.rows(mine, submissions)],
            )
        )
        for (request_id, step), count in effective.items():
            if step == "remind":
                assert events.pop((request_id, "reminder"), 0) == count, (request_id, step)
            elif step == "breach":
                assert events.pop((request_id, "breach"), 0) == count, (request_id, step)
        assert not +events, f"escalation events with no step behind them: {+events}"
        handed_on = collections.Counter(
            (request_id, "reassign" if why.startswith("First touch") else "fallback")
            for request_id, why in db.rows(
                f"SELECT request_id, why FROM routing_assignment"  # noqa: S608
                f" WHERE request_id IN ({mine})"
                " AND (why LIKE 'First touch overdue%%' OR why LIKE 'Still no first touch%%')",
                submissions,
            )
        )
        assert handed_on == +collections.Counter(
            {key: n for key, n in effective.items() if key[1] in ("reassign", "fallback")}
        )
        reminded = sum(n for (_, step), n in effective.items() if step == "remind")
        assert (
            db.one(
                "SELECT count(*) FROM notify_inboxitem WHERE id > %s"
                " AND kind = 'escalation.reminder'",
                inbox_after,
            )
            == reminded
        )

        # Handoff timers: the same, by the handoff's own timeline events.
        handoff_steps = collections.Counter(
            (handoff_id, step)
            for handoff_id, step, outcome in db.rows(
                "SELECT handoff_id, step, outcome FROM engagement_handofftimer"
                " WHERE handoff_id = ANY(%s) AND done_at IS NOT NULL",
                handoffs,
            )
            if not outcome.startswith(("not needed", "skipped"))
        )
        assert handoff_steps, "no handoff step had anything to do"
        kinds = {"remind": "handoff.reminder", "expire": "handoff.expired"}
        handoff_events = collections.Counter(
            (int(handoff_id), kind)
            for handoff_id, kind in db.rows(
                "SELECT data->>'handoff_id', kind FROM core_timelineevent"
                " WHERE kind IN ('handoff.reminder', 'handoff.expired', 'handoff.reassigned')"
                " AND (data->>'handoff_id')::int = ANY(%s)",
                handoffs,
            )
        )
        expected = {
            (pk, kinds.get(step, "handoff.reassigned")): n
            for (pk, step), n in handoff_steps.items()
        }
        assert handoff_events == collections.Counter(expected)

        # No mail sent twice: the SMTP server got each sent mail once, by its Message-ID.
        sent = db.one("SELECT count(*) FROM notify_outgoingmail WHERE status = 'sent'")
        smtp.wait_for(sent - sent_before, timeout=30)
        ids = collections.Counter(str(message["Message-ID"]) for message in smtp.messages)
        assert [i for i, n in ids.items() if n > 1] == []
        assert len(smtp.messages) == sent - sent_before > 0

        # The work was shared: queued tasks were run by more than one worker process, and all
        # three lived through it.
        runners = {
            worker
            for (workers,) in db.rows(
                "SELECT worker_ids FROM django_tasks_database_dbtaskresult"
                " WHERE status = 'SUCCESSFUL'"
            )
            for worker in workers
        }
        assert len(runners) > 1, runners
        assert server.stopped() == []
    finally:
        db.close()
