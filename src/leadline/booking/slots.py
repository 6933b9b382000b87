"""Free slots as plain arithmetic, no database: a host's bookable hours, cut into meetings of the
page's length, minus what is taken (meetings widened by the buffer, absences).

Slots start at the opening of each bookable window and follow one another at the meeting's
length (09:00, 09:30, 10:00 …), so what a prospect sees does not shift with the minute they load
the page. Every datetime going in must be timezone-aware; every one coming out is in UTC.
The hours are turned into instants the way routing.business_hours does it, date by date in the
host's zone, so a daylight-saving change leaves the local hours as they are.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from leadline.routing.business_hours import END_OF_DAY, WorkingHours

Interval = tuple[dt.datetime, dt.datetime]
ONE_DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Slot:
    """A time a meeting can start; `hosts`: the ids of the sellers free then (one on a seller's
    own page, any of a team's members on a team page)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    hosts: tuple[int, ...] = ()


def _utc(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=zone).astimezone(dt.UTC)


def open_windows(hours: WorkingHours, start: dt.datetime, end: dt.datetime) -> Iterator[Interval]:
    """The bookable windows (UTC, in order) that overlap [start, end): public holidays and closed
    dates of `hours` left out."""
    zone = ZoneInfo(hours.time_zone)
    day = start.astimezone(zone).date() - ONE_DAY
    last = end.astimezone(zone).date() + ONE_DAY
    while day <= last:
        for opens, closes in hours.week.get(day.weekday(), ()):
            open_at = _utc(day, opens, zone)
            close_at = _utc(day + ONE_DAY if closes == END_OF_DAY else day, closes, zone)
            if close_at <= open_at or close_at <= start or open_at >= end:
                continue
            # A holiday or a closed date: business hours knows them, and says it is closed.
            if not hours.is_open(open_at):
                continue
            yield open_at, close_at
        day += ONE_DAY


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The intervals sorted, overlapping or touching ones joined."""
    joined: list[Interval] = []
    for start, end in sorted(intervals):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def host_free_times(
    *,
    hours: WorkingHours,
    length: dt.timedelta,
    start: dt.datetime,
    end: dt.datetime,
    busy: Iterable[Interval] = (),
) -> list[Interval]:
    """The meetings of `length` that could start in [start, end) within the hours without
    overlapping anything `busy` (already widened by any buffer)."""
    if length <= dt.timedelta(0):
        raise ValueError(f"a meeting must last some time, got {length}")
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    if end <= start:
        return []
    taken = merged(busy)
    starts = [s for s, _ in taken]
    found: list[Interval] = []
    for open_at, close_at in open_windows(hours, start, end + length):
        at = open_at
        while at + length <= close_at and at < end:
            if at >= start and not _overlaps(taken, starts, at, at + length):
                found.append((at, at + length))
            at += length
    return found


def _overlaps(
    taken: list[Interval], starts: list[dt.datetime], s: dt.datetime, e: dt.datetime
) -> bool:
    # The taken intervals are merged and sorted: only the last one starting before `e` can
    # reach into [s, e).
    i = bisect.bisect_left(starts, e) - 1
    return i >= 0 and taken[i][1] > s


def slots_union(per_host: dict[int, list[Interval]]) -> list[Slot]:
    """The slots any host is free for, each with every host free then (ids in order)."""
    hosts: dict[Interval, list[int]] = {}
    for host, times in sorted(per_host.items()):
        for interval in times:
            hosts.setdefault(interval, []).append(host)
    return [Slot(s, e, tuple(ids)) for (s, e), ids in sorted(hosts.items())]
