"""Deterministic demo data: believable companies and the people in them, months of their history.

Two steps. `demo_plan` decides everything from a seed (a `random.Random` and a seeded `Faker`
passed around, no global random state, no database); `demo_store` writes the plan through the
real capture path — raw `Submission` rows, then `submission_process` — so the demo shows what
the product would have made of those visitors, and how its sellers followed up: their touches,
and the escalation ladder's steps where they were late (`selling`). Submissions are laid out
before `until` (midnight UTC), never relative to the wall clock, and the clock is frozen at each
simulated moment while the services run, so the same seed, size and `until` store the same rows.
The sellers' follow-ups run on past `until` up to the moment of generation (see `demo_store`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import phonenumbers
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django_countries import countries
from faker import Faker

from leadline.capture.ingest import form_spec, form_spec_forget
from leadline.capture.models import PERSON_FIELDS, Asset, Form, Request, RequestKind, Submission
from leadline.capture.services import (
    asset_create,
    asset_download_record,
    form_save,
    request_handlers_run,
    submission_process,
)
from leadline.capture.validation import FormSpec, submission_clean
from leadline.core import clock
from leadline.core.models import (
    Account,
    AccountDomain,
    Person,
    PersonEmail,
    Role,
    Team,
    User,
)
from leadline.core.services import person_update
from leadline.demo import DEMO_LOGINS, DEMO_PASSWORD, banks
from leadline.demo.booking import booking_demo
from leadline.demo.cadences import cadences_demo
from leadline.demo.calls import calls_demo
from leadline.demo.campaigns import campaigns_demo
from leadline.demo.commitments import commitments_demo
from leadline.demo.effectiveness import effectiveness_demo
from leadline.demo.engagement import engagement_demo
from leadline.demo.feedback import feedback_demo
from leadline.demo.goals import goals_demo
from leadline.demo.inbound import inbound_demo
from leadline.demo.insight import insight_demo
from leadline.demo.journeys import JourneyHistory, signals_tasks_drop
from leadline.demo.outreach import outreach_demo
from leadline.demo.pdf import TITLE as WHITE_PAPER_TITLE
from leadline.demo.pdf import white_paper_pdf
from leadline.demo.selling import (
    DOWNLOAD,
    NOTE,
    PROCESS,
    Replay,
    SellerCache,
    TouchPlan,
    history_settle,
    history_tasks_drop,
    ladder_catch_up,
    plan_touches,
)
from leadline.journeys.models import TrackingSite
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.routing.models import CallOutcome, RoutingRule, Touch

T = TypeVar("T")
_NOT_YET = dt.datetime.min.replace(tzinfo=dt.UTC)
BATCH_PEOPLE = 500
WINDOW_DAYS = 270  # about nine months of history
WEBINAR_DAYS_BEFORE_UNTIL = 40
WHITE_PAPER_FILE = "cfo-guide.pdf"

# ---------------------------------------------------------------------------------------------
# The selling team. The first five are the demo logins printed by `leadline demo`.


@dataclasses.dataclass(frozen=True)
class UserPlan:
    username: str
    first_name: str
    last_name: str
    role: str
    team: str | None
    time_zone: str
    staff: bool = False


TEAMS: dict[str, tuple[str, str, str]] = {
    # name: (manager, time zone, country)
    "Inside Sales EMEA": ("sam", "Europe/London", "GB"),
    "Inside Sales Americas": ("dana", "America/New_York", "US"),
}
SELLERS: tuple[UserPlan, ...] = (
    UserPlan("admin", "Alex", "Whitaker", Role.ADMIN, None, "Europe/London", staff=True),
    UserPlan("maria", "Maria", "Lindqvist", Role.MARKETING, None, "Europe/Stockholm"),
    UserPlan("sam", "Sam", "Okafor", Role.SALES_MANAGER, "Inside Sales EMEA", "Europe/London"),
    UserPlan("rita", "Rita", "Santos", Role.SALES_REP, "Inside Sales EMEA", "Europe/Lisbon"),
    UserPlan("otto", "Otto", "Berg", Role.OUTSIDE_CALLER, None, "Europe/Berlin"),
    UserPlan(
        "dana", "Dana", "Whitfield", Role.SALES_MANAGER, "Inside Sales Americas", "America/New_York"
    ),
    UserPlan("jonas", "Jonas", "Keller", Role.SALES_REP, "Inside Sales EMEA", "Europe/Berlin"),
    UserPlan("amira", "Amira", "Haddad", Role.SALES_REP, "Inside Sales EMEA", "Europe/Paris"),
    UserPlan("liam", "Liam", "Byrne", Role.SALES_REP, "Inside Sales EMEA", "Europe/Dublin"),
    UserPlan(
        "priya", "Priya", "Raman", Role.SALES_REP, "Inside Sales Americas", "America/New_York"
    ),
    UserPlan(
        "tyler", "Tyler", "Brooks", Role.SALES_REP, "Inside Sales Americas", "America/Chicago"
    ),
    UserPlan(
        "carmen", "Carmen", "Ortiz", Role.SALES_REP, "Inside Sales Americas", "America/Mexico_City"
    ),
)
assert [u.username for u in SELLERS[: len(DEMO_LOGINS)]] == [name for name, _ in DEMO_LOGINS]

# ---------------------------------------------------------------------------------------------
# The forms marketing built.

# The sites the demo's forms and tracking site accept (issue 9: nothing listed, no other site):
# the demo company's own, and a page on the machine it runs on, whatever its port.
DEMO_ORIGINS = "\n".join([banks.SITE, "http://localhost:*", "http://127.0.0.1:*"])

FORMS: dict[str, dict[str, Any]] = {
    "cfo-guide": {
        "name": "CFO guide (white paper)",
        "title": "Get the CFO's guide to closing the books faster",
        "intro": "Five habits of finance teams that close in five days. Free, 12 pages.",
        "request_kind": RequestKind.DOWNLOAD,
        "fields": [
            {"name": "email", "required": True},
            {"name": "first_name", "required": True},
            {"name": "last_name"},
            {"name": "company"},
            {"name": "role_own_words"},
            {"name": "phone", "label": "Phone (if you'd like a call)"},
            {"name": "message", "label": "Anything you're wrestling with at month-end?"},
        ],
        "contact_box": True,
        "consent_text": "Send me Closewise's monthly finance digest. I can unsubscribe any time.",
        "campaign": "Q4 finance push",
        "journey": "Finance leaders: close faster",
        "submit_label": "Send me the guide",
        "thank_you_title": "Your guide is ready",
    },
    "demo-request": {
        "name": "Demo request",
        "title": "See Closewise with your own close calendar",
        "intro": "A 30-minute call with someone who has run a close, not a script.",
        "request_kind": RequestKind.DEMO,
        "fields": [
            {"name": "email", "required": True},
            {"name": "first_name", "required": True},
            {"name": "last_name", "required": True},
            {"name": "company", "required": True},
            {"name": "title"},
            {"name": "role_own_words"},
            {"name": "phone"},
            # Options spelled out: submission_clean does not fall back to PERSON_FIELDS' own.
            {
                "name": "preferred_channel",
                "type": "select",
                "options": PERSON_FIELDS["preferred_channel"]["options"],
            },
            {"name": "message", "label": "What should we show you?"},
        ],
        "contact_box": False,
        "consent_text": "",
        "campaign": "",
        "journey": "Evaluation",
        "submit_label": "Book my demo",
        "thank_you_title": "Thanks, we'll be in touch within one working day",
    },
    "pricing": {
        "name": "Pricing enquiry",
        "title": "Get a price for your team",
        "intro": "Tell us a little about your close and we'll send a quote.",
        "request_kind": RequestKind.PRICING,
        "fields": [
            {"name": "email", "required": True},
            {"name": "first_name"},
            {"name": "last_name"},
            {"name": "company"},
            {"name": "role_own_words"},
            {"name": "message", "label": "What are you hoping to replace?"},
        ],
        "contact_box": True,
        "consent_text": "",
        "campaign": "",
        "journey": "Evaluation",
        "submit_label": "Send me pricing",
        "thank_you_title": "Thanks, a quote is on its way",
    },
    "webinar-close-faster": {
        "name": "Webinar: close faster",
        "title": "Live: how three controllers cut their close in half",
        "intro": "45 minutes, three finance teams, no slides about us.",
        "request_kind": RequestKind.EVENT,
        "fields": [
            {"name": "email", "required": True},
            {"name": "first_name", "required": True},
            {"name": "last_name"},
            {"name": "company"},
            {"name": "role_own_words"},
            {"name": "country", "required": True},
        ],
        "contact_box": True,
        "consent_text": "Send me the recording and the occasional useful email.",
        "campaign": "Q4 finance push",
        "journey": "Finance leaders: close faster",
        "submit_label": "Save my seat",
        "thank_you_title": "You're registered",
    },
}
FIRST_FORM_WEIGHTS = {
    "cfo-guide": 45,
    "webinar-close-faster": 18,
    "pricing": 15,
    "demo-request": 22,
}
NEXT_FORMS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "cfo-guide": (("pricing", "webinar-close-faster", "demo-request"), (4, 3, 3)),
    "webinar-close-faster": (("cfo-guide", "demo-request", "pricing"), (4, 4, 2)),
    "pricing": (("demo-request", "cfo-guide"), (7, 3)),
    "demo-request": (("pricing", "cfo-guide"), (6, 4)),
}

# ---------------------------------------------------------------------------------------------
# The plan: everything decided, nothing stored.


@dataclasses.dataclass
class CompanyPlan:
    name: str
    domain: str
    industry: str
    employees: int
    country: str
    description: str
    culture_notes: str
    weight: float
    known_since: dt.datetime = _NOT_YET  # set once its people are planned
    first_seen: dt.datetime | None = None


@dataclasses.dataclass
class SubmissionPlan:
    form: str
    received_at: dt.datetime
    processed_at: dt.datetime
    data: dict[str, Any]  # what the browser posted
    idempotency_key: str
    meta: dict[str, str]
    downloaded_at: dt.datetime | None  # when they opened the gated asset, if they did
    # How the owner of the request it makes follows up (see `selling`).
    touches: list[TouchPlan] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class NotePlan:
    """What enrichment found out about the person just after they first came in. What a rep
    learns on the phone is on the call's `TouchPlan.learned`."""

    at: dt.datetime
    changes: dict[str, str]


