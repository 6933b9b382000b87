"""The channels-and-teams report (insight.effectiveness): each definition on a small hand-made
history, the campaign and step filters, the measures goals use, and the demo data against
direct counts."""

from __future__ import annotations

import datetime as dt
import math
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Q

from leadline.booking.models import Meeting, MeetingOutcome, MeetingSource, MeetingStatus
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.engagement.models import Handoff, Opportunity
from leadline.inbound.models import InboundMessage
from leadline.insight.effectiveness import (
    CHANNELS,
    COUNTS,
    MEASURES,
    NO_CHANNEL,
    Effectiveness,
    Row,
    effectiveness,
    effectiveness_measure,
    report_csv,
)
from leadline.journeys.models import Conversation, Event, Journey, JourneyStep
from leadline.outreach.models import ContactAttempt
from leadline.routing.models import RequestRouting, Touch
from tests import factories
from tests.figures import report

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday
START, END = T0, T0 + dt.timedelta(days=30)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def by_key(rows: list[Row]) -> dict[str, Row]:
    return {row.key: row for row in rows}


def counts(row: Row) -> dict[str, int]:
    return {name: getattr(row, name) for name in COUNTS}


@pytest.fixture
def history() -> dict[str, Any]:
    """A calling team (otto) and an inside team (rita, rob), and what they did in March."""
    calling = factories.team(name="Callers Inc")
    inside = factories.team(name="Inside")
    otto = factories.outside_caller(calling_team=calling, username="otto")
    rita = factories.user(username="rita", team=inside)
    rob = factories.user(username="rob", team=inside)
    p1, p2, p3, p4, p5, p6 = (factories.person() for _ in range(6))

    # p1: two calls by otto, the second connects and sets a meeting with rita, held; then
    # accepted and won.
    factories.touch(person=p1, at=day(-1), kind="call", outcome="connected", user=otto)  # before
    factories.touch(person=p1, at=day(1), kind="call", outcome="no_answer", user=otto)
    factories.touch(person=p1, at=day(1.1), kind="call", outcome="connected", user=otto)
    factories.booked_meeting(
        person=p1,
        host=rita,
        starts_at=day(3),
        booked_by=otto,
        source=MeetingSource.CALL,
        created_at=day(1.2),
        outcome=MeetingOutcome.HELD,
        outcome_at=day(3.1),
    )
    Handoff.objects.create(
        person=p1, trigger="appointment", due_at=day(6), status="accepted", decided_at=day(5)
    )
    factories.deal(person=p1, status="won", opened_at=day(5), days_open=5)
    # p2: rob mails, p2 replies; accepted after the reply. A cancelled meeting (set, not due).
    factories.touch(person=p2, at=day(2), kind="email", user=rob)
    factories.inbound_message(person=p2, at=day(2.5))
    Handoff.objects.create(
        person=p2, trigger="marketing", due_at=day(5), status="accepted", decided_at=day(4)
    )
    factories.booked_meeting(
        person=p2, host=rob, starts_at=day(8), cancelled=True, created_at=day(2.6)
    )
    # p3: a LinkedIn message, then a chat with rob; p3 and p4 talk to rita at an event, p4
    # visited it.
    ContactAttempt.objects.create(
        person=p3, channel="manual", purpose="sales", source="linkedin", at=day(1)
    )
    factories.conversation(
        people=[p3], kind="chat", summary="Chat.", sellers=[rob], occurred_at=day(2)
    )
    factories.buyer_event(person=p4, name="event_attended", at=day(6))
    factories.conversation(
        people=[p3, p4], kind="event", summary="At the booth.", sellers=[rita], occurred_at=day(6)
    )
    factories.conversation(people=[p4], kind="note", summary="A note.", occurred_at=day(6))
    factories.conversation(people=[p4], kind="chat", summary="Later.", occurred_at=day(31))
    # p5: won with no connect ever. p6: a system mail (no user), no reply.
    factories.deal(person=p5, status="won", opened_at=day(1), days_open=10)
    factories.touch(person=p6, at=day(3), kind="email")
    # Requests received in March: first touched after 2 and 4 business hours (inside team).
    for person, hours in ((p1, 2), (p2, 4)):
        request = factories.person_request(person=person, created_at=day(0))
        RequestRouting.objects.create(
            request=request, team=inside, first_touched_at=day(0) + dt.timedelta(hours=hours)
        )
    # p1 rates rita's meeting 4.
    from leadline.feedback.models import RatingAsk

    RatingAsk.objects.create(
        person=p1,
        user=rita,
        team=inside,
        channel="meeting",
        source_ref="meeting:test",
        asked_at=day(3.2),
        answered_at=day(4),
        score=4,
    )
    return {"calling": calling, "inside": inside, "people": (p1, p2, p3, p4, p5, p6)}


