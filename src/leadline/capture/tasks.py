"""Background work for capture: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def submission_process_task(submission_id: int) -> None:
    from leadline.capture.services import submission_process_or_record_failure

    submission_process_or_record_failure(submission_id=submission_id)
