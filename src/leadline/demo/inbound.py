"""Demo inbound mail: a few prospects answered the mail their seller sent them, one is out of the
office, two addresses bounced, and one stranger wrote in — each read and acted on by the real
inbound services (timeline, cadences stopped, the owner's inbox, do-not-contact) at its own
moment in the last days."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.db import transaction
from django.db.models import Max

from leadline.core import clock
from leadline.core.models import Person
from leadline.inbound.models import InboundMessage, Source
from leadline.inbound.services import inbound_process, inbound_store
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.notify.services import mail_send

REPLIES = (
    "Thanks — yes, a call on Thursday afternoon works for me.",
    "Interesting timing, we are reviewing our close process this quarter. Can you send pricing?",
    "Not right now, but please get back to me in January.",
    "Could you include our controller, Anna, in the next conversation?",
    "We already use a tool for this, but I'm open to a comparison.",
)
# What each prospect's mail brought back, in turn.
FATES = ("reply", "reply", "out_of_office", "reply", "bounce", "reply", "reply", "bounce")


def _next_id(model: type[OutgoingMail] | type[InboxItem]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def inbound_demo(*, now: dt.datetime) -> int:
    """Once (a second run adds nothing). Returns how many mails were read."""
    from leadline.demo.selling import history_settle, history_tasks_drop

    if InboundMessage.objects.exists():
        return 0
    people = list(
        Person.objects.filter(
            merged_into__isnull=True, ownerships__ended_at__isnull=True, emails__isnull=False
        )
        .distinct()
        .order_by("-created_at", "pk")[: len(FATES)]
    )
    first_mail, first_item = _next_id(OutgoingMail), _next_id(InboxItem)
    read = 0
    with transaction.atomic():
        for n, (person, fate) in enumerate(zip(people, FATES, strict=False)):
            address = person.emails.order_by("-is_primary", "pk")[0].email
            sent_at = (now - dt.timedelta(days=2 + n % 4)).replace(hour=9, minute=30 + n)
            with clock.frozen_at(sent_at):
                mail = mail_send(
                    to=[address],
                    subject=f"{person.first_name or 'Hello'}, a faster month-end close?",
                    text="Hi,\n\nWould a 20-minute call next week help?\n\nBest regards",
                    reason="sales.email",
                    person=person,
                )
            history_settle(first_mail_id=mail.pk, first_item_id=first_item, now=now)
            mail.refresh_from_db()
            raw = (
                _bounce(mail) if fate == "bounce" else _reply(mail, REPLIES[n % len(REPLIES)], fate)
            )
            with clock.frozen_at(sent_at + dt.timedelta(hours=3 + n)):
                stored, _ = inbound_store(raw=raw, source=Source.IMAP)
                inbound_process(message_id=stored.pk)
            read += 1
        stranger = EmailMessage()
        stranger["From"] = "Jo Miller <jo.miller@example.org>"
        stranger["To"] = "replies@leadline.example"
        stranger["Subject"] = "Who do I talk to about a partnership?"
        stranger["Message-ID"] = make_msgid(domain="example.org")
        stranger.set_content("Hello, we resell finance software in Austria. Who should I contact?")
        with clock.frozen_at(now - dt.timedelta(hours=5)):
            stored, _ = inbound_store(raw=stranger.as_bytes(), source=Source.WEBHOOK)
            inbound_process(message_id=stored.pk)
        read += 1
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return read


def _reply(mail: OutgoingMail, text: str, fate: str) -> bytes:
    message = EmailMessage()
    message["From"] = mail.to[0]
    message["To"] = "replies@leadline.example"
    message["Date"] = format_datetime(mail.sent_at or clock.now())
    message["Message-ID"] = make_msgid(domain=mail.to[0].rpartition("@")[2])
    message["In-Reply-To"] = mail.message_id
    message["References"] = mail.message_id
    if fate == "out_of_office":
        message["Subject"] = f"Out of Office: {mail.subject}"
        message["Auto-Submitted"] = "auto-replied"
        text = "I am out of the office until Monday with limited access to email."
    else:
        message["Subject"] = f"Re: {mail.subject}"
    quoted = "\n".join(f"> {line}" for line in mail.text.splitlines())
    message.set_content(f"{text}\n\nOn {mail.sent_at:%a, %d %b %Y}, Leadline wrote:\n{quoted}\n")
    return message.as_bytes()


def _bounce(mail: OutgoingMail) -> bytes:
    """A delivery status notification (RFC 3464) as a mail server writes one, without the
    original's headers (some leave them out): matched by the failed address, so the demo's
    history keeps every mail it sent as sent."""
    rcpt = mail.to[0]
    return "\r\n".join(
        [
            "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
            "To: replies@leadline.example",
            "Subject: Undelivered Mail Returned to Sender",
            f"Message-ID: {make_msgid(domain='mx.example.net')}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"',
            "",
            "--dsn",
            "Content-Type: text/plain",
            "",
            "Your message could not be delivered to one or more recipients.",
            "--dsn",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; mx.example.net",
            "",
            f"Final-Recipient: rfc822; {rcpt}",
            "Action: failed",
            "Status: 5.1.1",
            f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: User unknown",
            "",
            "--dsn--",
            "",
        ]
    ).encode()
