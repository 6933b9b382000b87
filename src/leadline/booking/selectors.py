"""Reads for booking: who a page books with, their hours, what they have taken, the free slots."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet

from leadline.booking.links import invite_path
from leadline.booking.models import BookableHours, BookingPage, Meeting, MeetingStatus
from leadline.booking.slots import Interval, Slot, host_free_times, slots_union
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import Absence, Ownership

HOST_ROLES = (Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP)
# Round robin looks back this far when it counts who has had the most meetings from a page.
ROUND_ROBIN_WINDOW = dt.timedelta(days=28)
DEFAULT_HOURS = "Mon-Fri 09:00-17:00"


def zone_name(name: str) -> str:
    """The IANA zone if it is one, else ""."""
    if not name:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ""
    return name


def host_zone(user: User) -> str:
    """The zone a seller's bookable hours are read in: theirs, else their team's, else UTC."""
    team_zone = user.team.time_zone if user.team_id and user.team else ""
    return zone_name(user.time_zone) or zone_name(team_zone) or "UTC"


def host_hours_text(user: User) -> str:
    """What a seller wrote as their bookable hours; without that, their team's working hours."""
    # The reverse one-to-one raises (an AttributeError) when they have set none.
    own: BookableHours | None = getattr(user, "bookable_hours", None)
    if own is not None:
        return own.hours
    if user.team_id and user.team:
        return user.team.working_hours
    return DEFAULT_HOURS


def host_hours(user: User) -> WorkingHours:
    country = user.team.country if user.team_id and user.team else ""
    return WorkingHours.parse(
        host_hours_text(user), time_zone=host_zone(user), holiday_country=country
    )


def page_hosts(page: BookingPage) -> list[User]:
    """Who a page books with: its seller, or the team's active sellers (in id order)."""
    users = (
        User.objects.filter(is_active=True, role__in=HOST_ROLES)
        .exclude(departs_at__lte=clock.now())  # left: their handover date has come
        .select_related("team", "bookable_hours")
    )
    if page.user_id is not None:
        return list(users.filter(pk=page.user_id))
    assert page.team_id is not None  # a page is of a seller or of a team
    return list(users.filter(team_id=page.team_id).order_by("pk"))


def _taken(
    host_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    *,
    buffer: dt.timedelta,
    exclude_meeting_id: int | None,
) -> dict[int, list[Interval]]:
    """Per host, the times they cannot meet in [start, end): their booked meetings widened by the
    buffer on both sides, and their absences."""
    taken: dict[int, list[Interval]] = {pk: [] for pk in host_ids}
    meetings = Meeting.objects.filter(
        host_id__in=host_ids,
        status=MeetingStatus.BOOKED,
        starts_at__lt=end + buffer,
        ends_at__gt=start - buffer,
    )
    if exclude_meeting_id is not None:
        meetings = meetings.exclude(pk=exclude_meeting_id)
    for host_id, s, e in meetings.values_list("host_id", "starts_at", "ends_at"):
        taken[host_id].append((s - buffer, e + buffer))
    absences = Absence.objects.filter(user_id__in=host_ids, starts_at__lt=end, ends_at__gt=start)
    for user_id, s, e in absences.values_list("user_id", "starts_at", "ends_at"):
        taken[user_id].append((s, e))
    return taken


def free_slots(
    *,
    page: BookingPage,
    start: dt.datetime,
    end: dt.datetime,
    hosts: Iterable[User] | None = None,
    exclude_meeting: Meeting | None = None,
) -> list[Slot]:
    """The slots of `page` starting in [start, end), no sooner than its notice from now and no
    later than its horizon: each host's bookable hours minus their meetings (with the buffer)
    and absences. A team page gives the union of its members' slots. `hosts` narrows the sellers
    (a meeting being moved stays with its host); `exclude_meeting` is not counted as taken."""
    now = clock.now()
    length = dt.timedelta(minutes=page.length_minutes)
    start = max(start, now + dt.timedelta(minutes=page.notice_minutes))
    end = min(end, now + dt.timedelta(days=page.horizon_days))
    if end <= start or not page.active:
        return []
    sellers = list(hosts) if hosts is not None else page_hosts(page)
    buffer = dt.timedelta(minutes=page.buffer_minutes)
    taken = _taken(
        [u.pk for u in sellers],
        start,
        end + length,
        buffer=buffer,
        exclude_meeting_id=exclude_meeting.pk if exclude_meeting else None,
    )
    per_host: dict[int, list[Interval]] = {}
    for seller in sellers:
        try:
            hours = host_hours(seller)
        except ValueError:
            continue  # hours nobody can read offer no slots (the settings page says why)
        per_host[seller.pk] = host_free_times(
            hours=hours, length=length, start=start, end=end, busy=taken[seller.pk]
        )
    return slots_union(per_host)


