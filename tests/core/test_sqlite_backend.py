"""The SQLite backend waits for a busy write lock in short steps, then gives up at its timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection

from leadline.core.sqlite_backend.base import DatabaseWrapper, wal_checkpoint


@pytest.fixture(autouse=True)
def _own_database(django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """These tests open a database file of their own, not the test database. Playwright's
    browser tests leave an event loop running in this thread, which makes Django refuse to open
    a connection; nothing here is async."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with django_db_blocker.unblock():
        yield


def _wrapper(path: Path, timeout: float, **options: Any) -> DatabaseWrapper:
    # A file of its own, whichever database the suite runs on.
    settings: dict[str, Any] = {
        **connection.settings_dict,
        "NAME": str(path),
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE", **options},
    }
    wrapper = DatabaseWrapper(settings, alias="lock-test")
    wrapper.ensure_connection()
    return wrapper


def _hold_lock(path: Path, seconds: float, taken: threading.Event) -> None:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    taken.set()
    time.sleep(seconds)
    holder.execute("COMMIT")
    holder.close()


def _insert_while_locked(tmp_path: Path, *, timeout: float, held_for: float) -> None:
    path = tmp_path / "lock.sqlite3"
    waiter = _wrapper(path, timeout)
    with waiter.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE t (x INTEGER)")
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, held_for, taken))
    holder.start()
    taken.wait()
    try:
        with waiter.cursor() as cursor:
            cursor.execute("INSERT INTO t (x) VALUES (%s)", [1])
            cursor.executemany("INSERT INTO t (x) VALUES (%s)", ([n] for n in (2, 3)))
    finally:
        holder.join()
        waiter.close()


def test_a_write_waits_for_the_lock_and_then_succeeds(tmp_path: Path) -> None:
    # SQLite's own handler is off (timeout 0): without the backend's retries this would fail.
    _insert_while_locked(tmp_path, timeout=5, held_for=0.2)
    rows = sqlite3.connect(tmp_path / "lock.sqlite3").execute("SELECT x FROM t").fetchall()
    assert sorted(rows) == [(1,), (2,), (3,)]


def test_a_write_gives_up_after_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        _insert_while_locked(tmp_path, timeout=0.1, held_for=1.0)
    assert time.monotonic() - started < 1.0 + 0.5  # it did not wait for the holder


def _init_command(monkeypatch: pytest.MonkeyPatch, autocheckpoint: str | None) -> str:
    """The SQLite connection set-up leadline.settings makes with this environment."""
    import leadline.settings

    monkeypatch.delenv("LEADLINE_DATABASE_URL", raising=False)
    if autocheckpoint is None:
        monkeypatch.delenv("LEADLINE_SQLITE_AUTOCHECKPOINT", raising=False)
    else:
        monkeypatch.setenv("LEADLINE_SQLITE_AUTOCHECKPOINT", autocheckpoint)
    command: str = leadline.settings._database()["OPTIONS"]["init_command"]
    return command


def _commit_pages(cursor: Any, pages: int) -> None:
    """One commit of a page or more each (a row of 4000 bytes fills most of a page)."""
    for n in range(pages):
        cursor.execute("INSERT INTO t (x) VALUES (%s)", ["x" * 4000 + str(n)])


def test_the_web_process_leaves_checkpoints_to_the_worker_s_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As wsgi.py sets up a web process: no checkpoint after a few pages of WAL.
    command = _init_command(monkeypatch, "16384")
    web = _wrapper(tmp_path / "wal.sqlite3", 5, init_command=command)
    try:
        with web.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x TEXT)")
            _commit_pages(cursor, 1200)
        busy, in_wal, copied = wal_checkpoint(web) or (1, 0, 0)
        # Past SQLite's 1000 pages, nothing was copied yet: the sweep's passive checkpoint
        # copies every page the web's commits left in the WAL.
        assert busy == 0
        assert in_wal >= 1200
        assert copied == in_wal
        assert wal_checkpoint(web) == (0, in_wal, in_wal)  # nothing more to copy
    finally:
        web.close()


def test_other_processes_keep_sqlite_s_own_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = _init_command(monkeypatch, None)
    worker = _wrapper(tmp_path / "wal.sqlite3", 5, init_command=command)
    try:
        with worker.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone() == (1000,)  # SQLite's default
            cursor.execute("CREATE TABLE t (x TEXT)")
            _commit_pages(cursor, 1200)
        # The commit of the 1000th page copied the WAL into the database and the WAL began
        # again from its start.
        _busy, in_wal, copied = wal_checkpoint(worker) or (1, 0, 0)
        assert 0 < in_wal < 1000
        assert copied == in_wal
    finally:
        worker.close()