@dataclasses.dataclass
class PersonPlan:
    email: str
    first_name: str
    last_name: str
    own_words: str
    company: int | None  # index into DemoPlan.companies, when the address is a work one
    submissions: list[SubmissionPlan]
    note: NotePlan
    page_views: list[tuple[dt.datetime, str]]


@dataclasses.dataclass
class DemoPlan:
    seed: int
    until: dt.datetime
    companies: list[CompanyPlan]
    people: list[PersonPlan]


def _weighted(rng: random.Random, options: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(options, weights=weights)[0]


@functools.cache
def _faker() -> Any:
    # Building sixteen locales takes about half a second; the instance is re-seeded per plan.
    return Faker([locale for locale, *_ in banks.COUNTRIES.values()])


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in folded if c.isalnum() or c in ".-")


def _slug(text: str) -> str:
    return "-".join(part for part in (_ascii(w) for w in text.split()) if part).strip("-.")


@dataclasses.dataclass
class _Context:
    rng: random.Random
    fake: Any
    until: dt.datetime
    webinar_at: dt.datetime
    used_emails: set[str]
    used_domains: set[str]
    used_company_names: set[str]
    country_codes: list[str]
    country_weights: list[int]

    def country(self) -> str:
        return _weighted(self.rng, self.country_codes, self.country_weights)

    def locale(self, country: str) -> Any:
        return self.fake[banks.COUNTRIES[country][0]]

    def key(self) -> str:
        return f"demo-{self.rng.getrandbits(96):024x}"


