"""Issue 5's cadence acceptance, on a test clock: 3 emails + 1 call task, and a reply that
arrives over IMAP (a real dovecot on loopback) stops it; the contact-pressure cap holds across
two cadences and a newsletter for the same person, postponing steps, never dropping them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadline.cadences.models import EnrolmentStatus, Waiting
from leadline.cadences.services import enrolments_run_due
from leadline.calls.models import CallTask, TaskStatus
from leadline.core import clock
from leadline.core.models import TimelineEvent
from leadline.inbound.imap import imap_poll
from leadline.notify.models import OutgoingMail
from leadline.outreach.models import ContactAttempt, NewsletterRecipient
from leadline.outreach.selectors import touches_around
from leadline.outreach.services import newsletter_deliver, newsletter_send
from tests import factories
from tests.imap import ImapServer, imap_server

pytestmark = pytest.mark.django_db
__all__ = ["imap_server"]

MONDAY = factories.MONDAY_10  # 11:00 in Berlin
DAY = dt.timedelta(days=1)
WAIT_1 = {"kind": "wait", "wait_days": 1}


def email(n: int, cadence: str = "") -> dict[str, object]:
    return {
        "kind": "email",
        "subject": f"{cadence}Mail {n}, {{{{ first_name }}}}",
        "text": f"Hi {{{{ first_name }}}}, this is mail {n}.",
    }


def run_due(moment: dt.datetime) -> int:
    with clock.frozen_at(moment):
        return enrolments_run_due()


def cadence_mail(person: object) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(person=person, reason="cadence.email").order_by("id"))


def test_three_emails_and_a_call_then_a_reply_over_imap_stops_it(
    imap_server: ImapServer, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    factories.contact_policy(weekly_cap=10)
    rep = factories.user(first_name="Rita", last_name="Rep")
    pat = factories.prospect(owner=rep, email="pat@company.example", first_name="Pat")
    cadence = factories.cadence(
        name="New trial",
        steps=[
            email(1),
            WAIT_1,
            email(2),
            WAIT_1,
            email(3),
            WAIT_1,
            {"kind": "call", "title": "Trial check-in"},
            WAIT_1,
            email(4),
        ],
    )
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=pat, actor=rep)
    for day in range(4):  # Monday to Thursday, 11:00 in Berlin
        assert run_due(MONDAY + day * DAY) == 1
    assert [m.subject for m in cadence_mail(pat)] == ["Mail 1, Pat", "Mail 2, Pat", "Mail 3, Pat"]
    task = CallTask.objects.get(person=pat, source_ref=enrolment.ref)
    assert task.status == TaskStatus.OPEN
    enrolment.refresh_from_db()
    assert enrolment.waiting_on == Waiting.CALL_TASK

    # Pat answers the third mail; the reply lands in the mailbox the worker polls.
    third = cadence_mail(pat)[2]
    imap_server.append(factories.reply_mail(to=third, text="Let's talk, call me Friday."))
    with clock.frozen_at(MONDAY + 3 * DAY + dt.timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            assert imap_poll().stored == 1
        run_worker()

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == "replied"
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    exited = TimelineEvent.objects.get(person=pat, kind="cadence.exited")
    assert exited.summary.startswith("Left cadence ‘New trial’ because they replied")
    # Nothing more happens: no fourth mail, however long we wait.
    assert run_due(MONDAY + 10 * DAY) == 0
    assert len(cadence_mail(pat)) == 3


def test_the_cap_holds_across_two_cadences_and_a_newsletter(run_worker: Any) -> None:
    factories.contact_policy(weekly_cap=3)
    rep = factories.user()
    ann = factories.prospect(owner=rep, first_name="Ann")
    factories.consent(person=ann)
    welcome = factories.cadence(
        name="Welcome",
        purpose="marketing",
        steps=[
            email(1, "Welcome "),
            WAIT_1,
            email(2, "Welcome "),
        ],
    )
    trial = factories.cadence(
        name="Trial",
        steps=[
            email(1, "Trial "),
            WAIT_1,
            {"kind": "call", "title": "Trial check-in"},
        ],
    )
    with clock.frozen_at(MONDAY):
        news = factories.newsletter(name="November digest")
        newsletter_send(newsletter=news, actor=None)
        newsletter_deliver(newsletter_id=news.pk)
        first = factories.enrol(cadence=welcome, person=ann)
        second = factories.enrol(cadence=trial, person=ann)
    assert NewsletterRecipient.objects.filter(newsletter=news, person=ann).exists()
    assert run_due(MONDAY) == 2  # one welcome mail, one trial mail: 3 touches with the digest
    assert len(cadence_mail(ann)) == 2

    # Tuesday: both cadences are due again, and the week is full.
    assert run_due(MONDAY + DAY) == 2
    assert len(cadence_mail(ann)) == 2
    assert not CallTask.objects.filter(person=ann).exists()
    times = list(ContactAttempt.objects.filter(person=ann).values_list("at", flat=True))
    assert len(times) == 3
    assert touches_around(times, MONDAY + DAY) == 3
    for enrolment in (first, second):
        enrolment.refresh_from_db()
        assert enrolment.status == EnrolmentStatus.ACTIVE  # postponed, not dropped
        assert enrolment.next_run_at is not None
        assert enrolment.next_run_at >= MONDAY + 7 * DAY
        assert enrolment.log.filter(action="postponed").exists()

    # A week after Monday's touches the window has room again: both steps go.
    later = max(e.next_run_at for e in (first, second))  # type: ignore[type-var]
    assert run_due(later) == 2
    assert [m.subject for m in cadence_mail(ann)][-1:] == ["Welcome Mail 2, Ann"]
    assert CallTask.objects.filter(person=ann, title="Trial check-in").exists()
    all_times = sorted(ContactAttempt.objects.filter(person=ann).values_list("at", flat=True))
    assert all(touches_around(all_times, t) <= 3 for t in all_times)
