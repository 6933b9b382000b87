"""Notifications in batches: many inbox items and mails stored in one transaction with one task,
and many mails sent over one SMTP connection, each mail's outcome its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from leadline.core import clock
from leadline.core.models import TimelineEvent, User
from leadline.notify import services
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.services import Note
from leadline.notify.tasks import mail_deliver_task, mails_deliver_task
from tests import factories
from tests.smtp import SmtpServer, _Collector

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


class _Picky(_Collector):
    """The fixture's server, which also notes each message's connection and can refuse some
    recipients (at RCPT) or some messages (at DATA, by recipient) with their own answers."""

    def __init__(self, server: SmtpServer) -> None:
        super().__init__(server)
        self.peers: list[Any] = []
        self.refuse_rcpt_of: dict[str, str] = {}
        self.refuse_data_of: dict[str, str] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt_of:
            return self.refuse_rcpt_of[address]
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            if address in self.refuse_data_of:
                return self.refuse_data_of[address]
        answer = await super().handle_DATA(server, session, envelope)
        self.peers.append(session.peer)
        return answer

    @property
    def sessions(self) -> int:
        """How many connections delivered the messages accepted."""
        return len(set(self.peers))


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[_Picky]:
    """The real SMTP server of `smtp_server`, on its port, with a `_Picky` handler."""
    smtp_server.stop()
    handler = _Picky(smtp_server)
    controller = Controller(handler, hostname=smtp_server.host, port=smtp_server.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def users(count: int) -> list[User]:
    return [factories.user() for _ in range(count)]


def notes(people: list[User], **extra: Any) -> list[Note]:
    return [
        Note(user=user, kind="request.assigned", title=f"New request {n}", **extra)
        for n, user in enumerate(people)
    ]


def queued(task: Any) -> list[Any]:
    """The arguments of each task of this kind waiting for the worker."""
    return [
        row.args_kwargs["args"] for row in DBTaskResult.objects.filter(task_path=task.module_path)
    ]


def test_notifying_several_users_stores_all_at_once_and_queues_one_task_for_the_mails(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://leads.seller.example"
    ann, bob, cy = users(3)
    gone = factories.user(is_active=False)
    person = factories.person()
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        items = services.notify_users(
            notes=[
                Note(
                    user=ann,
                    kind="request.assigned",
                    title=" New request: Pat ",
                    body="Pat wants a demo.",
                    link="/people/7/",
                    person=person,
                    subject_ref="request:7",
                ),
                Note(user=bob, kind="request.assigned", title="Inbox only", by_mail=False),
                Note(user=gone, kind="request.assigned", title="Deactivated"),
                Note(user=cy, kind="escalation.breach", title="Pat is waiting"),
            ]
        )
    # The items, in the order of the notes, stored (with their keys) for everybody.
    assert [(item.user, item.title) for item in items] == [
        (ann, "New request: Pat"),
        (bob, "Inbox only"),
        (gone, "Deactivated"),
        (cy, "Pat is waiting"),
    ]
    assert all(item.pk is not None for item in items)
    assert list(InboxItem.objects.order_by("pk")) == items
    assert (items[0].person, items[0].subject_ref, items[0].created_at) == (
        person,
        "request:7",
        T0,
    )

    # Mail only to the active users who want it; about Pat, not to Pat.
    mails = list(OutgoingMail.objects.order_by("pk"))
    assert [(m.to, m.user, m.reason, m.status) for m in mails] == [
        ([ann.email], ann, "request.assigned", SendStatus.QUEUED),
        ([cy.email], cy, "escalation.breach", SendStatus.QUEUED),
    ]
    first = mails[0]
    assert (first.subject, first.subject_ref, first.person, first.next_attempt_at) == (
        "New request: Pat",
        "request:7",
        None,
        T0,
    )
    assert first.text == "Pat wants a demo.\n\nhttps://leads.seller.example/people/7/"
    assert mails[1].text == "Pat is waiting"
    assert first.message_id.endswith("@localhost>")
    assert first.message_id != mails[1].message_id
    # One task for both mails, none per mail.
    assert queued(mails_deliver_task) == [[[m.pk for m in mails]]]
    assert queued(mail_deliver_task) == []


def test_notifying_ten_users_costs_the_queries_of_one_and_no_savepoint(
    django_capture_on_commit_callbacks: Any,
) -> None:
    def queries(count: int) -> list[str]:
        batch = notes(users(count), body="Details", link="/people/1/")
        # Inside the caller's own transaction, as routing calls it; the enqueue on commit counts.
        with (
            transaction.atomic(),
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=True),
        ):
            services.notify_users(notes=batch)
        return [q["sql"] for q in captured.captured_queries]

    one, ten = queries(1), queries(10)
    assert len(ten) == len(one)
    assert not [q for q in one + ten if "SAVEPOINT" in q.upper()]
    assert InboxItem.objects.count() == OutgoingMail.objects.count() == 11
    assert len(queued(mails_deliver_task)) == 2


def test_a_bad_note_stores_nothing_of_the_batch() -> None:
    batch = [*notes(users(2)), Note(user=factories.user(), kind="k", title="Two\nlines")]
    with pytest.raises(ValidationError) as refused:
        services.notify_users(notes=batch)
    assert "subject" in refused.value.message_dict
    assert not InboxItem.objects.exists()
    assert not OutgoingMail.objects.exists()
    assert services.notify_users(notes=[]) == []


def test_the_worker_sends_a_batch_of_notifications_over_one_connection(
    smtp: _Picky, smtp_server: SmtpServer, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = users(5)
    with clock.frozen_at(T0):
        with django_capture_on_commit_callbacks(execute=True):
            services.notify_users(notes=notes(people))
        run_worker()
    assert len(queued(mails_deliver_task)) == 1
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(u.email for u in people)
    assert smtp.sessions == 1
    assert set(OutgoingMail.objects.values_list("status", "attempts", "sent_at")) == {
        (SendStatus.SENT, 1, T0)
    }


def mails_to(addresses: list[str], **extra: Any) -> list[OutgoingMail]:
    """Mails waiting to be sent since T0 (no task queued: the tests call mails_deliver)."""
    with clock.frozen_at(extra.pop("at", T0)):
        return [
            services.mail_send(
                to=[address], subject=f"Hello {address}", text="Hi", reason="test", **extra
            )
            for address in addresses
        ]


def state(mails: list[OutgoingMail]) -> list[tuple[str, int]]:
    for mail in mails:
        mail.refresh_from_db()
    return [(mail.status, mail.attempts) for mail in mails]


def test_many_mails_go_over_one_connection_and_a_refused_one_fails_alone(
    smtp: _Picky, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    addresses = [f"buyer{n}@buyer.example" for n in range(6)]
    smtp.refuse_rcpt_of["buyer2@buyer.example"] = "550 5.1.1 No such user here"
    person = factories.person(email="buyer2@buyer.example")
    mails = (
        mails_to(addresses[:2]) + mails_to([addresses[2]], person=person) + mails_to(addresses[3:])
    )
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        done = services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert [m.pk for m in done] == [m.pk for m in mails]
    assert (
        state(mails)
        == [(SendStatus.SENT, 1)] * 2 + [(SendStatus.FAILED, 1)] + [(SendStatus.SENT, 1)] * 3
    )
    assert "550" in mails[2].last_error
    assert [m["To"] for m in smtp_server.messages] == addresses[:2] + addresses[3:]
    assert smtp.sessions == 1
    # The bounce is on the person's timeline, as with a mail sent by itself.
    assert TimelineEvent.objects.filter(person=person, kind="mail.failed").count() == 1
    assert queued(mails_deliver_task) == queued(mail_deliver_task) == []

    # Asked again, nothing is due: nothing is sent, not even a connection is opened.
    assert services.mails_deliver(mail_ids=[m.pk for m in mails]) == []
    assert services.mail_deliver(mail_id=mails[0].pk) is None
    assert len(smtp_server.messages) == 5
    assert smtp.sessions == 1


def test_when_the_server_is_down_every_mail_of_the_batch_is_retried_by_one_task(
    smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    smtp_server.stop()
    mails = mails_to(["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"])
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert state(mails) == [(SendStatus.QUEUED, 1)] * 3
    assert all("ConnectionRefusedError" in m.last_error for m in mails)
    assert {m.next_attempt_at for m in mails} == {T0 + services.MAIL_RETRY_DELAYS[0]}
    [retry] = DBTaskResult.objects.filter(task_path=mails_deliver_task.module_path)
    assert retry.args_kwargs["args"] == [[m.pk for m in mails]]
    assert retry.run_after == T0 + services.MAIL_RETRY_DELAYS[0]

    smtp_server.start()
    with clock.frozen_at(T0 + services.MAIL_RETRY_DELAYS[0]):
        services.mails_deliver(mail_ids=retry.args_kwargs["args"][0])
    assert state(mails) == [(SendStatus.SENT, 2)] * 3
    assert len(smtp_server.messages) == 3


def test_a_server_that_hangs_up_on_one_mail_is_called_again_for_the_next(
    smtp: _Picky, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    # 421: the server closes the connection; the mail is tried later, the others go now.
    smtp.refuse_data_of["bob@buyer.example"] = "421 4.3.2 Shutting down"
    mails = mails_to(["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"])
    with django_capture_on_commit_callbacks(execute=True):
        services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert state(mails) == [(SendStatus.SENT, 1), (SendStatus.QUEUED, 1), (SendStatus.SENT, 1)]
    assert "421" in mails[1].last_error
    assert [m["To"] for m in smtp_server.messages] == ["ann@buyer.example", "cy@buyer.example"]
    assert smtp.sessions == 2


def test_mails_a_round_has_no_time_left_for_are_handed_back_due_now(
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # No hold at all: only the first mail of the round may be sent before the others are due
    # to other workers again; they are handed back, untried, and queued at once.
    monkeypatch.setattr(services, "MAIL_HOLD", dt.timedelta(0))
    mails = mails_to(["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"])
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        done = services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert done == [mails[0]]
    assert state(mails) == [(SendStatus.SENT, 1), (SendStatus.QUEUED, 0), (SendStatus.QUEUED, 0)]
    assert {mails[1].next_attempt_at, mails[2].next_attempt_at} == {T0}
    assert queued(mails_deliver_task) == [[[mails[1].pk, mails[2].pk]]]
    assert len(smtp_server.messages) == 1


def explode_for_bob(*, mail: OutgoingMail) -> None:
    """An outcome handler (settings.NOTIFY_MAIL_OUTCOME_HANDLERS) with a bug for one mail."""
    if mail.to == ["bob@buyer.example"]:
        raise RuntimeError("a handler's bug")


def test_a_mail_whose_outcome_cannot_be_recorded_does_not_undo_the_others(
    smtp_server: SmtpServer, settings: Any
) -> None:
    settings.NOTIFY_MAIL_OUTCOME_HANDLERS = [f"{__name__}.explode_for_bob"]
    addresses = ["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"]
    mails = [
        mails_to([address], person=factories.person(email=address))[0] for address in addresses
    ]
    with pytest.raises(RuntimeError, match="a handler's bug"):
        services.mails_deliver(mail_ids=[m.pk for m in mails])
    # Sent all three; Ann's and Cy's are recorded, Bob's stays claimed until its hold runs out.
    assert len(smtp_server.messages) == 3
    assert state(mails) == [(SendStatus.SENT, 1), (SendStatus.SENDING, 1), (SendStatus.SENT, 1)]
    assert TimelineEvent.objects.filter(kind="mail.sent").count() == 2


def test_the_sweep_queues_overdue_mail_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "MAIL_BATCH_SIZE", 2)
    addresses = ["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"]
    mails = [mails_to([a], at=T0 + dt.timedelta(seconds=n))[0] for n, a in enumerate(addresses)]
    with clock.frozen_at(T0 + dt.timedelta(minutes=2)):
        assert services.notifications_requeue_overdue() == 3
    assert sorted(queued(mails_deliver_task)) == [
        [[mails[0].pk, mails[1].pk]],
        [[mails[2].pk]],
    ]
