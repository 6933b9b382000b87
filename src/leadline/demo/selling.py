"""How the demo's sellers follow up on requests, and the escalation ladder around them.

Planning (pure, from the plan's random generator): for each request, the touches its owner
makes, as open time of the owner's team since the request arrived. Someone who asked to be
contacted is mostly called within the hour (median about 25 minutes), some only hours later, a
few never; calls take some attempts to connect, a connected call may book a meeting, a wrong
number or three calls without contact turn into a mail. Downloads and events without the
contact box get a mail or a call within a day or two, or nothing.

Storing: a `Replay` runs one person's history in time order with the clock at each moment.
Before each step it does the ladder steps (`timer_fire`) of that person's requests that came due
before it, each with the clock at its own due time; a touch is made by whoever owns the request
at that moment (a reassignment changes that). So the history holds the reminders, breaches,
reassignments and fallbacks the product itself would have made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Callable
from typing import Any

from django.db.models import F, Q, QuerySet
from django_tasks import TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from leadline.capture.models import Request, RequestKind
from leadline.core import clock
from leadline.core.models import Person, Team, User
from leadline.core.services import person_update
from leadline.demo import banks
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.tasks import mail_deliver_task, mails_deliver_task
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import CallOutcome, RequestRouting, Timer, TouchKind
from leadline.routing.services import team_hours, timer_fire, touch_record

URGENT_KINDS = (RequestKind.CONTACT, RequestKind.DEMO, RequestKind.PRICING)
# Someone who asked to be contacted: never touched, touched within the first hour, else late.
NEVER_URGENT = 0.03
ON_TIME_URGENT = 0.75
MEDIAN_ON_TIME = 25.0  # minutes of open time
# A download or an event without the contact box.
NEVER_QUIET = 0.3
ON_TIME_QUIET = 0.75  # of those touched, within the first working day (8 open hours)
FIRST_CALL_CONNECTS = 0.5
LATER_CALL_CONNECTS = 0.45
MEETING_AFTER_CONNECT: dict[str, float] = {RequestKind.DEMO: 0.6, RequestKind.PRICING: 0.45}
MEETING_AFTER_CONNECT_OTHER = 0.3
# A rep writes down what they learned a few minutes after the call that reached someone.
NOTE_AFTER_CALL = dt.timedelta(minutes=4)
# Inbox items older than this when the demo starts have been read.
UNREAD_FOR = dt.timedelta(days=1)


@dataclasses.dataclass
class TouchPlan:
    """One attempt to reach the person about one request, by whoever owns it then."""

    after: dt.timedelta  # open time of the owner's team since the request arrived
    kind: str
    outcome: str = ""
    note: str = ""
    # What the rep wrote down after this call (set on the person's first connected call).
    learned: dict[str, str] = dataclasses.field(default_factory=dict)


def _minutes(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(60 * rng.uniform(low, high)))


def _hours(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return _minutes(rng, 60 * low, 60 * high)


def _first_touch_after(rng: random.Random, *, urgent: bool) -> dt.timedelta | None:
    """Open time from arrival to the first touch, or None for never."""
    if urgent:
        r = rng.random()
        if r < NEVER_URGENT:
            return None
        if r < NEVER_URGENT + ON_TIME_URGENT:
            while True:  # log-normal around the median, inside the hour
                minutes = rng.lognormvariate(math.log(MEDIAN_ON_TIME), 0.65)
                if 1.5 <= minutes < 58:
                    return dt.timedelta(seconds=round(60 * minutes))
        late = rng.random()
        if late < 0.55:
            return _minutes(rng, 62, 120)  # late, but still with the first owner
        if late < 0.85:
            return _minutes(rng, 120, 300)  # after the ladder handed it on
        return _minutes(rng, 300, 1200)  # picked up from the fallback queue
    if rng.random() < NEVER_QUIET:
        return None
    if rng.random() < ON_TIME_QUIET:
        return _hours(rng, 0.5, 7.5)
    return _hours(rng, 8.5, 16)


def _cares(cares: str) -> str:
    return cares[:1].lower() + cares[1:]


def _meeting(rng: random.Random, kind: str, after: dt.timedelta) -> TouchPlan:
    notes = banks.MEETING_NOTES.get(kind, banks.MEETING_NOTES["other"])
    return TouchPlan(after + _minutes(rng, 3, 12), TouchKind.MEETING, note=rng.choice(notes))


def _calls(rng: random.Random, *, kind: str, start: dt.timedelta, cares: str) -> list[TouchPlan]:
    """Call until someone answers: up to four attempts, a mail after a wrong number, and after
    three attempts without contact sometimes a mail instead of a fourth."""
    touches: list[TouchPlan] = []
    after = start
    gaps = ((1, 3), (4, 10), (6, 16))  # open hours between attempts
    for attempt in range(4):
        chance = FIRST_CALL_CONNECTS if attempt == 0 else LATER_CALL_CONNECTS
        if rng.random() < chance:
            note = rng.choice(banks.CALL_NOTES).format(cares=_cares(cares))
            touches.append(TouchPlan(after, TouchKind.CALL, CallOutcome.CONNECTED, note))
            wanted = MEETING_AFTER_CONNECT.get(kind, MEETING_AFTER_CONNECT_OTHER)
            if rng.random() < wanted:
                touches.append(_meeting(rng, kind, after))
            return touches
        outcome = rng.choices(
            (CallOutcome.VOICEMAIL, CallOutcome.NO_ANSWER, CallOutcome.WRONG_NUMBER), (45, 50, 5)
        )[0]
        note = rng.choice(banks.VOICEMAIL_NOTES) if outcome == CallOutcome.VOICEMAIL else ""
        touches.append(TouchPlan(after, TouchKind.CALL, outcome, note))
        if outcome == CallOutcome.WRONG_NUMBER:
            mail_after = after + _minutes(rng, 5, 30)
            touches.append(TouchPlan(mail_after, TouchKind.EMAIL, note=banks.WRONG_NUMBER_NOTE))
            return touches
        if attempt == 2 and rng.random() < 0.5:
            mail_after = after + _minutes(rng, 20, 120)
            touches.append(TouchPlan(mail_after, TouchKind.EMAIL, note=banks.NO_CONTACT_EMAIL_NOTE))
            return touches
        if attempt < len(gaps):
            after += _hours(rng, *gaps[attempt])
    return touches


def plan_touches(
    rng: random.Random, *, kind: str, wants_contact: bool, has_phone: bool, cares: str
) -> list[TouchPlan]:
    """The touches of one request, in time order (empty: nobody ever reaches out)."""
    urgent = wants_contact or kind in URGENT_KINDS
    start = _first_touch_after(rng, urgent=urgent)
    if start is None:
        return []
    if urgent:
        # Without a number on the form most reps find the switchboard's; some write instead.
        if has_phone or rng.random() < 0.5:
            return _calls(rng, kind=kind, start=start, cares=cares)
        touches = [TouchPlan(start, TouchKind.EMAIL, note=rng.choice(banks.EMAIL_NOTES["urgent"]))]
        if rng.random() < 0.45:  # they wrote back and a time was found
            touches.append(_meeting(rng, kind, start + _hours(rng, 2, 20)))
        return touches
    if not has_phone or rng.random() < 0.55:
        notes = banks.EMAIL_NOTES.get(kind, banks.EMAIL_NOTES["download"])
        return [TouchPlan(start, TouchKind.EMAIL, note=rng.choice(notes))]
    if rng.random() < 0.4:
        note = rng.choice(banks.CALL_NOTES).format(cares=_cares(cares))
        return [TouchPlan(start, TouchKind.CALL, CallOutcome.CONNECTED, note)]
    return [TouchPlan(start, TouchKind.CALL, CallOutcome.NO_ANSWER)]


# ---------------------------------------------------------------------------------------------
# Storing: one person's history in time order, with the ladder between the steps.

# Order of steps at the same moment.
PROCESS, DOWNLOAD, NOTE, TOUCH, LEARNED = range(5)


class Replay:
    """One person's steps, run in time order with the clock at each; steps may add later ones.

    Steps after `now` are dropped: they have not happened yet."""

    def __init__(self, *, now: dt.datetime, sellers: SellerCache) -> None:
        self.now = now
        self.sellers = sellers
        self._steps: list[tuple[dt.datetime, int, int, Callable[[], object]]] = []
        self._order = itertools.count()
        # The person's ladder steps still to do: (due, timer id).
        self._timers: list[tuple[dt.datetime, int]] = []

    def add(self, at: dt.datetime, rank: int, step: Callable[[], object]) -> None:
        if at <= self.now:
            heapq.heappush(self._steps, (at, rank, next(self._order), step))

    def run(self) -> None:
        while self._steps:
            at, _, _, step = heapq.heappop(self._steps)
            self._ladder_until(at)
            with clock.frozen_at(at):
                step()
        self._ladder_until(self.now)

    def _ladder_until(self, moment: dt.datetime) -> None:
        """Do the person's ladder steps due by `moment`, each at its own due time."""
        while self._timers and self._timers[0][0] <= moment:
            due, timer_id = heapq.heappop(self._timers)
            with clock.frozen_at(due):
                timer_fire(timer_id=timer_id)

    def request_routed(self, request: Request, touches: list[TouchPlan]) -> None:
        """A new request was routed: wait for its ladder, and plan its touches in its team's
        open hours."""
        routing = RequestRouting.objects.select_related("team").filter(request=request).first()
        if routing is None:  # routing failed and was logged; the leak check will say so
            return
        for due, timer_id in Timer.objects.filter(
            request=request, done_at__isnull=True
        ).values_list("due_at", "pk"):
            heapq.heappush(self._timers, (due, timer_id))
        hours = self.sellers.hours(routing.team_id, routing.team)
        for touch in touches:
            at = hours.add_business_time(request.created_at, touch.after)
            self.add(at, TOUCH, _bind(self._touch, request, touch))

    def _touch(self, request: Request, touch: TouchPlan) -> None:
        owner_id = (
            RequestRouting.objects.filter(request=request).values_list("owner", flat=True).first()
        )
        user = self.sellers.user(owner_id)
        touch_record(
            request=request,
            user=user,
            kind=touch.kind,
            outcome=touch.outcome,
            note=touch.note,
            at=clock.now(),
        )
        # The first touch settled every step still waiting for this person's requests.
        self._timers.clear()
        if touch.learned:
            self.add(
                clock.now() + NOTE_AFTER_CALL,
                LEARNED,
                _bind(_write_down, request.person, touch.learned, user),
            )


