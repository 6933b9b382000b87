"""Notifications: outgoing mail, the in-app inbox and signed webhooks.

The writes store a row and queue its sending on commit. The worker's tasks call `mails_deliver`
and `webhook_deliver`, which make one attempt at each row: they claim the rows (a committed
status, taken under a row lock), talk to the outside world outside any transaction, then record
how it went and, after a failure, queue the next attempt for later. Holding a transaction open
across a network call instead would keep SQLite's write lock for seconds.

Mail goes in batches, because a routed lead's notification is one of a hundred a second:
`notify_users` stores any number of inbox items and mails in one transaction and queues one task
for all of the mails; `mails_deliver` claims them in one transaction, sends them over one
connection to the email backend and records how each went in one transaction.

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
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from email.utils import make_msgid, parseaddr
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.utils.module_loading import import_string

from leadline.core import clock
from leadline.core.models import Person, User
from leadline.core.services import audit_record, timeline_record
from leadline.notify.models import (
    InboxItem,
    Outbound,
    OutgoingMail,
    SendStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from leadline.notify.signing import webhook_signature

logger = logging.getLogger(__name__)

# After the n-th failed attempt, wait the n-th delay (the last one repeats).
MAIL_RETRY_DELAYS = tuple(dt.timedelta(seconds=s) for s in settings.NOTIFY_MAIL_RETRY_DELAYS)
WEBHOOK_RETRY_DELAYS = tuple(dt.timedelta(seconds=s) for s in (10, 60, 300, 1800, 7200))
# How long one attempt may hold a row before another worker assumes its sender died.
MAIL_HOLD = dt.timedelta(minutes=5)
# How many mails one round of `mails_deliver` claims, sends and records together.
MAIL_BATCH_SIZE = 100
ERROR_MAX_CHARS = 2000
WAITING = (SendStatus.QUEUED, SendStatus.SENDING)

Sendable = TypeVar("Sendable", OutgoingMail, WebhookDelivery)
T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class _Retries:
    task: Any
    delays: tuple[dt.timedelta, ...]
    max_attempts: int
    hold: dt.timedelta
    # Takes a list of ids: rows that are due together are queued as one task.
    batch_task: Any = None


def _mail_retries() -> _Retries:
    from leadline.notify.tasks import mail_deliver_task, mails_deliver_task

    return _Retries(
        task=mail_deliver_task,
        delays=MAIL_RETRY_DELAYS,
        max_attempts=settings.NOTIFY_MAIL_MAX_ATTEMPTS,
        hold=MAIL_HOLD,
        batch_task=mails_deliver_task,
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


def _queue_on_commit(task: Any, *args: Any, run_after: dt.datetime | None = None) -> None:
    """Queue the attempt once the row is committed, so the worker can see it.

    Robust: if queueing fails the caller's work still stands, and the row, still waiting,
    is queued again by the sweep.
    """

    def enqueue() -> None:
        (task.using(run_after=run_after) if run_after else task).enqueue(*args)

    transaction.on_commit(enqueue, robust=True)


def _queue_rows(retries: _Retries, pks: list[int], *, run_after: dt.datetime | None = None) -> None:
    """Queue an attempt at the rows on commit: one task for all when there is a batch task."""
    if retries.batch_task is not None:
        _queue_on_commit(retries.batch_task, pks, run_after=run_after)
    else:
        for pk in pks:
            _queue_on_commit(retries.task, pk, run_after=run_after)


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """How one attempt went: `error` None when it went out; `fields` to store with it."""

    error: str | None
    permanent: bool = False
    fields: dict[str, Any] | None = None


def _outcome_apply(
    row: Sendable,
    *,
    retries: _Retries,
    error: str | None,
    permanent: bool = False,
    fields: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    later: dict[dt.datetime, list[int]] | None = None,
) -> list[str]:
    """Set on `row` how the attempt went: sent, waiting for the next attempt, or given up; the
    names of the fields changed, for the caller to save.

    The next attempt is queued on commit, or, when `later` is given, added to it (ids by when
    they are due) for the caller to queue together with the others.
    """
    changes = dict(fields or {})
    if error is None:
        changes.update(status=SendStatus.SENT, last_error="")
    elif permanent or row.attempts >= retries.max_attempts:
        changes.update(status=SendStatus.FAILED, last_error=error[:ERROR_MAX_CHARS])
    else:
        delay = retries.delays[min(row.attempts, len(retries.delays)) - 1]
        next_attempt_at = (now or clock.now()) + delay
        changes.update(
            status=SendStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error[:ERROR_MAX_CHARS],
        )
        if later is None:
            _queue_rows(retries, [row.pk], run_after=next_attempt_at)
        else:
            later.setdefault(next_attempt_at, []).append(row.pk)
    for name, value in changes.items():
        setattr(row, name, value)
    return list(changes)


def _is_done(row: Outbound) -> bool:
    return row.status in {SendStatus.SENT, SendStatus.FAILED}


def _settle(
    row: Sendable,
    *,
    retries: _Retries,
    error: str | None,
    permanent: bool = False,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable:
    """Record how the attempt went (see `_outcome_apply`), and tell `on_done` if it is over."""
    row.save(update_fields=_outcome_apply(row, retries=retries, error=error, permanent=permanent))
    if on_done is not None and _is_done(row):
        on_done(row)
    return row


def _claim_many(
    rows: QuerySet[Sendable],
    pks: Sequence[int],
    *,
    retries: _Retries,
    on_done: Callable[[Sendable], None] | None = None,
) -> list[Sendable]:
    """Take the rows among `pks` that are due and that no live attempt holds, for one attempt
    each, in one transaction; in the order of `pks`.

    Sent and failed rows are never taken, so a task that runs twice sends once.
    """
    now = clock.now()
    hold_until = now + retries.hold
    with transaction.atomic():
        due = {
            row.pk: row
            for row in rows.select_for_update(of=("self",)).filter(
                pk__in=list(pks), status__in=WAITING, next_attempt_at__lte=now
            )
        }
        claimed = []
        for pk in pks:
            row = due.pop(pk, None)
            if row is None:
                continue
            if isinstance(row, OutgoingMail) and row.sent_at is not None:
                # The email backend took it, and its sender died before recording the round
                # (see `_mail_accepted_mark`): sent, not to be sent again.
                _settle(row, retries=retries, error=None, on_done=on_done)
                continue
            if row.attempts >= retries.max_attempts:
                # The last allowed attempt's sender died before it could say how it went.
                _settle(
                    row,
                    retries=retries,
                    error=row.last_error or "the last attempt never reported back",
                    permanent=True,
                    on_done=on_done,
                )
                continue
            row.status = SendStatus.SENDING
            row.attempts += 1
            row.next_attempt_at = hold_until
            claimed.append(row)
        if claimed:
            rows.model._default_manager.filter(pk__in=[row.pk for row in claimed]).update(
                status=SendStatus.SENDING, attempts=F("attempts") + 1, next_attempt_at=hold_until
            )
    return claimed


def _record_many(
    rows: QuerySet[Sendable],
    attempts: Sequence[tuple[Sendable, _Outcome | None]],
    *,
    retries: _Retries,
    on_done: Callable[[Sendable], None] | None = None,
) -> list[Sendable]:
    """Record how the attempts at claimed rows went, in one transaction. The rows attempted,
    as they now stand.

    An outcome of None: the attempt was never made; the row is handed back, due now, and queued.
    """
    now = clock.now()
    later: dict[dt.datetime, list[int]] = {}
    handed_back = []
    recorded = []
    settled: list[Sendable] = []
    changed: set[str] = set()
    with transaction.atomic():
        current = {
            row.pk: row
            for row in rows.select_for_update(of=("self",)).filter(
                pk__in=[claimed.pk for claimed, _ in attempts]
            )
        }
        for claimed, outcome in attempts:
            row = current.get(claimed.pk)
            if row is None:  # deleted meanwhile
                continue
            if row.status != SendStatus.SENDING or row.attempts != claimed.attempts:
                # Our hold ran out and another attempt took the row over; its outcome counts.
                if outcome is not None:
                    recorded.append(row)
                continue
            if outcome is None:
                handed_back.append(row.pk)
                continue
            changed.update(
                _outcome_apply(
                    row,
                    retries=retries,
                    error=outcome.error,
                    permanent=outcome.permanent,
                    fields=outcome.fields,
                    now=now,
                    later=later,
                )
            )
            settled.append(row)
            recorded.append(row)
        manager = rows.model._default_manager
        if len(settled) == 1:
            settled[0].save(update_fields=sorted(changed))  # cheaper than bulk_update's CASEs
        elif settled:
            manager.bulk_update(settled, sorted(changed))
        if handed_back:
            manager.filter(pk__in=handed_back).update(
                status=SendStatus.QUEUED, attempts=F("attempts") - 1, next_attempt_at=now
            )
            _queue_rows(retries, handed_back)
        for next_attempt_at, pks in later.items():
            _queue_rows(retries, pks, run_after=next_attempt_at)
        if on_done is not None:
            for row in settled:
                if _is_done(row):
                    on_done(row)
    return recorded


def _claim(
    rows: QuerySet[Sendable],
    pk: int,
    *,
    retries: _Retries,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable | None:
    """Take the row for one attempt, if it is due and no live attempt holds it; else None."""
    claimed = _claim_many(rows, [pk], retries=retries, on_done=on_done)
    return claimed[0] if claimed else None


def _record(
    rows: QuerySet[Sendable],
    claimed: Sendable,
    *,
    retries: _Retries,
    error: str | None,
    permanent: bool = False,
    fields: dict[str, Any] | None = None,
    on_done: Callable[[Sendable], None] | None = None,
) -> Sendable | None:
    """Record how the attempt at a claimed row went; the row as it now stands (None: deleted)."""
    outcome = _Outcome(error=error, permanent=permanent, fields=fields)
    recorded = _record_many(rows, [(claimed, outcome)], retries=retries, on_done=on_done)
    return recorded[0] if recorded else None


def _together_else_each(
    items: Sequence[T], work: Callable[[Sequence[T]], list[R]]
) -> tuple[list[R], Exception | None]:
    """`work` on all the items at once; if that fails, on each item by itself, so that one bad
    item costs only itself. The results, and the first failure (after logging it)."""
    try:
        return work(items), None
    except Exception as exc:
        if len(items) <= 1:
            return [], exc
        logger.warning("a batch of %s failed (%s); trying them one by one", len(items), exc)
    results: list[R] = []
    failure: Exception | None = None
    for item in items:
        try:
            results += work([item])
        except Exception as exc:
            logger.exception("one of a batch failed")
            failure = failure or exc
    return results, failure


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
        if retries.batch_task is not None:
            for start in range(0, len(ids), MAIL_BATCH_SIZE):
                retries.batch_task.enqueue(ids[start : start + MAIL_BATCH_SIZE])
        else:
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


@dataclasses.dataclass(frozen=True)
class MailAttachment:
    """A small text file sent with a mail: ("invite.ics", "BEGIN:VCALENDAR…", "text/calendar")."""

    filename: str
    content: str
    mimetype: str = "text/plain"


ATTACHMENT_MAX_CHARS = 256 * 1024


def _mail_attachment_checked(attachment: MailAttachment) -> dict[str, str]:
    filename = _one_line("attachments", attachment.filename, max_length=200)
    if "/" in filename or "\\" in filename or '"' in filename:
        raise ValidationError({"attachments": f"Not a plain file name: {filename!r}"})
    kind, slash, subtype = attachment.mimetype.partition("/")
    if (
        not (kind and slash and subtype)
        or not f"{kind}{subtype}".replace("-", "").replace(".", "").replace("+", "").isalnum()
    ):
        raise ValidationError({"attachments": f"Not a MIME type: {attachment.mimetype!r}"})
    if len(attachment.content) > ATTACHMENT_MAX_CHARS:
        raise ValidationError({"attachments": f"{filename} is too large to send by mail."})
    return {"filename": filename, "content": attachment.content, "mimetype": attachment.mimetype}


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
    attachments: Sequence[MailAttachment] = (),
) -> OutgoingMail:
    """Queue a mail; the worker sends it through the email backend, retrying on failure.

    `person`: the prospect it goes to (a sent mail to them is on their timeline, and counts as a
    touch); `user`: the Leadline user it goes to; `reason`: why it is sent, in a word or two
    ("escalation.breach"); `subject_ref`: what it is about ("request:42"); `attachments`: small
    text files to send with it (a calendar invitation), kept with the mail for every attempt.
    """
    recipients = _mail_recipients(to)
    files = [_mail_attachment_checked(a) for a in attachments]
    subject = _one_line("subject", subject, max_length=300)
    reason = _one_line("reason", reason, max_length=80)
    if len(subject_ref) > 80:
        raise ValidationError({"subject_ref": "At most 80 characters."})
    for name, value in (headers or {}).items():
        _one_line("headers", f"{name}: {value}", max_length=998)
    # Within the caller's transaction, a part of it: no savepoint (checked above, nothing to undo).
    with transaction.atomic(savepoint=False):
        mail = OutgoingMail.objects.create(
            to=recipients,
            subject=subject,
            text=text,
            html=html or "",
            headers=dict(headers or {}),
            attachments=files,
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
    for attachment in mail.attachments:
        message.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
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


def _mail_connection_survives(exc: Exception) -> bool:
    """Whether the connection can take the next mail after this error: yes after the server
    refused this one (smtplib resets the session), except with 421, after which it closes."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code != 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code != 421
    return not isinstance(exc, OSError)


