"""Django's SQLite backend, asking for the write lock again every few milliseconds while it is busy.

SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between tries.
The worker holds the write lock for tens of milliseconds at a time and takes it again soon
after, so a submission that had backed off to the long sleeps missed the moments the lock was
free, and waited hundreds of milliseconds (bench/capture.py). Here SQLite's handler is off
(`timeout` 0) and a statement that finds the database locked is run again after 0.5, 1, then
every 2 ms, until OPTIONS["timeout"] seconds have passed.

Running it again is safe: a statement refused for the lock did nothing. With
`transaction_mode` IMMEDIATE the lock is taken by BEGIN, so that is the statement that waits;
the ones inside the transaction hold the lock already.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.backends.sqlite3 import base

T = TypeVar("T")

WAITS = (0.0005, 0.001, 0.002)


class DatabaseWrapper(base.DatabaseWrapper):
    lock_wait = 5.0

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        self.lock_wait = float(params.get("timeout", self.lock_wait))
        params["timeout"] = 0
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=_Cursor)
        cursor.lock_wait = self.lock_wait
        return cursor


class _Cursor(base.SQLiteCursorWrapper):
    lock_wait = 5.0

    def execute(self, query: str, params: Any = None) -> Any:
        return _when_unlocked(lambda: base.SQLiteCursorWrapper.execute(self, query, params), self)

    def executemany(self, query: str, param_list: Any) -> Any:
        # A generator of parameters cannot be read twice: keep them for a second try.
        params = list(param_list)
        return _when_unlocked(
            lambda: base.SQLiteCursorWrapper.executemany(self, query, params), self
        )


def wal_checkpoint(connection: Any) -> tuple[int, int, int] | None:
    """Copy what the WAL holds into the database file, without waiting for anybody (PASSIVE):
    the worker's sweep does it, as the web process leaves checkpoints to it (decision 8).

    Returns SQLite's (busy, pages in the WAL, pages copied), or None on another database.
    """
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, in_wal, copied = cursor.fetchone()
    return int(busy), int(in_wal), int(copied)


def _when_unlocked(run: Callable[[], T], cursor: _Cursor) -> T:
    deadline = time.monotonic() + cursor.lock_wait
    tries = 0
    while True:
        try:
            return run()
        except sqlite3.OperationalError as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(WAITS[min(tries, len(WAITS) - 1)])
        tries += 1
