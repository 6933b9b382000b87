"""Escalation: reminders, the missed deadline, reassignment, the fallback queue, failure signals.

The clock is stopped on Monday 10:00 UTC; a contact request is due one business hour later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.models import TimelineEvent, User
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.services import mail_deliver, mail_send, webhook_endpoint_create
from leadline.routing import services
from leadline.routing.models import EscalationLadder, Queue, Step, Timer, TouchKind
from leadline.routing.selectors import leaks, timer_next_due
from tests.routing.conftest import MONDAY_10, new_request, owner_of
from tests.smtp import SmtpServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

DUE = MONDAY_10 + dt.timedelta(hours=1)


def routed(**extra: Any) -> Request:
    request = new_request(**extra)
    services.request_assign(request_id=request.pk)
    request.refresh_from_db()
    return request


def fire_at(moment: dt.datetime) -> int:
    with clock.frozen_at(moment):
        return services.timers_fire_due()


def steps(request: Request) -> dict[str, Timer]:
    return {t.step: t for t in Timer.objects.filter(request=request)}


def told(user: User, kind: str) -> list[InboxItem]:
    return list(InboxItem.objects.filter(user=user, kind=kind))


def test_a_new_request_gets_its_ladder_as_rows(emea: Any) -> None:
    request = routed()
    timers = steps(request)
    assert {s: t.due_at for s, t in timers.items()} == {
        Step.REMIND: DUE - dt.timedelta(minutes=15),
        Step.BREACH: DUE,
        Step.REASSIGN: DUE + dt.timedelta(hours=1),
        Step.FALLBACK: DUE + dt.timedelta(hours=4),
    }
    assert all(t.done_at is None for t in timers.values())
    assert timer_next_due() == DUE - dt.timedelta(minutes=15)
    # The new owner heard of it: in the inbox and by mail.
    owner = owner_of(request)
    assert owner is not None
    [item] = told(owner, "request.assigned")
    assert item.title.startswith("New request:")
    assert OutgoingMail.objects.filter(user=owner, reason="request.assigned").count() == 1


def test_steps_after_the_deadline_count_business_hours(emea: Any) -> None:
    # Friday 16:30, open until 17:00: half an hour on Friday, half an hour on Monday morning.
    with clock.frozen_at(dt.datetime(2026, 11, 27, 16, 30, tzinfo=dt.UTC)):
        request = routed()
    monday = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    assert {s: t.due_at for s, t in steps(request).items()} == {
        Step.REMIND: monday + dt.timedelta(hours=9, minutes=15),
        Step.BREACH: monday + dt.timedelta(hours=9, minutes=30),
        Step.REASSIGN: monday + dt.timedelta(hours=10, minutes=30),
        Step.FALLBACK: monday + dt.timedelta(hours=13, minutes=30),
    }


def test_the_whole_ladder_when_nobody_touches_the_lead(emea: Any) -> None:
    request = routed()
    first_owner = owner_of(request)
    assert first_owner is not None
    manager = emea.manager
    assert fire_at(DUE - dt.timedelta(minutes=16)) == 0

    assert fire_at(DUE - dt.timedelta(minutes=15)) == 1
    [reminder] = told(first_owner, "escalation.reminder")
    assert "First touch due" in reminder.title
    assert told(manager, "escalation.breach") == []

    assert fire_at(DUE) == 1
    [breach] = told(manager, "escalation.breach")
    assert str(request.person) in breach.title
    assert OutgoingMail.objects.filter(user=manager, reason="escalation.breach").count() == 1
    assert owner_of(request) == first_owner

    assert fire_at(DUE + dt.timedelta(hours=1)) == 1
    second_owner = owner_of(request)
    assert second_owner not in (None, first_owner)
    assert request.routing.queue == Queue.OWNER
    assert told(second_owner, "request.assigned")[0].title.startswith("Reassigned to you:")  # type: ignore[arg-type]

    assert fire_at(DUE + dt.timedelta(hours=4)) == 1
    assert owner_of(request) == manager
    assert request.routing.queue == Queue.FALLBACK
    assert told(manager, "request.assigned")[0].title.startswith("In your fallback queue:")

    kinds = list(
        TimelineEvent.objects.filter(person=request.person)
        .order_by("occurred_at", "id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "request.assigned",
        "escalation.reminder",
        "escalation.breach",
        "request.assigned",
        "request.assigned",
    ]
    assert not Timer.objects.filter(request=request, done_at=None).exists()
    with clock.frozen_at(DUE + dt.timedelta(hours=4)):
        assert leaks() == []


def test_a_touch_in_time_settles_every_step(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    with clock.frozen_at(DUE - dt.timedelta(minutes=30)):
        services.touch_record(request=request, user=owner, kind=TouchKind.CALL, outcome="voicemail")
    assert fire_at(DUE + dt.timedelta(days=2)) == 0
    outcomes = set(Timer.objects.filter(request=request).values_list("outcome", flat=True))
    assert outcomes == {"not needed: touched"}
    assert not InboxItem.objects.filter(kind__startswith="escalation.").exists()
    assert owner_of(request) == owner


def test_a_closed_request_escalates_no_further(emea: Any) -> None:
    request = routed()
    Request.objects.filter(pk=request.pk).update(status=RequestStatus.CLOSED)
    assert fire_at(DUE + dt.timedelta(days=2)) == 4
    outcomes = set(Timer.objects.filter(request=request).values_list("outcome", flat=True))
    assert outcomes == {"not needed: the request is closed"}
    assert not InboxItem.objects.filter(kind__startswith="escalation.").exists()


def test_a_step_is_done_once_however_often_it_is_asked(emea: Any) -> None:
    request = routed()
    breach = steps(request)[Step.BREACH]
    with clock.frozen_at(DUE):
        assert services.timer_fire(timer_id=breach.pk) is not None
        assert services.timer_fire(timer_id=breach.pk) is None
        assert services.timers_fire_due() == 1  # only the reminder is left
    assert len(told(emea.manager, "escalation.breach")) == 1


def test_a_step_not_due_yet_is_not_done(emea: Any) -> None:
    request = routed()
    breach = steps(request)[Step.BREACH]
    with clock.frozen_at(DUE - dt.timedelta(seconds=1)):
        assert services.timer_fire(timer_id=breach.pk) is None


def test_a_clock_jump_past_the_deadline_skips_the_stale_reminder(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    assert owner is not None
    assert fire_at(DUE + dt.timedelta(minutes=5)) == 2
    assert told(owner, "escalation.reminder") == []
    assert "skipped" in steps(request)[Step.REMIND].outcome
    assert len(told(emea.manager, "escalation.breach")) == 1


def test_a_teams_ladder_sets_the_times_and_can_leave_steps_out(emea: Any) -> None:
    EscalationLadder.objects.create(
        team=emea,
        remind_before=dt.timedelta(minutes=30),
        reassign_after=None,
        fallback_after=dt.timedelta(hours=2),
    )
    request = routed()
    assert {s: t.due_at for s, t in steps(request).items()} == {
        Step.REMIND: DUE - dt.timedelta(minutes=30),
        Step.BREACH: DUE,
        Step.FALLBACK: DUE + dt.timedelta(hours=2),
    }


def test_a_deactivated_owners_requests_move_at_once(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    assert owner is not None
    moved = services.user_deactivate(user=owner, actor=emea.manager)
    assert moved == 1
    new_owner = owner_of(request)
    assert new_owner not in (None, owner)
    assert "is deactivated" in request.assignments.first().why  # type: ignore[union-attr]
    assert leaks() == []


def test_the_sweep_catches_an_owner_deactivated_behind_our_back(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    assert owner is not None
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert [leak.why for leak in leaks()] == [f"owner {owner} is deactivated"]
    assert services.owners_unavailable_reassign() == 1
    assert owner_of(request) not in (None, owner)
    assert leaks() == []


def test_an_absence_moves_only_requests_still_waiting_for_a_first_touch(emea: Any) -> None:
    waiting, touched = routed(), routed()
    owner = owner_of(waiting)
    assert owner is not None
    touched_owner = owner_of(touched)
    services.touch_record(request=touched, user=touched_owner, kind=TouchKind.MEETING)
    services.absence_record(
        user=owner,
        starts_at=MONDAY_10 - dt.timedelta(hours=1),
        ends_at=MONDAY_10 + dt.timedelta(days=5),
        reason="holiday",
        actor=owner,
    )
    assert owner_of(waiting) not in (None, owner)
    assert owner_of(touched) == touched_owner


def test_an_absence_starting_later_moves_requests_when_it_starts(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    assert owner is not None
    services.absence_record(
        user=owner,
        starts_at=MONDAY_10 + dt.timedelta(minutes=20),
        ends_at=MONDAY_10 + dt.timedelta(days=1),
        actor=None,
    )
    assert owner_of(request) == owner
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=21)):
        assert services.owners_unavailable_reassign() == 1
    assert owner_of(request) not in (None, owner)


def test_an_absence_must_end_after_it_starts(emea: Any) -> None:
    rep = User.objects.get(username="rita")
    with pytest.raises(Exception, match="ends_at"):
        services.absence_record(user=rep, starts_at=MONDAY_10, ends_at=MONDAY_10, actor=None)


def test_the_third_call_without_contact_tells_the_manager_once(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    for outcome in ("no_answer", "voicemail"):
        services.touch_record(request=request, user=owner, kind=TouchKind.CALL, outcome=outcome)
    assert told(emea.manager, "escalation.no_contact") == []
    services.touch_record(request=request, user=owner, kind=TouchKind.CALL, outcome="no_answer")
    [item] = told(emea.manager, "escalation.no_contact")
    assert "3 calls" in item.title
    services.touch_record(request=request, user=owner, kind=TouchKind.CALL, outcome="no_answer")
    assert len(told(emea.manager, "escalation.no_contact")) == 1
    assert TimelineEvent.objects.filter(
        person=request.person, kind="escalation.no_contact"
    ).exists()


def test_a_connected_call_means_no_escalation(emea: Any) -> None:
    request = routed()
    owner = owner_of(request)
    for outcome in ("connected", "no_answer", "no_answer"):
        services.touch_record(request=request, user=owner, kind=TouchKind.CALL, outcome=outcome)
    assert told(emea.manager, "escalation.no_contact") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "smoke_signal"}, "kind"),
        ({"kind": "call"}, "outcome"),
        ({"kind": "call", "outcome": "maybe"}, "outcome"),
        ({"kind": "meeting", "outcome": "connected"}, "outcome"),
    ],
)
def test_a_bad_touch_is_refused_naming_the_field(
    emea: Any, kwargs: dict[str, str], field: str
) -> None:
    from django.core.exceptions import ValidationError

    request = routed()
    with pytest.raises(ValidationError) as refused:
        services.touch_record(request=request, user=None, **kwargs)
    assert field in refused.value.message_dict
    assert not request.touches.exists()


def _mail_to_person(request: Request, capture: Any) -> OutgoingMail:
    email = request.person.emails.get().email
    with capture(execute=False):
        return mail_send(
            to=[email],
            subject="About your question",
            text="Hello",
            reason="request.email",
            person=request.person,
            subject_ref=f"request:{request.pk}",
        )


def test_a_mail_the_worker_sent_is_the_first_touch(
    emea: Any, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    request = routed()
    mail = _mail_to_person(request, django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.routing.first_touched_at is None  # queued is not sent
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=10)):
        mail_deliver(mail_id=mail.pk)
    request.refresh_from_db()
    assert request.routing.first_touched_at == MONDAY_10 + dt.timedelta(minutes=10)
    touch = request.touches.get()
    assert touch.kind == TouchKind.EMAIL
    assert "About your question" in touch.note
    assert fire_at(DUE) == 0


def test_a_bounce_tells_the_owner_and_the_manager(
    emea: Any, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, _ = webhook_endpoint_create(
        url="http://127.0.0.1:9/hook", kinds=["escalation.bounce"], created_by=None
    )
    request = routed()
    owner = owner_of(request)
    assert owner is not None
    smtp_server.refuse_rcpt = "550 5.1.1 No such user here"
    mail = _mail_to_person(request, django_capture_on_commit_callbacks)
    mail_deliver(mail_id=mail.pk)
    mail.refresh_from_db()
    assert mail.status == SendStatus.FAILED
    for user in (owner, emea.manager):
        [item] = told(user, "escalation.bounce")
        assert "bounced" in item.title
    event = TimelineEvent.objects.get(person=request.person, kind="escalation.bounce")
    assert str(owner) in event.summary
    assert str(emea.manager) in event.summary
    assert endpoint.deliveries.filter(kind="escalation.bounce").count() == 1
    request.refresh_from_db()
    assert request.routing.first_touched_at is None


def test_leaks_notice_a_request_whose_breach_step_is_gone(emea: Any) -> None:
    request = routed()
    Timer.objects.filter(request=request, step=Step.BREACH).delete()
    assert [leak.why for leak in leaks()] == ["no step waiting to notice a missed deadline"]