def _mail_backend_close(backend: BaseEmailBackend) -> None:
    try:
        backend.close()
    except Exception as exc:
        logger.warning("closing the email backend's connection: %s: %s", type(exc).__name__, exc)


def _mail_accepted_mark(mail: OutgoingMail, *, sent_at: dt.datetime) -> None:
    """Note on the claimed row, at once and on its own, that the email backend took the mail.

    The round records its mails together only after sending them all; a worker killed before
    that would leave every mail of the round to be sent again after its hold. With this mark a
    later claim sees the mail went (`_claim_many` settles it as sent), so a crash resends at
    most the mail whose mark had not committed yet: the milliseconds between the server's
    "250 OK" and this update. The mark is only written while our claim still holds the row.
    If it cannot be written the round's record still says how it went.
    """
    try:
        OutgoingMail.objects.filter(
            pk=mail.pk, status=SendStatus.SENDING, attempts=mail.attempts
        ).update(sent_at=sent_at)
    except DatabaseError as exc:
        logger.warning("mail %s sent; noting it at once failed: %s", mail.pk, exc)


class _MailSender:
    """Sends mails over one connection to the email backend, opened at the first mail and again
    after an error that broke it. When it cannot be opened, every mail after that gets the
    reason, as an error worth retrying."""

    def __init__(self) -> None:
        self._backend: BaseEmailBackend | None = None
        self._unreachable: str | None = None

    def send_all(
        self, mails: Sequence[OutgoingMail], *, within: dt.timedelta
    ) -> list[tuple[OutgoingMail, _Outcome | None]]:
        """Each mail with how its attempt went, or None for those not tried: sending stops once
        `within` has passed (the first mail is always tried)."""
        deadline = time.monotonic() + within.total_seconds()
        outcomes: list[tuple[OutgoingMail, _Outcome | None]] = []
        for mail in mails:
            in_time = not outcomes or time.monotonic() < deadline
            outcomes.append((mail, self.send(mail) if in_time else None))
        return outcomes

    def send(self, mail: OutgoingMail) -> _Outcome:
        backend = self._open()
        if backend is None:
            return _Outcome(error=self._unreachable or "cannot reach the email backend")
        try:
            sent = backend.send_messages([_mail_message(mail)])
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("mail %s attempt %s failed: %s", mail.pk, mail.attempts, error)
            if not _mail_connection_survives(exc):
                self.close()
            return _Outcome(error=error, permanent=_mail_error_is_permanent(exc))
        if not sent:
            return _Outcome(error="the email backend sent nothing")
        sent_at = clock.now()
        _mail_accepted_mark(mail, sent_at=sent_at)
        return _Outcome(error=None, fields={"sent_at": sent_at})

    def _open(self) -> BaseEmailBackend | None:
        if self._backend is None and self._unreachable is None:
            backend: BaseEmailBackend | None = None
            try:
                backend = get_connection()
                backend.open()
            except Exception as exc:
                self._unreachable = f"{type(exc).__name__}: {exc}"
                logger.warning("cannot reach the email backend: %s", self._unreachable)
                if backend is not None:
                    _mail_backend_close(backend)
            else:
                self._backend = backend
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            backend, self._backend = self._backend, None
            _mail_backend_close(backend)


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


