"""Inbound mail: replies and bounces to our mail, stored first, then matched and acted on.

`inbound_store` keeps a received mail as it came (idempotent on its Message-ID) and queues its
processing on commit; the mailbox poll (inbound.imap) and the inbound webhook (inbound.views) both
end there. `inbound_process` then reads it, in one transaction:

- a reply (matched by In-Reply-To / References to our OutgoingMail, else by the sender's address):
  "mail.replied" on the timeline, the person's cadences stop (reason "replied"), their owner hears;
- a hard bounce (5.x.x): the mail is marked failed and notify's outcome handlers hear (routing's
  escalates an open request, as for a mail that could not be sent), "mail.bounced", do-not-contact
  by email, cadences stop (reason "bounced"); a soft bounce (4.x.x) is only noted;
- an automatic reply (out of office): noted on the timeline, and nothing stops;
- anything else: kept, unmatched, on the inbound page.

A processing failure leaves the mail stored, noted as failed; `inbound_requeue_stale` (the worker's
sweep) tries it again later, ever less often.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from leadline.cadences.services import enrolments_stop
from leadline.capture.models import RequestStatus
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, User
from leadline.core.selectors import merge_survivor
from leadline.core.services import timeline_record
from leadline.inbound.models import InboundMessage, Kind, MatchedBy, Source, Status
from leadline.inbound.parsing import (
    Bounce,
    Received,
    asks_to_stop,
    auto_reply_reason,
    bounce_read,
    excerpt,
    received_parse,
    referenced_ids,
    reply_text,
)
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.notify.services import notify_user
from leadline.outreach.models import ContactPurpose
from leadline.outreach.services import contact_unsubscribe, do_not_contact_set
from leadline.routing.models import Ownership, RequestRouting
from leadline.routing.services import person_link

logger = logging.getLogger(__name__)

# A mail not processed this long after it arrived is queued again by the sweep.
STALE_AFTER = dt.timedelta(minutes=2)
# After the n-th failed attempt, wait 2^(n-1) minutes, at most this long.
RETRY_MAX_DELAY = dt.timedelta(hours=6)
ERROR_MAX_CHARS = 2000


class NotAMail(ValueError):
    """The bytes posted are not a mail (no header a mail has)."""


def inbound_store(
    *, raw: bytes, source: str, truncated: bool = False, require_mail: bool = False
) -> tuple[InboundMessage, bool]:
    """Keep a received mail as it came, and queue its processing on commit. Returns it and
    whether it is new: the same Message-ID again returns the one stored, and queues nothing.

    `require_mail`: refuse (NotAMail) bytes that are no mail at all, storing nothing; the mailbox
    poll keeps whatever its server holds, the webhook refuses junk.
    """
    if source not in Source.values:
        raise ValueError(f"unknown source {source!r}")
    received = received_parse(raw)
    if require_mail and not received.looks_like_mail:
        raise NotAMail("not a mail: no From, Message-ID, Subject or Date header")
    with transaction.atomic():
        existing = InboundMessage.objects.filter(message_id=received.message_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():  # a savepoint: another reader may store it meanwhile
                message = InboundMessage.objects.create(
                    message_id=received.message_id,
                    raw=raw,
                    truncated=truncated,
                    from_address=received.from_address,
                    to=received.to,
                    subject=received.subject,
                    source=source,
                )
        except IntegrityError:
            return InboundMessage.objects.get(message_id=received.message_id), False
        _queue_on_commit(message.pk)
    return message, True


def _queue_on_commit(message_id: int) -> None:
    from leadline.inbound.tasks import inbound_process_task

    # Robust: if queueing fails, the mail is stored and the sweep queues it again.
    transaction.on_commit(lambda: inbound_process_task.enqueue(message_id), robust=True)


def inbound_process(*, message_id: int) -> InboundMessage | None:
    """Read a stored mail, match it and do what it means, in one transaction. Does nothing to a
    mail already processed (a task that runs twice acts once). None when there is no such mail."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status == Status.PROCESSED:
            return message
        received = received_parse(bytes(message.raw))
        _process(message, received)
        message.status = Status.PROCESSED
        message.processed_at = clock.now()
        message.last_error = ""
        message.save()
    return message


def inbound_process_or_record_failure(*, message_id: int) -> InboundMessage | None:
    """`inbound_process`; on failure note the error on the stored mail (to be tried again after
    a delay that grows with each attempt) and raise."""
    try:
        return inbound_process(message_id=message_id)
    except Exception as exc:
        _failure_note(message_id, exc)
        logger.exception("inbound mail %s failed; it will be tried again", message_id)
        raise


def _failure_note(message_id: int, exc: Exception) -> None:
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status == Status.PROCESSED:
            return
        message.attempts += 1
        delay = min(dt.timedelta(minutes=2 ** min(message.attempts - 1, 20)), RETRY_MAX_DELAY)
        message.status = Status.FAILED
        message.next_attempt_at = clock.now() + delay
        message.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
        message.save(update_fields=["attempts", "status", "next_attempt_at", "last_error"])


