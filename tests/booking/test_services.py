"""Booking a meeting: the slot is taken, the invitation (.ics) goes to both sides, and the lead's
flow hears of it (first touch, handoff, cadences stop, the host's inbox). Moving and cancelling
raise the SEQUENCE; round robin shares a team page's meetings out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from icalendar import Calendar

from leadline.booking import services
from leadline.booking.models import Meeting, MeetingStatus
from leadline.booking.services import SlotUnavailable, StaleLink
from leadline.cadences.models import Enrolment
from leadline.calls.models import TaskStatus
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, TimelineEvent, User
from leadline.engagement.models import Handoff
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.routing.models import Ownership, RequestRouting, Touch
from tests import factories

pytestmark = pytest.mark.django_db

MONDAY = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC
TUESDAY_9 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # 10:00 in Berlin


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY):
        yield


@pytest.fixture
def host() -> User:
    rep = factories.user(
        username="ines", first_name="Ines", last_name="Duarte", time_zone="Europe/Berlin"
    )
    factories.bookable_hours(host=rep, hours="Mon-Fri 09:00-17:00")
    return rep


@pytest.fixture
def page(host: User) -> Any:
    return factories.booking_page(
        host=host, title="Intro call", location="https://meet.example/ines"
    )


def invitation(mail: OutgoingMail) -> Any:
    """The one VEVENT of the mail's .ics, and the calendar's METHOD."""
    [attachment] = mail.attachments
    assert attachment["mimetype"] == "text/calendar"
    calendar = Calendar.from_ical(attachment["content"])
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


def mails_of(meeting: Meeting) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(subject_ref=f"meeting:{meeting.pk}").order_by("id"))


def book(page: Any, **extra: Any) -> Meeting:
    extra.setdefault("name", "Ann Lee")
    extra.setdefault("email", "Ann@Buyer.example")
    extra.setdefault("time_zone", "America/New_York")
    return services.meeting_book(page=page, starts_at=extra.pop("starts_at", TUESDAY_9), **extra)


def test_a_prospect_books_a_slot_and_both_sides_get_the_invitation(page: Any, host: User) -> None:
    meeting = book(page, note="We close in 12 days", company="Acme Widgets")

    assert (meeting.host, meeting.starts_at, meeting.ends_at) == (
        host,
        TUESDAY_9,
        TUESDAY_9 + dt.timedelta(minutes=30),
    )
    assert (meeting.status, meeting.sequence, meeting.booked_by) == (MeetingStatus.BOOKED, 0, None)
    person = Person.objects.get(emails__email="ann@buyer.example")
    assert (person.first_name, person.last_name, person.time_zone) == (
        "Ann",
        "Lee",
        "America/New_York",
    )
    assert meeting.person == person

    to_prospect, to_host = mails_of(meeting)
    assert to_prospect.to == ["ann@buyer.example"]
    assert to_prospect.person == person
    assert "Tuesday 24 November 2026, 04:00 (America/New_York)" in to_prospect.subject
    assert to_host.to == ["ines@seller.example"]
    assert to_host.user == host
    assert "10:00 (Europe/Berlin)" in to_host.subject
    for mail in (to_prospect, to_host):
        method, event = invitation(mail)
        assert method == "REQUEST"
        assert str(event["UID"]) == meeting.uid
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == TUESDAY_9
        assert event.decoded("DTEND") == TUESDAY_9 + dt.timedelta(minutes=30)
        assert event["DTSTART"].to_ical() == b"20261124T090000Z"  # in UTC
        assert str(event["ORGANIZER"]) == "mailto:ines@seller.example"
        assert str(event["ATTENDEE"]) == "mailto:ann@buyer.example"
        assert str(event["LOCATION"]) == "https://meet.example/ines"
        description = str(event["DESCRIPTION"])
        assert "/book/m/" in description
        assert "/reschedule/" in description
        assert "/cancel/" in description
    assert "/reschedule/" in to_prospect.text
    assert "/cancel/" in to_prospect.text

    [item] = InboxItem.objects.filter(user=host, kind="meeting.booked")
    assert item.person == person
    assert "Ann Lee" in item.title
    assert "We close in 12 days" in item.body
    assert "Acme Widgets" in item.body
    kinds = set(TimelineEvent.objects.filter(person=person).values_list("kind", flat=True))
    assert {"person.created", "meeting.booked", "handoff.created"} <= kinds
    handoff = Handoff.objects.get(person=person)
    assert (handoff.trigger, handoff.owner) == ("appointment", host)


def test_booking_is_a_first_touch_of_their_open_request(page: Any, host: User) -> None:
    request = factories.routed_request(at=MONDAY - dt.timedelta(hours=1), owner=host)
    assert request.routing.first_touched_at is None
    rep = factories.user()

    meeting = services.meeting_book(
        page=page, starts_at=TUESDAY_9, person=request.person, booked_by=rep
    )

    touch = Touch.objects.get(person=request.person)
    assert (touch.kind, touch.user, touch.request) == ("meeting", host, request)
    assert RequestRouting.objects.get(request=request).first_touched_at == MONDAY
    assert meeting.booked_by == rep
    assert Handoff.objects.get(person=request.person).request == request


def test_booking_stops_their_cadences(page: Any) -> None:
    person = factories.person(email="ann@buyer.example")
    enrolment = factories.enrolment(person=person)

    book(page)

    enrolment.refresh_from_db()
    assert enrolment.status != "active"
    exited = TimelineEvent.objects.get(person=person, kind="cadence.exited")
    assert exited.data["reason"] == "meeting_booked"


def test_a_time_that_is_not_free_is_refused_and_nothing_is_kept(page: Any) -> None:
    book(page)
    mails = OutgoingMail.objects.count()
    with pytest.raises(SlotUnavailable, match="just taken"):
        book(page, name="Bo Berg", email="bo@other.example")
    with pytest.raises(SlotUnavailable):
        book(page, email="bo@other.example", starts_at=TUESDAY_9 + dt.timedelta(minutes=10))
    with pytest.raises(SlotUnavailable):  # Saturday
        book(page, email="bo@other.example", starts_at=TUESDAY_9 + dt.timedelta(days=4))
    assert Meeting.objects.count() == 1
    assert not PersonEmail.objects.filter(email="bo@other.example").exists()
    assert OutgoingMail.objects.count() == mails


def test_bad_input_is_refused(page: Any) -> None:
    with pytest.raises(ValidationError):
        book(page, email="not an address")
    with pytest.raises(ValidationError):
        book(page, time_zone="Mars/Olympus")
    with pytest.raises(ValidationError):
        book(page, starts_at=TUESDAY_9.replace(tzinfo=None))
    page.active = False
    page.save()
    with pytest.raises(SlotUnavailable, match="closed"):
        book(page)
    assert not Meeting.objects.exists()


def test_round_robin_takes_the_member_with_the_fewest_then_the_longest_since() -> None:
    team = factories.team(time_zone="UTC")
    first, second, third = (factories.user(team=team, time_zone="UTC") for _ in range(3))
    page = factories.booking_page(team=team)
    at = [TUESDAY_9 + dt.timedelta(hours=h) for h in range(4)]

    hosts = []
    for n, (when, minutes) in enumerate([(at[0], 0), (at[0], 1), (at[1], 2), (at[2], 3)]):
        with clock.frozen_at(MONDAY + dt.timedelta(minutes=minutes)):
            hosts.append(book(page, email=f"p{n}@buyer.example", starts_at=when).host)

    # Everyone at 0: the lowest id; the same time again: the next (the first is busy then);
    # then the one who has none; then all have one, and the first had theirs longest ago.
    assert hosts == [first, second, third, first]
    # At a time all three are free: second and third have one each, second's is older; then
    # third; then first (two); then nobody is left.
    later = [book(page, email=f"q{n}@buyer.example", starts_at=at[3]).host for n in range(3)]
    assert later == [second, third, first]
    with pytest.raises(SlotUnavailable):
        book(page, email="r@buyer.example", starts_at=at[3])


def test_moving_a_meeting_raises_its_sequence_and_sends_a_new_request(page: Any) -> None:
    meeting = book(page)
    later = TUESDAY_9 + dt.timedelta(hours=2)

    moved = services.meeting_reschedule(meeting=meeting, starts_at=later, expected_sequence=0)

    assert (moved.starts_at, moved.sequence, moved.uid) == (later, 1, meeting.uid)
    method, event = invitation(mails_of(meeting)[-1])
    assert (method, int(event["SEQUENCE"]), event.decoded("DTSTART")) == ("REQUEST", 1, later)
    assert str(event["UID"]) == meeting.uid
    assert TimelineEvent.objects.filter(kind="meeting.rescheduled", person=meeting.person).exists()
    # The old slot is free again; a link from the first invitation no longer moves it.
    assert book(page, email="bo@other.example").starts_at == TUESDAY_9
    with pytest.raises(StaleLink):
        services.meeting_reschedule(meeting=meeting, starts_at=TUESDAY_9, expected_sequence=0)
    meeting.refresh_from_db()
    assert meeting.starts_at == later


def test_moving_to_a_taken_time_changes_nothing(page: Any) -> None:
    meeting = book(page)
    other = book(page, email="bo@other.example", starts_at=TUESDAY_9 + dt.timedelta(hours=1))
    with pytest.raises(SlotUnavailable):
        services.meeting_reschedule(meeting=meeting, starts_at=other.starts_at)
    meeting.refresh_from_db()
    assert (meeting.starts_at, meeting.sequence) == (TUESDAY_9, 0)


def test_cancelling_sends_method_cancel_and_frees_the_slot(page: Any, host: User) -> None:
    meeting = book(page)

    cancelled = services.meeting_cancel(
        meeting=meeting, reason="Found another date", expected_sequence=0
    )

    assert cancelled.status == MeetingStatus.CANCELLED
    assert cancelled.cancelled_at == MONDAY
    to_prospect, to_host = mails_of(meeting)[-2:]
    for mail in (to_prospect, to_host):
        method, event = invitation(mail)
        assert (method, str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCEL", "CANCELLED", 1)
        assert str(event["UID"]) == meeting.uid
    assert InboxItem.objects.filter(user=host, kind="meeting.cancelled").count() == 1
    assert TimelineEvent.objects.get(kind="meeting.cancelled").summary.endswith(
        "cancelled by the prospect: Found another date"
    )
    again = services.meeting_cancel(meeting=meeting)
    assert again.sequence == 1
    assert len(mails_of(meeting)) == 4
    assert book(page, email="bo@other.example").starts_at == TUESDAY_9


def test_an_appointment_set_on_a_call_goes_to_the_persons_owner(page: Any, host: User) -> None:
    person = factories.person_with_phone(time_zone="Europe/Paris")
    Ownership.objects.create(owner=host, person=person)
    caller = factories.outside_caller()
    task = factories.call_task(person=person, assignee=caller)

    meeting = services.call_appointment_set(
        task=task, starts_at=TUESDAY_9, actor=caller, note="Wants to see the close module"
    )

    assert (meeting.host, meeting.source, meeting.booked_by) == (host, "call", caller)
    assert meeting.source_ref == f"call_task:{task.pk}"
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "appointment_set")
    assert "Wants to see the close module" in task.outcome_note


def test_without_an_owner_the_appointment_goes_round_robin_on_the_team_page(settings: Any) -> None:
    team = factories.team(time_zone="UTC")
    member = factories.user(team=team, time_zone="UTC")
    factories.booking_page(team=team, slug="sales-team")
    factories.booking_page(team=factories.team(), slug="other-team")
    settings.BOOKING_DEFAULT_PAGE = "sales-team"
    caller = factories.outside_caller()
    task = factories.call_task(assignee=caller)

    meeting = services.call_appointment_set(task=task, starts_at=TUESDAY_9, actor=caller)

    assert meeting.host == member
    assert meeting.page.slug == "sales-team"
    assert Enrolment.objects.count() == 0