def _moment(ctx: _Context, day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """A working-hours moment on `day` (or the Friday before), in UTC, before `until`."""
    rng = ctx.rng
    while True:
        if day.weekday() >= 5 and rng.random() < 0.85:
            day -= dt.timedelta(days=day.weekday() - 4)
        hour = _weighted(rng, range(7, 21), (2, 5, 9, 10, 10, 8, 7, 9, 9, 8, 6, 4, 3, 2))
        local = dt.datetime.combine(
            day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz
        )
        moment = local.astimezone(dt.UTC)
        if moment < ctx.until - dt.timedelta(hours=1):
            return moment
        day -= dt.timedelta(days=1)


def _plan_company(ctx: _Context) -> CompanyPlan:
    rng = ctx.rng
    country = ctx.country()
    local = ctx.locale(country)
    industry = _weighted(rng, list(banks.INDUSTRIES), [1] * len(banks.INDUSTRIES))
    words, offerings = banks.INDUSTRIES[industry]
    legal = rng.choice(banks.COUNTRIES[country][4])
    while True:
        style = rng.random()
        if style < 0.5:
            base = f"{local.last_name()} {rng.choice(words)}"
        elif style < 0.75:
            base = f"{rng.choice(banks.CITIES[country])} {rng.choice(words)}"
        else:
            base = local.last_name() + rng.choice((" & ", " and ")) + local.last_name()
        name = f"{base} {legal}"
        domain = f"{_slug(base)}.example"
        if name not in ctx.used_company_names and domain not in ctx.used_domains:
            break
    ctx.used_company_names.add(name)
    ctx.used_domains.add(domain)
    # Mostly mid-market, a long tail of large groups.
    employees = int(round(10 ** rng.uniform(1.7, 4.3), -1))
    offering = rng.choice(offerings)
    description = (
        f"{offering[0].upper()}{offering[1:]}; about {employees:,} people, "
        f"head office in {rng.choice(banks.CITIES[country])}."
    )
    notes = rng.choice(banks.CULTURE_NOTES) if rng.random() < 0.3 else ""
    return CompanyPlan(
        name=name,
        domain=domain,
        industry=industry,
        employees=employees,
        country=country,
        description=description,
        culture_notes=notes,
        weight=1 + employees**0.35,
    )


def _phone(ctx: _Context, country: str) -> str:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None, f"phonenumbers has no example mobile number for {country}"
    digits = str(example.national_number)
    for _ in range(5):
        tail = "".join(str(ctx.rng.randrange(10)) for _ in range(min(5, len(digits) - 3)))
        number = phonenumbers.parse(f"+{example.country_code}{digits[: -len(tail)]}{tail}")
        if phonenumbers.is_valid_number(number):
            break
    else:
        number = example
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# First octets of public address space handed to European and American providers.
_OCTETS = {
    "EMEA": (31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93),
    "Americas": (23, 24, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98),
}


def _ip(ctx: _Context, region: str) -> str:
    # Faker's ipv4_public is exact but slow; a person needs one plausible address.
    rest = (ctx.rng.randrange(256), ctx.rng.randrange(256), ctx.rng.randrange(1, 255))
    return ".".join(str(o) for o in (ctx.rng.choice(_OCTETS[region]), *rest))


def _email(ctx: _Context, first: str, last: str, domain: str, *, free: bool) -> str:
    rng = ctx.rng
    f, la = _ascii(first.split()[0]) or "info", _ascii(last.split()[-1]) or "contact"
    if free:
        local = rng.choice((f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}"))
        local += rng.choice(("", "", str(rng.randrange(1, 99)), str(rng.randrange(1960, 2002))))
    else:
        local = _weighted(rng, (f"{f}.{la}", f"{f[0]}{la}", f, f"{f}{la[0]}"), (6, 3, 1, 1))
    email = f"{local}@{domain}"
    n = 2
    while email in ctx.used_emails:
        email = f"{local}{n}@{domain}"
        n += 1
    ctx.used_emails.add(email)
    return email


def _channel(ctx: _Context, later: bool) -> tuple[str, str, str, str, str, str]:
    weights = [c[6] for c in banks.CHANNELS]
    if later:  # returning visitors come back by newsletter and bookmarks more than by ads
        weights = [w * (3 if c[1] == "email" or not c[5] else 1) for w, c in zip(
            weights, banks.CHANNELS, strict=True)]  # fmt: skip
    source, medium, campaigns, terms, contents, referrer, _ = _weighted(
        ctx.rng, banks.CHANNELS, weights
    )
    rng = ctx.rng
    return source, medium, rng.choice(campaigns), rng.choice(terms), rng.choice(contents), referrer


def _page_url(path: str, utm: tuple[str, str, str, str, str, str]) -> str:
    source, medium, campaign, term, content, _ = utm
    params = [
        f"{name}={value.replace(' ', '+')}"
        for name, value in (
            ("utm_source", source),
            ("utm_medium", medium),
            ("utm_campaign", campaign),
            ("utm_term", term),
            ("utm_content", content),
        )
        if value
    ]
    return f"{banks.SITE}{path}" + ("?" + "&".join(params) if params else "")


def _session(
    ctx: _Context, end: dt.datetime, *, last_path: str | None, pages: int
) -> list[tuple[dt.datetime, str]]:
    """A visit of `pages` page views ending at `end`, landing on `last_path` if given."""
    paths = [p for p, _ in banks.PAGES]
    weights = [w for _, w in banks.PAGES]
    views = []
    moment = end
    for i in range(pages):
        path = last_path if (i == 0 and last_path) else _weighted(ctx.rng, paths, weights)
        views.append((moment, path))
        moment -= dt.timedelta(seconds=ctx.rng.randint(15, 240))
    return views[::-1]


def _form_sequence(ctx: _Context, tz: ZoneInfo) -> list[tuple[str, dt.datetime]]:
    rng = ctx.rng
    until_day = ctx.until.date()
    webinar_day = ctx.webinar_at.date()
    form = _weighted(rng, list(FIRST_FORM_WEIGHTS), list(FIRST_FORM_WEIGHTS.values()))
    if form == "webinar-close-faster":
        day = webinar_day - dt.timedelta(days=rng.randint(1, 35))
    else:
        day = until_day - dt.timedelta(days=1 + int((WINDOW_DAYS - 1) * rng.random() ** 1.3))
    sequence = [(form, _moment(ctx, day, tz))]
    visits = _weighted(rng, (1, 2, 3), (70, 22, 8))
    while len(sequence) < visits:
        options, weights = NEXT_FORMS[form]
        form = _weighted(rng, options, weights)
        day = sequence[-1][1].date() + dt.timedelta(days=2 + int(60 * rng.random() ** 2))
        if form == "webinar-close-faster" and not (
            webinar_day - dt.timedelta(days=35) <= day < webinar_day
        ):
            form = "pricing"
        if day >= until_day:
            break
        moment = _moment(ctx, day, tz)
        if moment <= sequence[-1][1]:
            break
        sequence.append((form, moment))
    return sequence


def _plan_person(ctx: _Context, companies: list[CompanyPlan], weights: list[float]) -> PersonPlan:
    rng = ctx.rng
    company_index: int | None = None
    if companies and rng.random() < 0.78:
        company_index = _weighted(rng, range(len(companies)), weights)
        company = companies[company_index]
        # Most people work where their company is based; a few sit in another office.
        country = company.country if rng.random() < 0.85 else ctx.country()
    else:
        company = None
        country = ctx.country()
    local = ctx.locale(country)
    first, last = local.first_name(), local.last_name()
    _, zones, _, region, _ = banks.COUNTRIES[country]
    zone_name = rng.choice(zones)
    tz = _zone(zone_name)

    free = company is None
    domain = company.domain if company else rng.choice(
        banks.FREE_MAIL.get(country, banks.FREE_MAIL_DEFAULT))  # fmt: skip
    email = _email(ctx, first, last, domain, free=free)
    # Someone on a private address may still name their employer, or their own small firm.
    small_firm = f"{last} {rng.choice(banks.SMALL_FIRM_WORDS)}"
    if company is not None:
        company_name = company.name
    elif companies and rng.random() < 0.45:
        company_name = companies[_weighted(rng, range(len(companies)), weights)].name
    else:
        company_name = small_firm if rng.random() < 0.1 else ""

    own_words, title, cares_keys, _ = _weighted(rng, banks.ROLES, [r[3] for r in banks.ROLES])
    cares_key = rng.choice(cares_keys)
    cares_about, messages = banks.CARES[cares_key]
    phone = _phone(ctx, country) if rng.random() < 0.55 else ""
    channel = _weighted(rng, ("email", "phone", "video", "chat"), (5, 3, 4, 1))
    visitor_id = f"v-{rng.getrandbits(64):016x}"
    ip = _ip(ctx, region)
    user_agent = local.user_agent()

    submissions = []
    views: list[tuple[dt.datetime, str]] = []
    phone_known = False
    sequence = _form_sequence(ctx, tz)
    for n, (slug, received_at) in enumerate(sequence):
        spec = FORMS[slug]
        names = {f["name"] for f in spec["fields"]}
        utm = _channel(ctx, later=n > 0)
        landing = banks.LANDING_PAGES[slug]
        page_url = _page_url(landing, utm)
        values: dict[str, Any] = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": company_name,
            "title": title,
            "role_own_words": own_words,
            "phone": phone,
            "country": countries.name(country),
            "preferred_channel": channel,
            "message": rng.choice(messages) if rng.random() < 0.55 else "",
        }
        if not company_name and any(
            f["name"] == "company" and f.get("required") for f in spec["fields"]
        ):
            values["company"] = small_firm
        data = {k: v for k, v in values.items() if k in names and v}
        if spec["contact_box"] and rng.random() < 0.35:
            data["contact_me"] = "on"
        if spec["consent_text"] and rng.random() < 0.7:
            data["consent"] = "on"
        data.update(
            {
                k: v
                for k, v in zip(
                    ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                     "referrer"),
                    utm,
                    strict=True,
                )
                if v
            }
        )  # fmt: skip
        data["page_url"] = page_url
        data["visitor_id"] = visitor_id
        embedded = rng.random() < 0.4
        meta = {
            "ip": ip,
            "user_agent": user_agent,
            "origin": banks.SITE if embedded else "",
            "channel": "json" if embedded else "form_post",
        }
        processed_at = received_at + dt.timedelta(milliseconds=rng.randint(120, 4000))
        downloaded_at = None
        if spec["request_kind"] == RequestKind.DOWNLOAD and rng.random() < 0.85:
            downloaded_at = processed_at + dt.timedelta(seconds=rng.randint(2, 90))
        phone_known = phone_known or "phone" in data
        touches = plan_touches(
            rng,
            kind=spec["request_kind"],
            wants_contact="contact_me" in data,
            has_phone=phone_known,
            cares=cares_about,
        )
        submissions.append(
            SubmissionPlan(
                slug, received_at, processed_at, data, ctx.key(), meta, downloaded_at, touches
            )
        )
        # This visit, and for first-timers some earlier browsing, before the form.
        views += _session(
            ctx,
            received_at - dt.timedelta(seconds=rng.randint(20, 300)),
            last_path=page_url.removeprefix(banks.SITE),
            pages=rng.randint(1, 4),
        )
        for _ in range(rng.randint(0, 3) if n == 0 else rng.randint(0, 1)):
            day = received_at.date() - dt.timedelta(days=rng.randint(1, 30))
            views += _session(ctx, _moment(ctx, day, tz), last_path=None, pages=rng.randint(1, 3))
    last_seen = sequence[-1][1]
    for _ in range(rng.randint(0, 2)):
        later = _moment(ctx, last_seen.date() + dt.timedelta(days=rng.randint(1, 40)), tz)
        if later > last_seen:
            views += _session(ctx, later, last_path=rng.choice(banks.LATER_PAGES), pages=2)
    views.sort()

    profile = {"title": title, "time_zone": zone_name, "country": country}
    if any(s.data.get("message") for s in submissions):
        profile["cares_about"] = cares_about
    note = NotePlan(submissions[0].processed_at + dt.timedelta(seconds=1), profile)
    # The rep who first reaches them on the phone writes down what they learned.
    connected = next(
        (t for s in submissions for t in s.touches if t.outcome == CallOutcome.CONNECTED), None
    )
    if connected is not None:
        connected.learned = {
            "cares_about": cares_about,
            "preferred_channel": channel,
            "preferred_hours": rng.choice(banks.PREFERRED_HOURS),
        }
        if rng.random() < 0.3:
            connected.learned["personal_context"] = rng.choice(banks.PERSONAL_CONTEXT)

    if company is not None:
        seen = submissions[0].received_at
        company.first_seen = min(company.first_seen or seen, seen)
    return PersonPlan(email, first, last, own_words, company_index, submissions, note, views)


