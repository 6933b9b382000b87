"""A worker that dies after the SMTP server took its mails but before it recorded the round does
not send them again: each mail is noted as taken the moment the server says "250 OK", and the
next claim, after the hold, settles such a mail as sent instead of sending it a second time.

In-process and cheap (both databases): the death is a recording that fails, which leaves the
rows exactly as a kill would (claimed, SENDING, recorded nowhere else).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadline.core import clock
from leadline.core.models import TimelineEvent
from leadline.notify import services
from leadline.notify.models import OutgoingMail, SendStatus
from tests import factories
from tests.smtp import SmtpServer, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


def recording_dies(*, mail: OutgoingMail) -> None:
    """An outcome handler (settings.NOTIFY_MAIL_OUTCOME_HANDLERS) standing in for the kill."""
    raise RuntimeError("the worker died here")


def test_mails_the_server_took_are_not_sent_again_after_the_sender_died(
    smtp_server: SmtpServer,  # noqa: F811
    settings: Any,
) -> None:
    handlers = settings.NOTIFY_MAIL_OUTCOME_HANDLERS
    settings.NOTIFY_MAIL_OUTCOME_HANDLERS = [f"{__name__}.recording_dies"]
    addresses = ["ann@buyer.example", "bob@buyer.example", "cy@buyer.example"]
    with clock.frozen_at(T0):
        mails = [
            services.mail_send(
                to=[a], subject="Your guide", text="Here it is.", reason="test",
                person=factories.person(email=a),
            )
            for a in addresses
        ]  # fmt: skip
        with pytest.raises(RuntimeError, match="the worker died here"):
            services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert len(smtp_server.messages) == 3
    rows = OutgoingMail.objects.filter(pk__in=[m.pk for m in mails]).order_by("pk")
    # Nothing recorded, but each row notes that the server took it.
    assert [(m.status, m.attempts, m.sent_at) for m in rows] == [(SendStatus.SENDING, 1, T0)] * 3

    settings.NOTIFY_MAIL_OUTCOME_HANDLERS = handlers
    later = T0 + services.MAIL_HOLD + dt.timedelta(minutes=2)
    with clock.frozen_at(later):
        assert services.notifications_requeue_overdue() == 3
        services.mails_deliver(mail_ids=[m.pk for m in mails])
    assert len(smtp_server.messages) == 3, "sent again after the crash"
    assert [(m.status, m.attempts, m.sent_at) for m in rows.all()] == [(SendStatus.SENT, 1, T0)] * 3
    assert TimelineEvent.objects.filter(kind="mail.sent").count() == 3


def test_a_mail_the_server_refused_is_still_tried_again(
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    smtp_server.refuse_data = "451 4.3.0 Try again later"
    with clock.frozen_at(T0):
        mail = services.mail_send(to=["ann@buyer.example"], subject="S", text="T", reason="test")
        services.mails_deliver(mail_ids=[mail.pk])
    mail.refresh_from_db()
    assert (mail.status, mail.sent_at) == (SendStatus.QUEUED, None)
    smtp_server.refuse_data = None
    with clock.frozen_at(mail.next_attempt_at):
        services.mails_deliver(mail_ids=[mail.pk])
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (SendStatus.SENT, 2)
    assert len(smtp_server.messages) == 1
