"""Business hours: when a team is open, and deadlines whose clock only runs while it is.

Plain arithmetic, no database: routing asks it when a request's first touch is due, the
inbox and the SLA board ask how much open time has passed. Every datetime going in must be
timezone-aware; every datetime coming out is in UTC.

How local hours become instants: each open day's hours ("09:00-17:00" in the team's zone) are
turned into UTC intervals [open, close) for that date, so a daylight-saving change simply makes
that night shorter or longer; the working day stays eight hours. A work time that does not exist
on the day the clocks go forward (02:30 in Berlin on the last Sunday of March) is read as if the
clocks had not changed yet (so it lands at 03:30); one that exists twice when they go back is
read as the first. Overnight shifts are not supported: split them at midnight
("Mon 22:00-24:00; Tue 00:00-06:00").
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

Interval = tuple[time, time]
Week = Mapping[int, tuple[Interval, ...]]

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# As the end of an interval, 00:00 means the midnight that ends the day (written "24:00").
END_OF_DAY = time(0)
ONE_DAY = timedelta(days=1)
# Longer than any real closure (a shutdown between the years, a summer break). A longer run of
# closed days means the hours or closed dates are wrong, and a deadline would never come.
LONGEST_CLOSURE = 731

_OFFICE_WEEK: Week = MappingProxyType(dict.fromkeys(range(5), ((time(9), time(17)),)))


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    # The holidays object computes a year lazily and grows when asked about other years; a frozen
    # set of one year's dates is cheaper to look up and safe to share between threads.
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found.keys())


@functools.lru_cache(maxsize=64)
def _check_holiday_region(country: str, subdivision: str) -> None:
    try:
        holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        where = f"country {country!r}" + (f", subdivision {subdivision!r}" if subdivision else "")
        raise ValueError(f"no public holidays known for {where}") from None


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _ends_after(start: time, end: time) -> bool:
    return end == END_OF_DAY or end > start


def _format_time(moment: time, *, is_end: bool = False) -> str:
    if is_end and moment == END_OF_DAY:
        return "24:00"
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def _format_interval(interval: Interval) -> str:
    start, end = interval
    return f"{_format_time(start)}-{_format_time(end, is_end=True)}"


def _normalized_week(week: Week) -> Week:
    """The week with each day's hours sorted and checked; days without hours left out."""
    normalized: dict[int, tuple[Interval, ...]] = {}
    for weekday, intervals in week.items():
        if weekday not in range(7):
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
        ordered = tuple(sorted(intervals))
        for start, end in ordered:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"{DAY_NAMES[weekday]}: hours are local times, without a zone")
            if not _ends_after(start, end):
                raise ValueError(
                    f"{DAY_NAMES[weekday]} {_format_interval((start, end))}: the end is not after "
                    "the start (hours past midnight: split them at 24:00)"
                )
        for earlier, later in itertools.pairwise(ordered):
            if earlier[1] == END_OF_DAY or later[0] < earlier[1]:
                raise ValueError(
                    f"{DAY_NAMES[weekday]}: {_format_interval(earlier)} overlaps "
                    f"{_format_interval(later)}"
                )
        if ordered:
            normalized[weekday] = ordered
    if not normalized:
        raise ValueError("the week has no open hours at all: nothing would ever be due")
    return MappingProxyType(normalized)