def _seed_int(*parts: object) -> int:
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def demo_plan(
    *,
    people: int,
    seed: int,
    until: dt.date,
    used_emails: Sequence[str] = (),
    used_domains: Sequence[str] = (),
    used_company_names: Sequence[str] = (),
    stream: int = 0,
) -> DemoPlan:
    """Decide the demo data for `people` people. `stream` > 0 gives fresh data to append."""
    rng = random.Random(_seed_int("leadline-demo", seed, stream))
    fake = _faker()
    fake.seed_instance(_seed_int("leadline-demo-faker", seed, stream))
    until_at = dt.datetime.combine(until, dt.time(0), tzinfo=dt.UTC)
    webinar_day = until - dt.timedelta(days=WEBINAR_DAYS_BEFORE_UNTIL)
    while webinar_day.weekday() != 3:  # Thursdays, 16:00 London
        webinar_day -= dt.timedelta(days=1)
    webinar_at = dt.datetime.combine(webinar_day, dt.time(16), tzinfo=_zone("Europe/London"))
    ctx = _Context(
        rng=rng,
        fake=fake,
        until=until_at,
        webinar_at=webinar_at.astimezone(dt.UTC),
        used_emails=set(used_emails),
        used_domains=set(used_domains),
        used_company_names=set(used_company_names),
        country_codes=list(banks.COUNTRIES),
        country_weights=[c[2] for c in banks.COUNTRIES.values()],
    )
    company_count = max(5, round(people / 6)) if people else 0
    companies = [_plan_company(ctx) for _ in range(company_count)]
    weights = [c.weight for c in companies]
    plans = [_plan_person(ctx, companies, weights) for _ in range(people)]
    window_start = until_at - dt.timedelta(days=WINDOW_DAYS)
    for company in companies:
        # Sales knew most companies a while before anyone there filled in a form.
        seen = company.first_seen or window_start
        company.known_since = seen - dt.timedelta(
            days=rng.randint(0, 60), minutes=rng.randrange(600)
        )
    return DemoPlan(seed=seed, until=until_at, companies=companies, people=plans)