def _report(**filters: Any) -> Effectiveness:
    with clock.frozen_at(day(40)):
        return effectiveness(start=START, end=END, **filters)


def test_each_channel_counts_by_its_definition(history: dict[str, Any]) -> None:
    result = _report()
    channels = by_key(result.channels)
    assert list(channels) == [*CHANNELS, NO_CHANNEL]
    assert counts(channels["call"]) == {
        "attempts": 2,  # the call before the period does not count
        "connects": 1,
        "conversations": 0,
        "appointments_set": 1,  # set on a call: the call's
        "appointments_held": 1,
        "accepted": 0,
        "won": 0,
    }
    assert counts(channels["email"]) == {
        "attempts": 2,  # rob's mail and the system's
        "connects": 1,  # p2's reply
        "conversations": 0,
        "appointments_set": 1,  # p2's (cancelled) meeting: booked after the reply
        "appointments_held": 0,
        "accepted": 1,  # p2: the reply was the last connect
        "won": 0,
    }
    assert counts(channels["meeting"]) == {
        "attempts": 1,  # the held meeting; the cancelled one was not due
        "connects": 1,
        "conversations": 0,
        "appointments_set": 0,
        "appointments_held": 0,
        "accepted": 1,  # p1: the held meeting was the last connect before acceptance
        "won": 1,
    }
    assert counts(channels["event"]) == {
        "attempts": 1,
        "connects": 2,  # two people at one talk
        "conversations": 1,
        "appointments_set": 0,
        "appointments_held": 0,
        "accepted": 0,
        "won": 0,
    }
    assert counts(channels["chat"])["attempts"] == 1
    assert counts(channels["chat"])["connects"] == 1  # the chat after the period is not
    assert counts(channels["chat"])["conversations"] == 1
    assert counts(channels[NO_CHANNEL])["won"] == 1  # p5, never reached
    assert channels["call"].connect_rate == 50.0
    assert channels["meeting"].accepted_to_won == 100.0
    assert channels["meeting"].rating_average == 4.0
    assert channels["meeting"].ratings == 1
    for name in COUNTS:
        assert getattr(result.total, name) == sum(getattr(r, name) for r in result.channels)
        assert getattr(result.total, name) == sum(getattr(r, name) for r in result.teams)


def test_each_team_counts_what_its_users_did(history: dict[str, Any]) -> None:
    result = _report()
    teams = by_key(result.teams)
    calling, inside = str(history["calling"].pk), str(history["inside"].pk)
    assert teams[calling].outside
    assert not teams[inside].outside
    assert counts(teams[calling]) == {
        "attempts": 2,
        "connects": 1,
        "conversations": 0,
        "appointments_set": 1,  # otto set it
        "appointments_held": 1,
        "accepted": 0,
        "won": 0,
    }
    # rob's mail, rita's meeting; the reply (to rob's mail), the meeting held, the chat (rob) and
    # the two at rita's talk; the chat and the talk; p2's and p1's acceptance (email, meeting)
    # and p1's win (meeting: rita).
    assert counts(teams[inside]) == {
        "attempts": 2,
        "connects": 5,
        "conversations": 2,
        "appointments_set": 1,
        "appointments_held": 0,
        "accepted": 2,
        "won": 1,
    }
    assert teams["none"].attempts == 3  # the system's mail, the event visit, the LinkedIn message
    assert teams[inside].first_touches == 2
    assert teams[inside].first_touch_median_hours == pytest.approx(3.0)
    assert teams[inside].first_touch_p90_hours == pytest.approx(3.8)
    assert teams[inside].rating_average == 4.0
    assert result.total.first_touch_median_hours == pytest.approx(3.0)


def test_a_campaign_keeps_the_people_who_met_it(history: dict[str, Any]) -> None:
    p1 = history["people"][0]
    spring = factories.campaign(name="Spring push")
    factories.campaign_touch(person=p1, campaign="spring push", at=day(-10))
    result = _report(campaign_id=spring.pk)
    channels = by_key(result.channels)
    assert result.people == 1
    assert channels["call"].attempts == 2
    assert channels["email"].attempts == 0
    assert channels["event"].connects == 0
    assert result.total.won == 1
    assert result.total.accepted == 1


