"""How late the worker notices a missed first-touch deadline, with 100,000 open requests waiting.

    python bench/sla.py                         # SQLite in a temporary data directory
    python bench/sla.py --database-url postgres://...   # a fresh PostgreSQL database, dropped
                                                        # afterwards (or LEADLINE_DATABASE_URL)
    python bench/sla.py --open 20000 --batch 500 --spread 10

Loads `--open` open requests into a fresh database, each as routing leaves one (owner on a team
with a manager, first-touch deadline, escalation timers, the owner's notification), with bulk
inserts; their deadlines lie over the coming days. `--batch` of them have their deadlines spread
evenly over `--spread` seconds, starting 5 s after the real worker (`leadline worker`) is seen
doing a step. Every process's clock is moved with LEADLINE_CLOCK_FILE, so the loaded rows need not
guess when the worker will be up. No web server is started: the worker is all this measures.

Prints JSON lines {"metric": ..., "value": ..., "unit": ...}; the last one is
{"metric": "breach_notice_p99_s", "value": X}: the 99th percentile of Timer.done_at - due_at of
the batch's breach steps, in seconds. Exits 1 when a breach was missed, done twice or did not
tell the manager.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import FRESH_DATABASE_HELP, add_database_argument, database_from, emit, percentile, say

if TYPE_CHECKING:
    from leadline.capture.models import Request
    from leadline.core.models import Team, User
    from leadline.routing.business_hours import WorkingHours
    from leadline.routing.models import RoutingRule

# Leadline is imported only after the environment names the database and the clock file.

TEAMS = (  # (country, time zone): one team per country, routed there by a rule on the country
    ("GB", "Europe/London"),
    ("DE", "Europe/Berlin"),
    ("FR", "Europe/Paris"),
    ("NL", "Europe/Amsterdam"),
    ("ES", "Europe/Madrid"),
    ("IT", "Europe/Rome"),
    ("SE", "Europe/Stockholm"),
    ("IE", "Europe/Dublin"),
    ("AT", "Europe/Vienna"),
    ("BE", "Europe/Brussels"),
)
WORKING_HOURS = "Mon-Fri 09:00-17:30"
REPS_PER_TEAM = 10
# Request kinds of the waiting requests, and how often each comes.
KINDS: dict[str, float] = {"contact": 2, "demo": 1, "pricing": 1, "download": 5, "event": 1}
CONTACT_SHARE = 0.3
CHUNK = 2000  # requests per transaction while loading
START_HOUR_UTC = 10  # the batch falls due from 10:00 UTC on a weekday: every team is open
LEAD_S = 5.0  # from the worker's first step to the batch's first deadline
CANARY_BEFORE = dt.timedelta(minutes=15)  # the clock while waiting for the worker's first step
ROUTING_DELAY = dt.timedelta(milliseconds=400)  # created → routed, as the worker would
POLL_S = 0.25
TARGET_P99_S = 2.0


def first_moment(after: dt.datetime) -> dt.datetime:
    """10:00 UTC on the first weekday at least a day after `after`: T0, when the batch is due."""
    day = (after + dt.timedelta(days=1)).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, START_HOUR_UTC, tzinfo=dt.UTC)


# The rows -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Seller:
    user: User
    team: Team
    rule: RoutingRule
    hours: WorkingHours


@dataclasses.dataclass
class Plan:
    """One request as routing would have left it."""

    n: int
    seller: Seller
    kind: str
    wants_contact: bool
    created_at: dt.datetime
    due: dt.datetime
    timers: list[tuple[str, dt.datetime]]  # (step, due_at)
    # Steps due before this were done before the run (only reminders can be); None: none were.
    settled_before: dt.datetime | None


class Loader:
    """Writes requests in bulk, with every row `request_assign` (and a done reminder) makes."""

    def __init__(
        self, *, t0: dt.datetime, horizon: dt.timedelta, open_requests: int, seed: int
    ) -> None:
        from django.conf import settings
        from django.contrib.auth.hashers import make_password

        from leadline.capture.models import Request
        from leadline.core.models import Person, PersonEmail, Role, Team, TimelineEvent, User
        from leadline.demo.bulk import Table
        from leadline.notify.models import InboxItem, OutgoingMail
        from leadline.routing.models import (
            Assignment,
            Ownership,
            RequestRouting,
            RoutingRule,
            Timer,
        )
        from leadline.routing.services import DEFAULT_LADDER, person_link, team_hours

        self.t0 = t0
        self.horizon = horizon  # no step of an unmeasured request may fall due before t0+horizon
        self.rng = random.Random(seed)
        self.ladder = DEFAULT_LADDER
        self.sellers_by_team: list[list[Seller]] = []
        self.rows = Counter[str]()
        self.tables = {
            model: Table(model)
            for model in (
                Person,
                PersonEmail,
                Request,
                RequestRouting,
                Assignment,
                Ownership,
                TimelineEvent,
                Timer,
                InboxItem,
                OutgoingMail,
            )
        }
        # The link of every notification, as routing writes it, without a URL lookup per row.
        self.person_link = person_link(987654321).replace("987654321", "{}")
        password = make_password(None)  # unusable: nobody logs in as a bench user
        # Room for every relationship the load gives each rep, as routing would need.
        reps = len(TEAMS) * REPS_PER_TEAM
        cap = max(settings.ROUTING_RELATIONSHIP_CAP, 2 * (open_requests // reps + 1))
        for index, (country, zone) in enumerate(TEAMS):
            manager = User.objects.create(
                username=f"manager{index:02d}",
                first_name="Manager",
                last_name=f"{country}",
                email=f"manager{index:02d}@sellers.bench.example",
                role=Role.SALES_MANAGER,
                time_zone=zone,
                password=password,
            )
            team = Team.objects.create(
                name=f"Inside Sales {country}",
                manager=manager,
                time_zone=zone,
                country=country,
                working_hours=WORKING_HOURS,
            )
            User.objects.filter(pk=manager.pk).update(team=team)
            rule = RoutingRule.objects.create(
                name=f"{country} by country",
                position=10 + index,
                team=team,
                conditions=[{"field": "country", "op": "eq", "value": country}],
            )
            hours = team_hours(team)
            sellers = []
            for rep in range(REPS_PER_TEAM):
                user = User.objects.create(
                    username=f"rep{index:02d}{rep:02d}",
                    first_name=f"Rep{rep:02d}",
                    last_name=f"{country}",
                    email=f"rep{index:02d}{rep:02d}@sellers.bench.example",
                    role=Role.SALES_REP,
                    team=team,
                    time_zone=zone,
                    relationship_cap=cap,
                    password=password,
                )
                sellers.append(Seller(user=user, team=team, rule=rule, hours=hours))
            self.sellers_by_team.append(sellers)
        self.rows["users"] = User.objects.count()
        self.turns = itertools.count()

    def _seller(self, teams: Sequence[int] | None = None) -> Seller:
        """Round robin over each team's reps, teams at random: fair, as routing is."""
        team = self.rng.choice(teams) if teams else self.rng.randrange(len(self.sellers_by_team))
        reps = self.sellers_by_team[team]
        return reps[next(self.turns) % len(reps)]

    def _timers(self, seller: Seller, created_at: dt.datetime, due: dt.datetime) -> list[Any]:
        """The ladder's steps, as `routing.services._timers_plan` plans them."""
        from leadline.routing.models import Step

        ladder, hours = self.ladder, seller.hours
        steps: list[tuple[str, dt.datetime]] = [(Step.BREACH, due)]
        if ladder.remind_before is not None and due - ladder.remind_before > created_at:
            steps.append((Step.REMIND, due - ladder.remind_before))
        if ladder.reassign_after is not None:
            steps.append((Step.REASSIGN, hours.add_business_time(due, ladder.reassign_after)))
        if ladder.fallback_after is not None:
            steps.append((Step.FALLBACK, hours.add_business_time(due, ladder.fallback_after)))
        return steps

    def plan_waiting(self, n: int) -> Plan:
        """An unmeasured request: received in the last hours, nothing of it due during the run."""
        from leadline.routing.business_hours import first_touch_due

        kinds, weights = list(KINDS), list(KINDS.values())
        quiet_from = self.t0 - dt.timedelta(minutes=1)
        quiet_until = self.t0 + self.horizon
        for _ in range(100):
            seller = self._seller()
            kind = self.rng.choices(kinds, weights)[0]
            wants_contact = self.rng.random() < CONTACT_SHARE
            quick = wants_contact or kind in ("contact", "demo", "pricing")
            span = dt.timedelta(minutes=70) if quick else dt.timedelta(hours=30)
            created_at = quiet_from - span * self.rng.random()
            due = first_touch_due(
                received_at=created_at, kind=kind, wants_contact=wants_contact, hours=seller.hours
            )
            timers = self._timers(seller, created_at, due)
            if all(not quiet_from <= at <= quiet_until for _, at in timers) and due > quiet_until:
                return Plan(n, seller, kind, wants_contact, created_at, due, timers, quiet_from)
        raise RuntimeError("could not place a request's deadline outside the measured window")

    def plan_contact(
        self, n: int, due: dt.datetime, teams: Sequence[int], settled_before: dt.datetime | None
    ) -> Plan:
        """A contact request received one business hour before `due`, on one of `teams`."""
        from leadline.routing.business_hours import first_touch_due

        seller = self._seller(teams)
        created_at = due - dt.timedelta(hours=1)
        computed = first_touch_due(
            received_at=created_at, kind="contact", wants_contact=True, hours=seller.hours
        )
        if computed != due:
            raise RuntimeError(f"{seller.team}: due {computed}, not {due}")
        timers = self._timers(seller, created_at, due)
        return Plan(n, seller, "contact", True, created_at, due, timers, settled_before)

    def teams_open(self, due: dt.datetime) -> list[int]:
        """The teams open for the hour before `due` (not on a public holiday that day)."""
        from leadline.routing.business_hours import first_touch_due

        created_at = due - dt.timedelta(hours=1)
        return [
            index
            for index, sellers in enumerate(self.sellers_by_team)
            if first_touch_due(
                received_at=created_at, kind="contact", wants_contact=True, hours=sellers[0].hours
            )
            == due
        ]

    def write(self, plans: Sequence[Plan]) -> list[int]:
        """Store the requests and everything routing made for them, in one transaction.
        Returns the requests' ids."""
        from django.db import transaction

        from leadline.capture.models import Request, RequestStatus
        from leadline.core.models import Person, PersonEmail, TimelineEvent
        from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
        from leadline.routing.models import Assignment, Ownership, Queue, RequestRouting, Timer
        from leadline.routing.services import local_time

        tables = self.tables
        people, emails, requests = tables[Person], tables[PersonEmail], tables[Request]
        routings, assignments = tables[RequestRouting], tables[Assignment]
        ownerships, events, timers = tables[Ownership], tables[TimelineEvent], tables[Timer]
        inbox, mail = tables[InboxItem], tables[OutgoingMail]
        ids: list[int] = []
        for p in plans:
            owner, team, rule = p.seller.user, p.seller.team, p.seller.rule
            at = p.created_at + ROUTING_DELAY
            first, last = f"Pat{p.n}", "Bench"
            label = f"{first} {last}"
            person = people.add(
                first_name=first,
                last_name=last,
                country=team.country,
                created_at=p.created_at,
                updated_at=p.created_at,
            )
            emails.add(
                person_id=person,
                email=f"pat{p.n}@buyer{p.n % 997}.example",
                is_primary=True,
                created_at=p.created_at,
            )
            request = requests.add(
                person_id=person,
                kind=p.kind,
                wants_contact=p.wants_contact,
                message="Could someone call me about closing the books faster?",
                status=RequestStatus.OPEN,
                source="api",
                created_at=p.created_at,
                updated_at=p.created_at,
            )
            ids.append(request)
            why = f"Assigned to {owner} (rule “{rule.name}”)"
            routings.add(
                request_id=request,
                team_id=team.pk,
                owner_id=owner.pk,
                queue=Queue.OWNER,
                assigned_at=at,
                first_touch_due=p.due,
            )
            assignments.add(
                request_id=request,
                owner_id=owner.pk,
                team_id=team.pk,
                rule_id=rule.pk,
                queue=Queue.OWNER,
                why=why,
                skipped=[],
                at=at,
            )
            ownerships.add(
                owner_id=owner.pk, person_id=person, started_at=at, reason="routed a request"
            )
            events.add(
                kind="request.assigned",
                summary=why,
                person_id=person,
                occurred_at=at,
                recorded_at=at,
                data={
                    "request_id": request,
                    "owner_id": owner.pk,
                    "queue": Queue.OWNER,
                    "first_touch_due": p.due.isoformat(),
                    "skipped": [],
                },
            )
            due_text = local_time(p.due, owner)
            told = [
                (
                    "request.assigned",
                    f"New request: {label}",
                    f"{label} — {p.kind}.\nFirst touch due {due_text}.",
                    at,
                )
            ]
            for step, due_at in p.timers:
                done = p.settled_before is not None and due_at < p.settled_before
                if done and step != "remind":
                    raise RuntimeError(f"a {step} step would be done before the run")
                done_at = due_at + dt.timedelta(milliseconds=300) if done else None
                timers.add(
                    request_id=request,
                    step=step,
                    due_at=due_at,
                    done_at=done_at,
                    outcome=f"reminded {owner}" if done else "",
                )
                if done_at is not None:
                    told.append(
                        (
                            "escalation.reminder",
                            f"First touch due {due_text}: {label}",
                            f"{label} is waiting for a first touch by {due_text}.",
                            done_at,
                        )
                    )
                    events.add(
                        kind="escalation.reminder",
                        summary=f"Reminded {owner}: first touch due {local_time(p.due, None)}",
                        person_id=person,
                        occurred_at=done_at,
                        recorded_at=done_at,
                        data={"request_id": request, "owner_id": owner.pk},
                    )
            for kind, title, body, when in told:
                ref = f"request:{request}"
                inbox.add(
                    user_id=owner.pk,
                    kind=kind,
                    title=title,
                    body=body,
                    link=self.person_link.format(person),
                    person_id=person,
                    subject_ref=ref,
                    created_at=when,
                )
                # Long sent: the worker must find nothing of the past waiting.
                mail.add(
                    to=[owner.email],
                    subject=title,
                    text=body,
                    reason=kind,
                    subject_ref=ref,
                    user_id=owner.pk,
                    message_id=f"<bench.{secrets.token_hex(12)}@leadline.localhost>",
                    status=SendStatus.SENT,
                    attempts=1,
                    created_at=when,
                    next_attempt_at=when,
                    sent_at=when + dt.timedelta(seconds=1),
                )
        with transaction.atomic():
            for table in tables.values():
                self.rows[table.name] += table.flush()
        return ids


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclasses.dataclass
class Loaded:
    batch_ids: list[int]
    canary_id: int
    seconds: float
    rows: int


