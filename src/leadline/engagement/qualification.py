"""Qualification on two axes, each a number with the reasons behind it.

- Fit: their company and their job against the ideal customer profile in settings
  (LEADLINE_FIT_*): company size, industry, country, the person's function and seniority. The
  score is how many of those checks they meet.
- Interest: what they did in the last 90 days — page views, custom events, forms, requests to be
  contacted, conversations, email replies — each worth some points, halved every 30 days of age.

The lifecycle sweep compares these with settings.MQL_FIT_MIN and MQL_INTEREST_MIN
(engagement.services.qualification_evaluate); the person page's labels (insight.labels) put
them into words. Reads only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_countries import countries

from leadline.capture.models import Request, RequestKind
from leadline.core.models import Account, Membership, Person
from leadline.journeys.conversations import person_functions
from leadline.journeys.models import Event
from leadline.journeys.services import event_words


def day_words(moment: dt.datetime, now: dt.datetime) -> str:
    """ "12 Nov", or "12 Nov 2025" when not this year; in the viewer's time zone."""
    local = timezone.localtime(moment)
    if local.year == timezone.localtime(now).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def times_words(n: int, one: str, many: str) -> str:
    return one if n == 1 else many.format(n=n)


# Fit ---------------------------------------------------------------------------------------------

# Seniority from the job title, most senior first; any other title is an individual contributor.
SENIORITY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "executive",
        "An executive",
        (
            "chief",
            "cfo",
            "ceo",
            "coo",
            "cio",
            "cto",
            "vp",
            "vice president",
            "president",
            "founder",
            "co-founder",
            "owner",
            "managing director",
        ),
    ),
    ("director", "The head of a function", ("head", "director")),
    ("manager", "A manager", ("manager", "controller", "lead", "leader", "supervisor")),
)
STAFF = ("staff", "An individual contributor")


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def seniority(title: str) -> tuple[str, str] | None:
    """(level, in words) that a job title shows, or None for no title."""
    text = title.lower().strip()
    if not text:
        return None
    for level, words, markers in SENIORITY:
        if any(_has_word(text, marker) for marker in markers):
            return level, words
    return STAFF


@dataclasses.dataclass(frozen=True)
class Profile:
    """The ideal customer: settings.FIT_* (LEADLINE_FIT_* in the environment)."""

    employees_min: int
    employees_max: int
    industries: tuple[str, ...]
    countries: tuple[str, ...]
    functions: tuple[str, ...]
    seniorities: tuple[str, ...]

    @classmethod
    def from_settings(cls) -> Profile:
        return cls(
            employees_min=settings.FIT_EMPLOYEES_MIN,
            employees_max=settings.FIT_EMPLOYEES_MAX,
            industries=tuple(settings.FIT_INDUSTRIES),
            countries=tuple(c.upper() for c in settings.FIT_COUNTRIES),
            functions=tuple(f.lower() for f in settings.FIT_FUNCTIONS),
            seniorities=tuple(s.lower() for s in settings.FIT_SENIORITIES),
        )


@dataclasses.dataclass(frozen=True)
class Fit:
    """The profile's checks, each (met?, in words); `company`: None when no company is known;
    `company_known`: something is known of its size or industry."""

    checks: tuple[tuple[bool, str], ...]
    company: str | None
    company_known: bool

    @property
    def score(self) -> int:
        """How many checks they meet."""
        return sum(1 for ok, _ in self.checks if ok)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.checks)


