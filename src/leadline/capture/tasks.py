"""Background work for capture: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def submission_process_task(submission_id: int) -> None:
    from leadline.capture.services import (
        request_handlers_run,
        submission_process_or_record_failure,
    )

    request_id = submission_process_or_record_failure(submission_id=submission_id)
    if request_id is not None:
        request_handlers_run(request_id=request_id)
