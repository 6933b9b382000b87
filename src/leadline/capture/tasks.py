"""Background work for capture: thin wrappers that call services."""

from __future__ import annotations

import time

from django_tasks import task

# A draining task hands over to a fresh one after this long, so no task runs for ever.
DRAIN_SECONDS = 10.0
# A drain task waits this long before its first batch: under load the submissions arriving
# meanwhile join it, so each batch's fixed cost is paid for more leads, at the price of a
# request reaching its owner this much later.
LINGER_SECONDS = 0.1
# On SQLite, a pause after each of the worker's write transactions: a submission waiting for
# the one write lock gets it then, instead of after the worker's next transaction too.
YIELD_SECONDS = 0.003


@task()
def submissions_process_pending_task() -> None:
    """Process the submissions waiting, in batches, and route their requests.

    It goes on while batches come full, and stops after one that was not: what arrives next is
    for the drain task queued meanwhile, which the worker runs after the mail queued before it.
    """
    from leadline.capture.services import (
        process_batch,
        request_handlers_run,
        submissions_process_pending,
        submissions_process_queue,
    )

    time.sleep(LINGER_SECONDS)
    started = time.monotonic()
    while processed := submissions_process_pending():
        _let_writers_in()
        request_handlers_run(request_ids=list(processed.values()))
        _let_writers_in()
        if len(processed) < process_batch():
            return
        if time.monotonic() - started > DRAIN_SECONDS:
            submissions_process_queue()
            return


def _let_writers_in() -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        time.sleep(YIELD_SECONDS)


@task()
def submission_process_task(submission_id: int) -> None:
    """One submission (the sweep's retry of one that failed or was missed)."""
    from leadline.capture.services import (
        request_handlers_run,
        submissions_process_or_record_failure,
    )

    processed = submissions_process_or_record_failure(submission_ids=[submission_id])
    request_handlers_run(request_ids=list(processed.values()))
