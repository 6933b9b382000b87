"""Goals: each metric against a small data set counted by hand, pace and forecast arithmetic,
the history of edits, the daily snapshots and the weekly digest (through a real SMTP server)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.engagement.models import HandoffStatus
from leadline.insight import goals, metrics, sla
from leadline.insight.metrics import Measure
from leadline.insight.models import Goal, GoalChange, GoalDigest, GoalSnapshot
from leadline.notify.models import OutgoingMail
from tests import factories
from tests.smtp import SmtpServer, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOV_1 = dt.datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = dt.datetime(2026, 12, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def value(key: str, *, team: Team | None = None) -> float | None:
    metric = metrics.METRICS[key]
    return metric.value(start=NOV_1, end=DEC_1, team_id=team.pk if team else None)


# The metrics -------------------------------------------------------------------------------------


@pytest.fixture
def november() -> dict[str, Any]:
    """Two teams' November, with something just before it (October) that must not count."""
    emea, apac = factories.team(name="EMEA"), factories.team(name="APAC")
    rita = factories.user(username="rita", team=emea)
    kai = factories.user(username="kai", team=apac)
    factories.routed_request(at=at(11, 2), owner=rita)
    factories.routed_request(at=at(11, 9), owner=rita)
    factories.routed_request(at=at(11, 10), owner=kai)
    factories.routed_request(at=at(10, 30), owner=rita)  # October

    made = []
    for when, owner in [(at(11, 3), rita), (at(11, 4), rita), (at(11, 5), kai), (at(10, 20), rita)]:
        with clock.frozen_at(when):
            made.append(factories.handoff(owner=owner))
    reason = factories.rejection_reason()
    decided = [
        (made[0], HandoffStatus.ACCEPTED, at(11, 6)),
        (made[1], HandoffStatus.REJECTED, at(11, 7)),
        (made[2], HandoffStatus.ACCEPTED, at(11, 8)),
        (made[3], HandoffStatus.ACCEPTED, at(10, 25)),  # October
    ]
    for handoff, status, when in decided:
        type(handoff).objects.filter(pk=handoff.pk).update(
            status=status,
            decided_at=when,
            reason=reason if status == HandoffStatus.REJECTED else None,
            reason_text="no budget" if status == HandoffStatus.REJECTED else "",
        )

    buyer = factories.person()
    factories.booked_meeting(person=buyer, host=rita, starts_at=at(11, 20), created_at=at(11, 12))
    factories.booked_meeting(person=buyer, host=kai, starts_at=at(11, 21), created_at=at(11, 13))
    factories.booked_meeting(
        person=buyer, host=rita, starts_at=at(11, 22), created_at=at(11, 14), cancelled=True
    )
    factories.booked_meeting(person=buyer, host=rita, starts_at=at(11, 2), created_at=at(10, 28))

    touched = factories.person()
    factories.campaign_touch(person=touched, campaign="Q4 finance push", at=at(11, 1))
    factories.deal(person=touched, opened_at=at(11, 5), amount=Decimal(1000), owner=rita)
    factories.deal(opened_at=at(11, 20), amount=Decimal(2500), owner=kai)
    factories.deal(
        opened_at=at(10, 10), days_open=33, status="won", amount=Decimal(4000), owner=rita
    )  # opened in October, won on 12 November
    factories.deal(opened_at=at(11, 2), days_open=3, status="won", amount=Decimal(700), owner=kai)
    factories.deal(opened_at=at(11, 3), days_open=4, status="lost", amount=Decimal(900), owner=kai)
    return {"emea": emea, "apac": apac}


def test_each_count_and_sum_matches_the_data_set(november: dict[str, Any]) -> None:
    emea = november["emea"]
    with clock.frozen_at(at(11, 23)):
        assert value("requests_new") == 3
        assert value("requests_new", team=emea) == 2
        assert value("handoffs") == 3
        assert value("handoffs", team=emea) == 2
        assert value("sales_accepted") == 2
        assert value("sales_accepted", team=emea) == 1
        assert value("sales_rejected") == 1
        assert value("meetings_booked") == 2  # the cancelled one and October's do not count
        assert value("meetings_booked", team=emea) == 1
        assert value("opportunities_created") == 4
        assert value("opportunities_created", team=emea) == 1
        assert value("pipeline_created") == 1000 + 2500 + 700 + 900
        assert value("won_deals") == 2
        assert value("won_deals", team=emea) == 1
        assert value("won_revenue") == 4000 + 700
        # Only the 1,000 deal had a campaign touch on its path.
        assert value("influenced_pipeline") == 1000


