"""Background work for journeys: thin wrappers that call services (web tracking's drain task,
the signals of new requests)."""

from __future__ import annotations

import time

from django_tasks import task

# As capture's drain task (capture/tasks.py, decision 6): hand over to a fresh task after this
# long; wait this long before the first group, so batches arriving meanwhile join it; on SQLite,
# pause after each write transaction so a batch being stored gets the write lock in between.
DRAIN_SECONDS = 10.0
LINGER_SECONDS = 0.1
YIELD_SECONDS = 0.003


@task()
def event_batch_process_pending_task() -> None:
    """Process the event batches waiting, a group at a time, and move their people along their
    journeys. It goes on while groups come full and stops after one that was not: what arrives
    next is for the drain task queued meanwhile."""
    from leadline.journeys.tracking import (
        event_batches_process_pending,
        event_batches_process_queue,
        people_signals_evaluate,
    )

    time.sleep(LINGER_SECONDS)
    started = time.monotonic()
    while (done := event_batches_process_pending()).batches:
        _let_writers_in()
        people_signals_evaluate(person_ids=done.people)
        _let_writers_in()
        if not done.full:
            return
        if time.monotonic() - started > DRAIN_SECONDS:
            event_batches_process_queue()
            return


def _let_writers_in() -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        time.sleep(YIELD_SECONDS)


@task()
def event_batch_process_task(batch_id: int) -> None:
    """One batch (the sweep's retry of one that failed or was missed)."""
    from leadline.journeys.tracking import (
        event_batches_process_or_record_failure,
        people_signals_evaluate,
    )

    people = event_batches_process_or_record_failure(batch_ids=[batch_id])
    people_signals_evaluate(person_ids=people)


# Below routing and mail: under load the worker gives each new lead its owner first, and
# records what the lead's signals show when it has a moment.
SIGNALS_PRIORITY = -10


@task(priority=SIGNALS_PRIORITY)
def requests_signals_record_task(request_ids: list[int]) -> None:
    """New requests' signals (capture queues it after routing them)."""
    from leadline.journeys.services import requests_signals_record

    requests_signals_record(request_ids=request_ids)
