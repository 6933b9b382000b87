"""Notifications: outgoing mail, the in-app inbox and signed webhooks.

The writes store a row and queue its sending on commit. The worker's tasks call `mail_deliver`
and `webhook_deliver`, which make one attempt each: they claim the row (a committed status, taken
under a row lock), talk to the outside world outside any transaction, then record how it went
and, after a failure, queue the next attempt for later. Holding a transaction open across a
network call instead would keep SQLite's write lock for seconds.

A row that is due but has no task (queueing failed after commit, the worker died mid-attempt) is
queued again by `notifications_requeue_overdue`, which the worker's sweep runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import logging
import secrets
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from email.utils import make_msgid, parseaddr
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from leadline.core import clock
from leadline.core.models import Person, User
from leadline.core.services import audit_record, timeline_record
from leadline.notify.models import (
    InboxItem,
    OutgoingMail,
    SendStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from leadline.notify.signing import webhook_signature

logger = logging.getLogger(__name__)

# After the n-th failed attempt, wait the n-th delay (the last one repeats).
MAIL_RETRY_DELAYS = tuple(dt.timedelta(seconds=s) for s in (30, 120, 600, 1800, 7200))
WEBHOOK_RETRY_DELAYS = tuple(dt.timedelta(seconds=s) for s in (10, 60, 300, 1800, 7200))
# How long one attempt may hold a row before another worker assumes its sender died.
MAIL_HOLD = dt.timedelta(minutes=5)
ERROR_MAX_CHARS = 2000
WAITING = (SendStatus.QUEUED, SendStatus.SENDING)

Sendable = TypeVar("Sendable", OutgoingMail, WebhookDelivery)


@dataclasses.dataclass(frozen=True)
class _Retries:
    task: Any
    delays: tuple[dt.timedelta, ...]
    max_attempts: int
    hold: dt.timedelta


def _mail_retries() -> _Retries:
    from leadline.notify.tasks import mail_deliver_task

    return _Retries(
        task=mail_deliver_task,
        delays=MAIL_RETRY_DELAYS,
        max_attempts=settings.NOTIFY_MAIL_MAX_ATTEMPTS,
        hold=MAIL_HOLD,
    )


def _webhook_retries() -> _Retries:
    from leadline.notify.tasks import webhook_deliver_task

    return _Retries(
        task=webhook_deliver_task,
        delays=WEBHOOK_RETRY_DELAYS,
        max_attempts=settings.NOTIFY_WEBHOOK_MAX_ATTEMPTS,
        hold=max(
            dt.timedelta(minutes=1), 3 * dt.timedelta(seconds=settings.NOTIFY_WEBHOOK_TIMEOUT)
        ),
    )


def _queue_on_commit(task: Any, pk: int, *, run_after: dt.datetime | None = None) -> None:
    """Queue the attempt once the row is committed, so the worker can see it.

    Robust: if queueing fails the caller's work still stands, and the row, still waiting,
    is queued again by the sweep.
    """

    def enqueue() -> None:
        (task.using(run_after=run_after) if run_after else task).enqueue(pk)

    transaction.on_commit(enqueue, robust=True)


def _settle(
    row: Sendable,
    *,
    retries: _Retries,
    error: str | None,
    permanent: bool = False,
    fields: dict[str, Any] | None = None,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable:
    """Record how the attempt went: sent, waiting for the next attempt, or given up."""
    changes = dict(fields or {})
    if error is None:
        changes.update(status=SendStatus.SENT, last_error="")
    elif permanent or row.attempts >= retries.max_attempts:
        changes.update(status=SendStatus.FAILED, last_error=error[:ERROR_MAX_CHARS])
    else:
        delay = retries.delays[min(row.attempts, len(retries.delays)) - 1]
        next_attempt_at = clock.now() + delay
        changes.update(
            status=SendStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error[:ERROR_MAX_CHARS],
        )
        _queue_on_commit(retries.task, row.pk, run_after=next_attempt_at)
    for name, value in changes.items():
        setattr(row, name, value)
    row.save(update_fields=list(changes))
    if on_done is not None and row.status in {SendStatus.SENT, SendStatus.FAILED}:
        on_done(row)
    return row


def _claim(
    rows: QuerySet[Sendable],
    pk: int,
    *,
    retries: _Retries,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable | None:
    """Take the row for one attempt, if it is due and no live attempt holds it; else None.

    Sent and failed rows are never taken, so a task that runs twice sends once.
    """
    now = clock.now()
    with transaction.atomic():
        row = (
            rows.select_for_update(of=("self",))
            .filter(pk=pk, status__in=WAITING, next_attempt_at__lte=now)
            .first()
        )
        if row is None:
            return None
        if row.attempts >= retries.max_attempts:
            # The last allowed attempt's sender died before it could say how it went.
            _settle(
                row,
                retries=retries,
                error=row.last_error or "the last attempt never reported back",
                permanent=True,
                on_done=on_done,
            )
            return None
        row.status = SendStatus.SENDING
        row.attempts += 1
        row.next_attempt_at = now + retries.hold
        row.save(update_fields=["status", "attempts", "next_attempt_at"])
    return row


def _record(
    rows: QuerySet[Sendable],
    claimed: Sendable,
    *,
    retries: _Retries,
    error: str | None,
    permanent: bool = False,
    fields: dict[str, Any] | None = None,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable:
    with transaction.atomic():
        row = rows.select_for_update(of=("self",)).get(pk=claimed.pk)
        if row.status != SendStatus.SENDING or row.attempts != claimed.attempts:
            # Our hold ran out and another attempt took the row over; its outcome counts.
            return row
        return _settle(
            row,
            retries=retries,
            error=error,
            permanent=permanent,
            fields=fields,
            on_done=on_done,
        )


def notifications_requeue_overdue(
    *, grace: dt.timedelta = dt.timedelta(minutes=1), limit: int = 1000
) -> int:
    """Queue an attempt for every mail and delivery overdue by more than `grace`; how many.

    A due row normally has a task waiting; this catches those whose task was lost. A spare task
    is harmless: the attempt claims the row, so the second finds nothing to do.
    """
    cutoff = clock.now() - grace
    queued = 0
    for model, retries in (
        (OutgoingMail, _mail_retries()),
        (WebhookDelivery, _webhook_retries()),
    ):
        ids = list(
            model.objects.filter(status__in=WAITING, next_attempt_at__lte=cutoff)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            retries.task.enqueue(pk)
        queued += len(ids)
    return queued


# Outgoing mail ------------------------------------------------------------------------------


def _one_line(name: str, value: str, *, max_length: int) -> str:
    value = value.strip()
    if not value:
        raise ValidationError({name: "This field is required."})
    if "\n" in value or "\r" in value:
        raise ValidationError({name: "Must be a single line."})
    if len(value) > max_length:
        raise ValidationError({name: f"At most {max_length} characters."})
    return value


def _mail_recipients(to: Iterable[str]) -> list[str]:
    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise ValidationError({"to": "At least one address."})
    for recipient in recipients:
        try:
            validate_email(parseaddr(recipient)[1])
        except ValidationError:
            raise ValidationError({"to": f"Not an email address: {recipient}"}) from None
        if "\n" in recipient or "\r" in recipient:
            raise ValidationError({"to": f"Not an email address: {recipient!r}"})
    return recipients


def _mail_domain() -> str:
    """The sender's domain names our Message-IDs (asking the OS for its name can be slow)."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "leadline.localhost"