def mails_deliver(*, mail_ids: Sequence[int]) -> list[OutgoingMail]:
    """One attempt at each of the queued mails that is due. The mails attempted, as they now
    stand; those with nothing to do (already sent or given up, not due yet, another attempt
    under way) are left out.

    In rounds of up to MAIL_BATCH_SIZE mails: claim them in one transaction, send them over one
    connection to the email backend, record how each went in one transaction (one mail's error
    is its own). A round that runs out of half its hold hands its unsent mails back, due now,
    before another worker could take them over and send them twice. If recording (or claiming)
    a round fails, each of its mails is recorded by itself, so that only a mail whose recording
    fails is sent again after its hold; the first such error is raised at the end.
    """
    retries = _mail_retries()
    rows = OutgoingMail.objects.select_related("person")
    ids = list(dict.fromkeys(mail_ids))
    attempted: list[OutgoingMail] = []
    failure: Exception | None = None
    sender = _MailSender()

    def claim(pks: Sequence[int]) -> list[OutgoingMail]:
        return _claim_many(rows, pks, retries=retries, on_done=_mail_done)

    def record(attempts: Sequence[tuple[OutgoingMail, _Outcome | None]]) -> list[OutgoingMail]:
        return _record_many(rows, attempts, retries=retries, on_done=_mail_done)

    try:
        for start in range(0, len(ids), MAIL_BATCH_SIZE):
            claimed, failed = _together_else_each(ids[start : start + MAIL_BATCH_SIZE], claim)
            failure = failure or failed
            if not claimed:
                continue
            outcomes = sender.send_all(claimed, within=retries.hold / 2)
            recorded, failed = _together_else_each(outcomes, record)
            failure = failure or failed
            attempted += recorded
    finally:
        sender.close()
    if failure is not None:
        raise failure
    return attempted


