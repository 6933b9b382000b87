"""The demo's buyer journeys: what t.js saw, what the buyers said, how far each of them got.

`JourneyHistory` is made once per `demo_store`, told about each person right after their
capture history is replayed (`person_add`: their requests and the sellers' touches are read
back, and what follows from them is planned, from a generator seeded by the plan's seed and the
person's address), and then `store`s it all at once:

- web tracking: for most people a visitor (the `visitor_id` their forms carried) whose page
  views arrive in batches, as t.js sends them; earlier anonymous visits join the person when
  their first form names the visitor, as `visitor_identify` does; and some visitors who never
  say who they are;
- the signals of each request (`requests_signals_record`), events from other systems (webinar
  attended, proposal requested, trial started, contracts), mail clicks;
- conversations logged after the sellers' calls, meetings and mails, with the buyer's own
  words, the pain points `pain_points_suggest` finds in them, most confirmed or rejected later
  by the rep (`pain_point_decide`); a finance colleague joins some;
- journeys: a few moves by hand (forwards, backwards, onto the payroll journey), and every
  move the exit signals make. `signals_evaluate` costs several milliseconds a call, and the
  history needs thousands of calls (one per person for every batch, request, conversation and
  event, with the clock at that moment), so the same evaluation is replayed in memory, in time
  order, with the same rules (`journeys.signals.first_rule_holding`), and the rows
  it would have written — positions, transitions with cause, evidence and previous step,
  "journey.moved" timeline rows, accounts following their people — are stored in bulk.
  tests/demo/test_journeys.py replays the same events through `signals_evaluate` and
  `journey_move` and checks that they store the same rows;
- buying committees on about a third of the accounts with two or more people, through
  `stakeholder_add` and `stakeholder_link_add`.

Everything happens before `until` or from the sellers' touches, and nothing later than a week
after `until`, so with `until` a week or more in the past the rows depend on the plan alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Q
from django_tasks import TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Account, AuditEntry, Membership, Person, TimelineEvent, User
from leadline.demo import banks
from leadline.journeys.committee import stakeholder_add, stakeholder_link_add
from leadline.journeys.conversations import (
    pain_point_create,
    pain_point_decide,
    pain_points_suggest,
    person_functions,
)
from leadline.journeys.ingest import event_clean
from leadline.journeys.models import (
    BatchStatus,
    Conversation,
    ConversationKind,
    ConversationPainPoint,
    Event,
    EventBatch,
    EventSource,
    Influence,
    Journey,
    JourneyPosition,
    JourneyStep,
    JourneyTransition,
    LinkKind,
    PainPoint,
    Part,
    Stakeholder,
    Stance,
    TrackingSite,
    TransitionCause,
    Visitor,
)
from leadline.journeys.services import event_words, journey_import, transition_timeline_event
from leadline.journeys.signals import EventFacts, Rule, first_rule_holding, rules_parse
from leadline.journeys.tasks import requests_signals_record_task
from leadline.journeys.tracking import PAGE_VIEW, event_summary
from leadline.routing.models import CallOutcome, Touch, TouchKind

if TYPE_CHECKING:
    from leadline.demo.generator import DemoPlan, PersonPlan

SITE_KEY = "demo-site"  # the TrackingSite `_ensure_forms` makes
TRACKED = 0.88  # the rest block t.js (Do Not Track, no consent): no page views at all
ANONYMOUS_VISITORS = 0.15  # per person: browsers that never fill in a form
SESSION_GAP = dt.timedelta(minutes=30)
HORIZON = dt.timedelta(days=7)  # nothing later than this after `until`
PAYROLL_SLUG = "payroll-small-teams"
PAYROLL_JOURNEY: dict[str, Any] = {
    "name": "Payroll for small teams",
    "slug": PAYROLL_SLUG,
    "description": "Small businesses moving their payroll to us (product: Payroll).",
    "steps": [
        {
            "name": "Payroll is eating my week",
            "buyer_words": "Paying people takes days, and mistakes cost us.",
            "exit_signals": [
                {"name": "Read about payroll", "event": "page_view", "path_contains": "/payroll"}
            ],
            "content_to_offer": "The guide to switching payroll provider mid-year.",
            "who_should_talk": "Nobody yet; the rep who found the interest keeps in touch.",
        },
        {
            "name": "Checking what switching takes",
            "buyer_words": "What would it cost, and how much work is the switch?",
            "exit_signals": [
                {
                    "name": "Looked at payroll pricing twice",
                    "event": "page_view",
                    "path_contains": "/payroll/pricing",
                    "count": 2,
                    "within_days": 21,
                },
                {
                    "name": "Asked for a payroll quote",
                    "event": "quote_requested",
                    "properties": {"product": "payroll"},
                },
            ],
            "content_to_offer": "A quote per employee, the migration checklist.",
            "who_should_talk": "The rep, with a payroll specialist for the migration.",
        },
        {
            "name": "Running a test month",
            "buyer_words": "We run one month side by side before we trust it.",
            "exit_signals": [
                {
                    "name": "Ran a parallel payroll",
                    "event": "trial_started",
                    "properties": {"product": "payroll"},
                }
            ],
            "content_to_offer": "Help importing employees and last year's figures.",
            "who_should_talk": "The payroll specialist.",
        },
        {
            "name": "Switching over",
            "buyer_words": "Signing, and telling the bureau we are leaving.",
            "exit_signals": [
                {
                    "name": "Signed for payroll",
                    "event": "contract_signed",
                    "properties": {"product": "payroll"},
                }
            ],
            "content_to_offer": "The contract and a cut-over date.",
            "who_should_talk": "The rep.",
        },
        {
            "name": "Paying people without worry",
            "buyer_words": "Payroll takes an hour and nobody emails us about payslips.",
            "content_to_offer": "Year-end help before it comes.",
            "who_should_talk": "Customer success.",
        },
    ],
}


def _rng(*parts: object) -> random.Random:
    text = "/".join(str(p) for p in parts)
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def _weighted(rng: random.Random, options: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(options, weights=weights)[0]


def _seconds(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(rng.uniform(low, high), 3))


def _minutes(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(60 * rng.uniform(low, high)))


def _working_moment(rng: random.Random, day: dt.date, zone: ZoneInfo) -> dt.datetime:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    local = dt.time(rng.randint(8, 18), rng.randrange(60), rng.randrange(60))
    return dt.datetime.combine(day, local, tzinfo=zone).astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class _Request:
    pk: int
    created_at: dt.datetime
    kind: str
    wants_contact: bool
    form: str
    page_url: str
    referrer: str
    visitor_id: str


@dataclasses.dataclass(frozen=True)
class _ConversationPlan:
    kind: str
    occurred_at: dt.datetime
    logged_at: dt.datetime
    person_id: int
    seller_id: int | None
    summary: str  # "{who}" becomes the people who took part
    quotes: str
    finance_colleague: bool = False


@dataclasses.dataclass
class _Agenda:
    """What happens, in time order; steps at the same moment in the order they were added."""

    steps: list[tuple[dt.datetime, int, Callable[[dt.datetime], None]]] = dataclasses.field(
        default_factory=list
    )

    def add(self, at: dt.datetime, step: Callable[[dt.datetime], None]) -> None:
        self.steps.append((at, len(self.steps), step))

    def run(self) -> None:
        for at, _, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            with clock.frozen_at(at):
                step(at)


@dataclasses.dataclass(frozen=True)
class _JourneyRules:
    journey: Journey
    steps: list[JourneyStep]
    next_of: dict[int, JourneyStep]
    previous_of: dict[int, JourneyStep]


@dataclasses.dataclass
class JourneySummary:
    events: int
    visitors: int
    conversations: int
    transitions: int
    committees: int


class JourneyHistory:
    """Plans each person's journey data as they are stored, then stores it all (`store`)."""

    def __init__(self, plan: DemoPlan, *, users: dict[str, User], now: dt.datetime) -> None:
        self.plan = plan
        self.users = users
        self.sellers: dict[int, User] = {u.pk: u for u in users.values()}
        self.horizon = min(now, plan.until + HORIZON)
        self.agenda = _Agenda()
        self.person_ids: list[int] = []
        self.last_seller: dict[int, int] = {}  # person id: who touched them last
        self.first_seen: dict[int, dt.datetime] = {}
        self.site = TrackingSite.objects.get(key=SITE_KEY)
        self._catalogue_and_journey()
        self._anonymous_visitors()
        # What `store` replays into.
        self.events: list[Event] = []
        self.dedupe: list[Callable[[], str]] = []
        self.local: dict[int, int] = {}
        self.facts: defaultdict[int, list[EventFacts]] = defaultdict(list)
        self.visitors: dict[str, Visitor] = {}
        self.visitor_events: defaultdict[str, list[Event]] = defaultdict(list)
        self.batches: list[EventBatch] = []
        self.conversations: list[tuple[Conversation, list[Person], list[User]]] = []
        self.suggestions: list[ConversationPainPoint] = []
        self.decisions: list[tuple[dt.datetime, ConversationPainPoint, bool, User]] = []
        self.timeline: list[TimelineEvent] = []
        self.audits: list[tuple[dt.datetime, User | None, str, models.Model, dict[str, Any]]] = []
        self.positions: dict[tuple[int, str, int], JourneyPosition] = {}
        self.changed_positions: dict[int, JourneyPosition] = {}
        self.transitions: list[tuple[JourneyTransition, list[int] | None]] = []
        self.by_hand: dict[tuple[int, int], dt.datetime] = {}

    # -- Set up -------------------------------------------------------------------------------

    def _catalogue_and_journey(self) -> None:
        """The pain-point catalogue and the payroll journey, as marketing made them before the
        history starts (kept as they are when they exist)."""
        made = self.plan.until - dt.timedelta(days=300)
        marketer = self.users["maria"]
        taken = set(PainPoint.objects.values_list("product", "name"))
        for n, (product, name, description, phrases) in enumerate(banks.PAIN_POINTS):
            if (product, name) not in taken:
                with clock.frozen_at(made + dt.timedelta(minutes=n)):
                    pain_point_create(
                        name=name,
                        product=product,
                        description=description,
                        phrases="\n".join(phrases),
                        created_by=marketer,
                    )
        if not Journey.objects.filter(slug=PAYROLL_SLUG).exists():
            with clock.frozen_at(made + dt.timedelta(hours=2)):
                journey_import(data=PAYROLL_JOURNEY, actor=marketer)

    def _anonymous_visitors(self) -> None:
        people = self.plan.people
        rng = _rng("leadline-demo-anonymous", self.plan.seed, people[0].email if people else "")
        start = self.plan.until - dt.timedelta(days=270)
        paths = [p for p, _ in banks.PAGES] + [p for p, _ in banks.RESEARCH_PAGES]
        weights = [w for _, w in banks.PAGES] + [w for _, w in banks.RESEARCH_PAGES]
        for _ in range(round(len(people) * ANONYMOUS_VISITORS)):
            visitor_id = f"v-{rng.getrandbits(64):016x}"
            meta = {
                "ip": f"{rng.choice((31, 62, 81, 86, 92, 64, 71, 98))}.{rng.randrange(256)}."
                f"{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "user_agent": rng.choice(banks.USER_AGENTS),
                "origin": banks.SITE,
            }
            zone = ZoneInfo(rng.choice(("Europe/London", "Europe/Berlin", "America/New_York")))
            for _ in range(rng.randint(1, 3)):
                day = start.date() + dt.timedelta(days=rng.randrange(269))
                at = _working_moment(rng, day, zone)
                views = []
                for _ in range(rng.randint(1, 4)):
                    views.append((at, _weighted(rng, paths, weights)))
                    at += _seconds(rng, 15, 240)
                if views[-1][0] < self.plan.until:
                    self._plan_batch(rng, visitor_id, views, meta)

    # -- Planning, one person at a time ---------------------------------------------------------

    def person_add(self, person: PersonPlan, *, person_id: int, submission_ids: list[int]) -> None:
        """Plan what follows from this person's stored requests and the sellers' touches."""
        rng = _rng("leadline-demo-journeys", self.plan.seed, person.email)
        requests = [
            _Request(
                pk=row["pk"],
                created_at=row["created_at"],
                kind=row["kind"],
                wants_contact=row["wants_contact"],
                form=row["form__slug"] or "",
                page_url=row["page_url"],
                referrer=row["referrer"],
                visitor_id=str((row["submission__payload"] or {}).get("visitor_id") or ""),
            )
            for row in Request.objects.filter(submission_id__in=submission_ids)
            .order_by("created_at", "pk")
            .values(
                "pk",
                "created_at",
                "kind",
                "wants_contact",
                "form__slug",
                "page_url",
                "referrer",
                "submission__payload",
            )
        ]
        if not requests:
            return
        touches = list(
            Touch.objects.filter(request_id__in=[r.pk for r in requests])
            .order_by("at", "pk")
            .values("at", "kind", "outcome", "note", "user_id", "request_id")
        )
        self.person_ids.append(person_id)
        self.first_seen[person_id] = requests[0].created_at
        if touches and touches[-1]["user_id"] is not None:
            self.last_seller[person_id] = touches[-1]["user_id"]
        zone = ZoneInfo(person.note.changes.get("time_zone") or "UTC")

        for request in requests:
            # The capture step's task runs a moment after the request is made.
            self.agenda.add(
                request.created_at + _seconds(rng, 0.3, 3),
                functools.partial(self._request_signals, person_id, request),
            )
        tracked = rng.random() < TRACKED
        visitor_id = requests[0].visitor_id
        meta = {
            "ip": person.submissions[0].meta["ip"],
            "user_agent": person.submissions[0].meta["user_agent"],
            "origin": banks.SITE,
        }
        views = list(person.page_views)
        for request in requests:  # coming back to research after each form
            for _ in range(_weighted(rng, (0, 1, 2, 3), (30, 35, 22, 13))):
                day = request.created_at.date() + dt.timedelta(days=rng.randint(1, 28))
                at = _working_moment(rng, day, zone)
                for _ in range(rng.randint(1, 4)):
                    path = _weighted(
                        rng,
                        [p for p, _ in banks.RESEARCH_PAGES],
                        [w for _, w in banks.RESEARCH_PAGES],
                    )
                    views.append((at, path))
                    at += _seconds(rng, 20, 300)
        views = sorted(v for v in views if v[0] < self.plan.until)
        if tracked and visitor_id:
            for session in _sessions(views):
                self._plan_batch(rng, visitor_id, session, meta)

        cares = _cares_key(person)
        kinds = {r.pk: r.kind for r in requests}
        talks: list[_ConversationPlan] = []
        for touch in touches:
            seller = touch["user_id"]
            if touch["kind"] == TouchKind.CALL and touch["outcome"] == CallOutcome.CONNECTED:
                if rng.random() < 0.85:
                    summary = f"{touch['note']} {rng.choice(banks.CALL_FOLLOW_UPS)}".strip()
                    at = touch["at"]
                    talks.append(
                        _ConversationPlan(
                            ConversationKind.CALL,
                            at,
                            at + _minutes(rng, 3, 20),
                            person_id,
                            seller,
                            summary,
                            _quotes(rng, cares, rng.randint(1, 2)),
                        )
                    )
            elif touch["kind"] == TouchKind.MEETING:  # booked: it is held a few days later
                held = touch["at"] + dt.timedelta(days=rng.randint(1, 7), hours=rng.randint(0, 5))
                kind = kinds[touch["request_id"]]
                summaries = banks.MEETING_SUMMARIES.get(kind, banks.MEETING_SUMMARIES["other"])
                talks.append(
                    _ConversationPlan(
                        ConversationKind.MEETING,
                        held,
                        held + _minutes(rng, 35, 90),
                        person_id,
                        seller,
                        rng.choice(summaries),
                        _quotes(rng, cares, rng.randint(1, 3)),
                        finance_colleague=rng.random() < 0.35,
                    )
                )
                self._plan_deal(rng, person_id, touch["request_id"], held, seller, cares)
            elif touch["kind"] == TouchKind.EMAIL:
                if rng.random() < 0.4:
                    replied = touch["at"] + _minutes(rng, 90, 2 * 24 * 60)
                    rep = self.sellers[seller].first_name if seller in self.sellers else "us"
                    talks.append(
                        _ConversationPlan(
                            ConversationKind.EMAIL,
                            replied,
                            replied + _minutes(rng, 5, 120),
                            person_id,
                            seller,
                            rng.choice(banks.EMAIL_REPLIES).replace("{rep}", rep),
                            _quotes(rng, cares, 1),
                        )
                    )
                if rng.random() < 0.3:
                    clicked = touch["at"] + _minutes(rng, 10, 3 * 24 * 60)
                    subject = rng.choice(banks.EMAIL_SUBJECTS).format(n=rng.randint(2, 12))
                    self._plan_signal(
                        rng,
                        person_id,
                        "email_clicked",
                        {"subject": subject},
                        clicked,
                        f"touch:{touch['request_id']}:{touch['at']:%Y%m%d%H%M%S}",
                        EventSource.MAIL,
                    )
        if touches and rng.random() < 0.08:
            noted = touches[0]["at"] + dt.timedelta(days=rng.randint(3, 20))
            talks.append(
                _ConversationPlan(
                    ConversationKind.NOTE,
                    noted,
                    noted + _minutes(rng, 1, 30),
                    person_id,
                    touches[0]["user_id"],
                    rng.choice(banks.NOTE_SUMMARIES),
                    _quotes(rng, cares, 1) if rng.random() < 0.5 else "",
                )
            )
        for talk in talks:
            if talk.logged_at <= self.horizon:
                self.agenda.add(talk.logged_at, functools.partial(self._conversation, talk))

        webinar = next((r for r in requests if r.form == "webinar-close-faster"), None)
        if webinar is not None and rng.random() < 0.6:
            title = "Live: how three controllers cut their close in half"
            attended = _webinar_at(self.plan.until) + dt.timedelta(minutes=50)
            if attended > webinar.created_at:
                self._plan_signal(
                    rng,
                    person_id,
                    "webinar_attended",
                    {"title": title},
                    attended,
                    f"webinar:{webinar.pk}",
                    EventSource.API,
                )

        spoken = [t for t in talks if t.kind in (ConversationKind.CALL, ConversationKind.MEETING)]
        spoken = [t for t in spoken if t.logged_at <= self.horizon]
        if spoken:
            first = spoken[0]
            r = rng.random()
            if r < 0.06:
                self._plan_move(first.logged_at + _minutes(rng, 10, 40), person_id, "forward",
                                first.seller_id, rng.choice(banks.MOVE_FORWARD_NOTES))  # fmt: skip
            elif r < 0.09:
                self._plan_move(first.logged_at + _minutes(rng, 10, 40), person_id, "back",
                                first.seller_id, rng.choice(banks.MOVE_BACK_NOTES))  # fmt: skip
            small = person.company is None or self.plan.companies[person.company].employees < 250
            if small and rng.random() < 0.3:
                self._plan_payroll(rng, person_id, first, zone, visitor_id if tracked else "", meta)

    def _plan_batch(
        self,
        rng: random.Random,
        visitor_id: str,
        views: list[tuple[dt.datetime, str]],
        meta: dict[str, str],
    ) -> None:
        """One session's page views, sent by t.js as one batch when the last page is left."""
        received = views[-1][0] + _seconds(rng, 5, 40)
        processed = received + _seconds(rng, 0.15, 2)
        raw = []
        previous = ""
        for at, url in views:
            path = url.partition("?")[0]
            raw.append(
                {
                    "name": PAGE_VIEW,
                    "url": banks.SITE + url,
                    "path": path,
                    "title": banks.PAGE_TITLES.get(path, "Closewise"),
                    "referrer": previous,
                    "occurred_at": at.isoformat(),
                }
            )
            previous = banks.SITE + url
        self.agenda.add(
            processed,
            functools.partial(self._web_batch, visitor_id, raw, received, dict(meta)),
        )

    def _plan_signal(
        self,
        rng: random.Random,
        person_id: int,
        name: str,
        properties: dict[str, Any],
        occurred_at: dt.datetime,
        sender_id: str,
        source: str,
    ) -> None:
        """An event another system reports a few seconds after it happened (`events_record`)."""
        recorded = occurred_at + _seconds(rng, 2, 40)
        if recorded <= self.horizon:
            self.agenda.add(
                recorded,
                functools.partial(
                    self._signal, person_id, name, properties, occurred_at, sender_id, source
                ),
            )

    def _plan_move(
        self, at: dt.datetime, person_id: int, how: str, seller: int | None, note: str
    ) -> None:
        if at <= self.horizon and seller in self.sellers:
            user = self.sellers[seller]
            self.agenda.add(at, functools.partial(self._move_by_hand, person_id, how, user, note))

    def _plan_deal(
        self,
        rng: random.Random,
        person_id: int,
        request_id: int,
        held: dt.datetime,
        seller: int | None,
        cares: str,
    ) -> None:
        """After a meeting: a proposal or a trial, the internal case with finance, a contract."""
        r = rng.random()
        if r < 0.35:
            at = held + dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(1, 8))
            title = rng.choice(banks.PROPOSAL_TITLES).format(n=rng.randint(2, 14))
            self._plan_signal(rng, person_id, "proposal_requested", {"title": title}, at,
                              f"crm:proposal:{request_id}", EventSource.API)  # fmt: skip
        elif r < 0.5:
            at = held + dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(1, 8))
            self._plan_signal(rng, person_id, "trial_started", {"plan": "team"}, at,
                              f"app:trial:{request_id}", EventSource.API)  # fmt: skip
        else:
            return
        if rng.random() < 0.55:
            case = at + dt.timedelta(days=rng.randint(3, 12), hours=rng.randint(0, 4))
            talk = _ConversationPlan(
                ConversationKind.MEETING,
                case,
                case + _minutes(rng, 40, 120),
                person_id,
                seller,
                rng.choice(banks.CASE_SUMMARIES),
                _quotes(rng, cares, rng.randint(1, 2)),
                finance_colleague=True,
            )
            if talk.logged_at <= self.horizon:
                self.agenda.add(talk.logged_at, functools.partial(self._conversation, talk))
            at = talk.logged_at
        if rng.random() < 0.45:
            at += dt.timedelta(days=rng.randint(2, 8))
            self._plan_signal(rng, person_id, "contract_requested", {}, at,
                              f"crm:contract:{request_id}", EventSource.API)  # fmt: skip
            if rng.random() < 0.5:
                at += dt.timedelta(days=rng.randint(5, 20))
                self._plan_signal(rng, person_id, "contract_signed", {"title": "Order form"},
                                  at, f"esign:{request_id}", EventSource.API)  # fmt: skip

    def _plan_payroll(
        self,
        rng: random.Random,
        person_id: int,
        call: _ConversationPlan,
        zone: ZoneInfo,
        visitor_id: str,
        meta: dict[str, str],
    ) -> None:
        """They asked about payroll on a call: the rep puts them on the payroll journey."""
        start = call.logged_at + _minutes(rng, 15, 50)
        self._plan_move(start, person_id, "start", call.seller_id,
                        rng.choice(banks.PAYROLL_START_NOTES))  # fmt: skip
        talked = start + dt.timedelta(days=rng.randint(2, 10), hours=rng.randint(0, 5))
        summary = rng.choice(banks.PAYROLL_SUMMARIES).replace("{n}", str(rng.randint(8, 90)))
        quotes = "\n".join(rng.sample(banks.PAYROLL_QUOTES, 2))
        talk = _ConversationPlan(
            ConversationKind.CALL,
            talked,
            talked + _minutes(rng, 5, 30),
            person_id,
            call.seller_id,
            summary,
            quotes,
        )
        if talk.logged_at <= self.horizon:
            self.agenda.add(talk.logged_at, functools.partial(self._conversation, talk))
        if visitor_id:
            for _ in range(rng.randint(1, 3)):
                day = start.date() + dt.timedelta(days=rng.randint(1, 20))
                at = _working_moment(rng, day, zone)
                views = []
                for _ in range(rng.randint(1, 3)):
                    pages, weights = zip(*banks.PAYROLL_PAGES, strict=True)
                    path = _weighted(rng, pages, weights)
                    views.append((at, path))
                    at += _seconds(rng, 20, 240)
                if views[-1][0] + dt.timedelta(minutes=1) < self.horizon:
                    self._plan_batch(rng, visitor_id, views, meta)
        if rng.random() < 0.5:
            quoted = start + dt.timedelta(days=rng.randint(3, 15))
            self._plan_signal(rng, person_id, "quote_requested", {"product": "payroll"}, quoted,
                              f"crm:payroll-quote:{person_id}", EventSource.API)  # fmt: skip
            if rng.random() < 0.4:
                trial = quoted + dt.timedelta(days=rng.randint(2, 10))
                self._plan_signal(rng, person_id, "trial_started", {"product": "payroll"}, trial,
                                  f"app:payroll-trial:{person_id}", EventSource.API)  # fmt: skip

    # -- The replay -----------------------------------------------------------------------------

    def store(self) -> JourneySummary:
        """Replay everything planned in time order, then write it. Call inside a transaction."""
        self.people: dict[int, Person] = Person.objects.in_bulk(self.person_ids)
        self.accounts_of: defaultdict[int, list[int]] = defaultdict(list)
        self.members: defaultdict[int, list[int]] = defaultdict(list)
        for person_id, account_id in Membership.objects.filter(
            person_id__in=self.person_ids, is_current=True
        ).values_list("person_id", "account_id"):
            self.accounts_of[person_id].append(account_id)
            self.members[account_id].append(person_id)
        self.accounts: dict[int, Account] = Account.objects.in_bulk(list(self.members))
        self.journeys = _journeys()
        rules_of = {step.pk: _rules(step) for journey in self.journeys for step in journey.steps}
        self.rules_of = rules_of
        all_rules = [r for rules in rules_of.values() for r in rules]
        self.rule_events = {r.event for r in all_rules}
        windows = [r.within_days for r in all_rules]
        self.longest = None if None in windows or not windows else max(w or 0 for w in windows)
        for position in JourneyPosition.objects.filter(
            account_id__in=list(self.accounts)
        ).select_related("step"):
            assert position.account_id is not None
            self.positions[(position.journey_id, "a", position.account_id)] = position

        self.agenda.run()
        self._save()
        for decided_at, suggestion, confirmed, user in sorted(
            self.decisions, key=lambda d: (d[0], d[1].pk)
        ):
            with clock.frozen_at(decided_at):
                pain_point_decide(suggestion=suggestion, confirmed=confirmed, decided_by=user)
        committees = self._committees()
        return JourneySummary(
            events=len(self.events),
            visitors=len(self.visitors),
            conversations=len(self.conversations),
            transitions=len(self.transitions),
            committees=committees,
        )

    def _event(self, event: Event, dedupe: Callable[[], str]) -> Event:
        """An event to store; until then known by its place in `events` (from 1), which keeps
        the order its id will have."""
        self.events.append(event)
        self.dedupe.append(dedupe)
        self.local[id(event)] = len(self.events)
        if event.person_id is not None:
            self._fact(event)
        return event

    def _fact(self, event: Event) -> None:
        assert event.person_id is not None
        self.facts[event.person_id].append(
            EventFacts(
                id=self.local[id(event)],
                name=event.name,
                occurred_at=event.occurred_at,
                path=event.path,
                properties=event.properties or {},
            )
        )

    def _web_timeline(self, event: Event, at: dt.datetime) -> None:
        self.timeline.append(
            TimelineEvent(
                kind="web.page_view" if event.name == PAGE_VIEW else "web.event",
                summary=event_summary(event),
                person_id=event.person_id,
                occurred_at=event.occurred_at,
                recorded_at=at,
                data={"event_id": event, "name": event.name, "path": event.path},
            )
        )

    def _web_batch(
        self,
        visitor_id: str,
        raw: list[dict[str, Any]],
        received: dt.datetime,
        meta: dict[str, str],
        at: dt.datetime,
    ) -> None:
        """What the hot path stored and `event_batches_process` made of it."""
        clean = [event_clean(item, now=received) for item in raw]
        batch = EventBatch(
            site=self.site,
            visitor_id=visitor_id,
            received_at=received,
            events=clean,
            meta=meta,
            status=BatchStatus.PROCESSED,
            attempts=1,
            processed_at=at,
        )
        self.batches.append(batch)
        times = [dt.datetime.fromisoformat(item["occurred_at"]) for item in clean]
        visitor = self.visitors.get(visitor_id)
        if visitor is None:
            visitor = Visitor(
                visitor_id=visitor_id, first_seen_at=min(times), last_seen_at=max(times)
            )
            self.visitors[visitor_id] = visitor
        else:
            visitor.first_seen_at = min(visitor.first_seen_at, *times)
            visitor.last_seen_at = max(visitor.last_seen_at, *times)
        for index, (item, occurred) in enumerate(zip(clean, times, strict=True)):
            event = self._event(
                Event(
                    occurred_at=occurred,
                    recorded_at=at,
                    source=EventSource.WEB,
                    name=item["name"],
                    visitor=visitor,
                    person_id=visitor.person_id,
                    url=item["url"],
                    path=item["path"],
                    title=item["title"],
                    referrer=item["referrer"],
                    properties=item["properties"],
                ),
                functools.partial(lambda b, i: f"{b.pk}:{i}", batch, index),
            )
            self.visitor_events[visitor_id].append(event)
            if event.person_id is not None:
                self._web_timeline(event, at)
        if visitor.person_id is not None:
            self._evaluate([visitor.person_id], at)

    def _request_signals(self, person_id: int, request: _Request, at: dt.datetime) -> None:
        """`requests_signals_record` for one request: its signals, the visitor who sent the
        form joins the person, then their journeys move."""
        names = ["form_submitted"] + (["contact_requested"] if request.wants_contact else [])
        for name in names:
            self._event(
                Event(
                    source=EventSource.WEB,
                    name=name,
                    person_id=person_id,
                    occurred_at=request.created_at,
                    recorded_at=at,
                    url=request.page_url,
                    referrer=request.referrer,
                    properties={"form": request.form, "kind": request.kind},
                ),
                functools.partial(str, f"request:{request.pk}:{name}"),
            )
        if request.visitor_id:
            self._identify(request.visitor_id, person_id, request.created_at, at)
        self._evaluate([person_id], at)

    def _identify(
        self, visitor_id: str, person_id: int, when: dt.datetime, at: dt.datetime
    ) -> None:
        """`visitor_identify`: the visitor is theirs from `when`; earlier visits join them."""
        visitor = self.visitors.get(visitor_id)
        if visitor is None:
            visitor = Visitor(
                visitor_id=visitor_id,
                person_id=person_id,
                first_seen_at=when,
                last_seen_at=when,
                identified_at=when,
            )
            self.visitors[visitor_id] = visitor
        elif visitor.person_id != person_id or visitor.identified_at is None:
            visitor.person_id = person_id
            visitor.identified_at = when
        earlier = [e for e in self.visitor_events[visitor_id] if e.person_id is None]
        for event in sorted(earlier, key=lambda e: (e.occurred_at, self.local[id(e)])):
            event.person_id = person_id
            self._fact(event)
            self._web_timeline(event, at)

    def _signal(
        self,
        person_id: int,
        name: str,
        properties: dict[str, Any],
        occurred_at: dt.datetime,
        sender_id: str,
        source: str,
        at: dt.datetime,
    ) -> None:
        """`events_record` of one event from another system."""
        event = self._event(
            Event(
                source=source,
                name=name,
                person_id=person_id,
                occurred_at=occurred_at,
                recorded_at=at,
                properties=properties,
            ),
            functools.partial(str, f"{source}:{sender_id}"[:200]),
        )
        self.timeline.append(
            TimelineEvent(
                kind="signal",
                summary=event_words(name, properties),
                person_id=person_id,
                occurred_at=occurred_at,
                recorded_at=at,
                data={"event_id": event, "name": name, "source": source},
            )
        )
        self._evaluate([person_id], at)

    def _conversation(self, plan: _ConversationPlan, at: dt.datetime) -> None:
        """`conversation_log`, and what the rep later decides about its pain points."""
        person = self.people[plan.person_id]
        people = [person]
        account_id = next(iter(self.accounts_of.get(person.pk, [])), None)
        if plan.finance_colleague and account_id is not None:
            colleague = _finance_colleague(
                [self.people[p] for p in self.members[account_id] if p != person.pk]
            )
            if colleague is not None:
                people.append(colleague)
        who = " and ".join(p.full_name for p in people)
        seller = self.sellers.get(plan.seller_id) if plan.seller_id is not None else None
        conversation = Conversation(
            kind=plan.kind,
            occurred_at=plan.occurred_at,
            account_id=account_id,
            summary=plan.summary.replace("{who}", who).strip(),
            quotes=plan.quotes.strip(),
            logged_by=seller,
            created_at=at,
        )
        self.conversations.append((conversation, people, [seller] if seller else []))
        functions = sorted({f for p in people for f in person_functions(p)})
        said = f"{conversation.get_kind_display()}: {conversation.summary}"
        for participant in people:
            self._event(
                Event(
                    source=EventSource.API,
                    name="conversation",
                    person_id=participant.pk,
                    occurred_at=plan.occurred_at,
                    recorded_at=at,
                    properties={"kind": plan.kind, "participant_function": functions},
                ),
                functools.partial(
                    lambda c, p: f"conversation:{c.pk}:{p}", conversation, participant.pk
                ),
            )
            self.timeline.append(
                TimelineEvent(
                    kind=f"conversation.{plan.kind}",
                    summary=said,
                    person_id=participant.pk,
                    actor=seller,
                    occurred_at=plan.occurred_at,
                    recorded_at=at,
                    data={"conversation_id": conversation, "quotes": conversation.quotes},
                )
            )
        rng = _rng("leadline-demo-pains", self.plan.seed, person.full_name, at.isoformat())
        for pain, sentence in pain_points_suggest(conversation):
            suggestion = ConversationPainPoint(
                conversation=conversation, pain_point=pain, evidence=sentence
            )
            self.suggestions.append(suggestion)
            r = rng.random()
            decided = at + _minutes(rng, 20, 3 * 24 * 60)
            if seller is not None and r < 0.85 and decided <= self.horizon:
                self.decisions.append((decided, suggestion, r < 0.72, seller))
        self.audits.append((at, seller, "conversation.log", conversation, {}))
        self._evaluate([p.pk for p in people], at)

    def _move_by_hand(
        self, person_id: int, how: str, user: User, note: str, at: dt.datetime
    ) -> None:
        """`journey_move`: forwards or back on the default journey, or onto the payroll one."""
        found = next(
            (
                j
                for j in self.journeys
                if (j.journey.slug == PAYROLL_SLUG if how == "start" else j.journey.is_default)
            ),
            None,
        )
        if found is None:
            return
        position = self.positions.get((found.journey.pk, "p", person_id))
        if how == "start":
            to_step = found.steps[0] if position is None else None
        elif position is None:
            to_step = None
        elif how == "forward":
            to_step = found.next_of.get(position.step_id)
        else:
            to_step = found.previous_of.get(position.step_id)
        if to_step is None:
            return
        moved = self._move(
            found.journey,
            ("p", person_id),
            position,
            to_step,
            cause=TransitionCause.USER,
            at=at,
            moved_by=user,
            note=note,
        )
        key = (found.journey.pk, person_id)
        self.by_hand[key] = max(self.by_hand.get(key, at), at)
        self.audits.append(
            (at, user, "journey.move", moved, {"to_step": to_step.name, "note": note})
        )

    def _move(
        self,
        journey: Journey,
        subject: tuple[str, int],
        position: JourneyPosition | None,
        to_step: JourneyStep,
        *,
        cause: str,
        at: dt.datetime,
        signal_name: str = "",
        moved_by: User | None = None,
        note: str = "",
        evidence: dict[str, Any] | None = None,
        evidence_events: list[int] | None = None,
    ) -> JourneyTransition:
        """As journeys.services' moves: the position (made when new) and the transition."""
        kind, pk = subject
        who: dict[str, Any] = (
            {"person": self.people[pk], "account": None}
            if kind == "p"
            else {"person": None, "account": self.accounts[pk]}
        )
        from_step = position.step if position is not None else None
        if position is None:
            position = JourneyPosition(journey=journey, step=to_step, since=at, **who)
            self.positions[(journey.pk, kind, pk)] = position
        else:
            position.step = to_step
            position.since = at
            if position.pk is not None:
                self.changed_positions[position.pk] = position
        transition = JourneyTransition(
            journey=journey,
            from_step=from_step,
            to_step=to_step,
            at=at,
            cause=cause,
            signal_name=signal_name,
            moved_by=moved_by,
            note=note,
            evidence=evidence or {},
            **who,
        )
        self.transitions.append((transition, evidence_events))
        return transition

    def _evaluate(self, person_ids: list[int], now: dt.datetime) -> None:
        """`signals_evaluate` at `now`, over the events these people have by then."""
        ids = sorted(set(person_ids))
        floor = now - dt.timedelta(days=self.longest) if self.longest is not None else None
        reached: dict[tuple[int, int], tuple[JourneyStep, str]] = {}
        for rules in self.journeys:
            journey = rules.journey
            for person_id in ids:
                position = self.positions.get((journey.pk, "p", person_id))
                if position is None:
                    if not journey.is_default:
                        continue
                    self._move(journey, ("p", person_id), None, rules.steps[0],
                               cause=TransitionCause.START, at=now)  # fmt: skip
                    position = self.positions[(journey.pk, "p", person_id)]
                since = self.by_hand.get((journey.pk, person_id))
                facts = [
                    f
                    for f in self.facts[person_id]
                    if f.name in self.rule_events and (floor is None or f.occurred_at >= floor)
                ]
                signal = ""
                while (following := rules.next_of.get(position.step_id)) is not None:
                    hit = first_rule_holding(
                        self.rules_of[position.step_id], facts, now=now, since=since
                    )
                    if hit is None:
                        break
                    rule, evidence = hit
                    signal = rule.name
                    self._move(journey, ("p", person_id), position, following,
                               cause=TransitionCause.SIGNAL, at=now, signal_name=rule.name,
                               evidence={"events": evidence}, evidence_events=evidence)  # fmt: skip
                if signal:
                    reached[(journey.pk, person_id)] = (position.step, signal)
        # The accounts' buying groups follow (`_accounts_follow`), never back.
        by_id = {r.journey.pk: r.journey for r in self.journeys}
        for (journey_id, person_id), (step, signal) in sorted(reached.items()):
            for account_id in self.accounts_of.get(person_id, []):
                position = self.positions.get((journey_id, "a", account_id))
                if position is not None and position.step.position >= step.position:
                    continue
                self._move(
                    by_id[journey_id],
                    ("a", account_id),
                    position,
                    step,
                    cause=TransitionCause.SIGNAL,
                    at=now,
                    signal_name=signal,
                    note=f"via {self.people[person_id]}",
                    evidence={"person_id": person_id},
                )

    # -- Writing --------------------------------------------------------------------------------

    def _save(self) -> None:
        EventBatch.objects.bulk_create(self.batches, batch_size=1000)
        Visitor.objects.bulk_create(self.visitors.values(), batch_size=1000)
        Conversation.objects.bulk_create([c for c, _, _ in self.conversations], batch_size=1000)
        through_people = Conversation.people.through
        through_sellers = Conversation.sellers.through
        through_people.objects.bulk_create(
            [
                through_people(conversation_id=c.pk, person_id=p.pk)
                for c, people, _ in self.conversations
                for p in people
            ],
            batch_size=1000,
        )
        through_sellers.objects.bulk_create(
            [
                through_sellers(conversation_id=c.pk, user_id=u.pk)
                for c, _, sellers in self.conversations
                for u in sellers
            ],
            batch_size=1000,
        )
        for event, dedupe in zip(self.events, self.dedupe, strict=True):
            event.dedupe_key = dedupe()
        Event.objects.bulk_create(self.events, batch_size=1000)
        ConversationPainPoint.objects.bulk_create(self.suggestions, batch_size=1000)
        JourneyPosition.objects.bulk_create(
            [p for p in self.positions.values() if p.pk is None], batch_size=1000
        )
        JourneyPosition.objects.bulk_update(self.changed_positions.values(), ["step", "since"])
        for transition, local in self.transitions:
            if local is not None:
                transition.evidence = {"events": [self.events[n - 1].pk for n in local]}
        moved = JourneyTransition.objects.bulk_create(
            [t for t, _ in self.transitions], batch_size=1000
        )
        for transition in moved:
            with clock.frozen_at(transition.at):
                self.timeline.append(transition_timeline_event(transition))
        for row in self.timeline:
            row.data = {
                k: (v.pk if isinstance(v, models.Model) else v) for k, v in row.data.items()
            }
        TimelineEvent.objects.bulk_create(self.timeline, batch_size=1000)
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    at=at,
                    actor=actor,
                    action=action,
                    object_type=obj._meta.label_lower,
                    object_id=str(obj.pk),
                    data=data,
                )
                for at, actor, action, obj, data in self.audits
            ],
            batch_size=1000,
        )

    def _committees(self) -> int:
        """Buying committees on about a third of the accounts with two or more people."""
        eligible = sorted(
            (a for a, people in self.members.items() if len(people) >= 2),
            key=lambda a: hashlib.sha256(
                f"{self.plan.seed}/{self.accounts[a].name}".encode()
            ).hexdigest(),
        )
        already = set(
            Stakeholder.objects.filter(account_id__in=eligible).values_list("account_id", flat=True)
        )
        chosen = [a for a in eligible if a not in already][: round(len(eligible) / 3)]
        spoken = set(
            Conversation.people.through.objects.filter(
                conversation__kind__in=[
                    ConversationKind.CALL,
                    ConversationKind.MEETING,
                    ConversationKind.EMAIL,
                ],
                person_id__in=self.person_ids,
            ).values_list("person_id", flat=True)
        )
        for account_id in sorted(chosen):
            self._committee(self.accounts[account_id], spoken)
        return len(chosen)

    def _committee(self, account: Account, spoken: set[int]) -> None:
        rng = _rng("leadline-demo-committee", self.plan.seed, account.name)
        people = sorted(
            (self.people[p] for p in self.members[account.pk]), key=lambda p: (_rank(p), p.pk)
        )[:6]
        shape = _weighted(
            rng,
            ("covered", "no_champion", "blocker", "unspoken_signer", "single"),
            (4, 2, 2, 2, 1),
        )
        if shape == "unspoken_signer":
            # Whoever signs is someone nobody has spoken to yet, when there is such a person.
            quiet = [p for p in people if p.pk not in spoken]
            if quiet:
                people = [quiet[0], *(p for p in people if p != quiet[0])]
        if shape == "single":
            people = people[:1]
        roles: list[tuple[str, str, str]] = []  # (part, stance, influence)
        for n, _ in enumerate(people):
            if n == 0:
                part = {"covered": Part.DECIDES, "blocker": Part.DECIDES, "single": Part.INFLUENCES}
                roles.append((part.get(shape, Part.SIGNS),
                              Stance.SUPPORTIVE if shape == "covered" else Stance.NEUTRAL,
                              Influence.HIGH))  # fmt: skip
            elif n == 1 and shape != "no_champion":
                if shape == "blocker" and len(people) == 2:
                    roles.append((Part.BLOCKS, Stance.OPPOSED, Influence.HIGH))
                else:
                    roles.append((Part.CHAMPIONS, Stance.SUPPORTIVE,
                                  rng.choice((Influence.MEDIUM, Influence.HIGH))))  # fmt: skip
            elif n == 2 and shape == "blocker":
                roles.append((Part.BLOCKS, Stance.OPPOSED, Influence.HIGH))
            elif n == 3:
                roles.append((Part.GATEKEEPS, rng.choice((Stance.NEUTRAL, Stance.UNKNOWN)),
                              Influence.MEDIUM))  # fmt: skip
            else:
                roles.append((rng.choice((Part.USES, Part.INFLUENCES)),
                              rng.choice((Stance.SUPPORTIVE, Stance.NEUTRAL, Stance.UNKNOWN)),
                              rng.choice((Influence.LOW, Influence.MEDIUM))))  # fmt: skip
        first = max(self.first_seen[p.pk] for p in people)
        at = min(first + dt.timedelta(days=rng.randint(2, 14), hours=rng.randint(1, 6)),
                 self.horizon)  # fmt: skip
        seller_id = next((self.last_seller[p.pk] for p in people if p.pk in self.last_seller), None)
        seller = self.sellers.get(seller_id) if seller_id is not None else self.users["sam"]
        with clock.frozen_at(at):
            if not account.culture_notes:
                # What the rep learned about how they decide, as known when the account was made.
                account.culture_notes = rng.choice(banks.COMMITTEE_CULTURE_NOTES)
                Account.objects.filter(pk=account.pk).update(culture_notes=account.culture_notes)
            members = [
                stakeholder_add(
                    account=account,
                    person=person,
                    part=part,
                    stance=stance,
                    influence=influence,
                    notes=rng.choice(banks.STAKEHOLDER_NOTES[part]) if rng.random() < 0.6 else "",
                    added_by=seller,
                )
                for person, (part, stance, influence) in zip(people, roles, strict=True)
            ]
            top = members[0]
            for member in members[1:]:
                stakeholder_link_add(
                    source=member, target=top, kind=LinkKind.REPORTS_TO, added_by=seller
                )
            champions = [m for m in members if m.part == Part.CHAMPIONS]
            blockers = [m for m in members if m.part == Part.BLOCKS]
            for champion in champions:
                if champion.pk != top.pk:
                    stakeholder_link_add(
                        source=top, target=champion, kind=LinkKind.TRUSTS, added_by=seller
                    )
                for blocker in blockers:
                    stakeholder_link_add(
                        source=blocker, target=champion, kind=LinkKind.RIVALS, added_by=seller
                    )


