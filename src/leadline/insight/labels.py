"""The labels on a person's page — journey step, fit, interest, lifecycle — each with why.

A label is a short value ("Strong fit", "High interest", "Opportunity") and the signals behind
it in plain words, with figures and dates ("Visited /pricing 3 times in the last 14 days"), so
that a seller can check it rather than trust it.

- Journey step: where they are on their journey (journeys.selectors.journey_places) and the last
  move's cause.
- Fit: their company and their job against the ideal customer profile in settings
  (LEADLINE_FIT_*): company size, industry, country, the person's function and seniority.
- Interest: what they did in the last 90 days — page views, custom events, forms, requests to be
  contacted, conversations, email replies — each worth some points, halved every 30 days of age.
- Lifecycle: the furthest stage whose rule holds, from LIFECYCLE (one table, read top-down).

Reads only; a fixed number of queries per person, whatever their history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django_countries import countries

from leadline.capture.models import Consent, Request, RequestKind, RequestStatus
from leadline.core.models import Account, Membership, Person
from leadline.journeys.conversations import person_functions
from leadline.journeys.models import Conversation, Event
from leadline.journeys.selectors import Place, journey_places
from leadline.journeys.services import event_words
from leadline.routing.models import Ownership, Touch

Tone = Literal["good", "neutral", "low"]


@dataclasses.dataclass(frozen=True)
class Label:
    """One label: `name` ("Fit"), `value` in a few words ("Strong fit"), a `tone` for styling
    (good / neutral / low) and `why`: the signals behind it, one sentence each."""

    key: str
    name: str
    value: str
    tone: Tone
    why: tuple[str, ...]


def _day(moment: dt.datetime, now: dt.datetime) -> str:
    """ "12 Nov", or "12 Nov 2025" when not this year; in the viewer's time zone."""
    local = timezone.localtime(moment)
    if local.year == timezone.localtime(now).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def _times(n: int, one: str, many: str) -> str:
    return one if n == 1 else many.format(n=n)


# Journey step ------------------------------------------------------------------------------------


def journey_label(places: Sequence[Place], *, now: dt.datetime) -> Label:
    """The step of the journey they last moved on; why: the step's place, the move's cause."""
    placed = [p for p in places if p.position is not None]
    if not placed:
        return Label(
            key="journey",
            name="Journey step",
            value="Not started",
            tone="low",
            why=("Not on a journey yet: no signal has placed them, and nobody has by hand",),
        )
    placed.sort(key=lambda p: p.position.since if p.position else now, reverse=True)
    why = []
    for place in placed:
        position = place.position
        assert position is not None
        why.append(
            f"{place.journey.name}: step {position.step.position} of {len(place.steps)}, "
            f"“{position.step.name}”, since {_day(position.since, now)}"
        )
        last = place.last
        if last is not None:
            text = f"Moved there on {_day(last.transition.at, now)} — {last.why}"
            if last.transition.note:
                text += f" (“{last.transition.note}”)"
            why.append(text)
    current = placed[0].position
    assert current is not None
    return Label(
        key="journey", name="Journey step", value=current.step.name, tone="neutral", why=tuple(why)
    )


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


FIT_STRONG = 4  # of the five checks
FIT_PARTIAL = 2


def fit_label(*, person: Person, account: Account | None, profile: Profile) -> Label:
    """How well they match the ideal customer profile; each check is one line of why."""
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

    why = tuple(text for _, text in checks)
    if account is None:
        return Label(
            key="fit",
            name="Fit",
            value="Unknown fit",
            tone="neutral",
            why=("No company known", *why),
        )
    if not company_known:
        return Label(
            key="fit",
            name="Fit",
            value="Unknown fit",
            tone="neutral",
            why=(f"Nothing known about {account.name}'s size or industry", *why),
        )
    met = sum(1 for ok, _ in checks if ok)
    score = f"Meets {met} of {len(checks)} points of the ideal customer profile"
    if met >= FIT_STRONG:
        return Label(key="fit", name="Fit", value="Strong fit", tone="good", why=(score, *why))
    if met >= FIT_PARTIAL:
        return Label(key="fit", name="Fit", value="Partial fit", tone="neutral", why=(score, *why))
    return Label(key="fit", name="Fit", value="Poor fit", tone="low", why=(score, *why))


# Interest ----------------------------------------------------------------------------------------