def load(args: argparse.Namespace, t0: dt.datetime) -> Loaded:
    from django.db import connection
    from tqdm import tqdm

    began = time.perf_counter()
    horizon = dt.timedelta(seconds=LEAD_S + args.spread + args.timeout + 60)
    loader = Loader(t0=t0, horizon=horizon, open_requests=args.open, seed=args.seed)
    teams = loader.teams_open(t0)
    canary_due = t0 - dt.timedelta(minutes=1)
    canary_teams = loader.teams_open(canary_due)
    if not teams or not canary_teams:
        raise RuntimeError(f"no team is open the hour before {t0}: public holidays everywhere?")
    step = dt.timedelta(seconds=args.spread / args.batch)
    waiting = args.open - args.batch
    # The measured requests are among the others, at random places, as in a real table.
    measured = set(random.Random(args.seed).sample(range(args.open), args.batch))
    batch_dues = iter(t0 + step * i for i in range(args.batch))
    # Their reminders (15 minutes before) were done before the run.
    settled = t0 - dt.timedelta(minutes=1)
    say(
        f"loading {args.open:,} open requests ({waiting:,} waiting, {args.batch:,} measured) "
        f"into {connection.vendor}…"
    )
    batch_ids: list[int] = []
    with tqdm(total=args.open, unit="req", file=sys.stderr, mininterval=1.0) as bar:
        for part in chunks(range(args.open), CHUNK):
            plans = [
                loader.plan_contact(n, next(batch_dues), teams, settled)
                if n in measured
                else loader.plan_waiting(n)
                for n in part
            ]
            ids = loader.write(plans)
            batch_ids += [pk for pk, plan in zip(ids, plans, strict=True) if plan.n in measured]
            bar.update(len(part))
    # The canary's reminder (at T0 - 16 min) is the only step due when the worker starts on a
    # clock at T0 - CANARY_BEFORE: its being done shows the worker's timer loop is up.
    [canary_id] = loader.write([loader.plan_contact(args.open, canary_due, canary_teams, None)])
    if connection.vendor == "postgresql":
        for table in loader.tables.values():
            table.sequence_reset()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize")
    return Loaded(
        batch_ids=batch_ids,
        canary_id=canary_id,
        seconds=time.perf_counter() - began,
        rows=sum(loader.rows.values()),
    )


