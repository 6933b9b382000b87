"""One queued task drains what waits (decision 6): the hot paths store a row, then make sure a
task that takes the waiting rows in batches is queued and not started yet.

Shared by capture (submissions) and web tracking (event batches). core imports no app of ours,
so the task is named by its import path.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus


class Drain:
    """Makes sure one task that processes what is waiting is queued and not yet started.

    After a check found it waiting, this process trusts that for half the task's linger and
    does not look again: the task starts after that moment, and once started it waits
    `linger` seconds before reading what is waiting, so it sees everything stored meanwhile.
    A task seen inside a transaction is not trusted: it may be the transaction's own, and
    roll back. When the waiting task cannot be seen (another task backend), one is queued
    every time.
    """

    def __init__(self, task_path: str, *, linger: float) -> None:
        self.task_path = task_path
        self.trusted_for = linger / 2
        self.seen_waiting_at = -self.trusted_for

    def forget(self) -> None:
        """Look again next time (tests: what an earlier test saw is not this one's)."""
        self.seen_waiting_at = -self.trusted_for

    def ensure_queued(self) -> None:
        from django_tasks import task_backends
        from django_tasks_db import DatabaseBackend
        from django_tasks_db.models import DBTaskResult

        drain: Any = import_string(self.task_path)
        checked_at = time.monotonic()
        if checked_at - self.seen_waiting_at < self.trusted_for:
            return
        if isinstance(task_backends[drain.backend], DatabaseBackend):
            # Plain SQL: on the hot path, the ORM's query building cost more than the query.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT 1 FROM {DBTaskResult._meta.db_table}"  # noqa: S608
                    " WHERE task_path = %s AND status = %s LIMIT 1",
                    [drain.module_path, TaskResultStatus.READY],
                )
                if cursor.fetchone() is not None:
                    # It was waiting at checked_at or later, so it starts after that.
                    if not connection.in_atomic_block:
                        self.seen_waiting_at = checked_at
                    return
        drain.enqueue()


def failure_note(rows: QuerySet[Any], exc: Exception, *, failed: str) -> None:
    """Mark stored rows the worker failed to process (those not processed meanwhile): status
    `failed`, one more attempt, the error. The sweep queues them again."""
    rows.update(
        status=failed,
        attempts=F("attempts") + 1,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
    )