def inbound_requeue_stale(*, older_than: dt.timedelta = STALE_AFTER, limit: int = 500) -> int:
    """Queue again each mail still waiting after `older_than`, and each failed one whose next
    attempt is due (the worker's sweep). Returns how many."""
    from leadline.inbound.tasks import inbound_process_task

    now = clock.now()
    ids = list(
        InboundMessage.objects.filter(
            Q(status=Status.RECEIVED, received_at__lt=now - older_than) | Q(status=Status.FAILED),
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        # Not again at the next sweeps while these wait in the queue (a busy worker).
        InboundMessage.objects.filter(pk__in=ids).exclude(status=Status.PROCESSED).update(
            next_attempt_at=now + older_than
        )
    for message_id in ids:
        inbound_process_task.enqueue(message_id)
    return len(ids)


def inbound_process_waiting(*, limit: int = 500) -> tuple[int, int]:
    """Process every stored mail still waiting or failed, here and now (what `leadline
    inbound-poll` does after reading the mailbox). Returns (processed, failed)."""
    ids = list(
        InboundMessage.objects.filter(status__in=[Status.RECEIVED, Status.FAILED])
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    processed = failed = 0
    for message_id in ids:
        try:
            inbound_process_or_record_failure(message_id=message_id)
        except Exception:
            failed += 1
        else:
            processed += 1
    return processed, failed


# Matching and acting ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Match:
    person: Person | None
    mail: OutgoingMail | None
    matched_by: str  # MatchedBy value, or ""


def _process(message: InboundMessage, received: Received) -> None:
    bounce = bounce_read(received.message)
    if bounce is not None:
        _bounce_apply(message, bounce)
        return
    match = _match_reply(received)
    message.person, message.mail, message.matched_by = match.person, match.mail, match.matched_by
    words = reply_text(received.message)
    text = excerpt(words)
    message.details = {"excerpt": text}
    auto = auto_reply_reason(received.message)
    if auto:
        message.kind = Kind.AUTO_REPLY
        message.details["auto_reply"] = auto
        if match.person is not None:
            _auto_reply_record(message, match, reason=auto, text=text)
    elif match.person is not None:
        message.kind = Kind.REPLY
        _reply_apply(message, match, text=text, stop=asks_to_stop(words))
    else:
        message.kind = Kind.UNMATCHED


def _match_reply(received: Received) -> _Match:
    """Our mail it answers (In-Reply-To, References), else the person whose address sent it
    (and our latest mail to them)."""
    ids = referenced_ids(received.message)
    if ids:
        mails = {
            mail.message_id: mail
            for mail in OutgoingMail.objects.filter(message_id__in=ids).select_related("person")
        }
        for message_id in ids:
            mail = mails.get(message_id)
            if mail is not None and mail.person is not None:
                return _Match(merge_survivor(mail.person), mail, MatchedBy.HEADERS)
    person = _person_by_address(received.from_address)
    if person is None:
        return _Match(None, None, "")
    return _Match(person, _latest_mail_to(person), MatchedBy.ADDRESS)


def _person_by_address(address: str) -> Person | None:
    if not address:
        return None
    found = PersonEmail.objects.filter(email=address.lower()).select_related("person").first()
    return merge_survivor(found.person) if found is not None else None


def _latest_mail_to(person: Person) -> OutgoingMail | None:
    return (
        OutgoingMail.objects.filter(person=person, status=SendStatus.SENT)
        .order_by("-sent_at", "-pk")
        .first()
    )


def _reply_apply(message: InboundMessage, match: _Match, *, text: str, stop: bool) -> None:
    person = match.person
    assert person is not None
    by_address = match.matched_by == MatchedBy.ADDRESS
    said = f"“{text}”" if text else "(no text)"
    timeline_record(
        kind="mail.replied",
        summary=f"Replied{' (matched by their address)' if by_address else ''}: {said}",
        person=person,
        data={
            "mail_id": match.mail.pk if match.mail else None,
            "inbound_id": message.pk,
            "matched_by": match.matched_by,
            "subject": message.subject,
            "from": message.from_address,
        },
        occurred_at=message.received_at,
    )
    stopped = enrolments_stop(
        person=person, reason="replied", detail=f"Reply “{message.subject}”"[:200]
    )
    message.details["cadences_stopped"] = stopped
    # "Stop", "remove me from your list": no more email of any kind, recorded as an unsubscribe
    # (outreach tells the apps that keep count of stops, such as feedback's per rep and channel).
    if stop:
        message.details["asked_to_stop"] = contact_unsubscribe(
            person=person, purpose=ContactPurpose.SALES, method="reply", at=message.received_at
        )
    owner = _owner(person)
    if owner is not None:
        replied = "asked to hear no more" if stop else "replied"
        notify_user(
            user=owner,
            kind="mail.replied",
            title=f"{person} {replied}: {message.subject or '(no subject)'}"[:200],
            body=text,
            link=person_link(person.pk),
            person=person,
            subject_ref=match.mail.subject_ref if match.mail else "",
        )
        message.details["owner_told"] = owner.pk


def _auto_reply_record(message: InboundMessage, match: _Match, *, reason: str, text: str) -> None:
    assert match.person is not None
    said = f": “{text}”" if text else ""
    timeline_record(
        kind="mail.auto_replied",
        summary=f"Automatic reply ({reason}){said} — not an answer: their cadences go on",
        person=match.person,
        data={
            "mail_id": match.mail.pk if match.mail else None,
            "inbound_id": message.pk,
            "matched_by": match.matched_by,
            "reason": reason,
        },
        occurred_at=message.received_at,
    )


def _bounce_apply(message: InboundMessage, bounce: Bounce) -> None:
    """What a bounce means for each recipient it reports as failed."""
    message.kind = Kind.BOUNCE
    mail = (
        OutgoingMail.objects.select_related("person")
        .filter(message_id=bounce.original_message_id)
        .first()
        if bounce.original_message_id
        else None
    )
    message.mail = mail
    failures = [f for f in bounce.failures if f.failed]
    details: dict[str, Any] = {
        "original_message_id": bounce.original_message_id,
        "standard": bounce.standard,
        "failures": [dataclasses.asdict(f) for f in bounce.failures],
    }
    message.details = details
    for failure in failures:
        person = _person_by_address(failure.recipient)
        matched_by = MatchedBy.ADDRESS
        if mail is not None and mail.person is not None:
            mail_person = merge_survivor(mail.person)
            if person is None or person.pk == mail_person.pk:
                person, matched_by = mail_person, MatchedBy.HEADERS
        elif mail is not None and person is not None:
            matched_by = MatchedBy.HEADERS
        if person is None:
            continue
        if message.person is None:
            message.person, message.matched_by = person, matched_by
        code = failure.status or "no status given"
        why = f"{code}{': ' + failure.diagnostic[:200] if failure.diagnostic else ''}"
        data = {
            "mail_id": mail.pk if mail else None,
            "inbound_id": message.pk,
            "recipient": failure.recipient,
            "status": failure.status,
            "hard": failure.hard,
            "matched_by": matched_by,
        }
        if not failure.hard:
            timeline_record(
                kind="mail.soft_bounced",
                summary=f"Mail to {failure.recipient} did not arrive for now ({why}); "
                "the address is kept",
                person=person,
                data=data,
                occurred_at=message.received_at,
            )
            continue
        details["hard"] = True
        _hard_bounce_apply(message, person=person, mail=mail, recipient=failure.recipient, why=why)
        timeline_record(
            kind="mail.bounced",
            summary=f"Mail to {failure.recipient} bounced ({why}): no more mail to this person",
            person=person,
            data=data,
            occurred_at=message.received_at,
        )


def _hard_bounce_apply(
    message: InboundMessage, *, person: Person, mail: OutgoingMail | None, recipient: str, why: str
) -> None:
    if mail is not None and mail.person is not None and mail.status != SendStatus.FAILED:
        # It left, and came back: a mail that could not be delivered after all. notify's outcome
        # handlers hear of it as of any mail given up on (routing escalates an open request).
        OutgoingMail.objects.filter(pk=mail.pk).update(
            status=SendStatus.FAILED, last_error=f"Bounced: {why}"[:ERROR_MAX_CHARS]
        )
        mail.status, mail.last_error = SendStatus.FAILED, f"Bounced: {why}"[:ERROR_MAX_CHARS]
        for path in settings.NOTIFY_MAIL_OUTCOME_HANDLERS:
            import_string(path)(mail=mail)
    # Stopped first, so that the cadences say why (do-not-contact would stop them too).
    enrolments_stop(person=person, reason="bounced", detail=f"{recipient}: {why}"[:200])
    do_not_contact_set(
        person=person, channel="email", reason="bounced", source="bounce", actor=None
    )


def _owner(person: Person) -> User | None:
    """Who looks after the person: their owner, else the owner of their latest open request."""
    ownership = (
        Ownership.objects.filter(person=person, ended_at__isnull=True, owner__is_active=True)
        .select_related("owner")
        .first()
    )
    if ownership is not None:
        return ownership.owner
    routing = (
        RequestRouting.objects.filter(
            request__person=person, request__status=RequestStatus.OPEN, owner__is_active=True
        )
        .select_related("owner")
        .order_by("-assigned_at")
        .first()
    )
    return routing.owner if routing is not None else None


def inbound_retry(*, message: InboundMessage) -> bool:
    """Try a failed mail again now (the inbound page's button). False when it is not failed."""
    with transaction.atomic():
        changed = InboundMessage.objects.filter(pk=message.pk, status=Status.FAILED).update(
            next_attempt_at=clock.now()
        )
        if changed:
            _queue_on_commit(message.pk)
    return bool(changed)
