"""Demo data at scale: a million people in minutes, written in bulk.

`leadline demo-data --people N` with N above `BULK_ABOVE` first makes the ordinary demo
(`generator.demo_generate`: the selling team, forms, journeys, campaigns and a few hundred people
through the real services), then adds the rest here, as rows written in bulk (`demo.bulk.Table`:
COPY on PostgreSQL, multi-row inserts on SQLite). Going through the services costs about 10 ms a
person; at a million people that is hours, and the point of this data is to measure pages and
queries at the size a grown-up customer has, not to test the services again.

What a person gets, in the proportions a B2B marketing database has (for N people):
- N / 10 companies, with a domain each; 85% of people work at one (a few very large ones: the
  company is drawn with a skew, so account pages are measured with thousands of members too);
- a primary email, a phone for 40%, their own words for some;
- an identified web visitor and about `EVENTS_PER_PERSON` tracked events on average (page views,
  skewed: most people few, some many), plus anonymous visitors' events;
- 0 to 3 requests (1.25 on average) from the demo's forms, each with its raw submission, its routing
  (a team, an owner, a first-touch deadline from the team's real business hours), assignment,
  inbox item, timeline events, and — unless it is recent and still open — the first touch;
- ownership by the owner of their first request, consent, a lifecycle stage with its changes,
  a journey position on the default journey with the transitions that led there;
- for some companies: conversations, opportunities and their buying committee.

The history runs up to the moment of generation (`until` is for the first people, made through
the services). Open requests are the ones received in the last `OPEN_DAYS` days and not touched
yet. Their
escalation steps are planned as routing plans them (`_timers_plan`); steps already due are
marked done without their effects (a reassignment would need the ladder simulated), which
the outcome text says. Sellers: the demo's teams, plus teams of ten reps (and a manager each) so
that there is a rep for every `PEOPLE_PER_REP` people.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import itertools
import multiprocessing
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from leadline.capture.models import (
    Consent,
    Form,
    Request,
    RequestKind,
    RequestStatus,
    Submission,
    SubmissionStatus,
)
from leadline.core.models import (
    Account,
    AccountDomain,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    PersonSearch,
    Role,
    Team,
    TimelineEvent,
    User,
)
from leadline.core.selectors import search_text
from leadline.demo import DEMO_PASSWORD, banks
from leadline.demo.bulk import Table, indexes_set_aside
from leadline.engagement.models import (
    Handoff,
    HandoffStatus,
    LifecycleChange,
    Opportunity,
    PersonLifecycle,
    RejectionReason,
    Stage,
    Trigger,
)
from leadline.journeys.models import (
    Conversation,
    Event,
    Journey,
    JourneyPosition,
    JourneyStep,
    JourneyTransition,
    Stakeholder,
    TransitionCause,
    Visitor,
)
from leadline.notify.models import InboxItem
from leadline.routing.business_hours import WorkingHours, first_touch_due
from leadline.routing.models import Assignment, Ownership, Queue, RequestRouting, Timer, Touch
from leadline.routing.services import DEFAULT_LADDER, _timers_plan, person_link, team_hours

BULK_ABOVE = 5_000  # more people than this: the ordinary demo for the first, bulk for the rest
SERVICE_PEOPLE = 400  # how many of them go through the services first
PEOPLE_PER_REP = 8_000
REPS_PER_TEAM = 10
EVENTS_PER_PERSON = 20  # tracked events per person on average, anonymous visitors' included
ANONYMOUS_SHARE = 0.2  # an anonymous visitor for every fifth person
EVENTS_PER_VISITOR = EVENTS_PER_PERSON / (1 + ANONYMOUS_SHARE)
HISTORY_DAYS = 3 * 365
OPEN_DAYS = 3
CHUNK = 10_000  # people per transaction
KIND_WEIGHTS = {
    RequestKind.DOWNLOAD: 50,
    RequestKind.EVENT: 15,
    RequestKind.CONTACT: 15,
    RequestKind.DEMO: 12,
    RequestKind.PRICING: 8,
}
REQUESTS_PER_PERSON = ((0, 15), (1, 55), (2, 20), (3, 10))
# The default journey's steps: the share of people who got at least this far.
REACHED = (1.0, 0.35, 0.12, 0.05, 0.03, 0.02, 0.015, 0.01)
STAGES = (
    (Stage.ENGAGED, 0.45),
    (Stage.MARKETING_QUALIFIED, 0.12),
    (Stage.SALES_ACCEPTED, 0.05),
    (Stage.OPPORTUNITY, 0.02),
    (Stage.CUSTOMER, 0.01),
)
EVENT_NAMES = (("page_view", 90), ("form_viewed", 5), ("video_played", 3), ("pricing_calc", 2))


@dataclasses.dataclass
class ScaleSummary:
    people: int
    accounts: int
    events: int
    requests: int
    rows: int
    seconds: float
    writing_seconds: float


@dataclasses.dataclass
class _Seller:
    user_id: int
    name: str
    team: Team
    hours: WorkingHours


class _Pools:
    """What the people and companies are drawn from, over and over, made once: names,
    countries, industries, roles, channels."""

    def __init__(self, rng: random.Random) -> None:
        from faker import Faker

        faker = Faker(["en_GB", "de_DE", "en_US", "fr_FR", "nl_NL"])
        faker.seed_instance(rng.randrange(2**32))
        self.first = [_ascii(faker.first_name()) for _ in range(1500)]
        self.last = [_ascii(faker.last_name()) for _ in range(4000)]
        self.company_words = [_ascii(faker.last_name()) for _ in range(3000)]
        self.countries = list(banks.COUNTRIES)
        self.country_weights = [c[2] for c in banks.COUNTRIES.values()]
        self.industries = list(banks.INDUSTRIES)
        self.roles = banks.ROLES
        self.role_weights = [r[3] for r in banks.ROLES]
        self.channels = banks.CHANNELS


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode() or "X"


def _cumulative(weights: Iterable[float]) -> list[float]:
    """Cumulative weights, made once, for `Random.choices(..., cum_weights=...)`."""
    return list(itertools.accumulate(weights))


def _created_rng(seed: int) -> random.Random:
    """The stream a person's first appearance is drawn from, one number a person, in order:
    kept apart so that the visits (drawn in another process) can follow the same people."""
    return random.Random(seed * 7919 + 31)


def _created(rng: random.Random, end: dt.datetime) -> dt.datetime:
    # Newer people are likelier: the database grew over the years.
    return end - dt.timedelta(days=HISTORY_DAYS * rng.random() ** 1.6)


class _Visits:
    """The people's web visits and tracked events: half the rows, so, on PostgreSQL, written
    by a process of its own beside the one writing everything else."""

    def __init__(self, *, seed: int, end: dt.datetime, first_person: int, people: int) -> None:
        self.rng = random.Random(seed * 7919 + 29)
        self.created_rng = _created_rng(seed)
        self.end = end
        self.first_person = first_person
        self.people = people
        self.visitors = Table(Visitor)
        self.events = Table(Event)
        self.serial = Visitor.objects.count()
        self.pages = [p for p, _ in banks.PAGES]
        self.page_cum = _cumulative([w for _, w in banks.PAGES])
        self.names = [n for n, _ in EVENT_NAMES]
        self.name_cum = _cumulative([w for _, w in EVENT_NAMES])
        self.made = 0
        self.event_maker = self.events.maker(
            "occurred_at", "recorded_at", "source", "name", "visitor_id", "person_id", "url",
            "path", "title", "referrer", "dedupe_key",
        )  # fmt: skip

    def load(self, progress: Callable[[int], None] = lambda n: None) -> int:
        """Every person's visits, `CHUNK` people a transaction; returns the events made."""
        rng = self.rng
        for start in range(0, self.people, CHUNK):
            part = range(start, min(start + CHUNK, self.people))
            for n in part:
                created = _created(self.created_rng, self.end)
                self.visit(self.first_person + n, created)
                if rng.random() < ANONYMOUS_SHARE:  # someone browsing who never gave a name
                    self.visit(None, created)
            with transaction.atomic():
                self.events.flush()
                self.visitors.flush()
            progress(len(part))
        return self.made

    def visit(self, person: int | None, created: dt.datetime) -> None:
        rng, pages, names = self.rng, self.pages, self.names
        page_cum, name_cum, top_page, top_name = (
            self.page_cum, self.name_cum, self.page_cum[-1], self.name_cum[-1],
        )  # fmt: skip
        self.serial += 1
        first_seen = created - dt.timedelta(days=30 * rng.random())
        # Exponential around the mean: most visitors a few events, some hundreds.
        count = int(rng.expovariate(1 / (EVENTS_PER_VISITOR - 0.5))) + 1  # int() takes ~0.5
        span = max(60.0, (self.end - first_seen).total_seconds())
        visitor = self.visitors.next_id  # the id the row below gets; events point to it first
        last = first_seen
        for _ in range(count):
            at = first_seen + dt.timedelta(seconds=span * rng.random() ** 2)
            if at > last:
                last = at
            # What `Random.choices` does for one draw, without a list per draw: 20 M of these.
            path = pages[bisect.bisect_right(page_cum, rng.random() * top_page)]
            name = names[bisect.bisect_right(name_cum, rng.random() * top_name)]
            self.event_maker(
                at, at, "web", name, visitor, person, f"{banks.SITE}{path}", path,
                banks.PAGE_TITLES.get(path, ""), "", f"bulk:{self.events.next_id}",
            )  # fmt: skip
        added = self.visitors.add(
            visitor_id=f"v{self.serial:012d}{rng.getrandbits(40):010x}",
            person_id=person,
            first_seen_at=first_seen,
            last_seen_at=last,
            identified_at=created if person is not None else None,
        )
        assert added == visitor
        self.made += count


