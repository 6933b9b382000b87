"""A mail may carry small text files (a calendar invitation): they are kept with the mail and
arrive on a real SMTP server as attachments, on every attempt."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.notify import services
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.notify.services import MailAttachment
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db

INVITE = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def test_an_attachment_arrives_with_its_name_type_and_content(
    smtp_server: SmtpServer, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.mail_send(
            to=["ann@buyer.example"],
            subject="Invitation: intro call",
            text="See you then.",
            reason="test",
            attachments=[MailAttachment("invite.ics", INVITE, "text/calendar")],
        )
    assert OutgoingMail.objects.get(pk=mail.pk).attachments == [
        {"filename": "invite.ics", "content": INVITE, "mimetype": "text/calendar"}
    ]
    run_worker()

    mail.refresh_from_db()
    assert mail.status == SendStatus.SENT
    [message] = smtp_server.messages
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "See you then."
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "invite.ics"
    assert "METHOD:REQUEST" in attachment.get_content()


def test_a_mail_without_attachments_has_none(
    smtp_server: SmtpServer, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.mail_send(to=["ann@buyer.example"], subject="Hi", text="Hello", reason="test")
    run_worker()
    [message] = smtp_server.messages
    assert list(message.iter_attachments()) == []


@pytest.mark.parametrize(
    ("attachment", "problem"),
    [
        (MailAttachment("../../etc/passwd", "x", "text/plain"), "Not a plain file name"),
        (MailAttachment("", "x", "text/plain"), "required"),
        (MailAttachment("a.ics", "x", "calendar"), "Not a MIME type"),
        (MailAttachment("a.ics", "x", "text/calendar; method=REQUEST"), "Not a MIME type"),
        (MailAttachment("a.txt", "x" * (services.ATTACHMENT_MAX_CHARS + 1)), "too large"),
    ],
)
def test_a_bad_attachment_is_refused_and_nothing_is_stored(
    attachment: MailAttachment, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        services.mail_send(
            to=["ann@buyer.example"],
            subject="Hi",
            text="Hello",
            reason="test",
            attachments=[attachment],
        )
    assert not OutgoingMail.objects.exists()