def mail_send(
    *,
    to: list[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    reason: str,
    person: Person | None = None,
    user: User | None = None,
    subject_ref: str = "",
) -> OutgoingMail:
    """Queue a mail; the worker sends it through the email backend, retrying on failure.

    `person`: the prospect it goes to (a sent mail to them is on their timeline, and counts as a
    touch); `user`: the Leadline user it goes to; `reason`: why it is sent, in a word or two
    ("escalation.breach"); `subject_ref`: what it is about ("request:42").
    """
    recipients = _mail_recipients(to)
    subject = _one_line("subject", subject, max_length=300)
    reason = _one_line("reason", reason, max_length=80)
    if len(subject_ref) > 80:
        raise ValidationError({"subject_ref": "At most 80 characters."})
    for name, value in (headers or {}).items():
        _one_line("headers", f"{name}: {value}", max_length=998)
    with transaction.atomic():
        mail = OutgoingMail.objects.create(
            to=recipients,
            subject=subject,
            text=text,
            html=html or "",
            headers=dict(headers or {}),
            reason=reason,
            subject_ref=subject_ref,
            person=person,
            user=user,
            # Fixed now and reused on every attempt, so a receiver can drop a repeat.
            message_id=make_msgid(domain=_mail_domain()),
            next_attempt_at=clock.now(),
        )
        _queue_on_commit(_mail_retries().task, mail.pk)
    return mail


def _mail_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text,
        to=mail.to,
        headers={**mail.headers, "Message-ID": mail.message_id},
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    return message


def _mail_error_is_permanent(exc: Exception) -> bool:
    """The recipient's server refusing the recipients or the message (5xx) will say the same
    next time. Everything on our side of the wire (network, authentication, our sender being
    refused) may be fixed, so it is retried; an error that is not about mail at all is not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return not isinstance(exc, OSError)


def _mail_done(mail: OutgoingMail) -> None:
    """A mail to a prospect was sent or given up on: the timeline shows it, and the steps of the
    lead's flow that care (settings.NOTIFY_MAIL_OUTCOME_HANDLERS: a sent mail is a touch, one
    that cannot be delivered escalates) hear of it, in the same transaction."""
    if mail.person is None:
        return
    _mail_on_timeline(mail)
    for path in settings.NOTIFY_MAIL_OUTCOME_HANDLERS:
        import_string(path)(mail=mail)


def _mail_on_timeline(mail: OutgoingMail) -> None:
    assert mail.person is not None
    data = {"mail_id": mail.pk, "reason": mail.reason, "subject_ref": mail.subject_ref}
    if mail.status == SendStatus.SENT:
        timeline_record(
            kind="mail.sent",
            summary=f"Mail sent: “{mail.subject}”",
            person=mail.person,
            data=data,
            occurred_at=mail.sent_at,
        )
    else:
        timeline_record(
            kind="mail.failed",
            summary=f"Mail could not be delivered: “{mail.subject}”",
            person=mail.person,
            data={**data, "error": mail.last_error[:500]},
        )


def mail_deliver(*, mail_id: int) -> OutgoingMail | None:
    """One attempt at sending a queued mail. The mail as it now stands, or None when there was
    nothing to do: already sent or given up, not due yet, or another attempt under way."""
    retries = _mail_retries()
    rows = OutgoingMail.objects.select_related("person")
    mail = _claim(rows, mail_id, retries=retries, on_done=_mail_done)
    if mail is None:
        return None
    error: str | None = None
    permanent = False
    try:
        if not _mail_message(mail).send():
            error = "the email backend sent nothing"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        permanent = _mail_error_is_permanent(exc)
        logger.warning("mail %s attempt %s failed: %s", mail.pk, mail.attempts, error)
    return _record(
        rows,
        mail,
        retries=retries,
        error=error,
        permanent=permanent,
        fields={"sent_at": clock.now()} if error is None else None,
        on_done=_mail_done,
    )


# The in-app inbox ---------------------------------------------------------------------------


def inbox_notify(
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    person: Person | None = None,
    subject_ref: str = "",
) -> InboxItem:
    item = InboxItem(
        user=user,
        kind=kind,
        title=title.strip(),
        body=body,
        link=link,
        person=person,
        subject_ref=subject_ref,
    )
    # The references are objects the caller holds; checking they exist would cost queries.
    item.full_clean(exclude=["user", "person"])
    with transaction.atomic():
        item.save()
    return item


def inbox_mark_read(*, user: User, item_ids: Iterable[int]) -> int:
    """Mark the user's own unread items among `item_ids` read; how many changed."""
    with transaction.atomic():
        return InboxItem.objects.filter(
            user=user, pk__in=list(item_ids), read_at__isnull=True
        ).update(read_at=clock.now())


