"""Outgoing mail goes through a real SMTP server, once, and is retried when the server fails."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import TimelineEvent
from leadline.notify import services
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.notify.selectors import mail_first_sent_to
from leadline.notify.tasks import mail_deliver_task
from tests import factories
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def queue(django_capture_on_commit_callbacks: Any) -> Any:
    """mail_send as the caller's transaction commits: its task is queued on commit."""

    def send(**kwargs: Any) -> OutgoingMail:
        kwargs.setdefault("to", ["ann@buyer.example"])
        kwargs.setdefault("subject", "Your guide to closing faster")
        kwargs.setdefault("text", "Here it is.")
        kwargs.setdefault("reason", "test")
        with django_capture_on_commit_callbacks(execute=True):
            return services.mail_send(**kwargs)

    return send


def retry_due(mail: OutgoingMail, run_worker: Any) -> OutgoingMail:
    """Move the clock to the mail's next attempt, let the sweep queue it, run the worker."""
    mail.refresh_from_db()
    with clock.frozen_at(mail.next_attempt_at):
        assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 1
        run_worker()
    mail.refresh_from_db()
    return mail


def test_a_mail_arrives_with_its_subject_recipients_and_text(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    person = factories.person(email="ann@buyer.example")
    with clock.frozen_at(T0):
        mail = queue(
            to=["Ann Example <ann@buyer.example>", "finance@buyer.example"],
            html="<p>Here it is.</p>",
            headers={"Reply-To": "rep@seller.example"},
            person=person,
        )
        assert (mail.status, mail.attempts, smtp_server.messages) == (SendStatus.QUEUED, 0, [])
        run_worker()

    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.sent_at, mail.last_error) == (
        SendStatus.SENT,
        1,
        T0,
        "",
    )
    [message] = smtp_server.messages
    assert message["Subject"] == "Your guide to closing faster"
    assert message["To"] == "Ann Example <ann@buyer.example>, finance@buyer.example"
    assert message["Reply-To"] == "rep@seller.example"
    assert message["Message-ID"] == mail.message_id
    assert message.get_body(("plain",)).get_content().strip() == "Here it is."  # type: ignore[union-attr]
    assert "<p>Here it is.</p>" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert smtp_server.envelopes[0][1] == ["ann@buyer.example", "finance@buyer.example"]
    # A mail actually sent to a person is on their timeline, and counts as a touch.
    event = TimelineEvent.objects.get(person=person, kind="mail.sent")
    assert event.data["mail_id"] == mail.pk
    assert mail_first_sent_to(person=person, since=T0) == mail
    assert mail_first_sent_to(person=person, since=T0 + dt.timedelta(seconds=1)) is None


def test_a_sent_mail_is_never_sent_again(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    mail = queue()
    run_worker()
    mail_deliver_task.enqueue(mail.pk)
    run_worker()
    assert services.mail_deliver(mail_id=mail.pk) is None
    assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 0
    assert len(smtp_server.messages) == 1
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (SendStatus.SENT, 1)


def test_a_mail_another_attempt_holds_is_left_alone_until_its_hold_runs_out(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    with clock.frozen_at(T0):
        mail = queue()
        # As if a worker had claimed it and was still talking to the server (or had died).
        OutgoingMail.objects.filter(pk=mail.pk).update(
            status=SendStatus.SENDING, attempts=1, next_attempt_at=T0 + services.MAIL_HOLD
        )
        run_worker()
        assert services.mail_deliver(mail_id=mail.pk) is None
    assert smtp_server.messages == []

    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts) == (SendStatus.SENT, 2)
    assert len(smtp_server.messages) == 1


def test_a_server_that_says_try_later_gets_the_mail_when_it_recovers(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    smtp_server.refuse_data = "451 4.3.0 Try again later"
    with clock.frozen_at(T0):
        mail = queue()
        run_worker()
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (SendStatus.QUEUED, 1)
    assert "451" in mail.last_error
    assert mail.next_attempt_at == T0 + services.MAIL_RETRY_DELAYS[0]
    assert smtp_server.messages == []

    # Not due yet: nothing is tried, even when asked.
    with clock.frozen_at(mail.next_attempt_at - dt.timedelta(seconds=1)):
        assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 0
        assert services.mail_deliver(mail_id=mail.pk) is None

    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts) == (SendStatus.QUEUED, 2)
    assert mail.next_attempt_at == T0 + sum(services.MAIL_RETRY_DELAYS[:2], dt.timedelta(0))

    smtp_server.refuse_data = None
    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts, mail.last_error) == (SendStatus.SENT, 3, "")
    assert len(smtp_server.messages) == 1


def test_a_server_that_is_down_gets_the_mail_when_it_is_back(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    smtp_server.stop()
    with clock.frozen_at(T0):
        mail = queue()
        run_worker()
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (SendStatus.QUEUED, 1)
    assert "ConnectionRefusedError" in mail.last_error

    smtp_server.start()
    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts) == (SendStatus.SENT, 2)
    assert [m["Subject"] for m in smtp_server.messages] == ["Your guide to closing faster"]


def test_an_address_the_server_refuses_for_good_fails_at_once(
    smtp_server: SmtpServer, run_worker: Any, queue: Any
) -> None:
    smtp_server.refuse_rcpt = "550 5.1.1 No such user here"
    person = factories.person(email="gone@buyer.example")
    mail = queue(to=["gone@buyer.example"], person=person)
    run_worker()
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (SendStatus.FAILED, 1)
    assert "550" in mail.last_error
    assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 0
    # A hard bounce is on the person's timeline, where escalation can see it.
    event = TimelineEvent.objects.get(person=person, kind="mail.failed")
    assert "550" in event.data["error"]


def test_mail_gives_up_after_the_last_attempt(
    smtp_server: SmtpServer, run_worker: Any, queue: Any, settings: Any
) -> None:
    settings.NOTIFY_MAIL_MAX_ATTEMPTS = 3
    smtp_server.refuse_data = "421 4.7.0 Too busy"
    with clock.frozen_at(T0):
        mail = queue()
        run_worker()
    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts) == (SendStatus.QUEUED, 2)
    mail = retry_due(mail, run_worker)
    assert (mail.status, mail.attempts) == (SendStatus.FAILED, 3)
    assert "421" in mail.last_error
    assert smtp_server.messages == []


def test_a_mail_is_queued_only_when_the_callers_transaction_commits(
    smtp_server: SmtpServer, run_worker: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    services.mail_send(to=["ann@buyer.example"], subject="Hello", text="Hi", reason="test")
    # The test's transaction never commits, so nothing is queued for the worker.
    assert not DBTaskResult.objects.exists()
    run_worker()
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("to", {"to": []}),
        ("to", {"to": ["not an address"]}),
        ("subject", {"subject": "Hello\nBcc: everyone@example.com"}),
        ("subject", {"subject": "  "}),
        ("reason", {"reason": ""}),
        ("headers", {"headers": {"X-Note": "one\r\nBcc: x@example.com"}}),
    ],
)
def test_bad_mail_is_refused_naming_the_field(field: str, kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "to": ["ann@buyer.example"],
        "subject": "Hello",
        "text": "Hi",
        "reason": "test",
    }
    with pytest.raises(ValidationError) as refused:
        services.mail_send(**{**arguments, **kwargs})
    assert field in refused.value.message_dict
    assert not OutgoingMail.objects.exists()
