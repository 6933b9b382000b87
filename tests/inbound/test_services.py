"""Stored first, then matched and acted on: replies, bounces, automatic replies, the rest."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.cadences.models import EnrolmentStatus
from leadline.core import clock
from leadline.core.models import Role, TimelineEvent
from leadline.feedback.models import StopSignal
from leadline.inbound import services
from leadline.inbound.models import InboundMessage, Kind, Source, Status
from leadline.inbound.services import (
    NotAMail,
    inbound_process,
    inbound_process_or_record_failure,
    inbound_process_waiting,
    inbound_requeue_stale,
    inbound_store,
)
from leadline.notify.models import InboxItem, SendStatus
from leadline.outreach.models import ContactState, DoNotContact
from leadline.routing.models import Ownership, Touch
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def _receive(raw: bytes, *, source: str = Source.IMAP) -> InboundMessage:
    message, new = inbound_store(raw=raw, source=source)
    assert new
    processed = inbound_process(message_id=message.pk)
    assert processed is not None
    assert processed.status == Status.PROCESSED
    return processed


def _kinds(person: object) -> list[str]:
    return list(
        TimelineEvent.objects.filter(person=person).order_by("pk").values_list("kind", flat=True)
    )


def test_a_reply_is_logged_stops_the_cadence_and_tells_the_owner() -> None:
    rep = factories.user(role=Role.SALES_REP, username="rita")
    pat = factories.person(email="pat@company.example")
    Ownership.objects.create(owner=rep, person=pat)
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat, subject_ref=f"enrolment:{enrolment.pk}")

    message = _receive(
        factories.reply_mail(to=mail, text="Yes, Tuesday works.\nBest, Pat").as_bytes()
    )

    assert (message.kind, message.person, message.mail, message.matched_by) == (
        Kind.REPLY, pat, mail, "headers",
    )  # fmt: skip
    replied = TimelineEvent.objects.get(person=pat, kind="mail.replied")
    assert replied.summary == "Replied: “Yes, Tuesday works. / Best, Pat”"
    assert replied.data["mail_id"] == mail.pk
    assert replied.data["matched_by"] == "headers"
    assert "wrote:" not in replied.summary  # the quoted history is left out
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.stopped_reason) == (EnrolmentStatus.STOPPED, "replied")
    assert "cadence.exited" in _kinds(pat)
    item = InboxItem.objects.get(user=rep, kind="mail.replied")
    assert item.person == pat
    assert "replied" in item.title
    assert "Tuesday" in item.body
    # Not a do-not-contact: they answered, they may hear from us again.
    assert not DoNotContact.objects.filter(person=pat).exists()


def test_a_reply_asking_to_stop_unsubscribes_them_and_counts_as_a_stop_against_the_rep() -> None:
    rep = factories.user(role=Role.SALES_REP, username="rita")
    pat = factories.person(email="pat@company.example")
    Ownership.objects.create(owner=rep, person=pat)
    mail = factories.sent_mail(person=pat)
    Touch.objects.create(person=pat, user=rep, kind="email", at=clock.now())

    message = _receive(factories.reply_mail(to=mail, text="STOP\n\nSent from my phone").as_bytes())

    assert message.details["asked_to_stop"] is True
    state = ContactState.objects.get(person=pat)
    assert state.sales_unsubscribed_at is not None
    assert state.unsubscribe_method == "reply"
    assert "contact.unsubscribed" in _kinds(pat)
    assert "asked to hear no more" in InboxItem.objects.get(user=rep, kind="mail.replied").title
    stop = StopSignal.objects.get(person=pat)  # feedback puts it against the last rep
    assert (stop.reason, stop.user, stop.channel) == ("unsubscribed", rep, "email")


def test_a_reply_that_only_mentions_stopping_unsubscribes_nobody() -> None:
    pat = factories.person(email="pat@company.example")
    mail = factories.sent_mail(person=pat)

    _receive(factories.reply_mail(to=mail, text="Please don't stop, this helps.").as_bytes())

    assert not ContactState.objects.filter(person=pat, sales_unsubscribed_at__isnull=False).exists()
    assert not StopSignal.objects.filter(person=pat).exists()


def test_a_reply_without_usable_headers_is_matched_by_the_senders_address() -> None:
    pat = factories.person(email="pat@company.example")
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat)
    reply = factories.reply_mail(to=mail, headers=False, sender="Pat <PAT@company.example>")

    message = _receive(reply.as_bytes())

    assert (message.kind, message.person, message.matched_by) == (Kind.REPLY, pat, "address")
    assert message.mail == mail  # their latest mail from us
    replied = TimelineEvent.objects.get(person=pat, kind="mail.replied")
    assert replied.data["matched_by"] == "address"
    assert "matched by their address" in replied.summary
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED


def test_a_reply_to_a_merged_person_lands_on_the_one_they_were_merged_into() -> None:
    survivor = factories.person()
    merged = factories.person(email="old@company.example", merged_into=survivor)
    mail = factories.sent_mail(person=merged)
    message = _receive(factories.reply_mail(to=mail).as_bytes())
    assert message.person == survivor
    assert _kinds(survivor) == ["mail.replied"]


def test_an_out_of_office_is_noted_but_the_cadence_goes_on() -> None:
    pat = factories.person(email="pat@company.example")
    Ownership.objects.create(owner=factories.user(), person=pat)
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat)
    ooo = factories.reply_mail(
        to=mail, text="I am out of the office until 30 November.", Auto_Submitted="auto-replied"
    )
    ooo.replace_header("Subject", "Out of Office: A faster month-end close")

    message = _receive(ooo.as_bytes())

    assert message.kind == Kind.AUTO_REPLY
    assert message.person == pat
    event = TimelineEvent.objects.get(person=pat, kind="mail.auto_replied")
    assert "out of office" in event.summary
    assert "30 November" in event.summary
    assert "mail.replied" not in _kinds(pat)
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    assert not InboxItem.objects.filter(kind="mail.replied").exists()


def test_a_hard_bounce_marks_the_mail_stops_the_cadence_and_sets_do_not_contact() -> None:
    pat = factories.person(email="pat@company.example")
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat)

    message = _receive(factories.bounce_mail(to=mail, status="5.1.1"))

    assert (message.kind, message.person, message.mail) == (Kind.BOUNCE, pat, mail)
    assert message.details["hard"] is True
    mail.refresh_from_db()
    assert mail.status == SendStatus.FAILED
    assert mail.last_error.startswith("Bounced: 5.1.1")
    bounced = TimelineEvent.objects.get(person=pat, kind="mail.bounced")
    assert bounced.data["mail_id"] == mail.pk
    assert bounced.data["status"] == "5.1.1"
    assert "pat@company.example" in bounced.summary
    dnc = DoNotContact.objects.get(person=pat)
    assert (dnc.channel, dnc.reason) == ("email", "bounced")
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.stopped_reason) == (EnrolmentStatus.STOPPED, "bounced")


def test_a_hard_bounce_escalates_an_open_request_as_routing_does_for_a_failed_mail() -> None:
    rep = factories.user(username="rita")
    manager = factories.user(role=Role.SALES_MANAGER, username="mo")
    request = factories.routed_request(at=factories.MONDAY_10, owner=rep)
    request.routing.team = factories.team(manager=manager)
    request.routing.save()
    mail = factories.sent_mail(person=request.person, subject_ref=f"request:{request.pk}")

    _receive(factories.bounce_mail(to=mail))

    escalation = TimelineEvent.objects.get(person=request.person, kind="escalation.bounce")
    assert "could not be delivered" in escalation.summary
    assert InboxItem.objects.filter(user=manager, kind="escalation.bounce").exists()
    assert InboxItem.objects.filter(user=rep, kind="escalation.bounce").exists()


def test_a_soft_bounce_is_only_noted() -> None:
    pat = factories.person(email="pat@company.example")
    enrolment = factories.enrolment(person=pat)
    mail = factories.sent_mail(person=pat)

    message = _receive(
        factories.bounce_mail(to=mail, status="4.2.2", diagnostic="smtp; 452 4.2.2 Mailbox full")
    )

    assert message.kind == Kind.BOUNCE
    assert _kinds(pat) == ["mail.soft_bounced"]
    mail.refresh_from_db()
    assert mail.status == SendStatus.SENT
    assert not DoNotContact.objects.filter(person=pat).exists()
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE


def test_a_bounce_for_a_mail_we_do_not_know_is_matched_by_the_failed_address() -> None:
    pat = factories.person(email="pat@company.example")
    unknown = factories.sent_mail(person=factories.person())
    unknown.message_id = "<not-ours@elsewhere>"
    message = _receive(factories.bounce_mail(to=unknown, recipient="pat@company.example"))
    assert (message.person, message.mail, message.matched_by) == (pat, None, "address")
    assert TimelineEvent.objects.get(person=pat, kind="mail.bounced").data["mail_id"] is None
    assert DoNotContact.objects.filter(person=pat, channel="email").exists()


def test_a_mail_matching_nothing_is_kept_unmatched() -> None:
    stranger = factories.reply_mail(
        to=factories.sent_mail(), headers=False, sender="someone@nowhere.example"
    )
    message = _receive(stranger.as_bytes())
    assert message.kind == Kind.UNMATCHED
    assert message.person is None
    assert not TimelineEvent.objects.filter(kind__startswith="mail.replied").exists()


def test_garbage_is_kept_from_the_mailbox_but_refused_when_posted() -> None:
    message = _receive(b"this is not a mail at all")
    assert message.kind == Kind.UNMATCHED
    assert message.message_id.startswith("sha256:")
    with pytest.raises(NotAMail):
        inbound_store(raw=b"neither is this", source=Source.WEBHOOK, require_mail=True)
    assert InboundMessage.objects.count() == 1


def test_the_same_mail_twice_is_stored_and_acted_on_once() -> None:
    pat = factories.person(email="pat@company.example")
    mail = factories.sent_mail(person=pat)
    raw = factories.reply_mail(to=mail).as_bytes()
    first = _receive(raw)
    again, new = inbound_store(raw=raw, source=Source.WEBHOOK)
    assert again == first
    assert not new
    assert inbound_process(message_id=first.pk) == first  # processed already: nothing more
    assert InboundMessage.objects.count() == 1
    assert _kinds(pat) == ["mail.replied"]


def test_a_failure_keeps_the_mail_and_it_is_tried_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pat = factories.person(email="pat@company.example")
    mail = factories.sent_mail(person=pat)
    stored, _ = inbound_store(raw=factories.reply_mail(to=mail).as_bytes(), source=Source.IMAP)

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("cadences are down")

    monkeypatch.setattr(services, "enrolments_stop", broken)
    with pytest.raises(RuntimeError):
        inbound_process_or_record_failure(message_id=stored.pk)
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (Status.FAILED, 1)
    assert "cadences are down" in stored.last_error
    assert not TimelineEvent.objects.filter(person=pat).exists()  # nothing half-done
    assert inbound_requeue_stale() == 0  # not due yet: the first retry waits a minute

    monkeypatch.undo()
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=2)):
        assert inbound_requeue_stale() == 1
        assert inbound_requeue_stale() == 0  # queued already: not again at the next sweep
        assert inbound_process_waiting() == (1, 0)
    stored.refresh_from_db()
    assert stored.status == Status.PROCESSED
    assert stored.last_error == ""
    assert _kinds(pat) == ["mail.replied"]


def test_a_mail_left_waiting_is_queued_again_by_the_sweep_once() -> None:
    from django_tasks_db.models import DBTaskResult

    inbound_store(raw=b"Subject: hi\r\nFrom: a@b.example\r\n\r\nhi", source=Source.IMAP)
    assert inbound_requeue_stale() == 0  # just arrived: its own task is on its way
    queued = DBTaskResult.objects.count()
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=3)):
        assert inbound_requeue_stale() == 1
        assert inbound_requeue_stale() == 0
    assert DBTaskResult.objects.count() == queued + 1
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=6)):
        assert inbound_requeue_stale() == 1  # still not processed: the worker lost it