def _bind(function: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: function(*args)


def _write_down(person: Person, changes: dict[str, str], user: User | None) -> None:
    person_update(person=person, changes=changes, actor=user)


class SellerCache:
    """Users by id and teams' open hours, read once per run."""

    def __init__(self, users: dict[str, User]) -> None:
        self._users: dict[int, User] = {u.pk: u for u in users.values()}
        self._hours: dict[int | None, WorkingHours] = {}

    def user(self, pk: int | None) -> User | None:
        if pk is None:
            return None
        if pk not in self._users:
            self._users[pk] = User.objects.get(pk=pk)
        return self._users[pk]

    def hours(self, team_id: int | None, team: Team | None) -> WorkingHours:
        if team_id not in self._hours:
            self._hours[team_id] = team_hours(team)
        return self._hours[team_id]


def ladder_catch_up(*, first_request_id: int, now: dt.datetime) -> int:
    """Do every step of this run's requests still waiting though due by `now`, each at its due
    time, in due order. The replay does them per person; this makes sure. How many were done."""
    return timers_replay(
        Timer.objects.filter(request_id__gte=first_request_id), fire=timer_fire, until=now
    )


def timers_replay(timers: QuerySet[Any], *, fire: Callable[..., object], until: dt.datetime) -> int:
    """Do each of `timers` (deadline rows with `due_at` and `done_at`) still waiting though due
    by `until`, each at its own due time, in due order, as the worker would have. How many
    were done."""
    due = timers.filter(done_at__isnull=True, due_at__lte=until).order_by("due_at", "pk")
    done = 0
    for timer_id, due_at in list(due.values_list("pk", "due_at")):
        with clock.frozen_at(due_at):
            done += fire(timer_id=timer_id) is not None
    return done


def history_settle(*, first_mail_id: int, first_item_id: int, now: dt.datetime) -> int:
    """Make the notifications of a replayed past look as they would today.

    The mail to sellers that the history queued (new requests, reminders, breaches...) went out
    back then: recorded as sent at its own time, in the caller's transaction, so the worker
    finds nothing to send when the demo starts. Otherwise starting the demo would mail
    months of history to the demo team at once. Inbox items older than a day have been read.
    Returns how many mails were recorded as sent."""
    sent = OutgoingMail.objects.filter(
        pk__gte=first_mail_id, status=SendStatus.QUEUED, created_at__lte=now
    ).update(status=SendStatus.SENT, sent_at=F("created_at"), attempts=1, last_error="")
    InboxItem.objects.filter(
        pk__gte=first_item_id, read_at__isnull=True, created_at__lt=now - UNREAD_FOR
    ).update(read_at=F("created_at") + dt.timedelta(minutes=10))
    return sent


def history_tasks_drop(*, first_mail_id: int) -> int:
    """Drop the queued sending tasks of the mail `history_settle` recorded as sent.

    notify queues one task per mail when the transaction that made it commits; for mail already
    sent each would only find that out, but a few thousand of them keep the worker busy for
    half a minute when the demo starts, and a form filled in meanwhile waits behind them. Call
    after the commit. Safe even for a real mail made meanwhile: the worker's sweep queues any
    waiting mail that has no task again. Returns how many were dropped."""
    if not isinstance(task_backends[mail_deliver_task.backend], DatabaseBackend):
        return 0
    # A task per mail (`mail_send`) or per batch of mails (`notify_users`; its first id decides).
    dropped, _ = DBTaskResult.objects.filter(
        Q(task_path=mail_deliver_task.module_path, args_kwargs__args__0__gte=first_mail_id)
        | Q(task_path=mails_deliver_task.module_path, args_kwargs__args__0__0__gte=first_mail_id),
        status=TaskResultStatus.READY,
    ).delete()
    return dropped