def _visits_in_child(visits: _Visits, pipe: Any) -> None:
    """The forked process's work: its own connection (the parent closed its own before the
    fork), the visits, and what it made or why it failed sent back."""
    try:
        pipe.send(("done", visits.load()))
    except BaseException as error:  # the parent must hear of any failure, then re-raise it
        pipe.send(("failed", f"{type(error).__name__}: {error}"))
        raise
    finally:
        connection.close()


class _Writer:
    """The tables, and the rows of one chunk of people until they are written."""

    def __init__(self) -> None:
        models = (
            Account, AccountDomain, Person, PersonEmail, PersonPhone, Membership, PersonSearch,
            TimelineEvent, Submission, Request, Consent, RequestRouting, Assignment, Ownership,
            Touch, Timer,
            InboxItem, Handoff, PersonLifecycle, LifecycleChange, JourneyPosition,
            JourneyTransition, Conversation, Conversation.people.through,
            Conversation.sellers.through, Opportunity, Stakeholder,
        )  # fmt: skip
        self.t = {model: Table(model) for model in models}
        self.writing = 0.0  # seconds spent writing, as against making the rows

    def flush(self) -> int:
        began = time.perf_counter()
        with transaction.atomic():
            written = sum(table.flush() for table in self.t.values())
        self.writing += time.perf_counter() - began
        return written

    def finish(self, *more: Table) -> int:
        """After the load, with the visits' tables: sequences moved past the ids given here
        (PostgreSQL), and the rows written in this process."""
        tables = [*self.t.values(), *more]
        if connection.vendor == "postgresql":
            for table in tables:
                table.sequence_reset()
        return sum(table.written for table in tables)