# ---------------------------------------------------------------------------------------------
# Storing the plan.


@dataclasses.dataclass
class DemoSummary:
    users: int
    companies: int
    people: int
    submissions: int
    requests: int
    touches: int
    people_made: int
    seconds: float

    @property
    def people_per_second(self) -> float:
        return self.people_made / self.seconds if self.seconds else 0.0


def _ensure_sellers(plan: DemoPlan) -> dict[str, User]:
    """The selling team; users that already exist are kept as they are."""
    joined = plan.until - dt.timedelta(days=WINDOW_DAYS + 60)
    # One hash for everyone, with a fixed salt: the password is public, and the rows must be
    # the same on every run. Hashing once also keeps the demo quick to load.
    password = make_password(DEMO_PASSWORD, salt="leadlinedemo")
    users: dict[str, User] = {u.username: u for u in User.objects.filter(
        username__in=[s.username for s in SELLERS])}  # fmt: skip
    teams: dict[str, Team] = {}
    with transaction.atomic():
        for name, (_, zone, country) in TEAMS.items():
            teams[name], _ = Team.objects.get_or_create(
                name=name, defaults={"time_zone": zone, "country": country}
            )
        for n, seller in enumerate(SELLERS):
            if seller.username in users:
                continue
            user = User(
                username=seller.username,
                first_name=seller.first_name,
                last_name=seller.last_name,
                email=f"{seller.username}@{banks.SELLER_DOMAIN}",
                role=seller.role,
                team=teams[seller.team] if seller.team else None,
                time_zone=seller.time_zone,
                is_staff=seller.staff,
                is_superuser=seller.staff,
                date_joined=joined + dt.timedelta(hours=n),
                password=password,
            )
            user.save()
            users[seller.username] = user
        for name, (manager, _, _) in TEAMS.items():
            if teams[name].manager_id is None:
                teams[name].manager = users[manager]
                teams[name].save(update_fields=["manager"])
        for region in ("Americas", "EMEA"):
            countries = sorted(c for c, v in banks.COUNTRIES.items() if v[3] == region)
            RoutingRule.objects.get_or_create(
                name=f"{region} by country",
                defaults={
                    "team": teams[f"Inside Sales {region}"],
                    "position": 10 if region == "Americas" else 20,
                    "conditions": [{"field": "country", "op": "in", "value": countries}],
                },
            )
        RoutingRule.objects.get_or_create(
            name="Everyone else",
            defaults={"team": teams["Inside Sales EMEA"], "position": 900, "conditions": []},
        )
    return users