INTEREST_DAYS = 90
HALF_LIFE_DAYS = 30  # a signal this old counts half
INTEREST_HIGH = 15.0
INTEREST_MEDIUM = 6.0
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
    """Signals of one kind (the same page, event or form), for the why list."""

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
        last = _day(self.last, now)
        days = max(1, math.ceil((now - self.first) / dt.timedelta(days=1)))
        n = self.count
        if self.kind == "page":
            if n == 1:
                return f"Visited {self.subject} on {last}"
            return f"Visited {self.subject} {n} times in the last {days} days"
        if self.kind == "contact":
            return _times(
                n,
                f"Asked to be contacted on {last}",
                f"Asked to be contacted {n} times, last on {last}",
            )
        if self.kind == "form":
            return _times(
                n,
                f"Sent “{self.subject}” on {last}",
                f"Sent “{self.subject}” {n} times, last on {last}",
            )
        if self.subject == "conversation":
            return _times(
                n,
                f"Took part in a conversation on {last}",
                f"Took part in {n} conversations, the last on {last}",
            )
        if self.subject == "email_replied":
            return _times(
                n, f"Replied to an email on {last}", f"Replied to {n} emails, the last on {last}"
            )
        words = event_words(self.subject, {})
        return _times(n, f"{words} on {last}", f"{words} {n} times, last on {last}")


def _decay(at: dt.datetime, now: dt.datetime) -> float:
    age = max(0.0, (now - at) / dt.timedelta(days=1))
    return float(0.5 ** (age / HALF_LIFE_DAYS))


def _request_subject(row: Mapping[str, Any]) -> str:
    if row["form__title"]:
        return str(row["form__title"])
    return f"a {RequestKind(row['kind']).label.lower()} request"


def interest_label(
    *, events: Sequence[Mapping[str, Any]], requests: Sequence[Mapping[str, Any]], now: dt.datetime
) -> Label:
    """Recency-weighted engagement in the last INTEREST_DAYS days; why: the top signals."""
    since = now - dt.timedelta(days=INTEREST_DAYS)
    groups: dict[tuple[str, str], _Group] = {}

    def add(kind: str, subject: str, at: dt.datetime, points: float) -> None:
        group = groups.setdefault((kind, subject), _Group(kind=kind, subject=subject))
        group.add(at, points * _decay(at, now))

    for event in events:
        at, name = event["occurred_at"], event["name"]
        if at < since or at > now:
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
        if at < since or at > now:
            continue
        if row["wants_contact"]:
            add("contact", "", at, POINTS_CONTACT)
        else:
            add("form", _request_subject(row), at, POINTS_FORM)

    score = sum(g.points for g in groups.values())
    signals = sum(g.count for g in groups.values())
    if not signals:
        return Label(
            key="interest",
            name="Interest",
            value="No interest shown",
            tone="low",
            why=(f"No visits, events or requests in the last {INTEREST_DAYS} days",),
        )
    top = sorted(groups.values(), key=lambda g: (-g.points, g.kind, g.subject))[:TOP_SIGNALS]
    why = [g.words(now) for g in top]
    if len(groups) > TOP_SIGNALS:
        others = signals - sum(g.count for g in top)
        why.append(_times(others, "and 1 other signal", f"and {others} other signals"))
    why.append(
        f"Score {score:.0f} from {_times(signals, '1 signal', f'{signals} signals')} in the last "
        f"{INTEREST_DAYS} days (a signal counts half after {HALF_LIFE_DAYS} days)"
    )
    levels: tuple[tuple[float, str, Tone], ...] = (
        (INTEREST_HIGH, "High interest", "good"),
        (INTEREST_MEDIUM, "Medium interest", "neutral"),
        (0.0, "Low interest", "low"),
    )
    _, value, tone = next(level for level in levels if score >= level[0])
    return Label(key="interest", name="Interest", value=value, tone=tone, why=tuple(why))


# Lifecycle ---------------------------------------------------------------------------------------

