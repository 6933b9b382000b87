"""The inbound webhook: a mail provider posts each mail it received, signed with our secret."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import TimelineEvent
from leadline.inbound.models import InboundMessage, Kind, Source, Status
from leadline.notify.signing import webhook_signature
from tests import factories

pytestmark = [pytest.mark.django_db]

SECRET = "inbound-test-secret"
URL = "/inbound/mail/"


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.INBOUND_SECRET = SECRET


def _post(
    client: Client,
    body: bytes,
    *,
    content_type: str = "message/rfc822",
    secret: str = SECRET,
    timestamp: int | None = None,
    signed: bool = True,
) -> Any:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = (
        {
            "X-Leadline-Timestamp": stamp,
            "X-Leadline-Signature": webhook_signature(secret, stamp, body),
        }
        if signed
        else {}
    )
    return client.post(URL, data=body, content_type=content_type, headers=headers)


def test_a_signed_reply_is_stored_then_processed_by_the_worker(
    client: Client, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pat = factories.person(email="pat@company.example")
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat)
    raw = factories.reply_mail(to=mail, text="Call me tomorrow.").as_bytes()

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, raw)

    assert response.status_code == 202
    stored = InboundMessage.objects.get(pk=response.json()["id"])
    assert (stored.source, stored.status, bytes(stored.raw)) == (
        Source.WEBHOOK,
        Status.RECEIVED,
        raw,
    )
    run_worker()
    stored.refresh_from_db()
    assert (stored.status, stored.kind, stored.person) == (Status.PROCESSED, Kind.REPLY, pat)
    assert "Call me tomorrow." in TimelineEvent.objects.get(kind="mail.replied").summary
    enrolment.refresh_from_db()
    assert enrolment.stopped_reason == "replied"

    # The provider retries: the same mail again is acknowledged and changes nothing.
    again = _post(client, raw)
    assert again.status_code == 200
    assert again.json() == {"id": stored.pk, "duplicate": True}
    assert InboundMessage.objects.count() == 1


def test_json_with_the_raw_message_is_taken_too(client: Client) -> None:
    mail = factories.sent_mail(person=factories.person())
    raw = factories.bounce_mail(to=mail)
    body = json.dumps({"raw": raw.decode()}).encode()
    assert _post(client, body, content_type="application/json").status_code == 202
    encoded = json.dumps(
        {"raw_base64": base64.b64encode(factories.reply_mail(to=mail).as_bytes()).decode()}
    )
    assert _post(client, encoded.encode(), content_type="application/json").status_code == 202
    assert InboundMessage.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"signed": False}, 401),
        ({"secret": "not-the-secret"}, 403),
        ({"timestamp": 1_000_000_000}, 403),  # a replay from long ago
    ],
)
def test_an_unsigned_or_badly_signed_post_stores_nothing(
    client: Client, change: dict[str, Any], status: int
) -> None:
    mail = factories.sent_mail(person=factories.person())
    response = _post(client, factories.reply_mail(to=mail).as_bytes(), **change)
    assert response.status_code == status
    assert not InboundMessage.objects.exists()


def test_a_tampered_body_fails_its_signature(client: Client) -> None:
    mail = factories.sent_mail(person=factories.person())
    raw = factories.reply_mail(to=mail).as_bytes()
    stamp = str(int(time.time()))
    response = client.post(
        URL,
        data=raw.replace(b"Tuesday", b"Friday"),
        content_type="message/rfc822",
        headers={
            "X-Leadline-Timestamp": stamp,
            "X-Leadline-Signature": webhook_signature(SECRET, stamp, raw),
        },
    )
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_too_big_is_413_and_stores_nothing(client: Client, settings: Any) -> None:
    settings.INBOUND_MAX_BYTES = 1000
    mail = factories.sent_mail(person=factories.person())
    raw = factories.reply_mail(to=mail, text="x" * 5000).as_bytes()
    assert _post(client, raw).status_code == 413
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "message/rfc822"),
        (b"just some words, not a mail", "text/plain"),
        (b"{not json", "application/json"),
        (b'{"raw": ""}', "application/json"),
        (b'{"raw_base64": "!!!"}', "application/json"),
        (b"[1, 2]", "application/json"),
    ],
)
def test_garbage_is_refused_with_400(client: Client, body: bytes, content_type: str) -> None:
    response = _post(client, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not InboundMessage.objects.exists()


def test_a_mail_without_matching_headers_is_kept_unmatched(
    client: Client, django_capture_on_commit_callbacks: Any, run_worker: Any
) -> None:
    raw = (
        b"From: Someone <someone@nowhere.example>\r\nTo: leadline@localhost\r\n"
        b"Subject: Hello?\r\nMessage-ID: <stray@nowhere.example>\r\n\r\n"
        b"Is this the right address?\r\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, raw).status_code == 202
    run_worker()
    stored = InboundMessage.objects.get()
    assert (stored.kind, stored.person, stored.status) == (Kind.UNMATCHED, None, Status.PROCESSED)
    assert not TimelineEvent.objects.exists()


def test_the_webhook_is_off_without_a_secret_and_takes_only_post(
    client: Client, settings: Any
) -> None:
    assert client.get(URL).status_code == 405
    settings.INBOUND_SECRET = ""
    assert _post(client, b"From: a@b.example\r\n\r\nhi").status_code == 404