def _ensure_forms(plan: DemoPlan, marketer: User) -> dict[str, FormSpec]:
    built = plan.until - dt.timedelta(days=WINDOW_DAYS + 20)
    existing = {f.slug: f for f in Form.objects.filter(slug__in=list(FORMS))}
    specs = {}
    for n, (slug, spec) in enumerate(FORMS.items()):
        if slug not in existing:
            at = built + dt.timedelta(days=n, hours=10)
            with clock.frozen_at(at):
                asset = None
                if spec["request_kind"] == RequestKind.DOWNLOAD:
                    upload = ContentFile(white_paper_pdf(), name=WHITE_PAPER_FILE)
                    asset = asset_create(title=WHITE_PAPER_TITLE, upload=upload, actor=marketer)
                form = Form(
                    slug=slug, asset=asset, allowed_origins=DEMO_ORIGINS, **copy.deepcopy(spec)
                )
                form_save(form=form, actor=marketer, created=True)
        form_spec_forget(slug)  # the cache may hold an older row with this slug
        found = form_spec(slug)
        if found is None:
            raise RuntimeError(f"form {slug} is not active; activate it to append demo data")
        specs[slug] = found
    # Where the demo's t.js snippet points: <script src=".../t.js" data-site="demo-site" async>.
    TrackingSite.objects.get_or_create(
        key="demo-site", defaults={"name": "Demo site", "allowed_origins": DEMO_ORIGINS}
    )
    return specs