def test_influenced_pipeline_is_the_attribution_reports_own_number(
    november: dict[str, Any],
) -> None:
    from leadline.insight.touches import attribution_report

    with clock.frozen_at(at(11, 23)):
        report = attribution_report(since=NOV_1, until=DEC_1)
        assert value("influenced_pipeline") == report.pipeline - report.untouched_pipeline
        with pytest.raises(ValueError, match="not measured per team"):
            value("influenced_pipeline", team=november["emea"])


def test_response_time_metrics_match_the_sla_board() -> None:
    """sla_history: EMEA touched one in 30 minutes and never touched another; APAC touched one
    3 hours late. Read on Wednesday 25 November."""
    teams = factories.sla_history()
    with clock.frozen_at(dt.datetime(2026, 11, 25, 12, tzinfo=UTC)):
        assert value("touched_within_1h") == pytest.approx(100 / 3)
        assert value("touched_within_1h", team=teams["EMEA"]) == pytest.approx(50)
        assert value("sla_within_deadline") == pytest.approx(100 / 3)
        assert value("median_first_touch_hours") == pytest.approx((0.5 + 3) / 2)
        assert value("median_first_touch_hours", team=teams["EMEA"]) == pytest.approx(0.5)

        board = sla.sla_board(weeks=4)
        metric = metrics.METRICS["sla_within_deadline"]
        same = metric.value(start=board.start, end=board.end)
        assert same == pytest.approx(board.headline.share_within)
        median = metrics.METRICS["median_first_touch_hours"].value(start=board.start, end=board.end)
        assert median == pytest.approx(board.headline.median_hours)


def test_a_request_not_touched_within_the_hour_is_left_out_until_the_hour_passed() -> None:
    emea = factories.team(name="EMEA")
    rita = factories.user(team=emea)
    factories.routed_request(at=at(11, 23, 10), owner=rita)
    with clock.frozen_at(dt.datetime(2026, 11, 23, 10, 30, tzinfo=UTC)):
        assert value("touched_within_1h") is None  # nothing decided yet
    with clock.frozen_at(dt.datetime(2026, 11, 23, 11, 30, tzinfo=UTC)):
        assert value("touched_within_1h") == 0


@pytest.mark.parametrize(
    "key", ["attempts", "connects", "connect_rate", "appointments_set", "appointments_held"]
)
def test_effectiveness_metrics_are_the_effectiveness_reports_measures(
    november: dict[str, Any], key: str
) -> None:
    import math

    from leadline.insight.effectiveness import effectiveness_measure

    emea = november["emea"]
    with clock.frozen_at(at(11, 23)):
        for team in (None, emea):
            found = effectiveness_measure(
                name=key, start=NOV_1, end=DEC_1, team_id=team.pk if team else None
            )
            expected = None if math.isnan(found) else found
            assert value(key, team=team) == expected


def test_average_rating_is_the_mean_of_the_answers() -> None:
    from leadline.feedback.models import RatingAsk

    emea = factories.team(name="EMEA")
    rita = factories.user(team=emea)
    for n, (score, team, when) in enumerate(
        [(5, emea, at(11, 3)), (3, emea, at(11, 4)), (2, None, at(11, 5)), (1, emea, at(10, 5))]
    ):
        RatingAsk.objects.create(
            person=factories.person(),
            user=rita,
            team=team,
            channel="meeting",
            source_ref=f"meeting:{n}",
            asked_at=when,
            answered_at=when,
            score=score,
        )
    assert value("average_rating") == pytest.approx((5 + 3 + 2) / 3)
    assert value("average_rating", team=emea) == pytest.approx(4)


def test_every_metric_has_words_a_unit_and_a_direction() -> None:
    assert len(metrics.METRICS) >= 14
    for metric in metrics.METRICS.values():
        assert metric.label
        assert metric.report
        assert metric.description
        assert metric.unit in ("count", "money", "percent", "hours", "score")
        assert metric.accumulates == (metric.unit in ("count", "money"))


# Intervals ---------------------------------------------------------------------------------------


def test_wilson_interval_against_known_values() -> None:
    low, high = metrics.wilson(8, 10) or (0, 0)
    # Wilson 95% for 8 of 10: 0.4902 to 0.9433.
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert metrics.wilson(0, 0) is None
    low, high = metrics.wilson(0, 5) or (1, 1)
    assert low == 0
    assert high == pytest.approx(0.4345, abs=1e-4)


