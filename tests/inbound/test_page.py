"""The inbound-mail page: who may see it, what it shows, trying a failed mail again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Role
from leadline.inbound.models import InboundMessage, Source, Status
from leadline.inbound.services import inbound_process, inbound_store
from tests import factories

pytestmark = [pytest.mark.django_db]
URL = "/mail/inbound/"


def _stored(raw: bytes, *, process: bool = True) -> InboundMessage:
    message, _ = inbound_store(raw=raw, source=Source.IMAP)
    if process:
        inbound_process(message_id=message.pk)
        message.refresh_from_db()
    return message


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MARKETING, Role.OUTSIDE_CALLER])
def test_other_roles_get_403(role_client: Any, role: str) -> None:
    assert role_client(role).get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_manager_sees_the_setup_and_the_mail_with_what_it_matched(
    role_client: Any, settings: Any
) -> None:
    settings.INBOUND_IMAP_URL = "imaps://leads:s3cret-pass@mail.acme.example/INBOX"
    settings.INBOUND_SECRET = "x"
    pat = factories.person(first_name="Pat", last_name="Lee", email="pat@company.example")
    mail = factories.sent_mail(person=pat, subject="A faster month-end close")
    _stored(factories.reply_mail(to=mail, text="Let us talk on Tuesday.").as_bytes())
    _stored(factories.bounce_mail(to=factories.sent_mail(person=factories.person())))

    manager = role_client(Role.SALES_MANAGER)
    html = manager.get(URL).content.decode()

    assert "leads@mail.acme.example:993/INBOX (TLS)" in html
    assert "s3cret-pass" not in html  # never the password
    assert "/inbound/mail/" in html
    assert "Re: A faster month-end close" in html
    assert "Let us talk on Tuesday." in html
    assert "Pat Lee" in html
    assert "matched by message headers" in html
    assert "5.1.1 (hard)" in html
    replies = manager.get(URL, {"kind": "reply"}).content.decode()
    assert "Let us talk on Tuesday." in replies
    assert "5.1.1" not in replies


def test_a_failed_mail_is_shown_and_can_be_tried_again(
    role_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    message = _stored(b"Subject: hi\r\nFrom: a@b.example\r\n\r\nhello", process=False)
    InboundMessage.objects.filter(pk=message.pk).update(
        status=Status.FAILED, attempts=3, last_error="RuntimeError: database went away"
    )
    admin = role_client(Role.ADMIN)
    html = admin.get(URL, {"problems": "1"}).content.decode()
    assert "RuntimeError: database went away" in html
    assert "3 attempts" in html

    queued = DBTaskResult.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"{URL}{message.pk}/retry/")
    assert response.status_code == 302
    assert DBTaskResult.objects.count() == queued + 1
    # A mail that did not fail is not queued again.
    InboundMessage.objects.filter(pk=message.pk).update(status=Status.PROCESSED)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"{URL}{message.pk}/retry/")
    assert DBTaskResult.objects.count() == queued + 1
    assert role_client(Role.SALES_REP).post(f"{URL}{message.pk}/retry/").status_code == 403