def _absolute(link: str) -> str:
    return settings.PUBLIC_URL + link if link.startswith("/") and settings.PUBLIC_URL else link


def notify_user(
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    person: Person | None = None,
    subject_ref: str = "",
    by_mail: bool = True,
) -> InboxItem:
    """An inbox item, and (when `by_mail` and the user is active with an address) the same
    as a mail to them."""
    with transaction.atomic():
        item = inbox_notify(
            user=user,
            kind=kind,
            title=title,
            body=body,
            link=link,
            person=person,
            subject_ref=subject_ref,
        )
        if by_mail and user.email and user.is_active:
            text = "\n\n".join(part for part in (body.strip(), _absolute(link)) if part)
            mail_send(
                to=[user.email],
                subject=item.title,
                text=text or item.title,
                reason=kind,
                user=user,
                subject_ref=subject_ref,
            )
    return item


# Signed webhooks ----------------------------------------------------------------------------


def webhook_endpoint_create(
    *, url: str, kinds: list[str], created_by: User | None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint. Returns it and its signing secret, to show once."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        url=url,
        kinds=kinds,
        description=description,
        secret=secret,
        created_by=created_by,
    )
    endpoint.full_clean(exclude=["created_by"])
    with transaction.atomic():
        endpoint.save()
        audit_record(
            actor=created_by,
            action="webhook_endpoint.create",
            obj=endpoint,
            data={"url": endpoint.url, "kinds": endpoint.kinds},
        )
    return endpoint, secret


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Stop sending to the endpoint; deliveries still waiting give up at their next attempt."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        endpoint.active = False
        audit_record(actor=actor, action="webhook_endpoint.deactivate", obj=endpoint)