def fit_score(*, person: Person, account: Account | None, profile: Profile) -> Fit:
    """How well they match the ideal customer profile; each check is one reason."""
    checks: list[tuple[bool, str]] = []
    size_range = f"{profile.employees_min:,} to {profile.employees_max:,}"
    company_known = False
    if account is not None:
        if account.employees is None:
            checks.append((False, f"{account.name}: company size not known"))
        else:
            company_known = True
            size = f"{account.name}: {account.employees:,} people"
            if account.employees < profile.employees_min:
                checks.append((False, f"{size} — smaller than the ideal range ({size_range})"))
            elif account.employees > profile.employees_max:
                checks.append((False, f"{size} — larger than the ideal range ({size_range})"))
            else:
                checks.append((True, f"{size} — in the ideal range ({size_range})"))
        if not account.industry:
            checks.append((False, "Industry not known"))
        else:
            company_known = True
            wanted = {i.lower() for i in profile.industries}
            if account.industry.lower() in wanted:
                checks.append((True, f"In {account.industry} — an industry in the profile"))
            else:
                checks.append((False, f"In {account.industry} — not an industry in the profile"))
    country = (account.country if account is not None else "") or person.country
    if country:
        name = countries.name(country) or country
        if country.upper() in profile.countries:
            checks.append((True, f"Based in {name} — a country in the profile"))
        else:
            checks.append((False, f"Based in {name} — not a country in the profile"))
    else:
        checks.append((False, "Country not known"))
    functions = person_functions(person)
    wanted_functions = " or ".join(profile.functions) or "any function"
    if not person.title and not person.role_own_words:
        checks.append((False, "No job title known"))
    elif not profile.functions or any(f in profile.functions for f in functions):
        shown = f" (“{person.title}”)" if person.title else ""
        matched = [f for f in functions if f in profile.functions] or functions
        checks.append((True, f"Works in {' and '.join(matched) or wanted_functions}{shown}"))
    else:
        shown = f"“{person.title}”" if person.title else "Their role"
        checks.append((False, f"{shown} — not in {wanted_functions}"))
    level = seniority(person.title)
    if level is None:
        checks.append((False, "Seniority not known (no job title)"))
    else:
        senior_enough = level[0] in profile.seniorities
        verdict = "senior enough" if senior_enough else "less senior than the profile"
        checks.append((senior_enough, f"{level[1]} (“{person.title}”) — {verdict}"))
    return Fit(
        checks=tuple(checks),
        company=account.name if account is not None else None,
        company_known=company_known,
    )


# Interest ----------------------------------------------------------------------------------------

INTEREST_DAYS = 90
HALF_LIFE_DAYS = 30  # a signal this old counts half
TOP_SIGNALS = 3
MAX_EVENTS = 2000  # the most recent in the window; more would not change the verdict

# Points per signal, before its age halves them.
POINTS_PAGE_VIEW = 1.0
POINTS_KEY_PAGE_VIEW = 3.0  # pages people look at when they are deciding
KEY_PAGES = ("/pricing", "/demo")
POINTS_EVENT = 2.0  # a custom event from the site or another system
POINTS_EVENTS: dict[str, float] = {
    "conversation": 6.0,
    "email_replied": 6.0,
    "email_clicked": 2.0,
    "email_opened": 0.5,
}
POINTS_FORM = 5.0
POINTS_CONTACT = 8.0
# Signals the capture app records as events too ("request:<id>:…"): counted from the requests.
MIRRORED = ("form_submitted", "contact_requested")


@dataclasses.dataclass
class _Group:
    """Signals of one kind (the same page, event or form), for the reasons."""

    kind: str
    subject: str
    count: int = 0
    points: float = 0.0
    first: dt.datetime | None = None
    last: dt.datetime | None = None

    def add(self, at: dt.datetime, points: float) -> None:
        self.count += 1
        self.points += points
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last

    def words(self, now: dt.datetime) -> str:
        assert self.first is not None
        assert self.last is not None
        last = day_words(self.last, now)
        days = max(1, math.ceil((now - self.first) / dt.timedelta(days=1)))
        n = self.count
        if self.kind == "page":
            if n == 1:
                return f"Visited {self.subject} on {last}"
            return f"Visited {self.subject} {n} times in the last {days} days"
        if self.kind == "contact":
            return times_words(
                n,
                f"Asked to be contacted on {last}",
                f"Asked to be contacted {n} times, last on {last}",
            )
        if self.kind == "form":
            return times_words(
                n,
                f"Sent “{self.subject}” on {last}",
                f"Sent “{self.subject}” {n} times, last on {last}",
            )
        if self.subject == "conversation":
            return times_words(
                n,
                f"Took part in a conversation on {last}",
                f"Took part in {n} conversations, the last on {last}",
            )
        if self.subject == "email_replied":
            return times_words(
                n, f"Replied to an email on {last}", f"Replied to {n} emails, the last on {last}"
            )
        words = event_words(self.subject, {})
        return times_words(n, f"{words} on {last}", f"{words} {n} times, last on {last}")


def _decay(at: dt.datetime, now: dt.datetime) -> float:
    age = max(0.0, (now - at) / dt.timedelta(days=1))
    return float(0.5 ** (age / HALF_LIFE_DAYS))