def _sessions(views: list[tuple[dt.datetime, str]]) -> list[list[tuple[dt.datetime, str]]]:
    sessions: list[list[tuple[dt.datetime, str]]] = []
    for view in views:
        if sessions and view[0] - sessions[-1][-1][0] <= SESSION_GAP:
            sessions[-1].append(view)
        else:
            sessions.append([view])
    return sessions


def _cares_key(person: PersonPlan) -> str:
    """What they care about (CARES' key), as the plan chose it; else their role's first."""
    said = person.note.changes.get("cares_about") or next(
        (
            t.learned.get("cares_about", "")
            for s in person.submissions
            for t in s.touches
            if t.learned
        ),
        "",
    )
    for key, (words, _) in banks.CARES.items():
        if words == said:
            return key
    role = next((r for r in banks.ROLES if r[0] == person.own_words), None)
    return role[2][0] if role else "research"


def _quotes(rng: random.Random, cares: str, count: int) -> str:
    said = list(banks.QUOTES.get(cares, banks.QUOTES["research"]))
    if rng.random() < 0.4:  # and something else that came up
        said += list(rng.choice(list(banks.QUOTES.values())))
    return "\n".join(dict.fromkeys(rng.sample(said, min(count, len(said)))))


def _rank(person: Person) -> int:
    """Seniority for the committee's order: whoever signs first."""
    title = person.title.lower()
    for n, words in enumerate((("chief", "cfo", "ceo", "founder"), ("head", "director"))):
        if any(w in title for w in words):
            return n
    return 2