# The run ------------------------------------------------------------------------------------


def clock_to(path: Path, moment: dt.datetime) -> None:
    """Move every process's clock (LEADLINE_CLOCK_FILE) so that now is `moment`."""
    from django.utils import timezone

    from leadline.core import clock

    clock.offset_file_write(path, moment - timezone.now())


def worker_trouble(server: Any, lines: int = 30) -> str:
    """The worker log's tracebacks, else its last lines (mostly the mails it printed)."""
    path = server.log_path("worker")
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback")]
    if starts:
        shown = [line for i in starts[:3] for line in text[i : i + lines // 2]]
        title = f"{len(starts)} tracebacks in {path}, the first ones"
    else:
        shown, title = text[-lines:], f"last {lines} lines of {path}"
    state = "running" if "worker" not in server.stopped() else "stopped"
    return f"--- leadline worker ({state}), {title}:\n" + "\n".join(shown)


def worker_up(server: Any, canary_id: int, timeout: float) -> None:
    """Wait until the worker has done the canary's reminder, then settle the canary."""
    from leadline.capture.models import Request
    from leadline.routing.models import Step, Timer, TouchKind
    from leadline.routing.services import touch_record

    deadline = time.monotonic() + timeout
    while not Timer.objects.filter(
        request_id=canary_id, step=Step.REMIND, done_at__isnull=False
    ).exists():
        if server.stopped():
            raise RuntimeError(f"the worker stopped while starting\n{worker_trouble(server)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the worker did not do a reminder that was due when it started within "
                f"{timeout:.0f} s: is its timer loop running?\n{worker_trouble(server)}"
            )
        time.sleep(POLL_S)
    request: Request = Request.objects.select_related("person").get(pk=canary_id)
    touch_record(request=request, user=None, kind=TouchKind.EMAIL, note="bench canary")


def wait_done(server: Any, batch_ids: list[int], until: float) -> None:
    from leadline.routing.models import Step, Timer

    pending = Timer.objects.filter(request_id__in=batch_ids, step=Step.BREACH, done_at__isnull=True)
    while True:
        left = pending.count()
        if not left:
            return
        if server.stopped():
            raise RuntimeError(f"the worker stopped during the run\n{worker_trouble(server)}")
        if time.monotonic() > until:
            raise RuntimeError(
                f"{left} of {len(batch_ids)} breach steps still not done when the run timed "
                f"out\n{worker_trouble(server)}"
            )
        time.sleep(POLL_S)


@dataclasses.dataclass
class Checked:
    lateness: list[float]
    once: int
    manager_mails: int
    manager_inbox: int
    other_steps: int
    problems: list[str]


def check(batch_ids: list[int], began: dt.datetime) -> Checked:
    """Lateness of each breach step, and that each was done once and told the manager."""
    from leadline.core.models import TimelineEvent
    from leadline.notify.models import InboxItem, OutgoingMail
    from leadline.routing.models import RequestRouting, Step, Timer

    wanted = set(batch_ids)
    problems: list[str] = []
    breaches = list(
        Timer.objects.filter(request_id__in=batch_ids, step=Step.BREACH).values_list(
            "request_id", "due_at", "done_at", "outcome"
        )
    )
    lateness = [(done - due).total_seconds() for _, due, done, _ in breaches if done]
    untold = [pk for pk, _, _, outcome in breaches if not outcome.startswith("told ")]
    if untold:
        problems.append(f"{len(untold)} breach steps told nobody, e.g. request {untold[0]}")
    events = Counter(
        data.get("request_id")
        for data in TimelineEvent.objects.filter(kind="escalation.breach").values_list(
            "data", flat=True
        )
    )
    once = sum(1 for pk in wanted if events.get(pk) == 1)
    if once != len(wanted):
        twice = sum(1 for pk in wanted if events.get(pk, 0) > 1)
        problems.append(
            f"{len(wanted) - once} batch requests without exactly one escalation.breach event "
            f"({twice} with more than one)"
        )
    strays = sum(n for pk, n in events.items() if pk not in wanted)
    if strays:
        problems.append(f"{strays} escalation.breach events for requests outside the batch")
    managers = dict(
        RequestRouting.objects.filter(request_id__in=batch_ids).values_list(
            "request_id", "team__manager_id"
        )
    )
    refs = {f"request:{pk}": manager for pk, manager in managers.items()}

    def once_to_the_manager(rows: Any) -> int:
        """How many breaches have exactly one of these rows, addressed to their team's manager."""
        counts = Counter(
            ref
            for ref, user in rows.filter(subject_ref__in=list(refs)).values_list(
                "subject_ref", "user_id"
            )
            if refs[ref] == user
        )
        return sum(1 for ref in refs if counts.get(ref) == 1)

    manager_mails = once_to_the_manager(OutgoingMail.objects.filter(reason="escalation.breach"))
    if manager_mails != len(wanted):
        problems.append(f"{len(wanted) - manager_mails} breaches without one mail to the manager")
    manager_inbox = once_to_the_manager(InboxItem.objects.filter(kind="escalation.breach"))
    if manager_inbox != len(wanted):
        problems.append(f"{len(wanted) - manager_inbox} breaches without an inbox item")
    other_steps = Timer.objects.filter(done_at__gte=began).exclude(request_id__in=batch_ids).count()
    if other_steps:
        problems.append(f"{other_steps} steps of unmeasured requests were done during the run")
    return Checked(lateness, once, manager_mails, manager_inbox, other_steps, problems)


def lateness_profile(batch_ids: list[int]) -> None:
    """Where the time went, from the rows: the worker's pace when it had a backlog."""
    from leadline.routing.models import Step, Timer

    rows = sorted(
        (done, due)
        for due, done in Timer.objects.filter(
            request_id__in=batch_ids, step=Step.BREACH
        ).values_list("due_at", "done_at")
        if done is not None
    )
    # Consecutive steps where the next was already due when this one started: back to back,
    # so the gap is what one step cost the worker.
    gaps = [
        (later - done).total_seconds()
        for (done, _), (later, later_due) in itertools.pairwise(rows)
        if later_due <= done
    ]
    if gaps:
        say(
            f"back-to-back steps: {len(gaps)} of {len(rows)}, median "
            f"{statistics.median(gaps) * 1000:.1f} ms apart (what one breach step costs the "
            f"worker), p99 {percentile(gaps, 0.99) * 1000:.1f} ms; at most "
            f"{1 / statistics.median(gaps):.0f} steps/s"
        )


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.server import (
        LiveLeadline,
        _postgres_database_create,
        _with_database_name,
        server_env,
        server_stop,
    )

    data_dir = Path(tempfile.mkdtemp(prefix="leadline-sla-"))
    database_url = os.environ.get("LEADLINE_DATABASE_URL") or None
    postgres_database = postgres_admin_url = None
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        postgres_admin_url = database_url
        postgres_database = _postgres_database_create(postgres_admin_url)
        database_url = _with_database_name(database_url, postgres_database)
    clock_file = data_dir / "clock-offset"
    env = server_env(
        data_dir=data_dir,
        database_url=database_url,
        extra={"LEADLINE_CLOCK_FILE": str(clock_file)},
    )
    server = LiveLeadline(
        url="",  # no web server: the worker is what is measured
        env=env,
        data_dir=data_dir,
        postgres_database=postgres_database,
        postgres_admin_url=postgres_admin_url,
        _owns_data_dir=True,
    )
    connected = False
    try:
        say(f"migrating a fresh {'PostgreSQL' if postgres_database else 'SQLite'} database…")
        server.run("migrate", "--no-input", "-v", "0")
        # This process reads and writes the same database, on the same moved clock.
        for name in set(os.environ) - set(env):
            del os.environ[name]
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "leadline.settings"
        import django

        django.setup()
        connected = True
        return measure(args, server, clock_file)
    finally:
        if connected:  # PostgreSQL drops the database only once nobody is connected
            from django.db import connections

            connections.close_all()
        server_stop(server)


def measure(args: argparse.Namespace, server: Any, clock_file: Path) -> int:
    from django.utils import timezone
    from tests.server import _spawn

    from leadline.core import clock

    t0 = first_moment(timezone.now())
    loaded = load(args, t0)
    say(
        f"loaded {args.open:,} requests ({loaded.rows:,} rows) in {loaded.seconds:.1f} s; "
        f"the batch falls due from {t0:%a %d %b %H:%M} UTC (moved clock)"
    )
    if args.in_process:
        return steps_in_process(args, loaded, clock_file, t0)
    clock_to(clock_file, t0 - CANARY_BEFORE)
    _spawn(server, "worker", ["worker"])
    worker_up(server, loaded.canary_id, timeout=60.0)
    began = t0 - dt.timedelta(seconds=LEAD_S)
    clock_to(clock_file, began)
    rate = args.batch / args.spread
    say(
        f"worker up; {args.batch} breach steps fall due over {args.spread:.0f} s "
        f"({rate:.0f}/s) from {LEAD_S:.0f} s from now; machine load {os.getloadavg()[0]:.1f}"
    )
    started = time.monotonic()
    wait_done(server, loaded.batch_ids, until=started + LEAD_S + args.spread + args.timeout)
    say(
        f"all done {time.monotonic() - started - LEAD_S - args.spread:.1f} s after the last "
        f"deadline (clock now {clock.now():%H:%M:%S})"
    )
    checked = check(loaded.batch_ids, began)
    lateness_profile(loaded.batch_ids)
    for problem in checked.problems:
        say(f"PROBLEM: {problem}")

    p99 = percentile(checked.lateness, 0.99)
    emit("sla_open_requests", args.open, "requests")
    emit("sla_load_s", loaded.seconds, "s")
    emit("sla_load_rows", loaded.rows, "rows")
    emit("sla_batch_rate", rate, "deadlines/s")
    emit("breach_notice_count", len(checked.lateness), "steps")
    emit("breach_done_exactly_once", checked.once, "requests")
    emit("breach_manager_mails_queued", checked.manager_mails, "mails")
    emit("breach_manager_inbox_items", checked.manager_inbox, "items")
    emit("sla_other_steps_done", checked.other_steps, "steps")
    emit("breach_notice_p50_s", statistics.median(checked.lateness), "s")
    emit("breach_notice_max_s", max(checked.lateness), "s")
    if p99 > TARGET_P99_S:
        say(f"p99 {p99:.2f} s is above the target of {TARGET_P99_S:.0f} s")
    emit("breach_notice_p99_s", p99)
    return 1 if checked.problems else 0


def steps_in_process(
    args: argparse.Namespace, loaded: Loaded, clock_file: Path, t0: dt.datetime
) -> int:
    """No worker: do the batch's breach steps here, one after another, as `timers_fire_due`
    does, timing each and counting its SQL statements: what one step costs with nothing else
    competing for the database or the processor."""
    from django.db import connection

    from leadline.routing.models import Step, Timer
    from leadline.routing.services import timer_fire

    began = t0 - dt.timedelta(seconds=LEAD_S)
    clock_to(clock_file, t0 + dt.timedelta(seconds=args.spread + 1))
    ids = list(
        Timer.objects.filter(request_id__in=loaded.batch_ids, step=Step.BREACH)
        .order_by("due_at")
        .values_list("pk", flat=True)
    )
    statements = Counter[str]()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    took: list[float] = []
    say(f"doing {len(ids)} breach steps in this process, one after another…")
    with connection.execute_wrapper(count):
        for pk in ids:
            started = time.perf_counter()
            timer_fire(timer_id=pk)
            took.append((time.perf_counter() - started) * 1000)
    checked = check(loaded.batch_ids, began)
    for problem in checked.problems:
        say(f"PROBLEM: {problem}")
    # The worker's safety-net sweeps run every 10 s beside the timer loop, in the same process.
    from leadline.cli import _sweeps

    started = time.perf_counter()
    _sweeps()
    sweep_s = time.perf_counter() - started
    per_step = {kind: n / len(ids) for kind, n in statements.most_common()}
    say("SQL statements per step: " + ", ".join(f"{k} {v:.1f}" for k, v in per_step.items()))
    emit("sla_open_requests", args.open, "requests")
    emit("sla_load_s", loaded.seconds, "s")
    emit("breach_done_exactly_once", checked.once, "requests")
    emit("breach_manager_mails_queued", checked.manager_mails, "mails")
    emit("breach_step_statements", sum(per_step.values()), "statements")
    emit("breach_step_first_ms", took[0], "ms")
    emit("breach_step_p50_ms", statistics.median(took), "ms")
    emit("breach_step_p99_ms", percentile(took, 0.99), "ms")
    emit("worker_sweeps_s", sweep_s, "s")
    emit("breach_steps_per_s", 1000 * len(took) / sum(took), "1/s")
    return 1 if checked.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open requests loaded")
    parser.add_argument("--batch", type=int, default=1000, help="of them, falling due in the run")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds the batch is due over")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds after the last deadline to give up"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no worker: do the batch's steps in this process, one after another, and report "
        "what one step costs (its time and SQL statements) instead of lateness",
    )
    add_database_argument(parser, what=FRESH_DATABASE_HELP)
    args = parser.parse_args(argv)
    if not 0 < args.batch <= args.open or args.spread <= 0:
        parser.error("need 0 < --batch <= --open and --spread > 0")
    database_from(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