def _sellers(people: int, rng: random.Random) -> dict[str, list[_Seller]]:
    """The reps by region: the demo's, and new teams of ten so there is one per PEOPLE_PER_REP."""
    by_region: dict[str, list[_Seller]] = {"EMEA": [], "Americas": []}
    wanted = max(0, people // PEOPLE_PER_REP - User.objects.filter(role=Role.SALES_REP).count())
    password = make_password(DEMO_PASSWORD)
    templates = list(Team.objects.exclude(manager=None).order_by("pk"))
    made = 0
    number = 0
    while made < wanted and templates:
        template = templates[number % len(templates)]
        number += 1
        region = "Americas" if template.country in ("US", "CA", "MX", "BR") else "EMEA"
        label = f"{region} {number // len(templates) + 2}"
        manager = User.objects.create(
            username=f"mgr{number:03d}",
            first_name=rng.choice(("Jordan", "Alex", "Robin", "Kim", "Sasha")),
            last_name=f"Lead {label}",
            email=f"mgr{number:03d}@sellers.demo.example",
            role=Role.SALES_MANAGER,
            time_zone=template.time_zone,
            password=password,
        )
        team = Team.objects.create(
            name=f"Inside Sales {label}",
            manager=manager,
            time_zone=template.time_zone,
            country=template.country,
            working_hours=template.working_hours,
        )
        User.objects.filter(pk=manager.pk).update(team=team)
        User.objects.bulk_create(
            User(
                username=f"rep{number:03d}{i:02d}",
                first_name=rng.choice(("Noah", "Mia", "Leo", "Ava", "Eli", "Zoe", "Max", "Ivy")),
                last_name=f"Rep {number}-{i}",
                email=f"rep{number:03d}{i:02d}@sellers.demo.example",
                role=Role.SALES_REP,
                team=team,
                time_zone=template.time_zone,
                password=password,
            )
            for i in range(REPS_PER_TEAM)
        )
        made += REPS_PER_TEAM
    reps = User.objects.filter(role=Role.SALES_REP, is_active=True, team__isnull=False)
    for user in reps.select_related("team").order_by("pk"):
        own = user.team
        assert own is not None
        region = "Americas" if own.country in ("US", "CA", "MX", "BR") else "EMEA"
        by_region[region].append(_Seller(user.pk, str(user), own, team_hours(own)))
    if not by_region["Americas"]:
        by_region["Americas"] = by_region["EMEA"]
    if not by_region["EMEA"]:
        by_region["EMEA"] = by_region["Americas"]
    return by_region


class _Scale:
    def __init__(self, *, people: int, seed: int, until: dt.date) -> None:
        self.rng = random.Random(seed * 7919 + 17)
        self.pools = _Pools(self.rng)
        # Unlike the first people's submissions, this history runs up to the moment of
        # generation: the open requests are the last days' (a lead untouched since `until`,
        # days ago, would be one the product dropped).
        self.now = max(
            dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC), dt.datetime.now(dt.UTC)
        )
        self.until = self.now
        self.w = _Writer()
        self.sellers = _sellers(people, self.rng)
        self.forms = {
            kind: list(Form.objects.filter(request_kind=kind).values_list("pk", "slug", "name"))
            for kind in KIND_WEIGHTS
        }
        self.kinds = [k for k in KIND_WEIGHTS if self.forms[k]] or [RequestKind.CONTACT]
        self.kind_cum = _cumulative([KIND_WEIGHTS[k] for k in self.kinds])
        journey = Journey.objects.filter(is_default=True).first() or Journey.objects.first()
        self.journey_id = journey.pk if journey else None
        self.steps = (
            list(
                JourneyStep.objects.filter(journey=journey)
                .order_by("position")
                .values_list("pk", flat=True)
            )
            if journey
            else []
        )
        self.link = person_link(987654321).replace("987654321", "{}")
        self.country_cum = _cumulative(self.pools.country_weights)
        self.role_cum = _cumulative(self.pools.role_weights)
        self.requests = 0
        self.reasons = list(RejectionReason.objects.values_list("pk", "name"))
        # The person's first request and its owner, for the handoff when they qualify.
        self.first_request: tuple[int, int | None, str, str, _Seller] | None = None
        self.account_names: dict[int, str] = {}  # for the people's search text
        self.created_rng = _created_rng(seed)

    # -- helpers ------------------------------------------------------------------------------

    def _pick(self, items: Sequence[Any], cum: list[float]) -> Any:
        return self.rng.choices(items, cum_weights=cum)[0]

    def _moment_before(self, end: dt.datetime, days: float) -> dt.datetime:
        return end - dt.timedelta(seconds=self.rng.random() * days * 86400)

    # -- companies ----------------------------------------------------------------------------

    def accounts_make(self, count: int) -> list[tuple[int, str, str]]:
        """(id, domain, country) of `count` new companies, written with the first chunk."""
        rng, pools, t = self.rng, self.pools, self.w.t
        made = []
        self.first_account = t[Account].next_id  # numbers the domains: unique across runs
        for n in range(count):
            country = self._pick(pools.countries, self.country_cum)
            suffix = rng.choice(banks.COUNTRIES[country][4])
            industry = rng.choice(pools.industries)
            word = rng.choice(banks.INDUSTRIES[industry][0])
            base = rng.choice(pools.company_words)
            name = f"{base} {word} {suffix}"
            domain = f"{base.lower()}-{word.lower()}-{n + self.first_account}.example"
            created = self._moment_before(self.until, HISTORY_DAYS * 1.5)
            account = t[Account].add(
                name=name,
                industry=industry,
                employees=int(10 ** (1 + 3.5 * rng.random())),
                country=country,
                website=f"https://{domain}/",
                culture_notes=rng.choice(banks.CULTURE_NOTES) if rng.random() < 0.05 else "",
                created_at=created,
                updated_at=created,
            )
            t[AccountDomain].add(account_id=account, domain=domain)
            self.account_names[account] = name
            made.append((account, domain, country))
        return made

    # -- one person ---------------------------------------------------------------------------

    def person_make(self, n: int, company: tuple[int, str, str] | None) -> None:
        rng, pools, t = self.rng, self.pools, self.w.t
        # Newer people are likelier: the database grew over the years.
        created = _created(self.created_rng, self.until)
        country = company[2] if company else self._pick(pools.countries, self.country_cum)
        first, last = rng.choice(pools.first), rng.choice(pools.last)
        role = self._pick(pools.roles, self.role_cum) if rng.random() < 0.7 else None
        zones = banks.COUNTRIES[country][1]
        own_words = role[0] if role and rng.random() < 0.5 else ""
        person = t[Person].add(
            first_name=first,
            last_name=last,
            role_own_words=own_words,
            title=role[1] if role else "",
            cares_about=banks.CARES[role[2][0]][0] if role and rng.random() < 0.3 else "",
            personal_context=rng.choice(banks.PERSONAL_CONTEXT) if rng.random() < 0.03 else "",
            preferred_channel=rng.choice(("", "", "email", "phone", "video")),
            preferred_hours=rng.choice(banks.PREFERRED_HOURS) if rng.random() < 0.1 else "",
            time_zone=rng.choice(zones),
            country=country,
            created_at=created,
            updated_at=created,
        )
        domain = company[1] if company else rng.choice(banks.FREE_MAIL_DEFAULT)
        email = f"{first}.{last}.{person}@{domain}".lower().replace(" ", "")
        t[PersonEmail].add(person_id=person, email=email, is_primary=True, created_at=created)
        if rng.random() < 0.4:
            t[PersonPhone].add(
                person_id=person,
                e164=f"+1555{person:08d}"[-12:],
                label="work",
                created_at=created,
            )
        if company:
            t[Membership].add(
                person_id=person,
                account_id=company[0],
                title=role[1] if role else "",
                is_current=True,
                created_at=created,
            )
        company_name = self.account_names[company[0]] if company else ""
        words = (first, last, role[1] if role else "", own_words, email, company_name)
        t[PersonSearch].add(person_id=person, text=search_text(words))
        t[TimelineEvent].add(
            kind="person.created",
            summary=f"{first} {last} first appeared",
            person_id=person,
            account_id=company[0] if company else None,
            occurred_at=created,
            recorded_at=created,
            data={},
        )
        self.first_request = None
        self._requests(person, f"{first} {last}", email, country, created, company)
        self._journey(person, created)

    def _requests(
        self,
        person: int,
        name: str,
        email: str,
        country: str,
        created: dt.datetime,
        company: tuple[int, str, str] | None,
    ) -> None:
        rng, t = self.rng, self.w.t
        how_many = self._pick([k for k, _ in REQUESTS_PER_PERSON], REQUESTS_CUM)
        region = banks.COUNTRIES[country][3]
        sellers = self.sellers[region]
        seller = sellers[rng.randrange(len(sellers))]
        first_at: dt.datetime | None = None
        moments = sorted(
            created + (self.until - created) * (rng.random() ** 3 if i else 0.0)
            for i in range(how_many)
        )
        for at in moments:
            at = at + dt.timedelta(seconds=rng.randrange(1, 3600))
            if at >= self.now:
                continue
            kind = self._pick(self.kinds, self.kind_cum)
            form_id, slug, form_name = rng.choice(self.forms[kind]) if self.forms[kind] else (
                None, "", "")  # fmt: skip
            wants = kind in (RequestKind.CONTACT, RequestKind.DEMO) or rng.random() < 0.2
            source, medium, campaigns, _, _, referrer, _ = rng.choice(self.pools.channels)
            campaign = rng.choice(campaigns) if campaigns else ""
            submission = None
            if form_id is not None:
                submission = t[Submission].add(
                    form_id=form_id,
                    idempotency_key=f"bulk-{t[Submission].next_id}",
                    received_at=at,
                    payload={"email": email, "first_name": name.split(" ")[0]},
                    meta={"page_url": f"{banks.SITE}/{slug}"},
                    status=SubmissionStatus.PROCESSED,
                    attempts=1,
                    processed_at=at,
                    person_id=person,
                )
            due = first_touch_due(
                received_at=at, kind=kind, wants_contact=wants, hours=seller.hours
            )
            recent = (self.now - at).days < OPEN_DAYS
            touched_at: dt.datetime | None = None
            if not (recent and rng.random() < 0.6):
                late = rng.random() < 0.12
                touched_at = min(
                    self.now - dt.timedelta(minutes=1),
                    due + (due - at) * rng.random() * 0.5
                    if late
                    else at + (due - at) * rng.random(),
                )
            request = t[Request].add(
                person_id=person,
                account_id=company[0] if company else None,
                kind=kind,
                wants_contact=wants,
                status=RequestStatus.OPEN if touched_at is None else RequestStatus.CLOSED,
                form_id=form_id,
                submission_id=submission,
                source="form" if form_id else "api",
                page_url=f"{banks.SITE}/{slug}",
                referrer=referrer or "",
                utm_source=source,
                utm_medium=medium,
                utm_campaign=campaign,
                campaign=campaign,
                created_at=at,
                updated_at=touched_at or at,
            )
            self.requests += 1
            assigned = at + dt.timedelta(milliseconds=300)
            why = f"Assigned to {seller.name}"
            t[RequestRouting].add(
                request_id=request,
                team_id=seller.team.pk,
                owner_id=seller.user_id,
                queue=Queue.OWNER,
                assigned_at=assigned,
                first_touch_due=due,
                first_touched_at=touched_at,
            )
            t[Assignment].add(
                request_id=request,
                owner_id=seller.user_id,
                team_id=seller.team.pk,
                queue=Queue.OWNER,
                why=why,
                skipped=[],
                at=assigned,
            )
            for kind_, summary, when in (
                ("request.created", f"{name} asked: {form_name or kind}", at),
                ("request.assigned", why, assigned),
            ):
                t[TimelineEvent].add(
                    kind=kind_,
                    summary=summary,
                    person_id=person,
                    occurred_at=when,
                    recorded_at=when,
                    data={"request_id": request},
                )
            t[InboxItem].add(
                user_id=seller.user_id,
                kind="request.assigned",
                title=f"New request: {name}",
                body=f"{name} — {kind}.",
                link=self.link.format(person),
                person_id=person,
                subject_ref=f"request:{request}",
                created_at=assigned,
                read_at=None if touched_at is None else touched_at,
            )
            if touched_at is not None:
                call = rng.random() < 0.5
                t[Touch].add(
                    person_id=person,
                    request_id=request,
                    user_id=seller.user_id,
                    kind="call" if call else "email",
                    outcome=rng.choice(("connected", "voicemail", "no_answer")) if call else "",
                    note="",
                    at=touched_at,
                )
                t[TimelineEvent].add(
                    kind="touch.recorded",
                    summary=f"{seller.name} {'called' if call else 'emailed'} {name}",
                    person_id=person,
                    actor_id=seller.user_id,
                    occurred_at=touched_at,
                    recorded_at=touched_at,
                    data={"request_id": request},
                )
            else:
                self._timers(request, at, due, seller)
            if first_at is None:
                first_at = assigned
                self.first_request = (request, form_id, form_name, campaign, seller)
                t[Ownership].add(
                    owner_id=seller.user_id,
                    person_id=person,
                    started_at=assigned,
                    reason="routed a request",
                )
                if rng.random() < 0.6:
                    t[Consent].add(
                        person_id=person,
                        purpose="marketing",
                        granted=True,
                        text="Yes, send me news and offers.",
                        method="form",
                        form_id=form_id,
                        submission_id=submission,
                        captured_at=at,
                    )

    def _timers(self, request: int, at: dt.datetime, due: dt.datetime, seller: _Seller) -> None:
        plan = _timers_plan(
            request=Request(created_at=at), due=due, team=seller.team, ladder=DEFAULT_LADDER
        )
        for timer in plan:
            done = timer.due_at <= self.now
            self.w.t[Timer].add(
                request_id=request,
                step=timer.step,
                due_at=timer.due_at,
                done_at=timer.due_at if done else None,
                outcome="bulk demo data: marked done without its effects" if done else "",
            )

    def _journey(self, person: int, created: dt.datetime) -> None:
        rng, t = self.rng, self.w.t
        # Lifecycle: how far this person got.
        roll = rng.random()
        stage_path = [s for s, share in STAGES if roll < share]
        if stage_path:
            at = created
            previous = ""
            for stage in stage_path:
                at = at + (self.until - at) * rng.random() * 0.5
                t[LifecycleChange].add(
                    person_id=person, from_stage=previous, to_stage=stage, at=at, reason=""
                )
                if stage == Stage.MARKETING_QUALIFIED:
                    self._handoff(person, at, accepted=len(stage_path) > 2)
                previous = stage
            t[PersonLifecycle].add(person_id=person, stage=previous, since=at)
        if self.journey_id is None or not self.steps:
            return
        roll = rng.random()
        reached = sum(1 for share in REACHED[: len(self.steps)] if roll < share)
        at, from_step = created, None
        for step in self.steps[:reached]:
            at = at + (self.until - at) * rng.random() * 0.4
            t[JourneyTransition].add(
                journey_id=self.journey_id,
                person_id=person,
                from_step_id=from_step,
                to_step_id=step,
                at=at,
                cause=TransitionCause.START if from_step is None else TransitionCause.SIGNAL,
                signal_name="form_submitted" if from_step is None else "page_view",
                note="",
                evidence={},
            )
            from_step = step
        if from_step is not None:
            t[JourneyPosition].add(
                journey_id=self.journey_id, person_id=person, step_id=from_step, since=at
            )

    def _handoff(self, person: int, at: dt.datetime, *, accepted: bool) -> None:
        """Marketing hands a qualified person to sales, who accept (they went further) or
        reject with a reason: what the lead-quality report reads."""
        rng = self.rng
        if self.first_request is None or not self.reasons:
            return
        request, form_id, form_name, campaign, seller = self.first_request
        rejected = not accepted and rng.random() < 0.7
        reason = rng.choice(self.reasons) if rejected else None
        decided = at + dt.timedelta(hours=rng.uniform(1, 40))
        self.w.t[Handoff].add(
            person_id=person,
            request_id=request,
            trigger=rng.choice((Trigger.THRESHOLD, Trigger.MARKETING, Trigger.APPOINTMENT)),
            source="form" if form_id else "api",
            form_id=form_id,
            form_name=form_name,
            campaign=campaign,
            owner_id=seller.user_id,
            team_id=seller.team.pk,
            created_at=at,
            due_at=at + dt.timedelta(days=2),
            status=HandoffStatus.REJECTED if rejected else HandoffStatus.ACCEPTED,
            decided_by_id=seller.user_id,
            decided_at=decided,
            reason_id=reason[0] if reason else None,
            reason_text=reason[1] if reason else "",
        )

    # -- companies' history -------------------------------------------------------------------

    def account_history(self, account: int, members: list[int]) -> None:
        """Conversations with some companies; an opportunity and its committee with fewer."""
        rng, t = self.rng, self.w.t
        if not members or rng.random() > 0.3:
            return
        sellers = self.sellers["EMEA"] + self.sellers["Americas"]
        seller = sellers[account % len(sellers)]
        for _ in range(rng.randint(1, 5)):
            at = self._moment_before(self.until, 400)
            conversation = t[Conversation].add(
                kind=rng.choice(("call", "meeting", "email", "note")),
                occurred_at=at,
                account_id=account,
                summary=rng.choice(banks.CASE_SUMMARIES),
                quotes="",
                logged_by_id=seller.user_id,
                created_at=at,
                private=False,
                visibility="company",
            )
            t[Conversation.people.through].add(
                conversation_id=conversation, person_id=rng.choice(members)
            )
            t[Conversation.sellers.through].add(
                conversation_id=conversation, user_id=seller.user_id
            )
        if rng.random() < 0.25:
            opened = self._moment_before(self.until, 300)
            status = rng.choice(("open", "open", "won", "lost"))
            t[Opportunity].add(
                account_id=account,
                person_id=members[0],
                name=rng.choice(banks.PROPOSAL_TITLES).format(n=rng.randint(2, 40)),
                owner_id=seller.user_id,
                amount=rng.randrange(5, 300) * 1000,
                status=status,
                opened_at=opened,
                closed_at=None if status == "open" else opened + dt.timedelta(days=40),
            )
            for person in members[: rng.randint(2, 6)]:
                t[Stakeholder].add(
                    account_id=account,
                    person_id=person,
                    part=rng.choice(("decides", "signs", "champions", "influences", "uses")),
                    stance=rng.choice(("supportive", "neutral", "opposed", "unknown")),
                    added_at=opened,
                )