def _finance_colleague(people: list[Person]) -> Person | None:
    """A colleague from finance to join the call: the CFO or a finance director first."""
    finance = [p for p in people if "finance" in person_functions(p)]
    return min(finance, key=lambda p: (_rank(p), p.pk)) if finance else None


def _webinar_at(until: dt.datetime) -> dt.datetime:
    """When the demo's webinar ran (as `demo_plan` sets it: Thursday, 16:00 London)."""
    from leadline.demo.generator import WEBINAR_DAYS_BEFORE_UNTIL

    day = until.date() - dt.timedelta(days=WEBINAR_DAYS_BEFORE_UNTIL)
    while day.weekday() != 3:
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(16), tzinfo=ZoneInfo("Europe/London")).astimezone(
        dt.UTC
    )


def _rules(step: JourneyStep) -> list[Rule]:
    try:
        return rules_parse(step.exit_signals)
    except ValueError:
        return []


def _journeys() -> list[_JourneyRules]:
    """The active journeys as `signals_evaluate` walks them (by name), steps in order."""
    out = []
    for journey in Journey.objects.filter(is_active=True).prefetch_related("steps"):
        steps = sorted(journey.steps.all(), key=lambda s: s.position)
        if not steps:
            continue
        out.append(
            _JourneyRules(
                journey=journey,
                steps=steps,
                next_of={a.pk: b for a, b in itertools.pairwise(steps)},
                previous_of={b.pk: a for a, b in itertools.pairwise(steps)},
            )
        )
    return out


def signals_tasks_drop(*, first_request_id: int) -> int:
    """Drop the queued signal tasks of this run's requests: `JourneyHistory` did their work at
    the time (call after the commit). Left, the worker would spend its first minutes on them
    when the demo starts. Returns how many were dropped."""
    if not isinstance(task_backends[requests_signals_record_task.backend], DatabaseBackend):
        return 0
    dropped, _ = DBTaskResult.objects.filter(
        Q(args_kwargs__kwargs__request_ids__0__gte=first_request_id),
        task_path=requests_signals_record_task.module_path,
        status=TaskResultStatus.READY,
    ).delete()
    return dropped
