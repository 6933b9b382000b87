"""Free slots: bookable hours in the host's zone (across a daylight-saving change), cut into
meetings, minus meetings with their buffer, absences, holidays, before the notice and after the
horizon."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.booking.models import Meeting
from leadline.booking.selectors import free_slots
from leadline.booking.slots import host_free_times
from leadline.core import clock
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import Absence
from tests import factories

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def starts(times: list[tuple[dt.datetime, dt.datetime]]) -> list[str]:
    return [f"{s:%a %d %H:%M}" for s, _ in times]


BERLIN_MORNINGS = WorkingHours.parse("Mon-Fri 09:00-11:00", time_zone="Europe/Berlin")
HALF_HOUR = dt.timedelta(minutes=30)


def test_hours_are_cut_into_meetings_from_the_opening_in_the_hosts_zone() -> None:
    found = host_free_times(
        hours=BERLIN_MORNINGS, length=HALF_HOUR, start=utc(2026, 11, 30), end=utc(2026, 12, 1)
    )
    # Berlin is UTC+1 in winter: 09:00-11:00 there is 08:00-10:00 UTC.
    assert starts(found) == ["Mon 30 08:00", "Mon 30 08:30", "Mon 30 09:00", "Mon 30 09:30"]
    assert all(e - s == HALF_HOUR for s, e in found)


def test_a_meeting_that_would_run_past_closing_is_not_offered() -> None:
    found = host_free_times(
        hours=BERLIN_MORNINGS,
        length=dt.timedelta(minutes=45),
        start=utc(2026, 11, 30),
        end=utc(2026, 12, 1),
    )
    assert starts(found) == ["Mon 30 08:00", "Mon 30 08:45"]  # 09:30-10:15 UTC would run over


def test_the_local_hours_stay_the_same_across_the_daylight_saving_change() -> None:
    # Clocks go forward in Berlin on Sunday 28 March 2027: 09:00 is 08:00 UTC on the Friday
    # before and 07:00 UTC on the Monday after.
    found = host_free_times(
        hours=BERLIN_MORNINGS, length=HALF_HOUR, start=utc(2027, 3, 26), end=utc(2027, 3, 30)
    )
    assert starts(found) == [
        "Fri 26 08:00",
        "Fri 26 08:30",
        "Fri 26 09:00",
        "Fri 26 09:30",
        "Mon 29 07:00",
        "Mon 29 07:30",
        "Mon 29 08:00",
        "Mon 29 08:30",
    ]


def test_the_night_the_clocks_go_forward_has_an_hour_less_to_book() -> None:
    night = WorkingHours.parse("Sun 01:00-04:00", time_zone="Europe/Berlin")
    found = host_free_times(
        hours=night, length=HALF_HOUR, start=utc(2027, 3, 27), end=utc(2027, 3, 29)
    )
    # 01:00 CET is 00:00 UTC; 04:00 CEST is 02:00 UTC: two hours, not three.
    assert starts(found) == ["Sun 28 00:00", "Sun 28 00:30", "Sun 28 01:00", "Sun 28 01:30"]


def test_busy_times_take_out_every_slot_they_touch() -> None:
    found = host_free_times(
        hours=BERLIN_MORNINGS,
        length=HALF_HOUR,
        start=utc(2026, 11, 30),
        end=utc(2026, 12, 1),
        busy=[(utc(2026, 11, 30, 8, 45), utc(2026, 11, 30, 9, 15))],
    )
    assert starts(found) == ["Mon 30 08:00", "Mon 30 09:30"]


def test_public_holidays_of_the_hosts_country_have_no_slots() -> None:
    german = WorkingHours.parse(
        "Mon-Fri 09:00-11:00", time_zone="Europe/Berlin", holiday_country="DE"
    )
    found = host_free_times(
        hours=german, length=HALF_HOUR, start=utc(2026, 12, 24), end=utc(2026, 12, 29)
    )
    # Thursday 24th is a working day; the 25th (Fri) is Christmas; Monday 28th is open again.
    assert {f"{s:%d}" for s, _ in found} == {"24", "28"}


# Against the database: a page's notice, horizon, buffer, and the host's meetings and absences.

pytestmark = pytest.mark.django_db
MONDAY = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC


@pytest.fixture
def page() -> object:
    host = factories.user(time_zone="UTC")
    factories.bookable_hours(host=host, hours="Mon-Fri 09:00-17:00")
    return factories.booking_page(host=host, notice_minutes=240, horizon_days=7, buffer_minutes=15)


def test_no_slot_before_the_notice_or_after_the_horizon(page: object) -> None:
    with clock.frozen_at(MONDAY):
        found = free_slots(
            page=page, start=MONDAY - dt.timedelta(days=1), end=MONDAY + dt.timedelta(days=30)
        )  # type: ignore[arg-type]
    assert found[0].starts_at == utc(2026, 11, 23, 14, 0)  # 10:00 + 4 h notice
    assert found[-1].starts_at == utc(2026, 11, 30, 9, 30)  # the last before 7 days from now
    assert all(s.starts_at.weekday() < 5 for s in found)


def test_a_booked_meeting_and_its_buffer_block_slots_a_cancelled_one_does_not(page: object) -> None:
    host = page.user  # type: ignore[attr-defined]
    meeting = Meeting.objects.create(
        host=host,
        person=factories.person(),
        page=page,
        starts_at=utc(2026, 11, 24, 10, 0),
        ends_at=utc(2026, 11, 24, 10, 30),
        title="Intro call",
        uid="m1@test",
    )
    window = {"start": utc(2026, 11, 24, 9, 0), "end": utc(2026, 11, 24, 12, 0)}
    with clock.frozen_at(MONDAY):
        found = [f"{s.starts_at:%H:%M}" for s in free_slots(page=page, **window)]  # type: ignore[arg-type]
        # 15 minutes either side: 09:30-10:00 ends inside the buffer, 10:30-11:00 starts in it.
        assert found == ["09:00", "11:00", "11:30"]
        assert next(s.hosts for s in free_slots(page=page, **window)) == (host.pk,)  # type: ignore[arg-type]
        meeting.status = "cancelled"
        meeting.save()
        assert len(free_slots(page=page, **window)) == 6  # type: ignore[arg-type]


def test_an_absence_blocks_the_slots_it_covers(page: object) -> None:
    Absence.objects.create(
        user=page.user,  # type: ignore[attr-defined]
        starts_at=utc(2026, 11, 24, 0, 0),
        ends_at=utc(2026, 11, 25, 0, 0),
        reason="Off-site",
    )
    with clock.frozen_at(MONDAY):
        found = free_slots(page=page, start=utc(2026, 11, 24), end=utc(2026, 11, 26))  # type: ignore[arg-type]
    assert {f"{s.starts_at:%d}" for s in found} == {"25"}


def test_a_team_page_offers_the_union_of_its_members_slots() -> None:
    team = factories.team(time_zone="UTC")
    early = factories.user(team=team, time_zone="UTC")
    late = factories.user(team=team, time_zone="UTC")
    factories.user(team=team, role="marketing")  # marketing takes no meetings
    factories.bookable_hours(host=early, hours="Tue 09:00-10:00")
    factories.bookable_hours(host=late, hours="Tue 09:30-10:30")
    page = factories.booking_page(team=team)
    with clock.frozen_at(MONDAY):
        found = free_slots(page=page, start=utc(2026, 11, 24), end=utc(2026, 11, 25))
    assert [(f"{s.starts_at:%H:%M}", s.hosts) for s in found] == [
        ("09:00", (early.pk,)),
        ("09:30", (early.pk, late.pk)),
        ("10:00", (late.pk,)),
    ]


def test_a_seller_without_hours_of_their_own_takes_meetings_in_their_teams_hours() -> None:
    team = factories.team(time_zone="America/New_York", working_hours="Mon 09:00-10:00")
    host = factories.user(team=team, time_zone="")
    page = factories.booking_page(host=host)
    with clock.frozen_at(MONDAY):
        found = free_slots(page=page, start=utc(2026, 11, 30), end=utc(2026, 12, 1))
    assert [f"{s.starts_at:%H:%M}" for s in found] == ["14:00", "14:30"]  # New York is UTC-5