OPPORTUNITY_STEP = "Comparing vendors"
CUSTOMER_STEP = "Getting value"
SIGNED_EVENT = "contract_signed"
MARKETING_CONSENT = "marketing_email"
HAND_RAISING = (RequestKind.CONTACT, RequestKind.DEMO, RequestKind.PRICING)


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the lifecycle rules look at, read once."""

    person: Person
    now: dt.datetime
    places: Sequence[Place]
    requests: Sequence[Mapping[str, Any]]  # newest first
    last_touch: Touch | None
    last_conversation: Conversation | None
    owner: Ownership | None
    signed: dt.datetime | None
    marketing_consent: Consent | None


def _step_reached(place: Place, name: str) -> bool:
    """On `place`, at the step called `name` or a later one (False if no step is called so)."""
    if place.position is None:
        return False
    named = [s.position for s in place.steps if s.name.lower() == name.lower()]
    return bool(named) and place.position.step.position >= named[0]


def _customer(f: Facts) -> str | None:
    if f.signed is not None:
        return f"Signed on {_day(f.signed, f.now)}"
    for place in f.places:
        if place.position is not None and _step_reached(place, CUSTOMER_STEP):
            step = place.position.step.name
            return f"At “{step}” on {place.journey.name} since {_day(place.position.since, f.now)}"
    return None


def _opportunity(f: Facts) -> str | None:
    if f.owner is None:
        return None
    for place in f.places:
        if place.position is not None and _step_reached(place, OPPORTUNITY_STEP):
            step = place.position.step.name
            whose = "their" if f.owner.person_id else "their company's"
            return (
                f"At “{step}” on {place.journey.name} since "
                f"{_day(place.position.since, f.now)}, and {f.owner.owner} is {whose} owner"
            )
    return None


def _in_conversation(f: Facts) -> str | None:
    touch, talk = f.last_touch, f.last_conversation
    if touch is not None and (talk is None or touch.at >= talk.occurred_at):
        what = touch.get_kind_display()
        if touch.outcome:
            what += f" ({touch.get_outcome_display().lower()})"
        by = f" by {touch.user}" if touch.user is not None else ""
        return f"{what}{by} on {_day(touch.at, f.now)}"
    if talk is not None:
        return f"{talk.get_kind_display()} logged on {_day(talk.occurred_at, f.now)}"
    return None


def _sales_ready(f: Facts) -> str | None:
    for row in f.requests:
        if row["wants_contact"]:
            return f"Asked to be contacted on {_day(row['created_at'], f.now)}"
    for row in f.requests:
        if row["status"] == RequestStatus.OPEN and row["kind"] in HAND_RAISING:
            kind = RequestKind(row["kind"]).label
            return f"Open {kind.lower()} request since {_day(row['created_at'], f.now)}"
    return None


def _lead(f: Facts) -> str | None:
    if not f.requests:
        return None
    first = f.requests[-1]
    text = f"First request on {_day(first['created_at'], f.now)}: {_request_subject(first)}"
    if len(f.requests) > 1:
        text += f" ({len(f.requests)} requests in all)"
    return text


def _subscriber(f: Facts) -> str | None:
    if f.marketing_consent is not None:
        return f"Agreed to marketing email on {_day(f.marketing_consent.captured_at, f.now)}"
    return f"Known since {_day(f.person.created_at, f.now)}; has asked for nothing yet"


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    tone: Tone
    rule: str  # in words, for the docs and the tests
    holds: Callable[[Facts], str | None]  # why, when it holds


# The lifecycle, furthest first: a person is at the first stage whose rule holds.
LIFECYCLE: tuple[Stage, ...] = (
    Stage("Customer", "good", f"Signed, or at “{CUSTOMER_STEP}” on a journey", _customer),
    Stage(
        "Opportunity",
        "good",
        f"At “{OPPORTUNITY_STEP}” or later on a journey, with an owner",
        _opportunity,
    ),
    Stage(
        "In conversation",
        "good",
        "A seller touched them, or a conversation was logged",
        _in_conversation,
    ),
    Stage(
        "Sales-ready lead",
        "good",
        "Asked to be contacted, or has an open contact, demo or pricing request",
        _sales_ready,
    ),
    Stage("Lead", "neutral", "Sent a form or a request", _lead),
    Stage("Subscriber", "low", "Known to us, nothing asked for yet", _subscriber),
)


def lifecycle_label(facts: Facts) -> Label:
    for stage in LIFECYCLE:
        why = stage.holds(facts)
        if why is not None:
            return Label(
                key="lifecycle", name="Lifecycle", value=stage.name, tone=stage.tone, why=(why,)
            )
    raise AssertionError("the last stage always holds")  # pragma: no cover


# All of them -------------------------------------------------------------------------------------


def person_labels(
    *, person: Person, now: dt.datetime, places: Sequence[Place] | None = None
) -> list[Label]:
    """The four labels for a person's page, in the order shown. `places`: their journey places
    when the caller has them already (saves reading them again)."""
    if places is None:
        places = journey_places(person=person)
    membership = (
        Membership.objects.filter(person=person, is_current=True)
        .select_related("account")
        .order_by("-created_at", "-pk")
        .first()
    )
    account = membership.account if membership is not None else None
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
    owners = Q(person=person)
    if account is not None:
        owners |= Q(account=account)
    owner = (
        Ownership.objects.filter(owners, ended_at__isnull=True)
        .select_related("owner")
        # The person's own owner first, else their company's.
        .order_by(F("account_id").asc(nulls_first=True), "-started_at")
        .first()
    )
    signed = (
        Event.objects.filter(person=person, name=SIGNED_EVENT, occurred_at__lte=now)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    facts = Facts(
        person=person,
        now=now,
        places=places,
        requests=requests,
        last_touch=Touch.objects.filter(person=person, at__lte=now)
        .select_related("user")
        .order_by("-at", "-pk")
        .first(),
        last_conversation=Conversation.objects.filter(people=person, occurred_at__lte=now)
        .order_by("-occurred_at", "-pk")
        .first(),
        owner=owner,
        signed=signed,
        marketing_consent=Consent.objects.filter(
            person=person, granted=True, purpose=MARKETING_CONSENT
        )
        .order_by("captured_at", "pk")
        .first(),
    )
    return [
        journey_label(places, now=now),
        fit_label(person=person, account=account, profile=Profile.from_settings()),
        interest_label(events=events, requests=requests, now=now),
        lifecycle_label(facts),
    ]
