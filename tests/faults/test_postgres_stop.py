"""PostgreSQL stopped for 10 s in the middle of a stream of submissions: the public form answers
503 with Retry-After while the database is away (not a bare 500), the client tries the same
Idempotency-Key again, the web processes and the worker reconnect by themselves once it is back
(CONN_HEALTH_CHECKS; the worker's task loop starts again instead of exiting), and nothing is
lost: every accepted submission is stored once and processed once, one Request each.

A PostgreSQL cluster of the test's own (initdb in a temporary directory, its own port and socket
directory), so stopping it touches nobody else's database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import ONLY_POSTGRES, Database, report, stream_post, wait_until
from tests.server import LiveLeadline, free_port, server_start, server_stop

pytestmark = [pytest.mark.server, ONLY_POSTGRES]

BIN = Path("/usr/lib/postgresql/15/bin")
SUBMISSIONS = 400
RATE = 25.0  # a second: the outage falls in the middle of a stream of ~16 s
DOWN_SECONDS = 10.0


class Cluster:
    """A private PostgreSQL server in a temporary directory (as the postgres user when we are
    root: initdb refuses root)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.log = base / "postgres.log"
        self.port = free_port()
        self.user = "leadline"
        self.sockets.mkdir(parents=True)
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            shutil.chown(self.sockets, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.sockets} -c fsync=off -c full_page_writes=off"
            " -c max_connections=50"
        )
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[Cluster]:
    if not (BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL 15 binaries in {BIN}")
    # Not under tmp_path: the postgres user must reach it, and pytest's base directory is
    # private to us.
    base = Path(tempfile.mkdtemp(prefix="leadline-faults-pg-"))
    cluster = Cluster(base)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.running():
            subprocess.run(
                [*cluster.as_user, str(BIN / "pg_ctl"), "-D", str(cluster.data), "-m",
                 "immediate", "-w", "stop"],
                check=False, capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def on_private_postgres(private_postgres: Cluster, tmp_path: Path) -> Iterator[LiveLeadline]:
    server = server_start(
        data_dir=tmp_path / "leadline",
        web_workers=2,
        people=10,
        postgres_url=private_postgres.url,
    )
    try:
        yield server
    finally:
        if not private_postgres.running():
            private_postgres.start()
        server_stop(server)


def test_postgres_stopped_for_10_s_loses_nothing(
    private_postgres: Cluster, on_private_postgres: LiveLeadline
) -> None:
    server = on_private_postgres
    db = Database(server)
    tag = f"pgstop{int(time.time())}"
    started = time.monotonic()
    try:
        stream, accepted, finish = stream_post(
            server, count=SUBMISSIONS, tag=tag, rate=RATE, give_up_after=90.0
        )
        try:
            wait_until("a quarter of the stream accepted", lambda: accepted() >= SUBMISSIONS / 4)
            before = accepted()
            db.close()
            private_postgres.stop()
            stopped = time.monotonic()
            time.sleep(DOWN_SECONDS)
            private_postgres.start()
            down = time.monotonic() - stopped
            during = accepted() - before
            report(f"PostgreSQL stopped at {before} accepted, back after {down:.1f}s")
        finally:
            finish()
        streamed = time.monotonic() - started
        keys = stream.keys

        processing = wait_until(
            "processing the submissions after the outage", lambda: db.unprocessed(keys) == 0
        )
        stored = db.stored_per_key(keys)
        requests = db.requests_per_key(keys)
        figures = (
            f"{stream.summary()}; accepted while down {during}; stored {sum(stored.values())},"
            f" requests {sum(requests.values())}; stream {streamed:.1f}s, processing"
            f" {processing:.1f}s after it; processes stopped: {server.stopped()}"
        )
        report(figures)
        assert stream.refused == [], f"{stream.refused[:3]}; {figures}"
        assert len(stream.accepted) == SUBMISSIONS, figures
        assert stored == dict.fromkeys(keys, 1), figures
        assert requests == dict.fromkeys(keys, 1), figures
        assert stream.statuses["503"] > 0, f"no 503 while the database was away; {figures}"
        assert stream.statuses["500"] == 0, f"a bare 500 while the database was away; {figures}"
        assert stream.retry_after_missing == 0, figures
        assert server.stopped() == [], f"{figures}\n{server.logs_tail()}"
    finally:
        db.close()
