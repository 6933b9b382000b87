"""The mailbox poll against a real IMAP server (dovecot on loopback): replies and bounces arrive
in the mailbox, are stored, marked read, matched and acted on, once."""

from __future__ import annotations

import email.policy
import imaplib
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leadline.core.models import TimelineEvent
from leadline.inbound.imap import imap_config, imap_poll
from leadline.inbound.models import InboundMessage, Kind, Source, Status
from leadline.notify.models import SendStatus
from leadline.outreach.models import DoNotContact
from tests import factories
from tests.imap import ImapServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def test_a_reply_and_a_bounce_read_from_the_mailbox_act_once(
    imap_server: ImapServer, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pat = factories.person(email="pat@company.example")
    sam = factories.person(email="sam@other.example")
    pat_enrolment = factories.enrolment(person=pat)
    sam_enrolment = factories.enrolment(person=sam)
    to_pat = factories.sent_mail(person=pat)
    to_sam = factories.sent_mail(person=sam)
    reply = factories.reply_mail(to=to_pat, text="Happy to talk on Tuesday.")
    imap_server.append(reply)
    imap_server.append(factories.bounce_mail(to=to_sam, status="5.1.1"))

    with django_capture_on_commit_callbacks(execute=True):
        result = imap_poll()

    assert (result.unread, result.stored, result.duplicates) == (2, 2, 0)
    assert imap_server.unseen() == []  # marked read once stored
    assert set(InboundMessage.objects.values_list("source", "status")) == {
        (Source.IMAP, Status.RECEIVED)
    }
    run_worker()  # the processing tasks queued on commit, as the worker runs them

    stored = {m.kind: m for m in InboundMessage.objects.all()}
    assert stored[Kind.REPLY].person == pat
    assert stored[Kind.REPLY].mail == to_pat
    assert stored[Kind.REPLY].message_id == reply["Message-ID"]
    assert bytes(stored[Kind.REPLY].raw) == reply.as_bytes(policy=email.policy.SMTP)
    assert stored[Kind.BOUNCE].person == sam
    assert stored[Kind.BOUNCE].mail == to_sam
    replied = TimelineEvent.objects.get(person=pat, kind="mail.replied")
    assert "Happy to talk on Tuesday." in replied.summary
    pat_enrolment.refresh_from_db()
    assert (pat_enrolment.status, pat_enrolment.stopped_reason) == ("stopped", "replied")
    sam_enrolment.refresh_from_db()
    assert (sam_enrolment.status, sam_enrolment.stopped_reason) == ("stopped", "bounced")
    assert DoNotContact.objects.filter(person=sam, channel="email").exists()
    to_sam.refresh_from_db()
    assert to_sam.status == SendStatus.FAILED
    assert TimelineEvent.objects.filter(person=sam, kind="mail.bounced").count() == 1

    # A second pass finds nothing new; a crash before \Seen (simulated: the same mail unread
    # again, and a copy of it) is read again but stored and acted on once.
    assert imap_poll().unread == 0
    imap_server.append(reply)
    with imap_server.connect() as imap:
        imap.uid("STORE", "1", "-FLAGS", r"(\Seen)")
    with django_capture_on_commit_callbacks(execute=True):
        again = imap_poll()
    assert (again.unread, again.stored, again.duplicates) == (2, 0, 2)
    run_worker()
    assert InboundMessage.objects.count() == 2
    assert TimelineEvent.objects.filter(person=pat, kind="mail.replied").count() == 1
    assert imap_server.unseen() == []


def test_the_command_reads_and_processes_in_one_pass(imap_server: ImapServer) -> None:
    pat = factories.person(email="pat@company.example")
    mail = factories.sent_mail(person=pat)
    ooo = factories.reply_mail(to=mail, text="Away until Monday.", X_Autoreply="yes")
    imap_server.append(ooo)
    imap_server.append(b"Subject: not ours\r\nFrom: x@y.example\r\n\r\nhello\r\n")
    imap_server.append(factories.reply_mail(to=mail, text="Seen already"), seen=True)

    call_command("inbound_poll", verbosity=0)

    kinds = sorted(InboundMessage.objects.values_list("kind", "status"))
    assert kinds == [("auto_reply", "processed"), ("unmatched", "processed")]
    assert TimelineEvent.objects.filter(person=pat, kind="mail.auto_replied").exists()
    assert not TimelineEvent.objects.filter(person=pat, kind="mail.replied").exists()


def test_a_large_mail_is_kept_truncated(imap_server: ImapServer, settings: Any) -> None:
    settings.INBOUND_MAX_BYTES = 2000
    mail = factories.sent_mail(person=factories.person())
    imap_server.append(factories.reply_mail(to=mail, text="Yes.\n" + "x" * 10_000))
    imap_poll()
    stored = InboundMessage.objects.get()
    assert stored.truncated
    assert len(bytes(stored.raw)) == 2000
    assert stored.message_id.endswith("@company.example>")


def test_a_wrong_password_or_no_mailbox_fails_loudly(
    imap_server: ImapServer, settings: Any
) -> None:
    bad = imap_server.url.replace(imap_server.password, "wrong")
    with pytest.raises(imaplib.IMAP4.error, match=r"(?i)auth"):
        imap_poll(url=bad)
    settings.INBOUND_IMAP_URL = ""
    with pytest.raises(CommandError, match="no mailbox"):
        call_command("inbound_poll", verbosity=0)


def test_the_url_is_read_and_plain_imap_only_goes_to_this_machine() -> None:
    config = imap_config("imaps://leads%40acme.example:p%3Ass@mail.acme.example/Replies")
    assert (config.user, config.password, config.host, config.port, config.mailbox) == (
        "leads@acme.example", "p:ss", "mail.acme.example", 993, "Replies",
    )  # fmt: skip
    assert config.tls
    assert imap_config("imap://u:p@mail.acme.example?starttls=1").starttls
    assert imap_config("imap://u:p@127.0.0.1:1143").port == 1143
    with pytest.raises(ValueError, match="in the clear"):
        imap_config("imap://u:p@mail.acme.example/INBOX")
    with pytest.raises(ValueError, match="scheme"):
        imap_config("pop3://u:p@mail.acme.example")
