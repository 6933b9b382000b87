"""Background work for inbound mail: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def inbound_process_task(message_id: int) -> None:
    """Match a stored mail and do what it means (a failure is noted; the sweep tries again)."""
    from leadline.inbound.services import inbound_process_or_record_failure

    inbound_process_or_record_failure(message_id=message_id)
