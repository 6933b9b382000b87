"""The cadence engine on a test clock: steps run in order, in the person's business hours,
through outreach's gate, and people leave when they should."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from leadline.cadences.models import (
    CadenceStep,
    EnrolmentStatus,
    ManualTask,
    TaskStatus,
    Waiting,
)
from leadline.cadences.services import (
    enrolments_run_due,
    manual_task_done,
)
from leadline.calls.models import CallTask
from leadline.calls.services import call_task_log
from leadline.core import clock
from leadline.core.models import TimelineEvent
from leadline.core.services import timeline_record
from leadline.journeys.models import Journey, JourneyPosition
from leadline.journeys.services import journey_move
from leadline.notify.models import OutgoingMail
from leadline.outreach.services import contact_reserve
from leadline.routing.models import Ownership
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
# Monday 23 November 2026, 10:00 UTC: 19:00 in Tokyo (after hours), 11:00 in Berlin.
MONDAY = factories.MONDAY_10


def at(moment: dt.datetime) -> int:
    """Move the clock to `moment` and let the worker run what is due."""
    with clock.frozen_at(moment):
        return enrolments_run_due()


@pytest.fixture
def rep() -> object:
    return factories.user(first_name="Rita", last_name="Rep", time_zone="Europe/Berlin")


@pytest.fixture
def roomy_cap() -> None:
    """A cap that lets a whole cadence through in one week (the cap has tests of its own)."""
    factories.contact_policy(weekly_cap=10)


EMAIL = {"kind": "email", "subject": "Hello {{ first_name }}", "text": "Hi {{ first_name }}"}


def email(n: int) -> dict[str, object]:
    return {
        "kind": "email",
        "subject": f"Mail {n} for {{{{ first_name }}}} at {{{{ company }}}}",
        "text": f"Hi {{{{ first_name }}}},\n\nmail {n} from {{{{ owner_name }}}}.",
    }


WAIT_1 = {"kind": "wait", "wait_days": 1}


def mails() -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(reason="cadence.email").order_by("id"))


@pytest.mark.usefixtures("roomy_cap")
def test_three_emails_and_a_call_run_in_order_in_tokyo_business_hours(rep: object) -> None:
    person = factories.prospect(owner=rep, time_zone="Asia/Tokyo", first_name="Aiko")
    factories.membership(person=person, account=factories.account(name="Kaisha KK"))
    cadence = factories.cadence(
        name="New trial",
        steps=[
            email(1),
            WAIT_1,
            email(2),
            WAIT_1,
            email(3),
            WAIT_1,
            {"kind": "call", "title": "Intro call", "script": "Ask {{ first_name }} how it goes"},
        ],
    )
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person, actor=rep)
    # 19:00 in Tokyo: nothing goes until the morning.
    assert at(MONDAY) == 0
    assert mails() == []
    tuesday_9_tokyo = dt.datetime(2026, 11, 24, 9, 0, tzinfo=TOKYO)
    enrolment.refresh_from_db()
    assert enrolment.next_run_at == tuesday_9_tokyo
    assert at(tuesday_9_tokyo - dt.timedelta(minutes=1)) == 0

    assert at(tuesday_9_tokyo) == 1
    first = mails()
    assert len(first) == 1
    mail = first[0]
    assert mail.subject == "Mail 1 for Aiko at Kaisha KK"
    assert "mail 1 from Rita Rep." in mail.text
    assert "Unsubscribe: http" in mail.text
    assert mail.headers["List-Unsubscribe"].startswith("<http")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["From"].startswith("Rita Rep <")
    assert mail.subject_ref == f"enrolment:{enrolment.pk}"
    assert mail.person == person
    assert mail.to == [person.emails.get().email]

    # Each wait is one business day: Wednesday and Thursday 09:00 in Tokyo, then the call.
    enrolment.refresh_from_db()
    assert enrolment.next_run_at == tuesday_9_tokyo + dt.timedelta(days=1)
    assert at(tuesday_9_tokyo + dt.timedelta(hours=23)) == 0
    assert at(tuesday_9_tokyo + dt.timedelta(days=1)) == 1
    assert at(tuesday_9_tokyo + dt.timedelta(days=2)) == 1
    sent = mails()
    assert [m.subject for m in sent] == [f"Mail {n} for Aiko at Kaisha KK" for n in (1, 2, 3)]
    assert [m.created_at.astimezone(TOKYO).strftime("%a %H:%M") for m in sent] == [
        "Tue 09:00",
        "Wed 09:00",
        "Thu 09:00",
    ]
    assert not CallTask.objects.filter(person=person).exists()

    friday_9_tokyo = tuesday_9_tokyo + dt.timedelta(days=3)
    assert at(friday_9_tokyo) == 1
    task = CallTask.objects.get(person=person)
    assert task.source == "cadence"
    assert task.source_ref == f"enrolment:{enrolment.pk}"
    assert task.assignee == rep
    assert task.script == "Ask Aiko how it goes"
    enrolment.refresh_from_db()
    assert enrolment.waiting_on == Waiting.CALL_TASK
    assert enrolment.next_run_at is None
    assert at(friday_9_tokyo + dt.timedelta(days=5)) == 0  # it waits for the call

    with clock.frozen_at(friday_9_tokyo + dt.timedelta(hours=2)):
        call_task_log(task=task, outcome="connected", actor=rep)  # type: ignore[arg-type]
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.FINISHED
    assert enrolment.last_call_outcome == "connected"
    kinds = list(
        TimelineEvent.objects.filter(person=person, kind__startswith="cadence.")
        .order_by("occurred_at", "id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "cadence.enrolled",
        "cadence.email",
        "cadence.email",
        "cadence.email",
        "cadence.call_task",
        "cadence.finished",
    ]


@pytest.mark.usefixtures("roomy_cap")
def test_waits_count_business_days_over_the_weekend(rep: object) -> None:
    person = factories.prospect(owner=rep)
    cadence = factories.cadence(steps=[email(1), {"kind": "wait", "wait_days": 2}, email(2)])
    friday_11_berlin = dt.datetime(2026, 11, 27, 11, 0, tzinfo=BERLIN)
    with clock.frozen_at(friday_11_berlin):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(friday_11_berlin) == 1
    enrolment.refresh_from_db()
    # Two business days after Friday 11:00: Tuesday 11:00, not Sunday.
    assert enrolment.next_run_at == dt.datetime(2026, 12, 1, 11, 0, tzinfo=BERLIN)


def test_a_person_without_a_time_zone_gets_mail_in_their_owners_teams_hours() -> None:
    team = factories.team(time_zone="America/New_York")
    owner = factories.user(team=team)
    person = factories.prospect(owner=owner, time_zone="")
    cadence = factories.cadence(steps=[EMAIL])
    with clock.frozen_at(MONDAY):  # 05:00 in New York
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert enrolment.next_run_at == dt.datetime(
        2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York")
    )


def _branching(rep: object) -> tuple[object, list[CadenceStep]]:
    cadence = factories.cadence(
        steps=[
            {"kind": "call", "title": "Intro call", "outcome_options": ["connected", "no_answer"]},
            {"kind": "branch", "branch_outcomes": ["no_answer"]},
            {"kind": "manual", "title": "Send the proposal"},
            {"kind": "email", "subject": "Sorry we missed you", "text": "Try again?"},
        ]
    )
    steps = list(cadence.steps.order_by("position"))
    steps[1].branch_to = steps[3]
    steps[1].save()
    return cadence, steps


@pytest.mark.parametrize(("outcome", "goes_to"), [("no_answer", 3), ("connected", 2)])
def test_the_branch_follows_the_calls_outcome(rep: object, outcome: str, goes_to: int) -> None:
    cadence, steps = _branching(rep)
    person = factories.prospect(owner=rep)
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    task = CallTask.objects.get(person=person)
    with clock.frozen_at(MONDAY + dt.timedelta(hours=1)):
        call_task_log(task=task, outcome=outcome, actor=rep)  # type: ignore[arg-type]
    enrolment.refresh_from_db()
    assert enrolment.current_step == steps[goes_to]
    assert enrolment.status == EnrolmentStatus.ACTIVE


def test_a_manual_task_waits_for_the_owner_then_moves_on(rep: object) -> None:
    cadence = factories.cadence(
        steps=[{"kind": "manual", "title": "Connect on LinkedIn", "instructions": "Say hi"}, EMAIL]
    )
    person = factories.prospect(owner=rep)
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    task = ManualTask.objects.get(person=person)
    assert task.assignee == rep
    assert task.status == TaskStatus.OPEN
    enrolment.refresh_from_db()
    assert enrolment.waiting_on == Waiting.MANUAL_TASK
    with clock.frozen_at(MONDAY + dt.timedelta(hours=1)):
        manual_task_done(task=task, actor=rep)  # type: ignore[arg-type]
        assert enrolments_run_due() == 1
    assert [m.subject for m in mails()] == [f"Hello {person.first_name}"]


def test_an_owner_change_stops_it_at_the_next_due_step(rep: object) -> None:
    person = factories.prospect(owner=rep)
    cadence = factories.cadence(name="Welcome", steps=[EMAIL, WAIT_1, EMAIL])
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    Ownership.objects.filter(person=person).update(ended_at=MONDAY + dt.timedelta(hours=1))
    Ownership.objects.create(owner=factories.user(username="otto"), person=person)
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE  # nothing is due yet
    assert at(MONDAY + dt.timedelta(days=1)) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == "owner_changed"
    assert "otto" in enrolment.stopped_detail
    assert len(mails()) == 1
    event = TimelineEvent.objects.get(person=person, kind="cadence.exited")
    assert event.summary.startswith("Left cadence ‘Welcome’ because their owner changed")


def test_a_journey_step_change_stops_it_at_the_next_due_step(rep: object) -> None:
    journey = Journey.objects.get(is_default=True)
    first, second = list(journey.steps.order_by("position"))[:2]
    person = factories.prospect(owner=rep)
    JourneyPosition.objects.create(journey=journey, person=person, step=first)
    cadence = factories.cadence(steps=[EMAIL, WAIT_1, EMAIL])
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    with clock.frozen_at(MONDAY + dt.timedelta(hours=2)):
        journey_move(journey=journey, to_step=second, moved_by=rep, person=person)  # type: ignore[arg-type]
    assert at(MONDAY + dt.timedelta(days=1)) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == "journey_step_changed"
    assert second.name in enrolment.stopped_detail
    assert len(mails()) == 1


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("mail.replied", "replied"),
        ("meeting.booked", "meeting_booked"),
        ("mail.bounced", "bounced"),
        ("contact.unsubscribed", "unsubscribed"),
    ],
)
def test_a_reply_meeting_or_bounce_on_the_timeline_stops_it_before_the_next_step(
    rep: object, kind: str, reason: str
) -> None:
    """In case the area that saw it could not call enrolments_stop, the engine looks itself."""
    person = factories.prospect(owner=rep)
    cadence = factories.cadence(steps=[EMAIL, WAIT_1, EMAIL])
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    timeline_record(kind=kind, summary="It happened", person=person, occurred_at=MONDAY)
    assert at(MONDAY + dt.timedelta(days=1)) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == reason
    assert len(mails()) == 1


def test_the_cap_postpones_a_step_and_never_drops_it(rep: object) -> None:
    factories.contact_policy(weekly_cap=1)
    person = factories.prospect(owner=rep)
    # A newsletter touched them the Friday before: the week is full until a week after it.
    friday = MONDAY - dt.timedelta(days=3)
    verdict = contact_reserve(
        person=person,
        channel="email",
        purpose="marketing",
        source="newsletter",
        ref="newsletter:1",
        at=friday,
    )
    assert verdict.allowed
    cadence = factories.cadence(steps=[EMAIL])
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    assert at(MONDAY) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    assert mails() == []
    # Free again when Friday's touch leaves the 7-day window (Friday 10:00 UTC = 11:00 Berlin).
    assert enrolment.next_run_at == friday + dt.timedelta(days=7)
    assert enrolment.log.filter(action="postponed").exists()
    assert at(friday + dt.timedelta(days=7)) == 1
    assert len(mails()) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.FINISHED


def test_do_not_contact_stops_the_enrolment_with_that_reason(rep: object) -> None:
    from leadline.outreach.models import DoNotContact

    person = factories.prospect(owner=rep)
    cadence = factories.cadence(steps=[EMAIL])
    with clock.frozen_at(MONDAY):
        enrolment = factories.enrol(cadence=cadence, person=person)
    DoNotContact.objects.create(person=person, channel="email", reason="Asked us to stop")
    assert at(MONDAY) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == "do_not_contact"
    assert mails() == []


def test_do_not_contact_set_by_outreach_takes_them_out_at_once(rep: object) -> None:
    from leadline.outreach.services import do_not_contact_set

    person = factories.prospect(owner=rep)
    emails = factories.cadence(steps=[EMAIL])
    calls = factories.cadence(steps=[{"kind": "call", "title": "Intro call"}])
    with clock.frozen_at(MONDAY):
        by_mail = factories.enrol(cadence=emails, person=person)
        by_phone = factories.enrol(cadence=calls, person=person)
        do_not_contact_set(person=person, channel="email", reason="bounced", source="t", actor=None)
    by_mail.refresh_from_db()
    by_phone.refresh_from_db()
    assert by_mail.stopped_reason == "do_not_contact"
    assert by_phone.status == EnrolmentStatus.ACTIVE