def test_a_step_keeps_the_people_who_reached_it(history: dict[str, Any]) -> None:
    p2, p3 = history["people"][1], history["people"][2]
    journey = Journey.objects.create(name="Buyers", slug="buyers")
    first = JourneyStep.objects.create(journey=journey, position=1, name="Aware")
    factories.journey_moves(journey=journey, moves=[(p2, first, day(1)), (p3, first, day(45))])
    result = _report(step_id=first.pk)
    channels = by_key(result.channels)
    assert result.people == 1  # p3 reached it after the period
    assert channels["email"].attempts == 1
    assert channels["email"].connects == 1
    assert channels["call"].attempts == 0
    assert result.total.accepted == 1


def test_measures_for_goals(history: dict[str, Any]) -> None:
    calling = history["calling"].pk
    with clock.frozen_at(day(40)):
        assert effectiveness_measure(name="connects", start=START, end=END) == 6
        assert (
            effectiveness_measure(
                name="connects", start=START, end=END, channel="call", team_id=calling
            )
            == 1
        )
        assert (
            effectiveness_measure(name="connect_rate", start=START, end=END, channel="call") == 50
        )
        assert effectiveness_measure(name="rating_average", start=START, end=END) == 4.0
        assert math.isnan(
            effectiveness_measure(name="rating_average", start=START, end=END, team_id=calling)
        )
        assert effectiveness_measure(
            name="first_touch_median_hours", start=START, end=END
        ) == pytest.approx(3.0)
        for name in MEASURES:  # every measure is a number
            assert isinstance(effectiveness_measure(name=name, start=START, end=END), float)
        with pytest.raises(ValueError, match="Unknown measure"):
            effectiveness_measure(name="vibes", start=START, end=END)


def test_the_csv_has_a_line_per_channel_and_team(history: dict[str, Any]) -> None:
    text = report_csv(_report())
    lines = text.strip().splitlines()
    assert lines[0].startswith("section,name,outside_calling_team,attempts,connects")
    assert any(line.startswith("team,Callers Inc,yes,2,1,") for line in lines)
    assert lines[-1].startswith("total,All channels,,")