def test_median_interval_uses_order_statistics() -> None:
    sample = tuple(float(n) for n in range(1, 21))  # 1..20
    low, high = metrics.median_interval(sample) or (0, 0)
    assert low < 10.5 < high
    assert (low, high) == (6.0, 15.0)
    assert metrics.median_interval((1.0, 2.0)) is None


# Pace and forecast -------------------------------------------------------------------------------

START = dt.datetime(2026, 10, 1, tzinfo=UTC)
END = dt.datetime(2027, 1, 1, tzinfo=UTC)  # 92 days
MIDDLE = START + (END - START) / 2


def progress(key: str, measure: Measure, target: float, now: dt.datetime) -> goals.Progress:
    return goals.progress_compute(
        metric=metrics.METRICS[key], measure=measure, target=target, start=START, end=END, now=now
    )


def test_accumulating_mid_period_behind_pace_with_a_forecast() -> None:
    found = progress("sales_accepted", Measure(value=48), 120, MIDDLE)
    assert found.state == "running"
    assert found.elapsed == pytest.approx(0.5)
    assert found.expected == pytest.approx(60)
    assert found.pace == pytest.approx(48 / 60 - 1)  # -20%
    assert found.pace_words == "20% behind pace"
    assert found.on_pace is False
    assert found.forecast == pytest.approx(96)
    spread = metrics.Z95 * 48**0.5
    assert found.forecast_low == pytest.approx((48 - spread) / 0.5)
    assert found.forecast_high == pytest.approx((48 + spread) / 0.5)
    assert "Forecast at the end: 96 (80% of the target)" in found.forecast_words


def test_accumulating_on_and_ahead_of_pace() -> None:
    assert progress("sales_accepted", Measure(value=62), 120, MIDDLE).pace_words == "On pace"
    ahead = progress("won_revenue", Measure(value=90_000), 150_000, MIDDLE)
    assert ahead.pace_words == "20% ahead of pace"
    assert ahead.on_pace is True
    assert ahead.forecast_low is None  # money: no count interval


def test_fewer_is_better_for_rejected_leads() -> None:
    found = progress("sales_rejected", Measure(value=12), 20, MIDDLE)
    assert found.pace_words == "20% behind pace"  # 12 where 10 were expected: worse
    assert found.on_pace is False


def test_accumulating_at_the_start_and_before_it() -> None:
    found = progress("sales_accepted", Measure(value=0), 120, START)
    assert found.state == "running"
    assert found.pace is None
    assert found.forecast is None
    assert found.pace_words == "Just started"
    before = progress("sales_accepted", Measure(value=None), 120, START - dt.timedelta(days=3))
    assert before.state == "upcoming"
    assert before.pace_words == "Starts on 1 October 2026"


def test_accumulating_after_the_end_met_or_missed() -> None:
    later = END + dt.timedelta(days=2)
    met = progress("sales_accepted", Measure(value=130), 120, later)
    assert met.state == "ended"
    assert met.on_pace is True
    assert met.pace_words == "Met (10 to spare)"
    assert met.forecast == 130
    missed = progress("sales_accepted", Measure(value=100), 120, later)
    assert missed.pace_words == "Missed by 20"
    assert missed.on_pace is False


def test_a_rate_compares_its_level_with_the_target_and_gives_a_wilson_range() -> None:
    found = progress("touched_within_1h", Measure(value=80.0, successes=8, trials=10), 95, MIDDLE)
    assert found.pace_words == "15 points below target"
    assert found.on_pace is False
    assert found.forecast == 80
    assert found.forecast_low == pytest.approx(49.02, abs=0.01)
    assert found.forecast_high == pytest.approx(94.33, abs=0.01)
    on = progress("touched_within_1h", Measure(value=96.0, successes=96, trials=100), 95, MIDDLE)
    assert on.pace_words == "On target"


def test_a_shorter_median_is_better() -> None:
    sample = tuple(float(n) for n in range(1, 21))
    found = progress("median_first_touch_hours", Measure(value=1.5, sample=sample), 1.0, MIDDLE)
    assert found.pace_words == "30 min above target"
    assert found.on_pace is False
    good = progress("median_first_touch_hours", Measure(value=0.75, sample=sample), 1.0, MIDDLE)
    assert good.pace_words == "On target"
    ended = progress("median_first_touch_hours", Measure(value=0.75), 1.0, END)
    assert ended.pace_words == "Met"


def test_a_rate_with_nothing_to_measure() -> None:
    found = progress("touched_within_1h", Measure(value=None), 95, MIDDLE)
    assert found.value is None
    assert found.forecast is None
    assert found.pace_words == "Nothing to measure yet"


