"""Reads on notifications."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from leadline.core.models import Person, User
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus


def inbox_items(*, user: User, unread_only: bool = False) -> QuerySet[InboxItem]:
    """The user's inbox, newest first."""
    items = InboxItem.objects.filter(user=user).select_related("person")
    if unread_only:
        items = items.filter(read_at__isnull=True)
    return items


def inbox_unread_count(*, user: User) -> int:
    return InboxItem.objects.filter(user=user, read_at__isnull=True).count()


def mail_first_sent_to(*, person: Person, since: dt.datetime) -> OutgoingMail | None:
    """The first mail actually sent to the person at or after `since` (queued does not count)."""
    return (
        OutgoingMail.objects.filter(person=person, status=SendStatus.SENT, sent_at__gte=since)
        .order_by("sent_at", "id")
        .first()
    )
