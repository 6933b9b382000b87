"""Signed webhooks reach a real HTTP server, retried with growing pauses until it answers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import AuditEntry, Role, User
from leadline.notify import services
from leadline.notify.models import SendStatus, WebhookDelivery, WebhookEndpoint
from leadline.notify.signing import webhook_signature_verify
from leadline.notify.tasks import webhook_deliver_task
from tests import factories
from tests.notify.conftest import Receiver
from tests.server import free_port

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin_user() -> User:
    return factories.user(role=Role.ADMIN, username="ada")


@pytest.fixture
def publish(django_capture_on_commit_callbacks: Any) -> Any:
    def publish(kind: str = "request.assigned", **kwargs: Any) -> list[WebhookDelivery]:
        kwargs.setdefault("payload", {"request_id": 42})
        with django_capture_on_commit_callbacks(execute=True):
            return services.webhook_publish(kind=kind, **kwargs)

    return publish


def endpoint_for(receiver: Receiver, admin_user: User, **kwargs: Any) -> tuple[Any, str]:
    kwargs.setdefault("kinds", ["*"])
    return services.webhook_endpoint_create(url=receiver.url, created_by=admin_user, **kwargs)


def retry_due(delivery: WebhookDelivery, run_worker: Any) -> WebhookDelivery:
    """Move the clock to the delivery's next attempt, let the sweep queue it, run the worker."""
    delivery.refresh_from_db()
    with clock.frozen_at(delivery.next_attempt_at):
        assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 1
        run_worker()
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_is_signed_json_with_its_headers(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    endpoint, secret = endpoint_for(receiver, admin_user, kinds=["request.*"])
    assert secret == endpoint.secret
    assert secret.startswith("whsec_")
    assert AuditEntry.objects.filter(action="webhook_endpoint.create", actor=admin_user).exists()
    with clock.frozen_at(T0):
        [delivery] = publish(
            payload={"request_id": 42, "due": T0 + dt.timedelta(hours=1)},
            text="New request from Ann Example",
        )
        run_worker()

    [request] = receiver.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert request.path == "/hooks/leadline"
    assert headers["content-type"] == "application/json"
    assert headers["x-leadline-event"] == "request.assigned"
    assert headers["x-leadline-delivery"] == str(delivery.pk)
    assert headers["x-leadline-timestamp"] == str(int(T0.timestamp()))
    signature = headers["x-leadline-signature"]
    assert signature.startswith("sha256=")
    timestamp = headers["x-leadline-timestamp"]
    assert webhook_signature_verify(secret, timestamp, request.body, signature)
    assert not webhook_signature_verify("whsec_other", timestamp, request.body, signature)
    assert not webhook_signature_verify(secret, timestamp, request.body + b" ", signature)
    assert not webhook_signature_verify(secret, int(timestamp) + 1, request.body, signature)
    body = json.loads(request.body)
    assert body == {
        "event": "request.assigned",
        "delivery_id": delivery.pk,
        "created_at": T0.isoformat().replace("+00:00", "Z"),
        "text": "New request from Ann Example",
        "data": {"request_id": 42, "due": "2025-03-03T10:00:00Z"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        SendStatus.SENT,
        1,
        200,
    )
    assert delivery.delivered_at == T0


def test_a_receiver_refuses_signatures_too_old_or_from_the_future() -> None:
    body = b'{"event":"x"}'
    from leadline.notify.signing import webhook_signature

    signature = webhook_signature("whsec_s", int(T0.timestamp()), body)
    with clock.frozen_at(T0 + dt.timedelta(minutes=4)):
        assert webhook_signature_verify(
            "whsec_s", int(T0.timestamp()), body, signature, max_age_s=300
        )
    for moment in (T0 + dt.timedelta(minutes=6), T0 - dt.timedelta(minutes=6)):
        with clock.frozen_at(moment):
            assert not webhook_signature_verify(
                "whsec_s", int(T0.timestamp()), body, signature, max_age_s=300
            )
    assert not webhook_signature_verify("whsec_s", "soon", body, signature, max_age_s=300)
    assert not webhook_signature_verify("whsec_s", int(T0.timestamp()), body, "sha256=ü")


def test_only_active_endpoints_that_subscribed_to_the_kind_get_the_event(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    everything, _ = endpoint_for(receiver, admin_user, kinds=["*"])
    assigned, _ = endpoint_for(receiver, admin_user, kinds=["request.assigned"])
    escalations, _ = endpoint_for(receiver, admin_user, kinds=["escalation.*"])
    switched_off, _ = endpoint_for(receiver, admin_user, kinds=["*"])
    services.webhook_endpoint_deactivate(endpoint=switched_off, actor=admin_user)

    sent_to = {
        kind: {d.endpoint_id for d in publish(kind)}
        for kind in ("request.assigned", "escalation.breach", "nobody.listens")
    }
    assert sent_to == {
        "request.assigned": {everything.pk, assigned.pk},
        "escalation.breach": {everything.pk, escalations.pk},
        "nobody.listens": {everything.pk},
    }
    run_worker()
    events = sorted(r.headers["X-Leadline-Event"] for r in receiver.requests)
    assert events == [
        *["escalation.breach"] * 2,
        "nobody.listens",
        *["request.assigned"] * 2,
    ]
    WebhookEndpoint.objects.update(active=False)
    assert publish("request.assigned") == []


def test_a_failing_receiver_is_retried_with_growing_pauses_until_it_answers(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    _, secret = endpoint_for(receiver, admin_user)
    receiver.answers = [500, 503]
    with clock.frozen_at(T0):
        [delivery] = publish()
        run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        SendStatus.QUEUED,
        1,
        500,
    )
    assert delivery.last_error.startswith("HTTP 500")
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=10)

    # Before it is due, nothing is sent, however often the task runs.
    with clock.frozen_at(T0 + dt.timedelta(seconds=9)):
        assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 0
        webhook_deliver_task.enqueue(delivery.pk)
        run_worker()
    assert len(receiver.requests) == 1

    delivery = retry_due(delivery, run_worker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        SendStatus.QUEUED,
        2,
        503,
    )
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=10 + 60)

    delivery = retry_due(delivery, run_worker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        SendStatus.SENT,
        3,
        200,
    )
    assert delivery.delivered_at == T0 + dt.timedelta(seconds=70)
    # The same delivery each time, freshly signed at each attempt's own time.
    assert {r.headers["X-Leadline-Delivery"] for r in receiver.requests} == {str(delivery.pk)}
    stamps = [int(r.headers["X-Leadline-Timestamp"]) for r in receiver.requests]
    assert stamps == [int(T0.timestamp()) + s for s in (0, 10, 70)]
    for r in receiver.requests:
        assert webhook_signature_verify(
            secret, r.headers["X-Leadline-Timestamp"], r.body, r.headers["X-Leadline-Signature"]
        )


def test_a_delivery_gives_up_after_six_attempts(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    endpoint_for(receiver, admin_user)
    receiver.answers = [500] * 10
    with clock.frozen_at(T0):
        [delivery] = publish()
        run_worker()
    pauses = []
    for _ in range(5):
        delivery.refresh_from_db()
        attempted_at = delivery.next_attempt_at
        delivery = retry_due(delivery, run_worker)
        if delivery.status == SendStatus.QUEUED:
            pauses.append((delivery.next_attempt_at - attempted_at).total_seconds())
    assert pauses == [60, 300, 1800, 7200]
    assert (delivery.status, delivery.attempts) == (SendStatus.FAILED, 6)
    assert len(receiver.requests) == 6
    assert services.notifications_requeue_overdue(grace=dt.timedelta(0)) == 0


def test_a_redirect_is_not_followed_and_not_a_success(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    endpoint_for(receiver, admin_user)
    receiver.answers = [302]
    [delivery] = publish()
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (SendStatus.QUEUED, 302)
    assert len(receiver.requests) == 1


def test_an_unreachable_or_slow_receiver_is_retried(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any, settings: Any
) -> None:
    services.webhook_endpoint_create(
        url=f"http://127.0.0.1:{free_port()}/nobody-home", kinds=["*"], created_by=admin_user
    )
    [unreachable] = publish()
    run_worker()
    unreachable.refresh_from_db()
    assert (unreachable.status, unreachable.last_status_code) == (SendStatus.QUEUED, None)
    assert "Connection refused" in unreachable.last_error

    WebhookEndpoint.objects.update(active=False)
    endpoint_for(receiver, admin_user)
    settings.NOTIFY_WEBHOOK_TIMEOUT = 1
    receiver.delay_s = 1.5
    [slow] = publish()
    run_worker()
    slow.refresh_from_db()
    assert (slow.status, slow.attempts) == (SendStatus.QUEUED, 1)
    assert "timed out" in slow.last_error


def test_a_delivery_another_attempt_holds_is_not_sent_twice(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    endpoint_for(receiver, admin_user)
    with clock.frozen_at(T0):
        [delivery] = publish()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=SendStatus.SENDING, attempts=1, next_attempt_at=T0 + dt.timedelta(minutes=1)
        )
        run_worker()
        assert services.webhook_deliver(delivery_id=delivery.pk) is None
    assert receiver.requests == []

    # Its sender died: once the hold runs out, another attempt takes over.
    delivery = retry_due(delivery, run_worker)
    assert (delivery.status, delivery.attempts) == (SendStatus.SENT, 2)
    assert len(receiver.requests) == 1
    webhook_deliver_task.enqueue(delivery.pk)
    run_worker()
    assert len(receiver.requests) == 1


def test_deliveries_to_a_deactivated_endpoint_give_up(
    receiver: Receiver, admin_user: User, publish: Any, run_worker: Any
) -> None:
    endpoint, _ = endpoint_for(receiver, admin_user)
    [delivery] = publish()
    services.webhook_endpoint_deactivate(endpoint=endpoint, actor=admin_user)
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (
        SendStatus.FAILED,
        "the endpoint was deactivated",
    )
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("url", {"url": "ftp://hooks.example/x"}),
        ("url", {"url": "not a url"}),
        ("kinds", {"kinds": []}),
        ("kinds", {"kinds": ["request.assigned", ""]}),
        ("kinds", {"kinds": "*"}),
    ],
)
def test_a_bad_endpoint_is_refused_naming_the_field(
    field: str, kwargs: dict[str, Any], admin_user: User
) -> None:
    arguments = {"url": "https://chat.example/hooks/1", "kinds": ["*"], **kwargs}
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(created_by=admin_user, **arguments)
    assert field in refused.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_an_event_that_is_not_json_is_refused(receiver: Receiver, admin_user: User) -> None:
    endpoint_for(receiver, admin_user)
    with pytest.raises(ValidationError) as refused:
        services.webhook_publish(kind="request.assigned", payload={"who": object()})
    assert "payload" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.webhook_publish(kind="", payload={})
    assert "kind" in refused.value.message_dict
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_deliver_a_row_once(receiver: Receiver, admin_user: User) -> None:
    """Real concurrency: two threads, each with its own database connection, race for one row."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip(
            "SQLite's shared-cache in-memory test database answers 'table is locked' at once "
            "instead of waiting; a file database (and PostgreSQL) waits for the lock"
        )
    endpoint_for(receiver, admin_user)
    [delivery] = services.webhook_publish(kind="request.assigned", payload={})
    receiver.delay_s = 0.5  # the first attempt is still talking when the second one looks
    start = Barrier(2)

    def attempt() -> WebhookDelivery | None:
        try:
            start.wait()
            return services.webhook_deliver(delivery_id=delivery.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = [f.result() for f in [pool.submit(attempt) for _ in range(2)]]
    assert sorted(o is None for o in outcomes) == [False, True]
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (SendStatus.SENT, 1)