def test_goal_progress_measures_the_period_so_far(november: dict[str, Any]) -> None:
    goal = factories.goal(
        metric="sales_accepted",
        target=4,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2026, 11, 30),
        period_kind="month",
    )
    with clock.frozen_at(at(11, 16, 0)):  # half of November gone
        found = goals.goal_progress(goal=goal)
    assert found is not None
    assert found.value == 2
    assert found.expected == pytest.approx(2)
    assert found.pace_words == "On pace"


# History and validation --------------------------------------------------------------------------


def test_create_and_edit_leave_history_rows() -> None:
    maria = factories.user(role=Role.MARKETING, username="maria")
    sam = factories.user(role=Role.SALES_MANAGER, username="sam")
    goal = factories.goal(target=120, owners=[maria], actor=maria)
    created = GoalChange.objects.get(goal=goal)
    assert created.action == "created"
    assert created.by == maria
    assert created.after["target"] == "120.00"
    assert created.after["owners"] == ["maria"]

    goals.goal_update(
        goal=goal, actor=sam, changes={"target": Decimal(150), "owners": [maria, sam]}
    )
    edit = goal.changes.order_by("-pk").first()
    assert edit is not None
    assert edit.action == "edited"
    assert edit.by == sam
    assert edit.before == {"target": "120.00", "owners": ["maria"]}
    assert edit.after == {"target": "150.00", "owners": ["maria", "sam"]}

    goals.goal_update(goal=goal, actor=sam, changes={"target": Decimal(150)})  # no change
    assert goal.changes.count() == 2
    goals.goal_archive(goal=goal, actor=sam)
    assert goal.changes.order_by("-pk").first().action == "archived"  # type: ignore[union-attr]
    assert Goal.objects.get(pk=goal.pk).archived


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target": -1}, "target"),
        ({"starts_on": dt.date(2026, 12, 1), "ends_on": dt.date(2026, 11, 1)}, "ends_on"),
        ({"metric": "vibes"}, "metric"),
        ({"metric": "touched_within_1h", "target": 120}, "target"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "name": "Accepted leads",
        "metric": "sales_accepted",
        "target": 120,
        "period_kind": "quarter",
        "starts_on": dt.date(2026, 10, 1),
        "ends_on": dt.date(2026, 12, 31),
    }
    with pytest.raises(ValidationError) as caught:
        goals.goal_create(actor=None, **(fields | changes))
    assert field in caught.value.message_dict
    assert not Goal.objects.exists()


def test_a_metric_not_split_by_team_refuses_a_team() -> None:
    with pytest.raises(ValidationError) as caught:
        factories.goal(metric="influenced_pipeline", team=factories.team())
    assert "team" in caught.value.message_dict


def test_period_presets() -> None:
    on = dt.date(2026, 11, 24)
    assert goals.period_preset("month", on=on) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert goals.period_preset("quarter", on=on) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert goals.period_preset("quarter", on=on, offset=1) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 3, 31),
    )
    assert goals.period_preset("quarter", on=on, offset=-1) == (
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 30),
    )
    assert goals.period_preset("year", on=on) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert goals.period_label("quarter", dt.date(2026, 10, 1), dt.date(2026, 12, 31)) == "Q4 2026"


# Snapshots -------------------------------------------------------------------------------------


def test_snapshots_once_a_day_and_a_final_one_after_the_end(november: dict[str, Any]) -> None:
    running = factories.goal(
        metric="sales_accepted",
        target=4,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2026, 11, 30),
    )
    ended = factories.goal(
        metric="won_deals", target=3, starts_on=dt.date(2026, 11, 1), ends_on=dt.date(2026, 11, 15)
    )
    factories.goal(
        metric="won_deals", target=3, starts_on=dt.date(2026, 12, 1), ends_on=dt.date(2026, 12, 31)
    )  # not started: nothing
    with clock.frozen_at(at(11, 23, 9)):
        assert goals.goal_snapshots_take() == 2
        assert goals.goal_snapshots_take() == 0  # the same day: nothing more
    with clock.frozen_at(at(11, 23, 18)):
        assert goals.goal_snapshots_take() == 0
    with clock.frozen_at(at(11, 24, 9)):
        assert goals.goal_snapshots_take() == 1  # the ended goal has its final value already
    assert list(running.snapshots.values_list("on", "value")) == [
        (dt.date(2026, 11, 23), 2.0),
        (dt.date(2026, 11, 24), 2.0),
    ]
    assert list(ended.snapshots.values_list("on", "value")) == [(dt.date(2026, 11, 23), 2.0)]
    assert GoalSnapshot.objects.count() == 3


