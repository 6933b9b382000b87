"""Deadlines are rows, done by the worker when they fall due (never sleeping threads, never a
minute-granular cron). Each app keeps its own rows (routing's escalation timers, handoff timers,
commitment timers, cadence steps); these two reads are the same for all of them."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from leadline.core import clock

Row = TypeVar("Row", bound=Model)


def due_ids(waiting: QuerySet[Any], *, field: str = "due_at", limit: int) -> list[int]:
    """The ids of the `waiting` rows whose `field` has come, oldest first, at most `limit`."""
    return list(
        waiting.filter(**{f"{field}__lte": clock.now()})
        .order_by(field, "pk")
        .values_list("pk", flat=True)[:limit]
    )


def next_due(waiting: QuerySet[Any], *, field: str = "due_at") -> dt.datetime | None:
    """When the first of the `waiting` rows falls due, if any is waiting."""
    found: dt.datetime | None = (
        waiting.filter(**{f"{field}__isnull": False})
        .order_by(field)
        .values_list(field, flat=True)
        .first()
    )
    return found


def due_row_locked(rows: QuerySet[Row], *, pk: int, at: dt.datetime) -> Row | None:
    """Row `pk` of deadline `rows` (with `due_at` and `done_at`), locked for this transaction,
    if it is still to do at `at`; None when it is done, not due, or another worker holds it, so
    each row is done once. Call inside the transaction that does it and marks it done."""
    return (
        rows.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=pk, done_at__isnull=True, due_at__lte=at)
        .first()
    )
