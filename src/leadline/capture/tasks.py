"""Background work for capture: thin wrappers that call services."""

from __future__ import annotations

import time

from django_tasks import task

# A draining task hands over to a fresh one after this long, so no task runs for ever.
DRAIN_SECONDS = 10.0
# After a batch that was not full, wait this long for more before the next: under load the
# worker then takes fuller batches, paying each batch's fixed cost for more leads, at the price
# of a request reaching its owner this much later.
LINGER_SECONDS = 0.1
# On SQLite, a pause after each of the worker's write transactions: a submission waiting for
# the one write lock gets it then, instead of after the worker's next transaction too.
YIELD_SECONDS = 0.003


@task()
def submissions_process_pending_task() -> None:
    """Process every submission waiting, in batches, and route their requests."""
    from leadline.capture.services import (
        PROCESS_BATCH,
        request_handlers_run,
        submissions_process_pending,
        submissions_process_queue,
    )

    started = time.monotonic()
    while processed := submissions_process_pending():
        _let_writers_in()
        request_handlers_run(request_ids=list(processed.values()))
        _let_writers_in()
        if time.monotonic() - started > DRAIN_SECONDS:
            submissions_process_queue()
            return
        if len(processed) < PROCESS_BATCH:
            time.sleep(LINGER_SECONDS)


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
