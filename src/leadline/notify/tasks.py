"""Background work for notifications: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def mails_deliver_task(mail_ids: list[int]) -> None:
    from leadline.notify.services import mails_deliver

    mails_deliver(mail_ids=mail_ids)


@task()
def mail_deliver_task(mail_id: int) -> None:
    from leadline.notify.services import mail_deliver

    mail_deliver(mail_id=mail_id)


@task()
def webhook_deliver_task(delivery_id: int) -> None:
    from leadline.notify.services import webhook_deliver

    webhook_deliver(delivery_id=delivery_id)