def round_robin_pick(*, page: BookingPage, candidates: Sequence[int], at: dt.datetime) -> int:
    """Whose turn it is among the sellers free at that time: the one with the fewest meetings
    booked through this page in the last four weeks; when that ties, the one whose last such
    meeting was booked longest ago (never: first); then the lowest id. The same data always
    gives the same answer."""
    if not candidates:
        raise ValueError("nobody to pick from")
    stats = {
        row["host_id"]: (row["n"], row["last"])
        for row in Meeting.objects.filter(
            page=page,
            host_id__in=candidates,
            status=MeetingStatus.BOOKED,
            created_at__gte=at - ROUND_ROBIN_WINDOW,
        )
        .values("host_id")
        .annotate(n=Count("id"), last=Max("created_at"))
    }
    never = dt.datetime.min.replace(tzinfo=dt.UTC)

    def turn(host_id: int) -> tuple[int, dt.datetime, int]:
        count, last = stats.get(host_id, (0, None))
        return count, last or never, host_id

    return min(candidates, key=turn)


def page_for_slug(slug: str) -> BookingPage | None:
    return BookingPage.objects.select_related("user", "team").filter(slug=slug, active=True).first()


def pages_visible(user: User) -> QuerySet[BookingPage]:
    """The pages a seller sees on their booking page: their own and their team's."""
    mine = Q(user=user)
    if user.team_id:
        mine |= Q(team_id=user.team_id)
    return BookingPage.objects.filter(mine).select_related("user", "team")


def meetings_upcoming(*, user: User | None = None, limit: int = 50) -> QuerySet[Meeting]:
    rows = Meeting.objects.filter(
        status=MeetingStatus.BOOKED, ends_at__gt=clock.now()
    ).select_related("person", "host", "page")
    if user is not None:
        rows = rows.filter(host=user)
    return rows.order_by("starts_at", "id")[:limit]


def may_record_outcome(user: User, meeting: Meeting) -> bool:
    """Whether `user` may say a meeting was held or a no-show: its host, the manager of the
    host's team, an admin."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role == Role.ADMIN or meeting.host_id == user.pk:
        return True
    host = meeting.host
    return bool(host.team_id and host.team and host.team.manager_id == user.pk)


def meetings_awaiting_outcome(*, user: User, limit: int = 50) -> QuerySet[Meeting]:
    """The host's booked meetings that have started in the last 30 days and have no outcome."""
    now = clock.now()
    return (
        Meeting.objects.filter(
            host=user,
            status=MeetingStatus.BOOKED,
            outcome="",
            starts_at__lte=now,
            starts_at__gt=now - dt.timedelta(days=30),
        )
        .select_related("person", "host", "page")
        .order_by("-starts_at", "-id")[:limit]
    )


def person_meetings(*, person: Person) -> dict[str, object]:
    """For the person's page: their meetings, the coming ones first."""
    rows = list(
        Meeting.objects.filter(person=person)
        .select_related("host", "host__team")
        .order_by("-starts_at")[:20]
    )
    now = clock.now()
    page = appointment_page(person=person)
    return {
        # A link to send them: the page they would be booked on, signed for them.
        "booking_invite": invite_path(page, person) if page is not None else "",
        "meetings_upcoming": [
            m for m in rows if m.status == MeetingStatus.BOOKED and m.ends_at > now
        ][::-1],
        "meetings_past": [
            m for m in rows if not (m.status == MeetingStatus.BOOKED and m.ends_at > now)
        ],
        "now": now,
    }


def appointment_page(*, person: Person) -> BookingPage | None:
    """Where an appointment set on a call is booked: with the person's owner when they have one
    with an active page of their own; else the default page (settings.BOOKING_DEFAULT_PAGE);
    else the oldest active team page."""
    owner_id = (
        Ownership.objects.filter(person=person, ended_at__isnull=True)
        .values_list("owner_id", flat=True)
        .first()
    )
    active = BookingPage.objects.filter(active=True)
    if owner_id is not None:
        own = (
            active.filter(user_id=owner_id, user__is_active=True)
            .order_by("created_at", "id")
            .first()
        )
        if own is not None:
            return own
    if settings.BOOKING_DEFAULT_PAGE:
        default = active.filter(slug=settings.BOOKING_DEFAULT_PAGE).first()
        if default is not None:
            return default
    return active.filter(team__isnull=False).order_by("created_at", "id").first()