def mail_deliver(*, mail_id: int) -> OutgoingMail | None:
    """One attempt at sending a queued mail. The mail as it now stands, or None when there was
    nothing to do: already sent or given up, not due yet, or another attempt under way."""
    attempted = mails_deliver(mail_ids=[mail_id])
    return attempted[0] if attempted else None


# The in-app inbox ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Note:
    """A notification for `notify_users`: an inbox item for `user`, and (when `by_mail` and the
    user is active with an address) the same as a mail to them. `person`: who it is about."""

    user: User
    kind: str
    title: str
    body: str = ""
    link: str = ""
    person: Person | None = None
    subject_ref: str = ""
    by_mail: bool = True


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
    with transaction.atomic(savepoint=False):
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


def notify_users(*, notes: Sequence[Note]) -> list[InboxItem]:
    """An inbox item for each note, and a mail for each that goes by mail; the items, in the
    order of the notes.

    All checked first, then stored in one transaction (the caller's, if it has one) with one
    insert per table and no savepoint, and one task queued on commit for all of the mails.
    """
    from leadline.notify.tasks import mails_deliver_task

    now = clock.now()
    domain = _mail_domain()
    items: list[InboxItem] = []
    mails: list[OutgoingMail] = []
    for note in notes:
        item = InboxItem(
            user=note.user,
            kind=note.kind,
            title=note.title.strip(),
            body=note.body,
            link=note.link,
            person=note.person,
            subject_ref=note.subject_ref,
            created_at=now,
        )
        # The references are objects the caller holds; checking they exist would cost queries.
        item.full_clean(exclude=["user", "person"])
        items.append(item)
        user = note.user
        if note.by_mail and user.email and user.is_active:
            text = "\n\n".join(part for part in (note.body.strip(), _absolute(note.link)) if part)
            mails.append(
                OutgoingMail(
                    to=_mail_recipients([user.email]),
                    subject=_one_line("subject", item.title, max_length=300),
                    text=text or item.title,
                    reason=_one_line("reason", note.kind, max_length=80),
                    subject_ref=note.subject_ref,
                    # To the user, about the person: not to the person, so it is no touch.
                    user=user,
                    message_id=make_msgid(domain=domain),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if not items:
        return []
    with transaction.atomic(savepoint=False):
        InboxItem.objects.bulk_create(items)
        if mails:
            OutgoingMail.objects.bulk_create(mails)
            _queue_on_commit(mails_deliver_task, [mail.pk for mail in mails])
    return items


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
    [item] = notify_users(
        notes=[
            Note(
                user=user,
                kind=kind,
                title=title,
                body=body,
                link=link,
                person=person,
                subject_ref=subject_ref,
                by_mail=by_mail,
            )
        ]
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
