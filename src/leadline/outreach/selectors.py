"""Reads for contact pressure: the gate's verdict (read only), the policy, a person's contact
state, marketing emails and their reports. The rules themselves are described in
`leadline.outreach.services`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from django.db.models import Count, Q, QuerySet

from leadline.capture.models import Consent
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, PersonPhone
from leadline.outreach.models import (
    ContactAttempt,
    ContactChannel,
    ContactPolicy,
    ContactPurpose,
    ContactState,
    DoNotContact,
    Newsletter,
    NewsletterRecipient,
    RecipientStatus,
)

WEEK = dt.timedelta(days=7)
MARKETING_CONSENT = "marketing_email"  # capture.services._consents writes this purpose
CHANNELS = frozenset(ContactChannel.values)
PURPOSES = frozenset(ContactPurpose.values)


@dataclasses.dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # plain words when refused: "3 touches this week (the limit is 3)"
    # "" | "do_not_contact" | "unsubscribed" | "no_consent" | "cap" | "quiet_hours" | "no_address"
    code: str
    next_allowed_at: (
        dt.datetime | None
    )  # when it could go (cap frees / quiet hours end); None: never


ALLOWED = Verdict(allowed=True, reason="", code="", next_allowed_at=None)


def _never(code: str, reason: str) -> Verdict:
    return Verdict(allowed=False, reason=reason, code=code, next_allowed_at=None)


def arguments_check(*, channel: str, purpose: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(sorted(CHANNELS))}, not {channel!r}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(sorted(PURPOSES))}, not {purpose!r}")


# The policy and time zones ---------------------------------------------------------------------


def contact_policy() -> ContactPolicy:
    """The policy in force: the stored row, or the defaults while nobody has changed them."""
    return ContactPolicy.objects.filter(pk=1).first() or ContactPolicy(pk=1)


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _zone_tab() -> str:
    for base in zoneinfo.TZPATH:
        path = Path(base) / "zone.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return ""


@functools.cache
def _country_zones() -> dict[str, str]:
    """Each country's main time zone: the first zone.tab lists for it (its most populous)."""
    zones: dict[str, str] = {}
    for line in _zone_tab().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            zones.setdefault(parts[0].upper(), parts[2])
    return zones


def country_zone(country: str) -> str:
    """ "DE" → "Europe/Berlin"; "" when unknown."""
    return _country_zones().get(country.strip().upper(), "")


def person_zone(*, person: Person, policy: ContactPolicy) -> zoneinfo.ZoneInfo:
    """Where quiet hours are counted for this person: their own time zone, else their
    country's main zone, else their current company's country's, else the policy's default."""
    candidates: list[str] = [person.time_zone, country_zone(person.country)]
    if not candidates[0] and not candidates[1]:
        countries = person.memberships.filter(is_current=True).values_list(
            "account__country", flat=True
        )
        candidates += [country_zone(c) for c in countries if c]
    candidates.append(policy.default_time_zone)
    for name in candidates:
        if zone := _zone(name):
            return zone
    return zoneinfo.ZoneInfo("UTC")


# Quiet hours and the cap (pure functions of times) ---------------------------------------------


def _quiet_at(local: dt.datetime, policy: ContactPolicy) -> bool:
    if policy.weekends_quiet and local.weekday() >= 5:
        return True
    start, end, time = policy.quiet_start, policy.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= time < end
    return time >= start or time < end


def quiet_until(
    moment: dt.datetime, *, zone: zoneinfo.ZoneInfo, policy: ContactPolicy
) -> dt.datetime | None:
    """None when `moment` is outside quiet hours in `zone`; else when the quiet time ends."""
    local = moment.astimezone(zone)
    if not _quiet_at(local, policy):
        return None
    # Quiet time ends at a day's quiet_end or at midnight (the end of a weekend).
    for days in range(9):
        day = local.date() + dt.timedelta(days=days)
        for time in sorted({policy.quiet_end, dt.time(0, 0)}):
            candidate = dt.datetime.combine(day, time, tzinfo=zone)
            if candidate > local and not _quiet_at(candidate, policy):
                return candidate.astimezone(dt.UTC)
    return None  # quiet all week: nothing can go


def touches_around(times: Iterable[dt.datetime], moment: dt.datetime) -> int:
    """The most touches any 7-day window holding `moment` has (not counting one at `moment`)."""
    times = list(times)
    most = 0
    # A window (end - 7 days, end] holds `moment` when end is in [moment, moment + 7 days);
    # its count only rises at a touch, so those ends are the ones to look at.
    for end in [moment, *(a for a in times if moment <= a < moment + WEEK)]:
        most = max(most, sum(1 for a in times if end - WEEK < a <= end))
    return most