REQUESTS_CUM = _cumulative([w for _, w in REQUESTS_PER_PERSON])


def scale_generate(
    *,
    people: int,
    seed: int,
    until: dt.date,
    progress: Callable[[int], None] = lambda n: None,
    say: Callable[[str], None] = lambda text: None,
) -> ScaleSummary:
    """Add `people` people (and their companies and history) in bulk, `CHUNK` per transaction."""
    began = time.perf_counter()
    fresh = Person.objects.count() <= BULK_ABOVE
    scale = _Scale(people=people, seed=seed, until=until)
    visits = _Visits(
        seed=seed, end=scale.until, first_person=scale.w.t[Person].next_id, people=people
    )
    models_ = [*scale.w.t, Visitor, Event]
    set_aside = indexes_set_aside(models_, say=say) if fresh else contextlib.nullcontext()
    # In a process of its own only while nothing checks the rows: a visit may be written
    # before its person is, which a foreign key would refuse.
    apart = fresh and connection.vendor == "postgresql"
    with set_aside:
        if apart:
            connection.close()
            ours, theirs = multiprocessing.get_context("fork").Pipe()
            child = multiprocessing.get_context("fork").Process(
                target=_visits_in_child, args=(visits, theirs), name="leadline-visits"
            )
            child.start()
        try:
            accounts_wanted = _load(scale, people, progress)
        except BaseException:
            if apart:  # indexes are put back next: nothing may be writing then
                child.terminate()
                child.join()
            raise
        if apart:
            say("waiting for the visits and events")
            try:
                state, value = ours.recv()
            except EOFError:
                state, value = "failed", f"the process ended with {child.exitcode}"
            child.join()
            if state != "done" or child.exitcode != 0:
                raise RuntimeError(f"writing the visits and events failed: {value}")
            events = int(value)
        else:
            say("writing the visits and events")
            events = visits.load()
    rows = scale.w.finish(visits.visitors, visits.events)
    if apart:  # written in the other process
        rows += Visitor.objects.filter(pk__gte=visits.visitors.next_id).count() + events
    say("updating the planner's statistics")
    with connection.cursor() as cursor:
        # The planner's statistics for the tables that just grew; on PostgreSQL also the
        # visibility map, without which an index-only scan reads every row anyway.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return ScaleSummary(
        people=people,
        accounts=accounts_wanted,
        events=events,
        requests=scale.requests,
        rows=rows,
        seconds=time.perf_counter() - began,
        writing_seconds=scale.w.writing,
    )


def _load(scale: _Scale, people: int, progress: Callable[[int], None]) -> int:
    rng = scale.rng
    accounts_wanted = max(1, people // 10)
    accounts = scale.accounts_make(accounts_wanted)
    # A skewed draw: the first companies get thousands of people, most get a handful.
    members: dict[int, list[int]] = {}
    done = 0
    while done < people:
        part = min(CHUNK, people - done)
        person_table = scale.w.t[Person]
        for i in range(part):
            company = (
                accounts[int(len(accounts) * rng.random() ** 2.2)] if rng.random() < 0.85 else None
            )
            person_id = person_table.next_id
            scale.person_make(done + i, company)
            if company is not None:
                bucket = members.setdefault(company[0], [])
                if len(bucket) < 8:
                    bucket.append(person_id)
        scale.w.flush()
        done += part
        progress(part)
    for account, _, _ in accounts:
        scale.account_history(account, members.get(account, []))
    scale.w.flush()
    return accounts_wanted