def webhook_publish(*, kind: str, payload: dict[str, Any], text: str = "") -> list[WebhookDelivery]:
    """Send an event to every active endpoint that subscribed to its kind.

    `text`: one human line, which chat tools' incoming webhooks show.
    """
    kind = _one_line("kind", kind, max_length=80)
    if len(text) > 500:
        raise ValidationError({"text": "At most 500 characters."})
    try:
        # Stored as the receivers will read it: dates as ISO strings, and nothing unencodable.
        data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"payload": f"Not JSON: {exc}"}) from None
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if e.wants(kind)]
    if not endpoints:
        return []
    task = _webhook_retries().task
    with transaction.atomic():
        deliveries = []
        for endpoint in endpoints:
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint, kind=kind, payload=data, text=text, next_attempt_at=clock.now()
            )
            _queue_on_commit(task, delivery.pk)
            deliveries.append(delivery)
    return deliveries


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON a delivery posts: the same bytes on every attempt."""
    envelope = {
        "event": delivery.kind,
        "delivery_id": delivery.pk,
        "created_at": delivery.created_at,
        "text": delivery.text or delivery.kind,
        "data": delivery.payload,
    }
    return json.dumps(
        envelope, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True
    ).encode()


def _webhook_opener() -> urllib.request.OpenerDirector:
    """HTTP(S) only, and no redirects: a redirected POST would lose its body (or its
    signature's meaning), so a 3xx is an answer that was not a success."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _webhook_post(delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    """POST the delivery once: (HTTP status or None, error or None when delivered)."""
    endpoint = delivery.endpoint
    if urlsplit(endpoint.url).scheme not in {"http", "https"}:
        return None, "only http and https URLs are delivered to"
    body = webhook_body(delivery)
    timestamp = str(int(clock.now().timestamp()))
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Leadline-Webhooks/1",
            "X-Leadline-Event": delivery.kind,
            "X-Leadline-Delivery": str(delivery.pk),
            "X-Leadline-Timestamp": timestamp,
            "X-Leadline-Signature": webhook_signature(endpoint.secret, timestamp, body),
        },
    )
    try:
        with _webhook_opener().open(request, timeout=settings.NOTIFY_WEBHOOK_TIMEOUT) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                detail = exc.read(300).decode("utf-8", "replace").strip()
            except OSError:
                detail = ""
        return exc.code, f"HTTP {exc.code}: {detail}" if detail else f"HTTP {exc.code}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt at a delivery; 2xx delivers it. The delivery as it now stands, or None when
    there was nothing to do: delivered or given up, not due yet, or another attempt under way."""
    retries = _webhook_retries()
    rows = WebhookDelivery.objects.select_related("endpoint")
    delivery = _claim(rows, delivery_id, retries=retries)
    if delivery is None:
        return None
    if not delivery.endpoint.active:
        return _record(
            rows, delivery, retries=retries, error="the endpoint was deactivated", permanent=True
        )
    status_code, error = _webhook_post(delivery)
    if error is not None:
        logger.warning("webhook delivery %s attempt %s: %s", delivery.pk, delivery.attempts, error)
    fields: dict[str, Any] = {"last_status_code": status_code}
    if error is None:
        fields["delivered_at"] = clock.now()
    return _record(rows, delivery, retries=retries, error=error, fields=fields)