def _store_companies(plan: DemoPlan) -> list[int]:
    accounts = [
        Account(
            name=c.name,
            industry=c.industry,
            employees=c.employees,
            country=c.country,
            website=f"https://www.{c.domain}",
            description=c.description,
            culture_notes=c.culture_notes,
            created_at=c.known_since,
            updated_at=c.known_since,
        )
        for c in plan.companies
    ]
    with transaction.atomic():
        Account.objects.bulk_create(accounts)
        AccountDomain.objects.bulk_create(
            AccountDomain(account=a, domain=c.domain)
            for a, c in zip(accounts, plan.companies, strict=True)
        )
    return [a.pk for a in accounts]


def _store_person(
    person: PersonPlan,
    submission_ids: list[int],
    assets: dict[str, Asset | None],
    replay: Replay,
) -> Person:
    """Replay one person's history in time order, with the clock at each moment, the sellers'
    touches and the escalation ladder between (see `selling.Replay`). Their page views are
    t.js's, stored by `JourneyHistory`."""
    found: list[Person] = []
    for sub, submission_id in zip(person.submissions, submission_ids, strict=True):
        replay.add(
            sub.processed_at,
            PROCESS,
            functools.partial(_process, submission_id, found, replay, sub.touches),
        )
        asset = assets[sub.form]
        if sub.downloaded_at is not None and asset is not None:
            download = functools.partial(
                asset_download_record, submission_id=submission_id, asset=asset, ip=sub.meta["ip"]
            )
            replay.add(sub.downloaded_at, DOWNLOAD, download)
    note = person.note
    replay.add(
        note.at, NOTE, lambda: person_update(person=found[0], changes=note.changes, actor=None)
    )
    replay.run()
    return found[0]


def _process(
    submission_id: int, found: list[Person], replay: Replay, touches: list[TouchPlan]
) -> None:
    processed = submission_process(submission_id=submission_id)
    person = processed.person
    assert person is not None
    request = Request.objects.select_related("person").get(submission_id=submission_id)
    request_handlers_run(request_ids=[request.pk])
    replay.request_routed(request, touches)
    if not found:
        found.append(person)


def _next_id(model: type[Any]) -> int:
    return int(model.objects.aggregate(last=Max("pk"))["last"] or 0) + 1


