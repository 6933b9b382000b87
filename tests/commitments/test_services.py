"""Commitments: promises with due times, reminders the business day before and on the morning,
broken at the due time (the promiser and their manager hear), kept on time or late, cancelled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from leadline.commitments.models import Commitment, CommitmentStatus, CommitmentTimer
from leadline.commitments.services import (
    Promise,
    commitment_cancel,
    commitment_keep,
    commitment_make,
    commitment_timers_fire_due,
    conversation_log_with_commitments,
)
from leadline.core import clock
from leadline.core.models import Person, Role, TimelineEvent, User
from leadline.journeys.models import Conversation
from leadline.notify.models import InboxItem, OutgoingMail
from tests import factories

pytestmark = pytest.mark.django_db
MONDAY_10 = factories.MONDAY_10  # Mon 23 Nov 2026, 10:00 UTC (11:00 in Berlin)
BERLIN = dt.timezone(dt.timedelta(hours=1))  # CET: no summer time in November


def at_berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=BERLIN)


@pytest.fixture
def manager() -> User:
    return factories.user(role=Role.SALES_MANAGER, username="mona", first_name="Mona")


@pytest.fixture
def rep(manager: User) -> User:
    """A rep in Berlin, in a team that works Mon-Fri 09:00-17:00 Berlin time, managed by Mona."""
    berlin = factories.team(
        name="Berlin",
        manager=manager,
        time_zone="Europe/Berlin",
        working_hours="Mon-Fri 09:00-17:00",
    )
    return factories.user(
        username="rita", first_name="Rita", team=berlin, time_zone="Europe/Berlin"
    )


@pytest.fixture
def ann() -> Person:
    return factories.person(first_name="Ann", last_name="Lee")


def fire_at(moment: dt.datetime) -> int:
    with clock.frozen_at(moment):
        return commitment_timers_fire_due()


def test_a_due_date_means_the_end_of_that_day_where_the_promiser_works(
    rep: User, ann: Person
) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = commitment_make(
            person=ann, promised_by=rep, what="  Send the   pricing ", due_on=dt.date(2026, 11, 27)
        )

    assert promise.what == "Send the pricing"
    assert promise.status == CommitmentStatus.OPEN
    assert promise.due_at == at_berlin(27, 23, 59, 59)
    event = TimelineEvent.objects.get(kind="commitment.made")
    assert event.person == ann
    assert event.summary == "Rita promised: Send the pricing (by the end of Fri 27 Nov)"


def test_reminders_come_the_business_day_before_and_on_the_morning_it_is_due(
    rep: User, ann: Person, run_worker: Callable[[], None], django_capture_on_commit_callbacks: Any
) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = commitment_make(
            person=ann, promised_by=rep, what="Send the pricing", due_on=dt.date(2026, 11, 27)
        )
    planned = dict(CommitmentTimer.objects.values_list("step", "due_at"))
    assert planned == {
        "remind_day_before": at_berlin(26, 9),  # Thursday, when the team opens
        "remind_morning": at_berlin(27, 9),
        "due": at_berlin(27, 23, 59, 59),
    }

    # Thursday 08:59 Berlin: nothing yet.
    assert fire_at(at_berlin(26, 8, 59)) == 0
    assert not InboxItem.objects.exists()
    # Thursday 09:00: the rep hears, in the inbox and by mail.
    with django_capture_on_commit_callbacks(execute=True):
        assert fire_at(at_berlin(26, 9)) == 1
    item = InboxItem.objects.get()
    assert item.user == rep
    assert item.kind == "commitment.reminder"
    assert item.title == f"Due tomorrow: Send the pricing for {ann}"
    assert item.link == f"/people/{ann.pk}/#commitments"
    with clock.frozen_at(at_berlin(26, 9, 1)):
        run_worker()
    [sent] = mail.outbox
    assert sent.to == [rep.email]
    assert sent.subject == item.title
    assert "by the end of Fri 27 Nov" in sent.body
    # Once only.
    assert fire_at(at_berlin(26, 12)) == 0
    # Friday morning: the second reminder.
    assert fire_at(at_berlin(27, 9, 1)) == 1
    assert InboxItem.objects.filter(user=rep, title__startswith="Due today:").count() == 1
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.OPEN


def test_a_promise_due_on_monday_is_reminded_on_friday(rep: User, ann: Person) -> None:
    with clock.frozen_at(MONDAY_10):
        commitment_make(person=ann, promised_by=rep, what="Call back", due_on=dt.date(2026, 11, 30))
    planned = dict(CommitmentTimer.objects.values_list("step", "due_at"))
    assert planned["remind_day_before"] == at_berlin(27, 9)  # Friday, not Sunday
    assert planned["remind_morning"] == at_berlin(30, 9)


def test_reminders_already_past_are_not_planned(rep: User, ann: Person) -> None:
    # Made on Thursday afternoon for Friday: the day-before reminder would be in the past.
    with clock.frozen_at(at_berlin(26, 15)):
        commitment_make(person=ann, promised_by=rep, what="Send it", due_on=dt.date(2026, 11, 27))
    assert set(CommitmentTimer.objects.values_list("step", flat=True)) == {
        "remind_morning",
        "due",
    }


def test_unkept_at_the_due_time_it_is_broken_and_the_manager_hears(
    rep: User, manager: User, ann: Person
) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = commitment_make(
            person=ann, promised_by=rep, what="Send the pricing", due_on=dt.date(2026, 11, 27)
        )
    fire_at(at_berlin(27, 12))  # both reminders
    InboxItem.objects.all().delete()

    assert fire_at(at_berlin(27, 23, 59, 58)) == 0
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.OPEN

    assert fire_at(at_berlin(27, 23, 59, 59)) == 1
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.BROKEN
    assert promise.broken_at == promise.due_at
    told = {item.user: item for item in InboxItem.objects.filter(kind="commitment.broken")}
    assert set(told) == {rep, manager}
    assert told[manager].title == f"Rita did not keep a promise to {ann}"
    assert told[rep].title == f"Promise not kept: Send the pricing for {ann}"
    assert OutgoingMail.objects.filter(reason="commitment.broken").count() == 2
    event = TimelineEvent.objects.get(kind="commitment.broken", person=ann)
    assert "told Rita and Mona" in event.summary
    assert event.data["told"] == [rep.pk, manager.pk]


def test_kept_on_time_drops_the_reminders_and_nothing_breaks(rep: User, ann: Person) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = commitment_make(
            person=ann, promised_by=rep, what="Send the pricing", due_on=dt.date(2026, 11, 27)
        )
    with clock.frozen_at(at_berlin(25, 10)):
        commitment_keep(commitment=promise, actor=rep)

    assert promise.status == CommitmentStatus.KEPT
    assert promise.kept_on_time
    assert not promise.kept_late
    assert promise.broken_at is None
    # Its timers were closed with it: the worker has nothing left to do.
    assert fire_at(at_berlin(28, 12)) == 0
    assert not InboxItem.objects.exists()
    assert set(CommitmentTimer.objects.values_list("outcome", flat=True)) == {"not needed: kept"}
    event = TimelineEvent.objects.get(kind="commitment.kept")
    assert event.summary == "Promise kept on time: Send the pricing"
    assert event.data["on_time"] is True


def test_a_broken_promise_kept_afterwards_is_kept_late(rep: User, ann: Person) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = commitment_make(
            person=ann, promised_by=rep, what="Send the pricing", due_on=dt.date(2026, 11, 27)
        )
    fire_at(at_berlin(28, 9))
    with clock.frozen_at(at_berlin(30, 10)):
        commitment_keep(commitment=promise, actor=rep)

    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT
    assert promise.kept_late
    assert not promise.kept_on_time
    assert promise.broken_at == promise.due_at  # it was broken; that stays known
    event = TimelineEvent.objects.get(kind="commitment.kept")
    assert event.data["on_time"] is False
    assert event.summary.startswith("Promise kept late (it was due by the end of Fri 27 Nov)")


def test_kept_late_before_the_worker_noticed_still_counts_as_broken(rep: User, ann: Person) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = factories.commitment(person=ann, promised_by=rep, due_at=at_berlin(24, 12))
    with clock.frozen_at(at_berlin(24, 12, 30)):
        commitment_keep(commitment=promise, actor=rep)
    assert promise.kept_late
    assert promise.broken_at == at_berlin(24, 12)
    # A worker that had picked the due time before the keep re-checks under the lock.
    due = CommitmentTimer.objects.get(commitment=promise, step="due")
    CommitmentTimer.objects.filter(pk=due.pk).update(done_at=None, outcome="")
    assert fire_at(at_berlin(25, 12)) == 1
    due.refresh_from_db()
    assert due.outcome == "not needed: kept"
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT  # the worker does not break it afterwards
    assert not TimelineEvent.objects.filter(kind="commitment.broken").exists()


def test_cancel_needs_a_reason_and_stops_everything(rep: User, ann: Person) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = factories.commitment(person=ann, promised_by=rep)
        with pytest.raises(ValidationError) as refused:
            commitment_cancel(commitment=promise, actor=rep, reason="   ")
        assert refused.value.message_dict == {"reason": ["Say why it no longer stands."]}
        commitment_cancel(commitment=promise, actor=rep, reason="They bought elsewhere")

    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.CANCELLED
    assert promise.cancel_reason == "They bought elsewhere"
    fire_at(MONDAY_10 + dt.timedelta(days=10))
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.CANCELLED
    assert not InboxItem.objects.exists()
    with pytest.raises(ValidationError):
        commitment_keep(commitment=promise, actor=rep)


def test_a_kept_promise_cannot_be_cancelled_and_keeping_twice_changes_nothing(
    rep: User, ann: Person
) -> None:
    with clock.frozen_at(MONDAY_10):
        promise = factories.commitment(person=ann, promised_by=rep)
        commitment_keep(commitment=promise, actor=rep)
        first = promise.kept_at
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=1)):
        commitment_keep(commitment=promise, actor=rep)
        with pytest.raises(ValidationError):
            commitment_cancel(commitment=promise, actor=rep, reason="oops")
    assert promise.kept_at == first
    assert TimelineEvent.objects.filter(kind="commitment.kept").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"what": " ", "due_on": dt.date(2026, 11, 27)}, "what"),
        ({"what": "x" * 301, "due_on": dt.date(2026, 11, 27)}, "what"),
        ({"what": "Send it"}, "due"),
        ({"what": "Send it", "due_on": dt.date(2026, 11, 20)}, "due_on"),
        ({"what": "Send it", "due_at": dt.datetime(2026, 11, 27, 12, 0)}, "due_at"),
        ({"what": "Send it", "due_at": MONDAY_10 - dt.timedelta(minutes=1)}, "due_at"),
    ],
)
def test_a_promise_needs_what_and_a_due_time_to_come(
    rep: User, ann: Person, kwargs: dict[str, object], field: str
) -> None:
    with clock.frozen_at(MONDAY_10), pytest.raises(ValidationError) as refused:
        commitment_make(person=ann, promised_by=rep, **kwargs)  # type: ignore[arg-type]
    assert list(refused.value.message_dict) == [field]
    assert not Commitment.objects.exists()


def test_a_conversation_and_its_promises_are_logged_together_or_not_at_all(
    rep: User, ann: Person
) -> None:
    colleague = factories.person(first_name="Vera")
    with clock.frozen_at(MONDAY_10):
        with pytest.raises(ValidationError) as refused:
            conversation_log_with_commitments(
                kind="call",
                summary="Pricing call",
                people=[colleague, ann],
                logged_by=rep,
                promises=[
                    Promise(what="Send the pricing", due_on=dt.date(2026, 11, 27)),
                    Promise(what="Book a demo", due_on=dt.date(2026, 11, 1)),
                ],
                promised_to=ann,
            )
        assert list(refused.value.message_dict) == ["2.due_on"]
        assert not Conversation.objects.exists()
        assert not Commitment.objects.exists()

        conversation, made = conversation_log_with_commitments(
            kind="call",
            summary="Pricing call",
            people=[colleague, ann],
            logged_by=rep,
            promises=[Promise(what="Send the pricing", due_on=dt.date(2026, 11, 27))],
            promised_to=ann,
        )
    [promise] = made
    assert promise.conversation == conversation
    assert promise.person == ann  # the page's person, who took part
    assert promise.promised_by == rep
