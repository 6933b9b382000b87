"""Business hours and first-touch deadlines: hand-computed cases, then properties."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadline.capture.models import RequestKind
from leadline.routing.business_hours import (
    DEFAULT_FIRST_TOUCH,
    FirstTouchRule,
    WorkingHours,
    first_touch_due,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)

berlin_office = WorkingHours.parse(
    "Mon-Fri 09:00-17:00", time_zone="Europe/Berlin", holiday_country="DE"
)
berlin_lunch = WorkingHours.parse(
    "Mon-Fri 09:00-12:30, 13:30-17:30; Sat 10:00-14:00",
    time_zone="Europe/Berlin",
    holiday_country="DE",
)
new_york_office = WorkingHours.parse(
    "Mon-Fri 08:30-17:00", time_zone="America/New_York", holiday_country="US"
)
always_open = WorkingHours.parse("Mon-Sun 00:00-24:00", time_zone="Europe/Berlin")


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


# --- one business hour, worked by hand --------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        (berlin(2026, 6, 10, 10, 0), berlin(2026, 6, 10, 11, 0), "inside hours: plain addition"),
        (berlin(2026, 6, 12, 16, 30), berlin(2026, 6, 15, 9, 30), "Friday 16:30: 30 min + Monday"),
        (berlin(2026, 6, 13, 11, 0), berlin(2026, 6, 15, 10, 0), "Saturday: from Monday's opening"),
        (berlin(2026, 6, 10, 7, 0), berlin(2026, 6, 10, 10, 0), "before opening"),
        (berlin(2026, 6, 10, 17, 0), berlin(2026, 6, 11, 10, 0), "at closing time: closed"),
        (berlin(2026, 6, 10, 16, 0), berlin(2026, 6, 10, 17, 0), "runs out exactly at closing"),
        (berlin(2026, 12, 24, 16, 45), berlin(2026, 12, 28, 9, 45), "Christmas and the weekend"),
        (berlin(2026, 4, 2, 16, 30), berlin(2026, 4, 7, 9, 30), "Good Friday, Easter Monday"),
    ],
)
def test_one_business_hour_in_berlin(received: datetime, due: datetime, why: str) -> None:
    assert berlin_office.add_business_time(received, HOUR) == due, why


def test_the_lunch_break_stops_the_clock() -> None:
    # 12:00 + 1h: 30 min before lunch, the clock waits 12:30-13:30, 30 min after.
    assert berlin_lunch.add_business_time(berlin(2026, 6, 10, 12, 0), HOUR) == berlin(
        2026, 6, 10, 14, 0
    )
    assert berlin_lunch.is_open(berlin(2026, 6, 10, 12, 29))
    assert not berlin_lunch.is_open(berlin(2026, 6, 10, 12, 30))
    assert berlin_lunch.next_open(berlin(2026, 6, 10, 12, 45)) == berlin(2026, 6, 10, 13, 30)
    # Saturday has its own hours: Friday 17:00 + 1h → 30 min to 17:30, Saturday 10:00 + 30 min.
    assert berlin_lunch.add_business_time(berlin(2026, 6, 12, 17, 0), HOUR) == berlin(
        2026, 6, 13, 10, 30
    )


def test_us_thanksgiving_is_closed_and_the_day_after_is_not() -> None:
    # Wednesday 16:30 + 1h: 30 min, Thursday 26 November is Thanksgiving, Friday 08:30 + 30 min.
    due = new_york_office.add_business_time(new_york(2026, 11, 25, 16, 30), HOUR)
    assert due == new_york(2026, 11, 27, 9, 0)
    assert not new_york_office.is_open(new_york(2026, 11, 26, 10, 0))
    # The observed day of a holiday falling on a weekend closes too (4 July 2026 is a Saturday).
    assert not new_york_office.is_open(new_york(2026, 7, 3, 10, 0))


def test_a_subdivision_adds_its_own_holidays() -> None:
    bavaria = WorkingHours.parse(
        "Mon-Fri 09:00-17:00",
        time_zone="Europe/Berlin",
        holiday_country="DE",
        holiday_subdivision="BY",
    )
    epiphany = berlin(2026, 1, 6, 10, 0)  # a Tuesday; a holiday in Bavaria, not in all Germany
    assert berlin_office.is_open(epiphany)
    assert not bavaria.is_open(epiphany)


def test_closed_dates_close_like_holidays() -> None:
    shutdown = WorkingHours.parse(
        "Mon-Fri 09:00-17:00",
        time_zone="Europe/Berlin",
        holiday_country="DE",
        closed_dates=[date(2026, 12, 28) + timedelta(days=n) for n in range(4)],
    )
    # Christmas, the weekend, the shutdown 28-31 Dec, New Year's Day, the weekend: Monday 4 Jan.
    due = shutdown.add_business_time(berlin(2026, 12, 24, 16, 45), HOUR)
    assert due == berlin(2027, 1, 4, 9, 45)
    assert shutdown.business_time_between(berlin(2026, 12, 24, 16, 45), due) == HOUR


# --- daylight saving time ---------------------------------------------------------------------


def test_the_working_day_keeps_its_local_hours_across_the_clock_change() -> None:
    # Berlin went to summer time on Sunday 29 March 2026: 09:00 was 08:00 UTC, now 07:00 UTC.
    due = berlin_office.add_business_time(berlin(2026, 3, 27, 16, 30), HOUR)
    assert due == berlin(2026, 3, 30, 9, 30)
    assert due == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    # And back on Sunday 25 October.
    due = berlin_office.add_business_time(berlin(2026, 10, 23, 16, 30), HOUR)
    assert due == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)
    # New York changes on other dates (8 March, 1 November 2026).
    due = new_york_office.add_business_time(new_york(2026, 3, 6, 16, 30), HOUR)
    assert due == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT


def test_a_week_across_the_clock_change_has_five_working_days() -> None:
    week = berlin_office.business_time_between(berlin(2026, 3, 23, 9, 0), berlin(2026, 3, 30, 9, 0))
    assert week == timedelta(hours=40)
    # Open round the clock, the short night has 23 hours and the long one 25.
    assert always_open.business_time_between(
        berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)
    ) == timedelta(hours=23)
    assert always_open.business_time_between(
        berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0)
    ) == timedelta(hours=25)


def test_round_the_clock_hours_run_through_midnight() -> None:
    start = berlin(2026, 6, 10, 23, 30)
    assert always_open.add_business_time(start, HOUR) == berlin(2026, 6, 11, 0, 30)
    assert always_open.is_open(berlin(2026, 6, 11, 0, 0))


# --- answers in UTC, inputs aware -------------------------------------------------------------


def test_results_are_in_utc_whatever_zone_the_question_came_in() -> None:
    tokyo = datetime(2026, 6, 10, 17, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 10:00 in Berlin
    due = berlin_office.add_business_time(tokyo, HOUR)
    assert due.tzinfo is UTC
    assert due == berlin(2026, 6, 10, 11, 0)
    assert berlin_office.next_open(tokyo).tzinfo is UTC
    assert berlin_office.add_business_days(tokyo, 1).tzinfo is UTC


@pytest.mark.parametrize(
    "call",
    [
        lambda h, m: h.is_open(m),
        lambda h, m: h.next_open(m),
        lambda h, m: h.add_business_time(m, HOUR),
        lambda h, m: h.add_business_days(m, 1),
        lambda h, m: h.business_time_between(m, m),
    ],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(berlin_office, datetime(2026, 6, 10, 10, 0))  # type: ignore[operator]


def test_zero_amount_is_the_next_open_moment() -> None:
    assert berlin_office.add_business_time(berlin(2026, 6, 10, 10, 0), timedelta(0)) == berlin(
        2026, 6, 10, 10, 0
    )
    assert berlin_office.add_business_time(berlin(2026, 6, 13, 10, 0), timedelta(0)) == berlin(
        2026, 6, 15, 9, 0
    )
    assert berlin_office.add_business_days(berlin(2026, 6, 13, 10, 0), 0) == berlin(
        2026, 6, 15, 9, 0
    )


def test_negative_amounts_and_reversed_spans_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        berlin_office.add_business_time(berlin(2026, 6, 10, 10, 0), -HOUR)
    with pytest.raises(ValueError, match="days"):
        berlin_office.add_business_days(berlin(2026, 6, 10, 10, 0), -1)
    with pytest.raises(ValueError, match="before start"):
        berlin_office.business_time_between(berlin(2026, 6, 10, 11, 0), berlin(2026, 6, 10, 10, 0))


def test_many_days_of_business_time() -> None:
    # 200 business hours = 25 working days of 8 h: 5 weeks from Monday 09:00 would end on the
    # 5th Friday's closing time; Ascension Day (Thu 14 May) and Pentecost Monday (25 May) push
    # it two working days on, to Tuesday's.
    start = berlin(2026, 5, 4, 9, 0)
    due = berlin_office.add_business_time(start, timedelta(hours=200))
    assert due == berlin(2026, 6, 9, 17, 0)
    assert berlin_office.business_time_between(start, due) == timedelta(hours=200)


# --- business days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "days", "due", "why"),
    [
        (berlin(2026, 6, 10, 10, 15), 1, berlin(2026, 6, 11, 10, 15), "same time next day"),
        (berlin(2026, 6, 12, 16, 30), 1, berlin(2026, 6, 15, 16, 30), "Friday → Monday"),
        (berlin(2026, 6, 13, 11, 0), 1, berlin(2026, 6, 16, 9, 0), "Saturday: from Monday 09:00"),
        (berlin(2026, 6, 10, 19, 0), 1, berlin(2026, 6, 12, 9, 0), "evening: from tomorrow 09:00"),
        (berlin(2026, 12, 23, 11, 0), 1, berlin(2026, 12, 24, 11, 0), "24 Dec is open"),
        (berlin(2026, 12, 24, 11, 0), 1, berlin(2026, 12, 28, 11, 0), "over Christmas"),
        (berlin(2026, 6, 10, 10, 0), 5, berlin(2026, 6, 17, 10, 0), "a week"),
    ],
)
def test_business_days(received: datetime, days: int, due: datetime, why: str) -> None:
    assert berlin_office.add_business_days(received, days) == due, why


def test_a_business_day_landing_on_shorter_hours_or_a_break() -> None:
    # Friday 16:00 + 1 day: Saturday closes at 14:00, so its closing time.
    assert berlin_lunch.add_business_days(berlin(2026, 6, 12, 16, 0), 1) == berlin(
        2026, 6, 13, 14, 0
    )
    # Saturday 10:15 + 1 day: Monday 10:15 (Sunday has no hours).
    assert berlin_lunch.add_business_days(berlin(2026, 6, 13, 10, 15), 1) == berlin(
        2026, 6, 15, 10, 15
    )
    # Saturday 13:00 + 1 day lands on Monday's lunch break: after the break.
    assert berlin_lunch.add_business_days(berlin(2026, 6, 13, 13, 0), 1) == berlin(
        2026, 6, 15, 13, 30
    )


def test_a_business_day_across_the_clock_change_keeps_the_local_time() -> None:
    due = berlin_office.add_business_days(berlin(2026, 3, 27, 10, 0), 1)
    assert due == berlin(2026, 3, 30, 10, 0)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


# --- first touch ------------------------------------------------------------------------------


def test_defaults_cover_every_request_kind() -> None:
    assert set(DEFAULT_FIRST_TOUCH) == set(RequestKind.values)
    assert str(DEFAULT_FIRST_TOUCH["contact"]) == "1 business hour"
    assert str(DEFAULT_FIRST_TOUCH["download"]) == "1 business day"
    assert str(FirstTouchRule(business_hours=1.5)) == "1.5 business hours"


@pytest.mark.parametrize(
    ("kind", "wants_contact", "due"),
    [
        ("contact", True, berlin(2026, 6, 12, 10, 0)),
        ("demo", False, berlin(2026, 6, 12, 10, 0)),
        ("pricing", False, berlin(2026, 6, 12, 10, 0)),
        ("download", False, berlin(2026, 6, 15, 9, 0)),
        # The white paper with "please have a salesperson contact me" ticked: a contact request.
        ("download", True, berlin(2026, 6, 12, 10, 0)),
        ("event", False, berlin(2026, 6, 15, 9, 0)),
        ("event", True, berlin(2026, 6, 12, 10, 0)),
    ],
)
def test_first_touch_due_per_kind(kind: str, wants_contact: bool, due: datetime) -> None:
    # Friday 09:00 in Berlin.
    received = berlin(2026, 6, 12, 9, 0)
    assert (
        first_touch_due(
            received_at=received, kind=kind, wants_contact=wants_contact, hours=berlin_office
        )
        == due
    )


def test_submitted_on_saturday_due_monday_ten() -> None:
    due = first_touch_due(
        received_at=berlin(2026, 6, 13, 15, 12),
        kind=RequestKind.CONTACT,
        wants_contact=True,
        hours=berlin_office,
    )
    assert due == berlin(2026, 6, 15, 10, 0)
    assert due.tzinfo is UTC


def test_a_teams_own_rules_and_an_unknown_kind() -> None:
    rules = {**DEFAULT_FIRST_TOUCH, "demo": FirstTouchRule(business_hours=0.25)}
    due = first_touch_due(
        received_at=berlin(2026, 6, 10, 10, 0),
        kind="demo",
        wants_contact=True,
        hours=berlin_office,
        rules=rules,
    )
    assert due == berlin(2026, 6, 10, 10, 15)  # its own rule is sooner than contact's
    with pytest.raises(ValueError, match="'webinar'"):
        first_touch_due(
            received_at=berlin(2026, 6, 10, 10, 0),
            kind="webinar",
            wants_contact=False,
            hours=berlin_office,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"business_hours": 1, "business_days": 1}, "exactly one"),
        ({"business_hours": 0}, "business_hours must be more than 0"),
        ({"business_hours": float("nan")}, "business_hours"),
        ({"business_days": 0}, "business_days must be a whole number more than 0"),
        ({"business_days": 1.5}, "business_days"),
    ],
)
def test_first_touch_rule_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FirstTouchRule(**kwargs)  # type: ignore[arg-type]


# --- reading the hours a team writes ----------------------------------------------------------


def test_parse_reads_days_ranges_lists_and_breaks() -> None:
    hours = WorkingHours.parse(
        "mon-wed, Fri 9:00–12:30, 13:30-17:30; Saturday 10:00-14:00; Sun closed",
        time_zone="UTC",
    )
    split = ((time(9), time(12, 30)), (time(13, 30), time(17, 30)))
    assert dict(hours.week) == {0: split, 1: split, 2: split, 4: split, 5: ((time(10), time(14)),)}
    assert hours.describe() == (
        "Mon-Wed 09:00-12:30, 13:30-17:30; Fri 09:00-12:30, 13:30-17:30; Sat 10:00-14:00"
    )
    assert WorkingHours.parse(hours.describe(), time_zone="UTC") == hours
    assert always_open.describe() == "Mon-Sun 00:00-24:00"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Mon-Fry 09:00-17:00", "unknown day 'Fry'"),
        ("Mon-Fri 9-17", "'9-17' is not hours like 09:00-17:00"),
        ("Mon 17:00-09:00", "'17:00-09:00' ends before it starts"),
        ("Mon 09:00-09:00", "'09:00-09:00' ends before it starts"),
        ("Mon 25:00-26:00", "'25:00' is not a time of day"),
        ("Mon 09:61-10:00", "'09:61' is not a time of day"),
        ("Mon 24:00-24:00", "starts at the end of the day"),
        ("Mon 09:00-12:00, 11:00-13:00", "09:00-12:00 overlaps 11:00-13:00"),
        ("Sat-Mon 09:00-10:00", "day range 'Sat-Mon' runs backwards"),
        ("Mon-Fri 09:00-17:00; Fri 10:00-11:00", "in 'Fri 10:00-11:00': Fri is already given"),
        ("Mon-Fri", "in 'Mon-Fri': expected days then hours"),
        ("", "no working hours given"),
        (" ; ", "no working hours given"),
        ("Mon-Sun closed", "no open hours at all: nothing would ever be due"),
    ],
)
def test_parse_errors_name_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        WorkingHours.parse(text, time_zone="UTC")


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"time_zone": "Europe/Berlinn"}, "unknown time zone 'Europe/Berlinn'"),
        ({"time_zone": ""}, "unknown time zone ''"),
        ({"time_zone": "UTC", "holiday_country": "XX"}, "country 'XX'"),
        (
            {"time_zone": "UTC", "holiday_country": "DE", "holiday_subdivision": "ZZ"},
            "subdivision 'ZZ'",
        ),
        ({"time_zone": "UTC", "holiday_subdivision": "BY"}, "needs a holiday country"),
    ],
)
def test_zone_and_holiday_errors(kwargs: dict[str, str], names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        WorkingHours.parse("Mon-Fri 09:00-17:00", **kwargs)  # type: ignore[arg-type]


def test_constructed_weeks_are_checked_too() -> None:
    with pytest.raises(ValueError, match="nothing would ever be due"):
        WorkingHours(week={})
    with pytest.raises(ValueError, match="nothing would ever be due"):
        WorkingHours(week={5: ()})
    with pytest.raises(ValueError, match="Mon 17:00-09:00: the end is not after the start"):
        WorkingHours(week={0: ((time(17), time(9)),)})
    with pytest.raises(ValueError, match="weekday"):
        WorkingHours(week={7: ((time(9), time(17)),)})


def test_hours_are_values() -> None:
    # Equal texts give equal, hashable hours (callers may cache per team).
    again = WorkingHours.parse(
        "Mon-Fri 09:00-17:00", time_zone="Europe/Berlin", holiday_country="de"
    )
    assert again == berlin_office
    assert hash(again) == hash(berlin_office)
    assert WorkingHours() == WorkingHours.parse("Mon-Fri 09:00-17:00", time_zone="UTC")


def test_a_closure_without_end_is_refused_not_looped_forever() -> None:
    forever_closed = WorkingHours(
        closed_dates=frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(800))
    )
    with pytest.raises(ValueError, match="no open hours in the 731 days after"):
        forever_closed.next_open(datetime(2026, 1, 1, tzinfo=UTC))


# --- properties -------------------------------------------------------------------------------

teams = st.sampled_from([berlin_office, berlin_lunch, new_york_office, always_open])
moments = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59),
    timezones=st.sampled_from([UTC, BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]),
)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))


def at_open_or_closing(hours: WorkingHours, moment: datetime) -> bool:
    return hours.is_open(moment) or hours.is_open(moment - timedelta(microseconds=1))


@given(hours=teams, start=moments, amount=amounts)
def test_business_time_between_inverts_add_business_time(
    hours: WorkingHours, start: datetime, amount: timedelta
) -> None:
    due = hours.add_business_time(start, amount)
    assert hours.business_time_between(start, due) == amount
    assert at_open_or_closing(hours, due)
    assert due >= start
    # No earlier moment would do: a microsecond less of open time lands strictly earlier.
    if amount:
        assert hours.add_business_time(start, amount - timedelta(microseconds=1)) < due


@given(hours=teams, start=moments, days=st.integers(min_value=0, max_value=30))
def test_business_days_land_on_open_time(hours: WorkingHours, start: datetime, days: int) -> None:
    due = hours.add_business_days(start, days)
    assert at_open_or_closing(hours, due)
    assert due >= hours.next_open(start)
    if days:
        assert hours.add_business_days(start, days - 1) < due


@given(hours=teams, moment=moments)
def test_next_open_is_open_and_nothing_before_it_is(hours: WorkingHours, moment: datetime) -> None:
    first = hours.next_open(moment)
    assert hours.is_open(first)
    assert hours.business_time_between(moment, first) == timedelta(0)
    assert hours.next_open(first) == first
    # In UTC: Python calls a time in a clocks-forward gap unequal to every time in another zone.
    assert hours.is_open(moment) == (first == moment.astimezone(UTC))
