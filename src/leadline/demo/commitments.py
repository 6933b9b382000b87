"""Demo promises: sellers promised things in the latest conversations ("Send the pricing"); some
were kept on time, some late, some broken, and some are still open, a few due today or soon.

Made and settled at their own past moments, and each reminder and due time fired when it fell
due, as the worker would have; the mail that went out back then is recorded as sent."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max

from leadline.commitments.models import Commitment, CommitmentTimer
from leadline.commitments.services import (
    commitment_keep,
    commitment_make,
    commitment_timer_fire,
)
from leadline.core import clock
from leadline.demo.selling import timers_replay
from leadline.journeys.models import Conversation
from leadline.notify.models import InboxItem, OutgoingMail

HOW_MANY = 30
PROMISES = (
    "Send the pricing for 50 finance users",
    "Share the case study from a company of their size",
    "Send our answers to their security questionnaire",
    "Book a demo with their CFO",
    "Introduce our implementation lead",
    "Send the draft contract",
    "Check whether we integrate with their ERP",
    "Send the recording of today's call",
)
# The fate of each promise, in turn: kept on time, late, broken (never kept), or left open.
FATES = ("on_time", "on_time", "open", "late", "on_time", "broken", "open", "on_time")


def _next_id(model: type[OutgoingMail] | type[InboxItem]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def commitments_demo(*, now: dt.datetime) -> int:
    """Promises in the latest conversations that had a seller, once (a second run adds
    nothing). Returns how many were made."""
    from leadline.demo.selling import history_settle, history_tasks_drop

    if Commitment.objects.exists():
        return 0
    conversations = list(
        Conversation.objects.filter(logged_by__isnull=False, occurred_at__lt=now)
        .select_related("logged_by")
        .prefetch_related("people")
        .order_by("-occurred_at", "-pk")[:HOW_MANY]
    )
    first_mail, first_item = _next_id(OutgoingMail), _next_id(InboxItem)
    made = 0
    with transaction.atomic():
        for n, conversation in enumerate(conversations):
            people = list(conversation.people.all())
            seller = conversation.logged_by
            if not people or seller is None or not seller.is_active:
                continue
            at = conversation.occurred_at + dt.timedelta(minutes=5)
            due = (at + dt.timedelta(days=2 + n % 5)).replace(hour=16, minute=0, second=0)
            with clock.frozen_at(at):
                promise = commitment_make(
                    person=people[0],
                    promised_by=seller,
                    what=PROMISES[n % len(PROMISES)],
                    due_at=max(due, at + dt.timedelta(hours=4)),
                    conversation=conversation,
                    actor=seller,
                )
            made += 1
            fate = FATES[n % len(FATES)]
            kept_at = {
                "on_time": promise.due_at - dt.timedelta(hours=20 + n % 7),
                "late": promise.due_at + dt.timedelta(hours=18 + n % 5),
            }.get(fate)
            if kept_at is not None and at < kept_at < now:
                _fire_until(promise, until=kept_at)
                with clock.frozen_at(kept_at):
                    commitment_keep(commitment=promise, actor=seller)
            _fire_until(promise, until=now)  # nothing overdue left for the worker
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return made


def _fire_until(promise: Commitment, *, until: dt.datetime) -> None:
    """Its reminders and due time up to `until`, each at its own moment."""
    timers_replay(
        CommitmentTimer.objects.filter(commitment=promise), fire=commitment_timer_fire, until=until
    )