def test_the_report_reads_in_a_fixed_number_of_queries(
    history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(25) as captured:
        _report()
    small = len(captured.captured_queries)
    for _ in range(5):  # more of everything: still the same queries
        person = factories.person()
        factories.touch(person=person, at=day(2), kind="call", outcome="connected")
        factories.conversation(people=[person], kind="chat", summary="Hi.", occurred_at=day(2))
    with django_assert_max_num_queries(small) as again:
        _report()
    report(f"effectiveness report: {small} queries, then {len(again.captured_queries)}")


# The demo ------------------------------------------------------------------------------------


def test_the_demo_shows_every_channel_and_the_calling_team_and_counts_match(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_data", people=40, seed=5, until=dt.date(2026, 11, 20), stdout=StringIO())
    now = clock.now()
    start, end = now - dt.timedelta(days=90), now
    with clock.frozen_at(now):
        result = effectiveness(start=start, end=end)
    channels = by_key(result.channels)
    report(
        "effectiveness on the demo: "
        + "; ".join(f"{r.key}: {counts(r)}" for r in result.channels)
        + f"; total {counts(result.total)}"
    )

    # Direct counts, one definition at a time.
    inn = {"at__gte": start, "at__lt": end}
    talks = Conversation.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    people_in = dict(talks.values_list("kind").annotate(n=Count("people")).values_list("kind", "n"))
    direct = {
        "email": {
            "attempts": Touch.objects.filter(kind="email", **inn).count(),
            "connects": InboundMessage.objects.filter(
                kind="reply", person__isnull=False, received_at__gte=start, received_at__lt=end
            ).count(),
            "conversations": talks.filter(kind="email").count(),
        },
        "call": {
            "attempts": Touch.objects.filter(kind="call", **inn).count(),
            "connects": Touch.objects.filter(kind="call", outcome="connected", **inn).count(),
            "conversations": talks.filter(kind="call").count(),
        },
        "meeting": {
            "attempts": Meeting.objects.filter(
                status=MeetingStatus.BOOKED, starts_at__gte=start, starts_at__lt=end
            ).count(),
            "connects": Meeting.objects.filter(
                outcome="held", starts_at__gte=start, starts_at__lt=end
            ).count(),
            "conversations": talks.filter(kind="meeting").count(),
        },
        "event": {
            "attempts": Event.objects.filter(
                Q(name="event_attended") | Q(properties__channel="events"),
                person__isnull=False,
                occurred_at__gte=start,
                occurred_at__lt=end,
            ).count(),
            "connects": people_in.get("event", 0),
            "conversations": talks.filter(kind="event").count(),
        },
        "chat": {
            "attempts": ContactAttempt.objects.filter(
                channel="manual", released_at__isnull=True, **inn
            ).count(),
            "connects": people_in.get("chat", 0),
            "conversations": talks.filter(kind="chat").count(),
        },
    }
    for channel, expected in direct.items():
        got = {name: getattr(channels[channel], name) for name in expected}
        assert got == expected, f"{channel}: report {got}, direct count {expected}"
        assert channels[channel].attempts > 0, f"{channel} has no attempts in the demo"
        assert channels[channel].connects > 0, f"{channel} has no connects in the demo"

    totals = {
        "appointments_set": Meeting.objects.filter(
            created_at__gte=start, created_at__lt=end
        ).count(),
        "appointments_held": Meeting.objects.filter(
            outcome="held", starts_at__gte=start, starts_at__lt=end
        ).count(),
        "accepted": Handoff.objects.filter(
            status="accepted", decided_at__gte=start, decided_at__lt=end
        ).count(),
        "won": Opportunity.objects.filter(
            status="won", person__isnull=False, closed_at__gte=start, closed_at__lt=end
        ).count(),
    }
    got_totals = {name: getattr(result.total, name) for name in totals}
    assert got_totals == totals, f"report {got_totals}, direct count {totals}"
    for name in COUNTS:
        assert getattr(result.total, name) == sum(getattr(r, name) for r in result.channels)

    # The outside calling team: what its callers did, counted directly.
    calling = Team.objects.get(members__role=Role.OUTSIDE_CALLER)
    callers = User.objects.filter(team=calling)
    row = by_key(result.teams)[str(calling.pk)]
    expected_team = {
        "attempts": Touch.objects.filter(
            user__in=callers, kind__in=["call", "email"], **inn
        ).count()
        + Meeting.objects.filter(
            host__in=callers, status="booked", starts_at__gte=start, starts_at__lt=end
        ).count(),
        "connects": Touch.objects.filter(
            user__in=callers, kind="call", outcome="connected", **inn
        ).count(),
        # Set on a call by one of them, or booked otherwise after a connect of theirs was the
        # person's last (the credit rule, counted meeting by meeting).
        "appointments_set": Meeting.objects.filter(
            source="call", booked_by__in=callers, created_at__gte=start, created_at__lt=end
        ).count()
        + sum(
            _last_connect_team(m.person_id, m.created_at) == calling.pk
            for m in Meeting.objects.filter(created_at__gte=start, created_at__lt=end).exclude(
                source="call"
            )
        ),
    }
    got_team = {name: getattr(row, name) for name in expected_team}
    report(f"effectiveness on the demo, {calling.name}: {counts(row)}")
    assert row.outside, "the outside calling team is not marked"
    assert got_team == expected_team, f"report {got_team}, direct count {expected_team}"
    assert row.attempts > 0, counts(row)
    assert row.appointments_set > 0, counts(row)


def _last_connect_team(person_id: int, before: dt.datetime) -> int | None:
    """The team of the person's last connect at or before `before`, written from the
    definitions (decision 26) one query a kind, independently of the report's frames."""
    found: list[tuple[dt.datetime, int | None]] = []
    call = (
        Touch.objects.filter(person_id=person_id, kind="call", outcome="connected", at__lte=before)
        .order_by("-at")
        .first()
    )
    if call is not None:
        found.append((call.at, call.user.team_id if call.user else None))
    reply = (
        InboundMessage.objects.filter(person_id=person_id, kind="reply", received_at__lte=before)
        .order_by("-received_at")
        .first()
    )
    if reply is not None:
        mail = (
            Touch.objects.filter(person_id=person_id, kind="email", at__lte=reply.received_at)
            .order_by("-at")
            .first()
        )
        found.append((reply.received_at, mail.user.team_id if mail and mail.user else None))
    held = (
        Meeting.objects.filter(person_id=person_id, outcome="held", starts_at__lte=before)
        .order_by("-starts_at")
        .first()
    )
    if held is not None:
        found.append((held.starts_at, held.host.team_id))
    talk = (
        Conversation.objects.filter(
            people=person_id, kind__in=["chat", "event"], occurred_at__lte=before
        )
        .order_by("-occurred_at")
        .first()
    )
    if talk is not None:
        seller = talk.sellers.order_by("pk").first() or talk.logged_by
        found.append((talk.occurred_at, seller.team_id if seller else None))
    return max(found, key=lambda f: f[0])[1] if found else None
