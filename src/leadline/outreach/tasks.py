"""Background work for outreach: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def newsletter_deliver_task(newsletter_id: int) -> None:
    from leadline.outreach.services import newsletter_deliver

    newsletter_deliver(newsletter_id=newsletter_id)
