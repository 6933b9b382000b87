"""Fault tests: the real product (gunicorn + `leadline worker`, tests/server.py) and a real SMTP
server (tests/smtp.py), with processes killed, the SMTP server and the database stopped while
submissions stream in. What each one proves is in its module's docstring.

The helpers here: a client that posts submissions the way a careful embed does (one
Idempotency-Key each, the same key again after a connection error, a timeout or a 5xx, honouring
Retry-After), and plain-SQL reads of the server's own PostgreSQL database.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests import factories, figures
from tests.server import (
    LiveLeadline,
    _postgres_connect_kwargs,
    free_port,
    server_start,
    server_stop,
)
from tests.smtp import SmtpServer

POSTGRES = os.environ.get("LEADLINE_DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
ONLY_POSTGRES = pytest.mark.skipif(
    not POSTGRES,
    reason="process-level fault test: runs once, in the PostgreSQL pass (CI time; SQLite has no"
    " row locks and a single writer, nothing more to prove there)",
)
FORM = "cfo-guide"
# Generous: a loaded 2-core machine; the work itself takes seconds.
SETTLE_TIMEOUT = 120.0


def report(line: str) -> None:
    """Figures a test measured: on stderr (CI does not run pytest -s; the lead reads the log)."""
    figures.report(f"[faults] {line}")


class Database:
    """Reads of the server's own PostgreSQL database, straight SQL (the test process's Django
    points at the test database, not the server's). Reconnects when the server was restarted."""

    def __init__(self, server: LiveLeadline) -> None:
        assert server.postgres_database
        assert server.postgres_admin_url
        self.name = server.postgres_database
        self.kwargs = _postgres_connect_kwargs(server.postgres_admin_url)
        self.conn: Any = None

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        for attempt in range(2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(dbname=self.name, autocommit=True, **self.kwargs)
                rows: list[tuple[Any, ...]] = self.conn.execute(sql, params).fetchall()
                return rows
            except psycopg.OperationalError:
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def one(self, sql: str, *params: Any) -> Any:
        return self.rows(sql, *params)[0][0]

    def unprocessed(self, keys: list[str]) -> int:
        """How many of the submissions with these idempotency keys are not processed yet."""
        left: int = self.one(
            "SELECT count(*) FROM capture_submission WHERE idempotency_key = ANY(%s)"
            " AND status <> 'processed'",
            keys,
        )
        return left

    def stored_per_key(self, keys: list[str]) -> dict[str, int]:
        """How many submissions are stored for each of these idempotency keys."""
        return dict(
            self.rows(
                "SELECT idempotency_key, count(*) FROM capture_submission"
                " WHERE idempotency_key = ANY(%s) GROUP BY idempotency_key",
                keys,
            )
        )

    def requests_per_key(self, keys: list[str]) -> dict[str, int]:
        """How many requests were made from the submission with each of these keys."""
        return dict(
            self.rows(
                "SELECT s.idempotency_key, count(r.id) FROM capture_submission s"
                " JOIN capture_request r ON r.submission_id = s.id"
                " WHERE s.idempotency_key = ANY(%s) GROUP BY s.idempotency_key",
                keys,
            )
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclasses.dataclass
class Stream:
    """What the client saw: per key, the submission id it was given; answers by status."""

    keys: list[str]
    accepted: dict[str, int] = dataclasses.field(default_factory=dict)
    duplicates: int = 0  # answered 200 {"duplicate": true}: stored by an earlier try
    statuses: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    retry_after_missing: int = 0  # 503s without Retry-After
    refused: list[str] = dataclasses.field(default_factory=list)  # 4xx other than 429
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def summary(self) -> str:
        return (
            f"submitted {len(self.keys)}, accepted {len(self.accepted)}, duplicates answered"
            f" {self.duplicates}, answers {dict(sorted(self.statuses.items()))},"
            f" 503 without Retry-After {self.retry_after_missing}, refused {len(self.refused)}"
        )


def form_schema(server: LiveLeadline) -> dict[str, Any]:
    response = httpx.get(f"{server.url}f/{FORM}/schema.json", timeout=10)
    assert response.status_code == 200, response.text
    schema: dict[str, Any] = response.json()
    return schema


def stream_post(
    server: LiveLeadline,
    *,
    count: int,
    tag: str,
    rate: float,
    threads: int = 8,
    give_up_after: float = 120.0,
) -> tuple[Stream, Callable[[], int], Callable[[], None]]:
    """Start posting `count` submissions at about `rate` a second in the background. Returns the
    stream, a function giving how many are accepted so far, and one that waits for the end."""
    schema = form_schema(server)
    url = f"{server.url}f/{FORM}/"
    stream = Stream(keys=[f"{tag}-{n}" for n in range(count)])
    started = time.monotonic()
    client = httpx.Client(timeout=5.0, limits=httpx.Limits(max_connections=threads))

    def post(n: int) -> None:
        key = stream.keys[n]
        body = factories.submission_for(schema, email=f"buyer{n}@{tag}.example", n=n)
        wait = started + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            try:
                response = client.post(url, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                with stream.lock:
                    stream.statuses[type(exc).__name__] += 1
                time.sleep(0.2)
                continue
            with stream.lock:
                stream.statuses[str(response.status_code)] += 1
            if response.status_code in (200, 201):
                answer = response.json()
                with stream.lock:
                    stream.accepted[key] = int(answer["id"])
                    stream.duplicates += bool(answer.get("duplicate"))
                return
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = response.headers.get("Retry-After")
                if response.status_code == 503 and retry_after is None:
                    with stream.lock:
                        stream.retry_after_missing += 1
                delay = float(retry_after) if retry_after and retry_after.isdigit() else 0.2
                time.sleep(min(delay, 2.0))
                continue
            with stream.lock:
                stream.refused.append(f"{key}: {response.status_code} {response.text[:200]}")
            return

    pool = ThreadPoolExecutor(max_workers=threads)
    futures = [pool.submit(post, n) for n in range(count)]

    def accepted() -> int:
        with stream.lock:
            return len(stream.accepted)

    def finish() -> None:
        try:
            for future in futures:
                future.result()
        finally:
            pool.shutdown()
            client.close()

    return stream, accepted, finish


def wait_until(what: str, done: Callable[[], bool], timeout: float = SETTLE_TIMEOUT) -> float:
    """Poll `done` until true; the seconds it took."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not done within {timeout:.0f}s: {what}")
        time.sleep(0.3)
    return time.monotonic() - started


def mail_counts(db: Database, smtp: SmtpServer, *, after_id: int) -> dict[str, Any]:
    """Mails the product stored after `after_id`, by status, and what the SMTP server got."""
    by_status = dict(
        db.rows(
            "SELECT status, count(*) FROM notify_outgoingmail WHERE id > %s GROUP BY status",
            after_id,
        )
    )
    ids = {
        message_id
        for (message_id,) in db.rows(
            "SELECT message_id FROM notify_outgoingmail WHERE id > %s", after_id
        )
    }
    received = collections.Counter(
        str(m["Message-ID"]) for m in list(smtp.messages) if str(m["Message-ID"]) in ids
    )
    return {
        "stored": sum(by_status.values()),
        "by_status": by_status,
        "sent": by_status.get("sent", 0),
        "received": sum(received.values()),
        "received_unique": len(received),
        "received_twice": sorted(i for i, n in received.items() if n > 1),
    }


@pytest.fixture(scope="package")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLeadline]:
    """A Leadline of the fault tests' own (it gets killed), mail to a real SMTP server
    (`.smtp`), a clock they can move, and retries of mail a second apart."""
    if not POSTGRES:
        pytest.skip("fault tests run in the PostgreSQL pass")
    data_dir = tmp_path_factory.mktemp("faults")
    smtp = SmtpServer(host="127.0.0.1", port=free_port())
    smtp.start()
    try:
        server = server_start(
            data_dir=data_dir,
            web_workers=2,
            extra_env={
                "LEADLINE_EMAIL_URL": smtp.url,
                "LEADLINE_CLOCK_FILE": str(data_dir / "clock-offset"),
                "LEADLINE_MAIL_RETRY_DELAYS": "1",
                "LEADLINE_MAIL_MAX_ATTEMPTS": "1000",
            },
        )
    except BaseException:
        smtp.stop()
        raise
    server.smtp = smtp
    try:
        yield server
    finally:
        server_stop(server)
        smtp.stop()