def request_subject(row: Mapping[str, Any]) -> str:
    if row["form__title"]:
        return str(row["form__title"])
    return f"a {RequestKind(row['kind']).label.lower()} request"


@dataclasses.dataclass(frozen=True)
class Interest:
    """`score`: the recency-weighted points; `signals`: how many counted; `reasons`: the top
    signals in words, then the score line (empty when there were no signals)."""

    score: float
    signals: int
    reasons: tuple[str, ...]


def interest_score(
    *,
    events: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> Interest:
    """Recency-weighted engagement in the last INTEREST_DAYS days (or since `since`, if later:
    a recycled lead qualifies again only on what they did after coming back to nurture)."""
    start = now - dt.timedelta(days=INTEREST_DAYS)
    if since is not None and since > start:
        start = since
    groups: dict[tuple[str, str], _Group] = {}

    def add(kind: str, subject: str, at: dt.datetime, points: float) -> None:
        group = groups.setdefault((kind, subject), _Group(kind=kind, subject=subject))
        group.add(at, points * _decay(at, now))

    for event in events:
        at, name = event["occurred_at"], event["name"]
        if at < start or at > now:
            continue
        if name in MIRRORED and event["dedupe_key"].startswith("request:"):
            continue
        if name == "page_view":
            path = event["path"] or "a page"
            key = any(path.startswith(p) for p in KEY_PAGES)
            add("page", path, at, POINTS_KEY_PAGE_VIEW if key else POINTS_PAGE_VIEW)
        else:
            add("event", name, at, POINTS_EVENTS.get(name, POINTS_EVENT))
    for row in requests:
        at = row["created_at"]
        if at < start or at > now:
            continue
        if row["wants_contact"]:
            add("contact", "", at, POINTS_CONTACT)
        else:
            add("form", request_subject(row), at, POINTS_FORM)

    score = sum(g.points for g in groups.values())
    signals = sum(g.count for g in groups.values())
    if not signals:
        return Interest(score=0.0, signals=0, reasons=())
    top = sorted(groups.values(), key=lambda g: (-g.points, g.kind, g.subject))[:TOP_SIGNALS]
    reasons = [g.words(now) for g in top]
    if len(groups) > TOP_SIGNALS:
        others = signals - sum(g.count for g in top)
        reasons.append(times_words(others, "and 1 other signal", f"and {others} other signals"))
    reasons.append(
        f"Score {score:.0f} from {times_words(signals, '1 signal', f'{signals} signals')} in the "
        f"last {INTEREST_DAYS} days (a signal counts half after {HALF_LIFE_DAYS} days)"
    )
    return Interest(score=score, signals=signals, reasons=tuple(reasons))


# Reading what the scores need ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Signals:
    """What the two scores look at for one person, read once (three queries)."""

    account: Account | None
    events: Sequence[Mapping[str, Any]]
    requests: Sequence[Mapping[str, Any]]  # newest first


def signals_read(*, person: Person, now: dt.datetime) -> Signals:
    membership = (
        Membership.objects.filter(person=person, is_current=True)
        .select_related("account")
        .order_by("-created_at", "-pk")
        .first()
    )
    since = now - dt.timedelta(days=INTEREST_DAYS)
    events = list(
        Event.objects.filter(person=person, occurred_at__gte=since, occurred_at__lte=now)
        .order_by("-occurred_at", "-id")
        .values("name", "path", "occurred_at", "dedupe_key")[:MAX_EVENTS]
    )
    requests = list(
        Request.objects.filter(person=person, created_at__lte=now)
        .order_by("-created_at", "-pk")
        .values("kind", "wants_contact", "status", "created_at", "form__title")
    )
    return Signals(
        account=membership.account if membership is not None else None,
        events=events,
        requests=requests,
    )


@dataclasses.dataclass(frozen=True)
class Qualification:
    fit: Fit
    interest: Interest


def qualification_read(
    *, person: Person, now: dt.datetime, interest_since: dt.datetime | None = None
) -> Qualification:
    """Both scores for one person, with their reasons."""
    signals = signals_read(person=person, now=now)
    return Qualification(
        fit=fit_score(person=person, account=signals.account, profile=Profile.from_settings()),
        interest=interest_score(
            events=signals.events, requests=signals.requests, now=now, since=interest_since
        ),
    )