def demo_store(plan: DemoPlan, *, progress: Callable[[int], None] = lambda n: None) -> DemoSummary:
    """Write the plan: sellers, forms and asset (when missing), companies, then people.

    What happens after the plan's `until` and before now (this morning's calls, the ladder's
    steps that came due) is replayed too, so the demo starts in a state the worker would have
    left: no step overdue, no mail about the past waiting to go out. Requests still inside
    their deadline keep their steps waiting; those are what the sellers see live. With `until`
    a week or more in the past, everything stored depends on the plan alone."""
    started = time.perf_counter()
    now = max(clock.now(), plan.until)
    first_request, first_mail, first_item = (
        _next_id(Request),
        _next_id(OutgoingMail),
        _next_id(InboxItem),
    )
    users = _ensure_sellers(plan)
    sellers = SellerCache(users)
    specs = _ensure_forms(plan, users["maria"])
    assets = {f.slug: f.asset for f in Form.objects.select_related("asset").filter(slug__in=specs)}
    _store_companies(plan)
    # The buyer's journeys: planned per person below, stored at the end (demo/journeys.py).
    journeys = JourneyHistory(plan, users=users, now=now)
    for start in range(0, len(plan.people), BATCH_PEOPLE):
        batch = plan.people[start : start + BATCH_PEOPLE]
        with transaction.atomic():
            raw = []
            for person in batch:
                for sub in person.submissions:
                    spec = specs[sub.form]
                    clean, errors = submission_clean(spec, sub.data)
                    if errors:
                        raise ValueError(f"demo submission for {sub.form} is invalid: {errors}")
                    raw.append(
                        Submission(
                            form_id=spec.id,
                            idempotency_key=sub.idempotency_key,
                            received_at=sub.received_at,
                            payload=clean,
                            meta=sub.meta,
                        )
                    )
            # Stored raw first, as the hot path does; processed below as the worker would.
            Submission.objects.bulk_create(raw)
            ids = iter(s.pk for s in raw)
            for person in batch:
                replay = Replay(now=now, sellers=sellers)
                submission_ids = [next(ids) for _ in person.submissions]
                found = _store_person(person, submission_ids, assets, replay)
                journeys.person_add(person, person_id=found.pk, submission_ids=submission_ids)
                progress(1)
            history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
        history_tasks_drop(first_mail_id=first_mail)
    with transaction.atomic():
        ladder_catch_up(first_request_id=first_request, now=now)
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
        journeys.store()
    history_tasks_drop(first_mail_id=first_mail)
    signals_tasks_drop(first_request_id=first_request)
    # Issue 5's areas are stored as of `recent`: now, on a demo made today; a day past the history
    # on one made for an older `until`, so that the same plan stores the same rows.
    recent = min(now, plan.until + dt.timedelta(days=1))
    booking_demo(now=recent)  # booking pages of the sellers and teams (demo/booking.py)
    calls_demo(now=recent)  # the outside callers' queue (demo/calls.py)
    commitments_demo(now=recent)  # promises made in conversations (demo/commitments.py)
    engagement_demo(now=recent)  # handoffs, decisions, lifecycle stages (demo/engagement.py)
    inbound_demo(now=recent)  # replies and bounces read from the mailbox (demo/inbound.py)
    cadences_demo(now=recent)  # sequences of emails, calls and tasks (demo/cadences.py)
    outreach_demo(now=recent)  # a marketing email through the contact gate (demo/outreach.py)
    insight_demo(now=recent)  # past deals; the models' first fits, queued (demo/insight.py)
    campaigns_demo(now=recent)  # campaign costs and a trade show's touches (demo/campaigns.py)
    effectiveness_demo(now=recent)  # chats, event talks, the callers' calls (demo/effectiveness.py)
    feedback_demo(now=recent)  # held meetings, prospects' ratings, a few stops (demo/feedback.py)
    goals_demo(now=recent)  # this quarter's goals and last quarter's, measured (demo/goals.py)
    with transaction.atomic():  # what those areas notified before today is sent and read
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return DemoSummary(
        users=User.objects.count(),
        companies=Account.objects.count(),
        people=Person.objects.count(),
        submissions=Submission.objects.count(),
        requests=Request.objects.count(),
        touches=Touch.objects.count(),
        people_made=len(plan.people),
        seconds=time.perf_counter() - started,
    )


def demo_generate(
    *,
    people: int,
    seed: int,
    until: dt.date,
    progress: Callable[[int], None] = lambda n: None,
) -> DemoSummary:
    """Plan and store; on a database that has data already, the new data is distinct from it."""
    stream = Person.objects.count()
    plan = demo_plan(
        people=people,
        seed=seed,
        until=until,
        used_emails=list(PersonEmail.objects.values_list("email", flat=True)),
        used_domains=list(AccountDomain.objects.values_list("domain", flat=True)),
        used_company_names=list(Account.objects.values_list("name", flat=True)),
        stream=stream,
    )
    return demo_store(plan, progress=progress)