# The weekly digest -------------------------------------------------------------------------------


def test_digest_once_a_week_per_owner_through_smtp(
    november: dict[str, Any],
    smtp_server: SmtpServer,  # noqa: F811
    run_worker: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.PUBLIC_URL = "https://leadline.example"
    maria = factories.user(
        role=Role.MARKETING, username="maria", first_name="Maria", time_zone="Europe/Stockholm"
    )
    sam = factories.user(role=Role.SALES_MANAGER, username="sam", time_zone="America/New_York")
    accepted = factories.goal(
        name="Accepted leads, November",
        period_kind="month",
        metric="sales_accepted",
        target=4,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2026, 11, 30),
        owners=[maria, sam],
    )
    factories.goal(
        name="Won deals",
        metric="won_deals",
        target=10,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2026, 11, 30),
        owners=[maria],
    )

    # Monday 23 November 06:30 UTC: 07:30 in Stockholm (due), 01:30 in New York (not yet).
    with (
        clock.frozen_at(dt.datetime(2026, 11, 23, 6, 30, tzinfo=UTC)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert goals.goal_digests_send() == 1
        assert goals.goal_digests_send() == 0
    # Later that day New York's morning comes; Maria has had hers this week.
    with (
        clock.frozen_at(dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert goals.goal_digests_send() == 1
    with (
        clock.frozen_at(dt.datetime(2026, 11, 27, 13, 0, tzinfo=UTC)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert goals.goal_digests_send() == 0  # Friday, same week
    assert GoalDigest.objects.count() == 2
    run_worker()

    by_address = {str(m["To"]): m for m in smtp_server.messages}
    assert set(by_address) == {"maria@seller.example", "sam@seller.example"}
    maria_mail = by_address["maria@seller.example"]
    assert maria_mail["Subject"] == "Your goals this week: 2 goals"
    body = maria_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    # 23 Nov 06:30: 22.27 of 30 days gone; 2 accepted of 4, 2.97 expected: 33% behind.
    assert "Hello Maria," in body
    assert "Accepted leads, November (November 2026)" in body
    assert "Sales-accepted leads: 2 of 4 (50%)" in body
    assert "33% behind pace: 3 expected by now." in body
    assert "Forecast at the end: 3 (67% of the target)" in body
    assert "Won deals: 2 of 10 (20%)" in body
    assert f"https://leadline.example/goals/{accepted.pk}/" in body
    sam_body = by_address["sam@seller.example"].get_body(preferencelist=("plain",))
    assert sam_body is not None
    assert "Won deals" not in sam_body.get_content()
    assert OutgoingMail.objects.filter(reason="goals.digest").count() == 2


def test_no_digest_for_an_owner_without_current_goals() -> None:
    lone = factories.user(role=Role.MARKETING)
    factories.goal(owners=[lone], starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 3, 31))
    with clock.frozen_at(dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)):
        assert goals.goal_digests_send() == 0
    assert not User.objects.filter(pk__in=GoalDigest.objects.values("user")).exists()


# The demo's goals --------------------------------------------------------------------------------


def test_demo_goals_with_their_snapshots_once(november: dict[str, Any]) -> None:
    from leadline.demo.goals import GOALS, goals_demo

    maria = factories.user(role=Role.MARKETING, username="maria")
    sam = factories.user(role=Role.SALES_MANAGER, username="sam")
    now = at(11, 23)
    assert goals_demo(now=now) == len(GOALS)
    assert goals_demo(now=now) == 0
    current = Goal.objects.get(name="Sales-accepted leads this quarter")
    assert (current.starts_on, current.ends_on) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert set(current.owners.all()) == {maria, sam}
    # Weekly from 8 October, and today's: one accepted on 25 October, two in November.
    points = list(current.snapshots.values_list("on", "value"))
    assert points[0] == (dt.date(2026, 10, 8), 0.0)
    assert points[-1] == (dt.date(2026, 11, 23), 3.0)
    assert (dt.date(2026, 10, 29), 1.0) in points
    assert len(points) == 8
    last = Goal.objects.get(name="Sales-accepted leads last quarter")
    assert last.ends_on == dt.date(2026, 9, 30)
    assert last.snapshots.order_by("on").last().on == dt.date(2026, 10, 1)  # type: ignore[union-attr]
    with clock.frozen_at(now):
        assert goals.goal_snapshots_take() == 0  # the demo took today's already