def _cap_free(times: list[dt.datetime], moment: dt.datetime, cap: int) -> bool:
    return touches_around(times, moment) < cap


def _next_allowed(
    moment: dt.datetime,
    *,
    times: list[dt.datetime],
    cap: int,
    zone: zoneinfo.ZoneInfo,
    policy: ContactPolicy,
) -> dt.datetime | None:
    """The first time from `moment` that is outside quiet hours with room under the cap."""
    candidate = moment
    for _ in range(100):
        moved = False
        if not _cap_free(times, candidate, cap):
            frees = sorted(a + WEEK for a in times if a + WEEK > candidate)
            later = next((t for t in frees if _cap_free(times, t, cap)), None)
            if later is None:
                return None
            candidate, moved = later, True
        if (quiet_end := quiet_until(candidate, zone=zone, policy=policy)) is not None:
            candidate, moved = quiet_end, True
        if not moved:
            return candidate
    return None


# The verdict ------------------------------------------------------------------------------------


def _day(moment: dt.datetime) -> str:
    return f"{moment:%-d %b %Y}"


def _consent_withdrawn(person: Person) -> Consent | None:
    latest = (
        Consent.objects.filter(person=person, purpose=MARKETING_CONSENT)
        .order_by("-captured_at", "-pk")
        .first()
    )
    return latest if latest is not None and not latest.granted else None


def _has_address(person: Person, channel: str) -> bool:
    if channel == ContactChannel.EMAIL:
        return PersonEmail.objects.filter(person=person).exists()
    if channel == ContactChannel.PHONE:
        return PersonPhone.objects.filter(person=person).exists()
    return True


def contact_verdict(
    *,
    person: Person,
    channel: str,
    purpose: str,
    at: dt.datetime,
    state: ContactState | None,
    policy: ContactPolicy | None = None,
) -> Verdict:
    """The gate's verdict for one touch; `state` is the person's contact row (None: none yet).
    The rules are in leadline.outreach.services' docstring."""
    arguments_check(channel=channel, purpose=purpose)
    policy = policy or contact_policy()
    channel_label = ContactChannel(channel).label.lower()
    dnc = DoNotContact.objects.filter(person=person, channel=channel).first()
    if dnc is not None:
        because = f": {dnc.reason}" if dnc.reason else ""
        return _never("do_not_contact", f"Do not contact by {channel_label}{because}")
    if not _has_address(person, channel):
        missing = "email address" if channel == ContactChannel.EMAIL else "phone number"
        return _never("no_address", f"No {missing}")
    if purpose == ContactPurpose.MARKETING:
        if (withdrawn := _consent_withdrawn(person)) is not None:
            return _never(
                "no_consent",
                f"Said no to marketing email on {_day(withdrawn.captured_at)}",
            )
        if state is not None and state.unsubscribed:
            when = state.marketing_unsubscribed_at or state.sales_unsubscribed_at
            assert when is not None
            return _never("unsubscribed", f"Unsubscribed on {_day(when)}")
    elif (
        channel == ContactChannel.EMAIL
        and state is not None
        and state.sales_unsubscribed_at is not None
    ):
        return _never(
            "unsubscribed",
            f"Unsubscribed from our sales emails on {_day(state.sales_unsubscribed_at)}",
        )
    times = list(
        ContactAttempt.objects.filter(
            person=person, released_at__isnull=True, at__gt=at - WEEK
        ).values_list("at", flat=True)
    )
    zone = person_zone(person=person, policy=policy)
    cap = policy.weekly_cap
    if (count := touches_around(times, at)) >= cap:
        return Verdict(
            allowed=False,
            reason=f"{count} touches this week (the limit is {cap})",
            code="cap",
            next_allowed_at=_next_allowed(at, times=times, cap=cap, zone=zone, policy=policy),
        )
    if quiet_until(at, zone=zone, policy=policy) is not None:
        local = at.astimezone(zone)
        return Verdict(
            allowed=False,
            reason=f"Quiet hours where they are ({local:%A %H:%M}, {zone.key})",
            code="quiet_hours",
            next_allowed_at=_next_allowed(at, times=times, cap=cap, zone=zone, policy=policy),
        )
    return ALLOWED