@dataclass(frozen=True)
class WorkingHours:
    """A team's week: per weekday (0 = Monday) its open hours as (start, end) local times; the
    team's time zone; the country (and optional subdivision, e.g. "DE" + "BY") whose public
    holidays close it, "" for none; and further closed dates (a company shutdown).

    Intervals are half-open: open at 09:00, closed again at 17:00. An end of 00:00 is the
    midnight that ends the day.
    """

    time_zone: str = "UTC"
    week: Week = field(default_factory=lambda: _OFFICE_WEEK)
    holiday_country: str = ""
    holiday_subdivision: str = ""
    closed_dates: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "week", _normalized_week(self.week))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        country = self.holiday_country.strip().upper()
        object.__setattr__(self, "holiday_country", country)
        if self.holiday_subdivision and not country:
            raise ValueError("a holiday subdivision needs a holiday country")
        if country:
            _check_holiday_region(country, self.holiday_subdivision)

    def __hash__(self) -> int:
        return hash(
            (
                self.time_zone,
                tuple(sorted(self.week.items())),
                self.holiday_country,
                self.holiday_subdivision,
                self.closed_dates,
            )
        )

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        time_zone: str,
        holiday_country: str = "",
        holiday_subdivision: str = "",
        closed_dates: Iterable[date] = (),
    ) -> WorkingHours:
        """Read the hours as a team writes them, e.g.
        "Mon-Fri 09:00-12:30, 13:30-17:30; Sat 10:00-14:00".

        Parts are separated by ";", each is days then hours. Days: a name (Mon, Monday, mo), a
        range (Mon-Fri) or a list (Mon,Wed,Fri). Hours: ranges separated by ",", or "closed".
        Unlisted days are closed. Raises ValueError naming the part that is wrong.
        """
        return cls(
            time_zone=time_zone,
            week=_parse_week(text),
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
            closed_dates=frozenset(closed_dates),
        )

    def describe(self) -> str:
        """The week in the form `parse` reads, consecutive days with equal hours joined."""
        parts: list[str] = []
        weekday = 0
        while weekday < 7:
            hours = self.week.get(weekday)
            last = weekday
            while last + 1 < 7 and self.week.get(last + 1) == hours:
                last += 1
            if hours:
                days = DAY_NAMES[weekday]
                if last > weekday:
                    days += f"-{DAY_NAMES[last]}"
                parts.append(f"{days} {', '.join(_format_interval(i) for i in hours)}")
            weekday = last + 1
        return "; ".join(parts)

    def is_open(self, moment: datetime) -> bool:
        at = _as_utc(moment, "moment")
        start, _ = next(self._open_from(at))
        return start == at

    def next_open(self, moment: datetime) -> datetime:
        """The first open moment at or after `moment` (`moment` itself when open)."""
        start, _ = next(self._open_from(_as_utc(moment, "moment")))
        return start

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of open time has passed since `start`.

        The clock only runs while open. When the amount runs out exactly at closing time, that
        closing time is the answer (a deadline at the end of the day, not the next morning).
        A zero amount gives `next_open(start)`: the soonest moment anyone could act.
        """
        if amount < timedelta(0):
            raise ValueError(f"amount must not be negative, got {amount}")
        left = amount
        for open_at, close_at in self._open_from(_as_utc(start, "start")):
            if left <= close_at - open_at:
                return open_at + left
            left -= close_at - open_at
        raise AssertionError("unreachable: the open intervals never end")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much open time lies between `start` and `end` (the inverse of add_business_time)."""
        since = _as_utc(start, "start")
        until = _as_utc(end, "end")
        if until < since:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        total = timedelta(0)
        if until == since:
            return total
        for open_at, close_at in self._open_from(since):
            if open_at >= until:
                break
            total += min(close_at, until) - open_at
        return total

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same local clock time `days` open days later.

        Precisely: count from `next_open(start)` (so a request that arrives on Saturday counts from
        Monday's opening); its local date and clock time are D and T. Step over the next `days`
        dates after D that have any open hours (weekends, holidays and closed dates do not count).
        On the date reached, the answer is T if open then; if T falls before opening or in a break,
        the next opening that day; if T is after that day's closing (shorter hours, say on
        Saturday), that day's closing time. Zero days gives `next_open(start)`.
        """
        if isinstance(days, bool) or days < 0:
            raise ValueError(f"days must be a whole number, 0 or more, got {days!r}")
        first = self.next_open(start)
        if days == 0:
            return first
        local = first.astimezone(self._zone)
        clock, day = local.time(), local.date()
        counted = closed_run = 0
        while counted < days:
            day += ONE_DAY
            if self._intervals_on(day):
                counted += 1
                closed_run = 0
            else:
                closed_run += 1
                self._check_closure(closed_run, first)
        at = self._utc(day, clock)
        intervals = self._intervals_on(day)
        for open_at, close_at in intervals:
            if at < close_at:
                return max(open_at, at)
        return intervals[-1][1]

    def _is_closed_day(self, day: date) -> bool:
        if day in self.closed_dates:
            return True
        return bool(self.holiday_country) and day in _public_holidays(
            self.holiday_country, self.holiday_subdivision, day.year
        )

    def _utc(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self._zone).astimezone(UTC)

    def _intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The date's open intervals in UTC (none on closed days)."""
        hours = self.week.get(day.weekday(), ())
        if not hours or self._is_closed_day(day):
            return []
        found = []
        for start, end in hours:
            open_at = self._utc(day, start)
            close_at = self._utc(day + ONE_DAY if end == END_OF_DAY else day, end)
            if close_at > open_at:  # not swallowed by the clocks going forward
                found.append((open_at, close_at))
        return found

    def _open_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals that end after `moment`, in order, none starting before it.

        Steps a date at a time, an interval at a time: cost grows with the number of open
        intervals passed, never with the length of time.
        """
        # The day before too: in an odd zone its hours may run past our local midnight.
        day = moment.astimezone(self._zone).date() - ONE_DAY
        last_close = moment
        closed_run = 0
        while True:
            closed_run += 1
            for open_at, close_at in self._intervals_on(day):
                # Clamped to the previous close: a time in the clocks-forward gap can overlap it.
                open_at = max(open_at, last_close)
                if close_at > open_at:
                    closed_run = 0
                    yield open_at, close_at
                    last_close = close_at
            self._check_closure(closed_run, moment)
            day += ONE_DAY

    def _check_closure(self, closed_days: int, since: datetime) -> None:
        if closed_days > LONGEST_CLOSURE:
            raise ValueError(
                f"no open hours in the {LONGEST_CLOSURE} days after {since.isoformat()}: "
                "check the team's hours and closed dates"
            )


_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
_HOURS_RANGE = re.compile(rf"{_TIME}\s*[-–]\s*{_TIME}")
_CLAUSE = re.compile(r"(?P<days>[^\d]+?)\s+(?P<hours>\d.*|closed)", re.IGNORECASE)


def _parse_day(name: str, clause: str) -> int:
    key = name.strip().lower()
    matches = [
        i for i, full in enumerate(_FULL_DAY_NAMES) if len(key) >= 2 and full.startswith(key)
    ]
    if len(matches) != 1:
        raise ValueError(
            f"in {clause!r}: unknown day {name.strip()!r} (use {', '.join(DAY_NAMES)})"
        )
    return matches[0]


def _parse_days(text: str, clause: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, dash, last = part.replace("–", "-").partition("-")
        if not dash:
            days.append(_parse_day(first, clause))
            continue
        start, end = _parse_day(first, clause), _parse_day(last, clause)
        if end < start:
            raise ValueError(
                f"in {clause!r}: day range {part.strip()!r} runs backwards (weeks start on Monday; "
                f"write e.g. '{DAY_NAMES[start]}-Sun, Mon"
                + (f"-{DAY_NAMES[end]}" if end else "")
                + "')"
            )
        days.extend(range(start, end + 1))
    return days


def _parse_time(hours: str, minutes: str, seconds: str | None, text: str, clause: str) -> time:
    h, m, s = int(hours), int(minutes), int(seconds or 0)
    if h == 24 and m == s == 0:
        return END_OF_DAY
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"in {clause!r}: {text!r} is not a time of day")
    return time(h, m, s)


def _parse_hours(text: str, clause: str) -> tuple[Interval, ...]:
    if text.strip().lower() == "closed":
        return ()
    intervals: list[Interval] = []
    for part in text.split(","):
        found = _HOURS_RANGE.fullmatch(part.strip())
        if not found:
            raise ValueError(f"in {clause!r}: {part.strip()!r} is not hours like 09:00-17:00")
        h1, m1, s1, h2, m2, s2 = found.groups()
        start_text, _, end_text = part.strip().replace("–", "-").partition("-")
        start = _parse_time(h1, m1, s1, start_text.strip(), clause)
        if start == END_OF_DAY and h1 == "24":
            raise ValueError(f"in {clause!r}: {part.strip()!r} starts at the end of the day")
        end = _parse_time(h2, m2, s2, end_text.strip(), clause)
        if not _ends_after(start, end):
            raise ValueError(
                f"in {clause!r}: {part.strip()!r} ends before it starts (hours past midnight: "
                "split them, e.g. 'Mon 22:00-24:00; Tue 00:00-06:00')"
            )
        intervals.append((start, end))
    intervals.sort()
    for earlier, later in itertools.pairwise(intervals):
        if earlier[1] == END_OF_DAY or later[0] < earlier[1]:
            raise ValueError(
                f"in {clause!r}: {_format_interval(earlier)} overlaps {_format_interval(later)}"
            )
    return tuple(intervals)


@functools.lru_cache(maxsize=256)
def _parse_week(text: str) -> Week:
    # Cached: routing reads a team's stored text for every request it routes.
    week: dict[int, tuple[Interval, ...]] = {}
    named: set[int] = set()
    for raw in text.split(";"):
        clause = raw.strip()
        if not clause:
            continue
        found = _CLAUSE.fullmatch(clause)
        if not found:
            raise ValueError(
                f"in {clause!r}: expected days then hours, "
                "e.g. 'Mon-Fri 09:00-17:00' or 'Sat closed'"
            )
        intervals = _parse_hours(found["hours"], clause)
        for day in _parse_days(found["days"], clause):
            if day in named:
                raise ValueError(f"in {clause!r}: {DAY_NAMES[day]} is already given earlier")
            named.add(day)
            if intervals:
                week[day] = intervals
    if not named:
        raise ValueError("no working hours given: write e.g. 'Mon-Fri 09:00-17:00'")
    if not week:
        raise ValueError(f"{text.strip()!r} has no open hours at all: nothing would ever be due")
    return MappingProxyType(week)


@dataclass(frozen=True)
class FirstTouchRule:
    """How soon a new request must be touched, in the owner team's open time: exactly one of
    business hours (1.5 = an hour and a half of open time) or business days (see
    `WorkingHours.add_business_days`)."""

    business_hours: float | None = None
    business_days: int | None = None

    def __post_init__(self) -> None:
        if (self.business_hours is None) == (self.business_days is None):
            raise ValueError(
                "a first-touch rule needs exactly one of business_hours, business_days"
            )
        if self.business_hours is not None and not (
            math.isfinite(self.business_hours) and self.business_hours > 0
        ):
            raise ValueError(f"business_hours must be more than 0, got {self.business_hours!r}")
        if self.business_days is not None and (
            isinstance(self.business_days, bool)
            or not isinstance(self.business_days, int)
            or self.business_days <= 0
        ):
            raise ValueError(
                f"business_days must be a whole number more than 0, got {self.business_days!r}"
            )

    def __str__(self) -> str:
        amount, unit = (
            (self.business_days, "business day")
            if self.business_days is not None
            else (self.business_hours, "business hour")
        )
        return f"{amount:g} {unit}" + ("" if amount == 1 else "s")

    def due(self, *, received_at: datetime, hours: WorkingHours) -> datetime:
        if self.business_days is not None:
            return hours.add_business_days(received_at, self.business_days)
        assert self.business_hours is not None
        return hours.add_business_time(received_at, timedelta(hours=self.business_hours))


# Keys are capture's request kinds. Someone who came for a download or an event may not want a
# call yet; someone asking for contact, a demo or a price is waiting for one, and the chance of
# reaching them falls fast after the first hour.
DEFAULT_FIRST_TOUCH: Mapping[str, FirstTouchRule] = MappingProxyType(
    {
        "contact": FirstTouchRule(business_hours=1),
        "demo": FirstTouchRule(business_hours=1),
        "pricing": FirstTouchRule(business_hours=1),
        "download": FirstTouchRule(business_days=1),
        "event": FirstTouchRule(business_days=1),
    }
)


def first_touch_due(
    *,
    received_at: datetime,
    kind: str,
    wants_contact: bool,
    hours: WorkingHours,
    rules: Mapping[str, FirstTouchRule] | None = None,
) -> datetime:
    """When the first touch of a new request is due (UTC).

    A request whose person ticked "please contact me" is due no later than a contact request:
    the white paper downloaded with the box ticked is a contact request, not a download.
    """
    rules = DEFAULT_FIRST_TOUCH if rules is None else rules
    rule = rules.get(kind)
    if rule is None:
        raise ValueError(
            f"no first-touch rule for request kind {kind!r} (known: {', '.join(rules)})"
        )
    due = rule.due(received_at=received_at, hours=hours)
    contact_rule = rules.get("contact")
    if wants_contact and contact_rule is not None and contact_rule != rule:
        due = min(due, contact_rule.due(received_at=received_at, hours=hours))
    return due
