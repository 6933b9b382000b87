"""The real product as subprocesses: `leadline serve` and `leadline worker` on a fresh database.

`server_start` / `server_stop` are plain functions so bench/capture.py starts the very same server;
the `live_leadline` fixture wraps them for tests marked `server`.

On PostgreSQL runs (LEADLINE_DATABASE_URL set) the server gets a database of its own on the same
server, dropped afterwards; otherwise a SQLite file in its data directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 300.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 40
API_KEY_PREFIX = "ll_"  # what core.services.api_token_create puts before every key
# Settings of the test process that must not leak into the server's environment.
_NOT_INHERITED = ("LEADLINE_TEST_SQLITE_NAME", "LEADLINE_MEDIA_DIR", "LEADLINE_CACHE_URL")


def leadline_command() -> list[str]:
    """The `leadline` console script of the Python running us, as a user would start it."""
    script = Path(sys.executable).parent / "leadline"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "leadline.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postgres_connect_kwargs(url: str) -> dict[str, Any]:
    import dj_database_url

    config = dj_database_url.parse(url)
    kwargs = {
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
    }
    kwargs.update(config.get("OPTIONS", {}))
    return {key: value for key, value in kwargs.items() if value is not None}


def _postgres_admin(url: str, *statements: str) -> list[tuple[Any, ...]]:
    """Run statements on the server's maintenance database; the last one's rows."""
    import psycopg

    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(
        dbname="postgres", autocommit=True, **_postgres_connect_kwargs(url)
    ) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
    return rows


E2E_DATABASE_PREFIX = "leadline_e2e_"


def _postgres_database_create(url: str) -> str:
    """A new database for one server; ones left by runs that were killed are dropped first."""
    for (name,) in _postgres_admin(url, "SELECT datname FROM pg_database"):
        if not name.startswith(E2E_DATABASE_PREFIX):
            continue
        pid = name.removeprefix(E2E_DATABASE_PREFIX).split("_")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    name = f"{E2E_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    _postgres_admin(url, f'CREATE DATABASE "{name}"')
    return name


def _with_database_name(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@dataclasses.dataclass
class LiveLeadline:
    """A running Leadline: its URL, environment and data directory, and a way to run its CLI."""

    url: str
    env: dict[str, str] = dataclasses.field(repr=False)
    data_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = dataclasses.field(
        default_factory=dict, repr=False
    )
    postgres_database: str | None = None
    postgres_admin_url: str | None = dataclasses.field(default=None, repr=False)
    # The arguments each process was started with, to start it again (`restart`).
    commands: dict[str, list[str]] = dataclasses.field(default_factory=dict, repr=False)
    # The SMTP server its mail goes to, when the fixture gave it one.
    smtp: Any = None
    _owns_data_dir: bool = False

    @property
    def clock_file(self) -> Path:
        """Where LEADLINE_CLOCK_FILE points, when the server was started with one."""
        return Path(self.env["LEADLINE_CLOCK_FILE"])

    def clock_move(self, offset: dt.timedelta) -> None:
        """Move the clock of the server and its worker `offset` away from the real time."""
        from leadline.core.clock import offset_file_write

        offset_file_write(self.clock_file, offset)

    def run(
        self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run `leadline ARGS…` in this server's environment; raises with its output on failure."""
        result = subprocess.run(
            [*leadline_command(), *args],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"`leadline {' '.join(args)}` exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def api_token(self, username: str) -> str:
        """A new API token for that user, as `leadline token` prints it."""
        words = self.run("token", "--user", username).stdout.split()
        keys = [word for word in words if word.startswith(API_KEY_PREFIX)]
        if not keys:
            raise RuntimeError(f"`leadline token --user {username}` printed no key: {words}")
        return keys[-1]

    def log_path(self, name: str) -> Path:
        return self.data_dir / f"{name}.log"

    def logs_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        parts = []
        for name, process in self.processes.items():
            path = self.log_path(name)
            text = path.read_text(errors="replace") if path.exists() else ""
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            tail = "\n".join(text.splitlines()[-lines:]) or "(nothing)"
            parts.append(f"--- leadline {name} ({state}), last {lines} lines of {path}:\n{tail}")
        return "\n".join(parts)

    def worker_start(self, name: str = "worker") -> None:
        """Start one more `leadline worker` on this server's database, logging to NAME.log
        (tests/test_workers.py runs three at once)."""
        _spawn(self, name, ["worker"])

    def stopped(self) -> list[str]:
        """Names of the processes that are no longer running."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def kill(self, name: str) -> None:
        """SIGKILL process NAME and everything it started (gunicorn's workers): a crash, with no
        chance to finish anything (tests/faults)."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)

    def restart(self, name: str, *, timeout: float = START_TIMEOUT) -> None:
        """Start process NAME again with the arguments it was first started with; for the web
        server, wait until it answers."""
        if self.processes[name].poll() is None:
            raise RuntimeError(f"leadline {name} is still running")
        _spawn(self, name, self.commands[name])
        if name == "serve":
            _wait_healthy(self, timeout)


def server_env(
    *,
    data_dir: Path,
    rate_limit: str = "100000/60",
    database_url: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.pop("LEADLINE_DATABASE_URL", None)
    env.update(
        {
            "LEADLINE_DATA_DIR": str(data_dir),
            "LEADLINE_SECRET_KEY": secrets.token_urlsafe(40),
            "LEADLINE_CAPTURE_RATE_LIMIT": rate_limit,
            # Tests and benches send thousands to one form from one client: the per-form limit
            # (600 a minute by default) would answer most of them 429.
            "LEADLINE_CAPTURE_FORM_RATE_LIMIT": rate_limit,
            "LEADLINE_EMAIL_URL": "console:",
            # A test's or bench's server has nothing worth keeping; on a large data set the first
            # sweep's daily backup would also skew what a bench measures.
            "LEADLINE_BACKUP_DAILY": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url:
        env["LEADLINE_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def _wait_healthy(server: LiveLeadline, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.stopped():
            raise RuntimeError(f"leadline stopped while starting\n{server.logs_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}healthz", timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise RuntimeError(
        f"{server.url}healthz did not answer 200 within {timeout:.0f}s ({last_error})\n"
        f"{server.logs_tail()}"
    )


def _spawn(server: LiveLeadline, name: str, args: Sequence[str]) -> None:
    server.commands[name] = list(args)
    with server.log_path(name).open("ab") as log:
        # A session of its own, so stopping takes gunicorn's workers along and nothing leaks.
        server.processes[name] = subprocess.Popen(
            [*leadline_command(), *args],
            env=server.env,
            cwd=server.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def server_start(
    *,
    data_dir: Path | None = None,
    rate_limit: str = "100000/60",
    people: int = 20,
    seed: int = 7,
    web_workers: int = 2,
    worker: bool = True,
    extra_env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    postgres_url: str | None = None,
) -> LiveLeadline:
    """Migrate a fresh database, load demo data, start the web server (and the worker).

    `postgres_url`: the PostgreSQL server to make the database on, instead of the one of
    LEADLINE_DATABASE_URL (tests/faults starts a private one it can stop)."""
    owns_data_dir = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="leadline-live-"))
    data_dir.mkdir(parents=True, exist_ok=True)

    postgres_database = postgres_admin_url = None
    database_url = postgres_url or os.environ.get("LEADLINE_DATABASE_URL") or None
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        postgres_admin_url = database_url
        postgres_database = _postgres_database_create(postgres_admin_url)
        database_url = _with_database_name(database_url, postgres_database)

    port = free_port()
    server = LiveLeadline(
        url=f"http://127.0.0.1:{port}/",
        env=server_env(
            data_dir=data_dir, rate_limit=rate_limit, database_url=database_url, extra=extra_env
        ),
        data_dir=data_dir,
        postgres_database=postgres_database,
        postgres_admin_url=postgres_admin_url,
        _owns_data_dir=owns_data_dir,
    )
    try:
        server.run("migrate", "--no-input", "-v", "0")
        server.run("demo-data", "--people", str(people), "--seed", str(seed))
        _spawn(
            server, "serve", ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers)]
        )
        if worker:
            _spawn(server, "worker", ["worker"])
        _wait_healthy(server, timeout)
    except BaseException:
        server_stop(server)
        raise
    return server


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    # Whatever is left of its session (gunicorn workers, a stuck child) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=STOP_TIMEOUT)


def server_stop(server: LiveLeadline) -> None:
    """Stop both processes, drop the server's own database, remove a data dir we made."""
    try:
        for process in server.processes.values():
            _stop_process(process)
    finally:
        if server.postgres_database and server.postgres_admin_url:
            _postgres_admin(
                server.postgres_admin_url,
                f'DROP DATABASE IF EXISTS "{server.postgres_database}" WITH (FORCE)',
            )
        if server._owns_data_dir:
            shutil.rmtree(server.data_dir, ignore_errors=True)


@contextlib.contextmanager
def running_leadline(**options: Any) -> Iterator[LiveLeadline]:
    server = server_start(**options)
    try:
        yield server
    finally:
        server_stop(server)


@pytest.fixture(scope="session")
def live_leadline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLeadline]:
    """One real Leadline (web + worker) for the whole session, with demo data, its mail going to
    a real SMTP server on loopback (`live_leadline.smtp`) and a clock tests can move
    (`live_leadline.clock_move`; a test that moves it puts it back)."""
    from tests.smtp import SmtpServer

    data_dir = tmp_path_factory.mktemp("live-leadline")
    smtp = SmtpServer(host="127.0.0.1", port=free_port())
    smtp.start()
    try:
        server = server_start(
            data_dir=data_dir,
            extra_env={
                "LEADLINE_EMAIL_URL": smtp.url,
                "LEADLINE_CLOCK_FILE": str(data_dir / "clock-offset"),
            },
        )
    except BaseException:
        smtp.stop()
        raise
    server.smtp = smtp
    try:
        yield server
        died = server.stopped()
        if died:
            pytest.fail(
                f"leadline {', '.join(died)} stopped during the tests\n{server.logs_tail()}"
            )
    finally:
        server_stop(server)
        smtp.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used the live server shows the server's log tails beside its error."""
    report = yield
    if report.failed and "live_leadline" in getattr(item, "fixturenames", ()):
        server = item.funcargs.get("live_leadline")  # type: ignore[attr-defined]
        if isinstance(server, LiveLeadline):
            report.sections.append(("leadline server logs", server.logs_tail()))
    return report