def contact_check(
    *, person: Person, channel: str, purpose: str, at: dt.datetime | None = None
) -> Verdict:
    """What contact_reserve would answer now, without reserving anything (read only)."""
    state = ContactState.objects.filter(person=person).first()
    return contact_verdict(
        person=person, channel=channel, purpose=purpose, at=at or clock.now(), state=state
    )


# A person's contact card ------------------------------------------------------------------------


def touches_this_week(*, person: Person, at: dt.datetime | None = None) -> int:
    at = at or clock.now()
    return ContactAttempt.objects.filter(
        person=person, released_at__isnull=True, at__gt=at - WEEK, at__lte=at
    ).count()


def person_contact(*, person: Person, at: dt.datetime | None = None) -> dict[str, Any]:
    """What the person page's "Contact" card shows."""
    at = at or clock.now()
    policy = contact_policy()
    blocked = {d.channel: d for d in DoNotContact.objects.filter(person=person)}
    recent = list(
        ContactAttempt.objects.filter(person=person, released_at__isnull=True)
        .filter(at__gt=at - WEEK)
        .order_by("at")
    )
    return {
        "contact_policy": policy,
        "contact_state": ContactState.objects.filter(person=person).first(),
        "contact_channels": [
            {"value": value, "label": label, "blocked": blocked.get(value)}
            for value, label in ContactChannel.choices
        ],
        "contact_touches_week": sum(1 for a in recent if a.at <= at),
        "contact_touches_planned": [a for a in recent if a.at > at],
        "contact_marketing": contact_verdict(
            person=person,
            channel=ContactChannel.EMAIL,
            purpose=ContactPurpose.MARKETING,
            at=at,
            state=ContactState.objects.filter(person=person).first(),
            policy=policy,
        ),
        "contact_zone": person_zone(person=person, policy=policy).key,
    }


def do_not_contact_list(*, query: str = "") -> QuerySet[DoNotContact]:
    rows = DoNotContact.objects.select_related("person", "created_by").order_by("-created_at")
    if query:
        rows = rows.filter(
            Q(person__first_name__icontains=query)
            | Q(person__last_name__icontains=query)
            | Q(person__emails__email__icontains=query)
        ).distinct()
    return rows


def unsubscribed_people(*, limit: int = 50) -> QuerySet[ContactState]:
    return (
        ContactState.objects.filter(
            Q(marketing_unsubscribed_at__isnull=False) | Q(sales_unsubscribed_at__isnull=False)
        )
        .select_related("person")
        .order_by("-marketing_unsubscribed_at")[:limit]
    )


# Marketing emails -------------------------------------------------------------------------------


def newsletters_list() -> QuerySet[Newsletter]:
    return (
        Newsletter.objects.select_related("created_by")
        .annotate(
            sent_count=Count("recipients", filter=Q(recipients__status=RecipientStatus.SENT)),
            recipient_count=Count("recipients"),
        )
        .order_by("-created_at", "-pk")
    )


REPORT_LABELS = {
    "sent": "sent",
    "waiting": "waiting for the end of their quiet hours",
    "cap": "held by the weekly limit",
    "unsubscribed": "unsubscribed",
    "no_consent": "said no to marketing email",
    "do_not_contact": "do not contact",
    "no_address": "no email address",
    "quiet_hours": "quiet hours",
}


@dataclasses.dataclass(frozen=True)
class ReportLine:
    key: str
    label: str
    count: int


def newsletter_report(*, newsletter: Newsletter) -> list[ReportLine]:
    """How a send went: sent, waiting, and held by each reason (largest first after sent)."""
    counts: dict[str, int] = {}
    rows = (
        NewsletterRecipient.objects.filter(newsletter=newsletter)
        .values("status", "code")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        key = row["code"] if row["status"] == RecipientStatus.HELD else row["status"]
        counts[key] = counts.get(key, 0) + row["n"]
    lines = [
        ReportLine(key=key, label=REPORT_LABELS.get(key, key.replace("_", " ")), count=n)
        for key, n in counts.items()
    ]
    order = {"sent": 0, "waiting": 1}
    return sorted(lines, key=lambda line: (order.get(line.key, 2), -line.count, line.key))


def newsletter_report_text(*, newsletter: Newsletter) -> str:
    """ "held by the weekly limit: 12; unsubscribed: 3; sent: 240" (held first, then sent)."""
    lines = newsletter_report(newsletter=newsletter)
    held = [line for line in lines if line.key not in {"sent", "waiting"}]
    rest = [line for line in lines if line.key in {"waiting", "sent"}]
    return "; ".join(f"{line.label}: {line.count}" for line in [*held, *rest[::-1]])
