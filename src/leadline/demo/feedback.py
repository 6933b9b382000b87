"""Demo data for the prospect's view (feedback): what prospects said about their conversations.

- The sellers' own intro meetings over the past month (booked on their pages), most held and
  some no-shows, each outcome recorded by the host through booking's service (a held meeting
  asks the prospect for a rating through feedback's handler).
- The meetings the outside callers set (demo/effectiveness.py writes those already held): asked
  about through `rating_ask`. otto's connected calls were asked about when they were logged.
- About half the asks answered, mostly 4 and 5, some 2 and 3, a rare 1; a handful with a
  comment in the prospect's words. Two or three prospects unsubscribe after their ask (through
  outreach's service: a stop put against the rep).

Every ask goes through `rating_ask`, so the once-a-month rule, consent, the contact limit and
quiet hours apply: some are not asked, and those in their quiet hours wait for their morning
(sent here, at that moment). The mail goes nowhere: the generator records it as sent in the past
(`history_settle`). Deterministic (a fixed seed, the clock frozen at each moment); once: a
second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction

from leadline.booking.models import Meeting, MeetingOutcome, MeetingSource
from leadline.booking.services import meeting_outcome_record
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.feedback.models import AskStatus, RatingAsk, RatingChannel
from leadline.feedback.services import rating_answer, rating_ask, rating_asks_send_due
from leadline.outreach.services import contact_unsubscribe

SOURCE = "demo-feedback"
MEETINGS = 12
NO_SHOW_EVERY = 5  # one meeting in five: the prospect did not come
ANSWERED = 0.55
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = (4, 7, 13, 34, 42)
COMMENTS = {
    5: (
        "They actually listened to how we close the month instead of pitching. Very useful.",
        "Clear answers on the reconciliation part, and no pressure. Thanks!",
        "Best vendor call this quarter, we finally understood what the audit trail covers.",
    ),
    4: (
        "Good call. Would have liked to see the consolidation screens too.",
        "Helpful, though a bit long. The pricing part was clear.",
    ),
    3: ("OK, but it felt generic. Our ERP question wasn't really answered.",),
    2: ("Too much of a sales pitch for a first call.",),
    1: ("We asked for a short intro and got an hour-long demo.",),
}
STOPS = 3


def feedback_demo(*, now: dt.datetime) -> int:
    """The meetings, asks, answers and stops above, as of `now`; how many asks were made."""
    if Meeting.objects.filter(uid__startswith=f"{SOURCE}-").exists():
        return 0
    sellers = list(User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("pk"))
    if not sellers:
        return 0
    rng = random.Random(f"leadline-demo-{SOURCE}")
    _meetings(now=now, sellers=sellers)
    _set_on_calls()
    _waiting_sent(now=now)
    asks = list(
        RatingAsk.objects.filter(status=AskStatus.SENT, score__isnull=True)
        .select_related("person")
        .order_by("asked_at", "pk")
    )
    _answers(asks, now=now, rng=rng)
    _stops(asks, now=now)
    return RatingAsk.objects.count()


def _meetings(*, now: dt.datetime, sellers: list[User]) -> None:
    """Intro meetings at 10:00 or 15:00 UTC on weekdays of the past four weeks, with prospects
    who gave an email address; the host says held or no-show 45 minutes after the start."""
    taken = Meeting.objects.values_list("person_id", flat=True)
    people = list(
        Person.objects.filter(merged_into__isnull=True, emails__isnull=False)
        .exclude(pk__in=taken)
        .distinct()
        .order_by("pk")[:MEETINGS]
    )
    for n, person in enumerate(people):
        host = sellers[n % len(sellers)]
        day = now - dt.timedelta(days=28 - 2 * n)
        starts_at = day.replace(hour=10 if n % 2 else 15, minute=0, second=0, microsecond=0)
        while starts_at.weekday() >= 5:
            starts_at -= dt.timedelta(days=1)
        if starts_at > now - dt.timedelta(hours=2):
            continue
        with clock.frozen_at(starts_at - dt.timedelta(days=3)), transaction.atomic():
            meeting = Meeting.objects.create(
                host=host,
                person=person,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=30),
                time_zone=person.time_zone,
                title=f"Intro with {host.get_full_name() or host}",
                location="Video call",
                source=MeetingSource.BOOKING_PAGE,
                uid=f"{SOURCE}-{person.pk}@leadline.demo",
            )
        outcome = MeetingOutcome.NO_SHOW if n % NO_SHOW_EVERY == 2 else MeetingOutcome.HELD
        with clock.frozen_at(starts_at + dt.timedelta(minutes=45)):
            meeting_outcome_record(meeting=meeting, outcome=outcome, actor=host)


def _set_on_calls() -> None:
    """The meetings the outside callers set that were held: asked about when the host said so."""
    held = (
        Meeting.objects.filter(
            source=MeetingSource.CALL, outcome=MeetingOutcome.HELD, outcome_at__isnull=False
        )
        .select_related("person", "host__team")
        .order_by("outcome_at", "pk")
    )
    for meeting in held:
        assert meeting.outcome_at is not None
        with clock.frozen_at(meeting.outcome_at):
            rating_ask(
                channel=RatingChannel.MEETING,
                source_ref=f"meeting:{meeting.pk}",
                person=meeting.person,
                user=meeting.host,
            )


def _waiting_sent(*, now: dt.datetime) -> None:
    """Asks held back by quiet hours go when those end, as the worker's sweep would send them."""
    waiting = RatingAsk.objects.filter(status=AskStatus.WAITING, send_at__lte=now)
    moments = {ask.send_at for ask in waiting.only("send_at") if ask.send_at is not None}
    for moment in sorted(moments):
        with clock.frozen_at(moment):
            rating_asks_send_due()


def _answers(asks: list[RatingAsk], *, now: dt.datetime, rng: random.Random) -> None:
    """About half answered, an hour to a day and a half after the mail; some with a comment."""
    said = {score: 0 for score in SCORES}
    for ask in asks:
        if rng.random() >= ANSWERED:
            continue
        at = ask.asked_at + dt.timedelta(minutes=rng.randint(40, 36 * 60))
        if at > now:
            continue
        score = rng.choices(SCORES, weights=SCORE_WEIGHTS)[0]
        with clock.frozen_at(at):
            rating_answer(ask=ask, score=score, at=at)
        comments = COMMENTS[score]
        if said[score] < len(comments) and rng.random() < 0.6:
            later = at + dt.timedelta(minutes=2)
            with clock.frozen_at(later):
                rating_answer(ask=ask, score=score, comment=comments[said[score]], at=later)
            said[score] += 1


def _stops(asks: list[RatingAsk], *, now: dt.datetime) -> None:
    """A few prospects unsubscribe the day after their ask: those who answered lowest first,
    then some who did not answer at all."""
    fresh = RatingAsk.objects.in_bulk([a.pk for a in asks])
    ranked = sorted(
        fresh.values(),
        key=lambda a: (a.score if a.score is not None else 2.5, a.asked_at, a.pk),
    )
    made = 0
    for ask in ranked:
        if made == STOPS:
            break
        at = ask.asked_at + dt.timedelta(days=1)
        if at > now:
            continue
        with clock.frozen_at(at):
            made += contact_unsubscribe(person=ask.person, method="link", at=at)
