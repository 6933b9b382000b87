"""The SLA board's numbers, against a small history worked out by hand.

Requests are routed and touched through the real routing services with the clock stopped; the
teams work Mon-Fri 09:00-17:00 (UTC unless said), so a contact request is due one open hour
after it came in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.insight import sla
from leadline.routing.models import RoutingRule, TouchKind
from leadline.routing.services import request_assign, touch_record
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
WEEK_16 = dt.date(2026, 11, 16)
WEEK_23 = dt.date(2026, 11, 23)


def at(day: int, hour: int, minute: int = 0, *, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def touch(request: Request, when: dt.datetime, user: User | None = None) -> None:
    with clock.frozen_at(when):
        touch_record(request=request, user=user, kind=TouchKind.EMAIL, at=when)


def reassign(request: Request, when: dt.datetime, *, away: User) -> None:
    with clock.frozen_at(when):
        request_assign(request_id=request.pk, reason=f"{away} is off sick", exclude=[away.pk])


def due(request: Request) -> dt.datetime:
    request.refresh_from_db()
    value = request.routing.first_touch_due
    assert value is not None
    return value


@dataclass
class Emea:
    team: Team
    rita: User
    tom: User
    requests: dict[str, Request]


@pytest.fixture
def emea() -> Emea:
    manager = factories.user(role=Role.SALES_MANAGER, username="sam")
    team = factories.team(name="EMEA", manager=manager)
    rita = factories.user(username="rita", first_name="Rita", last_name="Alves", team=team)
    tom = factories.user(username="tom", team=team)
    # Everything else goes to EMEA: a request taken from Rita goes to Tom.
    RoutingRule.objects.create(name="Everything", team=team, conditions=[])
    white_paper = factories.form(with_asset=False)  # named "White paper"
    made: dict[str, Request] = {}

    # Week of 16 Nov.
    made["A"] = factories.routed_request(at=at(16, 10), owner=rita)
    touch(made["A"], at(16, 11))  # exactly at the deadline: within, 1 h
    made["B"] = factories.routed_request(at=at(16, 10), owner=tom, utm_source="linkedin")
    touch(made["B"], at(16, 12))  # an hour late: 2 h
    # Tue 16:00: the hour runs out at closing time; touched Wed 10:30 after the night: 2.5 h.
    made["G"] = factories.routed_request(at=at(17, 16), owner=rita, form=white_paper)
    touch(made["G"], at(18, 10, 30))

    # Week of 23 Nov. Fri 16:30: half an hour on Friday, the weekend paused, due Mon 09:30.
    made["C"] = factories.routed_request(at=at(20, 16, 30), owner=rita)
    touch(made["C"], at(23, 9, 15))  # within: 30 + 15 minutes of open time
    # Taken from Rita before its deadline and never touched: Tom's breach.
    made["D"] = factories.routed_request(at=at(23, 10), owner=rita, source="api")
    reassign(made["D"], at(23, 10, 20), away=rita)
    # Rita's breach: she held it at the deadline; it moved to Tom only the next day.
    made["E"] = factories.routed_request(
        at=at(23, 13), owner=rita, utm_source="linkedin", form=white_paper
    )
    reassign(made["E"], at(24, 10), away=rita)
    # Routed only after its deadline had passed (a worker backlog): nobody held it then, so
    # its owner now, Tom, answers for it.
    made["H"] = factories.routed_request(
        at=at(23, 10), routed_at=at(23, 11, 30), owner=rita, form=white_paper
    )
    reassign(made["H"], at(24, 9), away=rita)
    # Came in this morning, due 12:30: not decided yet.
    made["F"] = factories.routed_request(at=at(25, 11, 30), owner=tom)

    # Before the period, and still waiting.
    made["I"] = factories.routed_request(at=at(26, 10, month=10), owner=tom)
    return Emea(team=team, rita=rita, tom=tom, requests=made)


@pytest.fixture
def apac() -> Team:
    team = factories.team(name="APAC")
    kai = factories.user(username="kai", team=team)
    request = factories.routed_request(at=at(16, 10), owner=kai)
    touch(request, at(16, 10, 10))  # 10 minutes
    return team


@pytest.fixture(autouse=True)
def wednesday_noon() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


def close(value: Any, expected: float) -> bool:
    return value is not None and not math.isnan(value) and abs(value - expected) < 1e-9


def test_the_deadlines_are_the_ones_worked_out_by_hand(emea: Emea) -> None:
    made = emea.requests
    assert due(made["A"]) == at(16, 11)
    assert due(made["G"]) == at(17, 17)
    assert due(made["C"]) == at(23, 9, 30)
    assert due(made["E"]) == at(23, 14)
    assert due(made["H"]) == at(23, 11)
    assert due(made["F"]) == at(25, 12, 30)
    assert made["D"].routing.owner == emea.tom
    assert made["E"].routing.owner == emea.tom


def test_headline_numbers_for_one_team(emea: Emea, apac: Team) -> None:
    board = sla.sla_board(weeks=4, team_id=emea.team.pk)
    head = board.headline
    assert (head.within, head.breaches, head.pending, head.touched) == (2, 5, 1, 4)
    assert close(head.share_within, 100 * 2 / 7)
    # Touched after 1, 2, 2.5 and 0.75 business hours: the median between 1 and 2, and the
    # p90 70 % of the way from 2 to 2.5.
    assert close(head.median_hours, 1.5)
    assert close(head.p90_hours, 2.35)
    # D, E and H from this period, and I from October.
    assert head.waiting_past_due == 4
    assert board.weeks == [dt.date(2026, 11, 2), dt.date(2026, 11, 9), WEEK_16, WEEK_23]
    assert board.start == dt.datetime(2026, 11, 2, tzinfo=UTC)
    assert board.end == dt.datetime(2026, 11, 30, tzinfo=UTC)


def test_weekly_share_and_times(emea: Emea) -> None:
    weekly = sla.sla_board(weeks=4, team_id=emea.team.pk).weekly
    assert list(weekly.index) == [dt.date(2026, 11, 2), dt.date(2026, 11, 9), WEEK_16, WEEK_23]
    week16, week23 = weekly.loc[WEEK_16], weekly.loc[WEEK_23]
    assert (week16["requests"], week16["within"], week16["breaches"], week16["pending"]) == (
        3,
        1,
        2,
        0,
    )
    assert close(week16["share_within"], 100 / 3)
    assert close(week16["median_hours"], 2.0)
    assert close(week16["p90_hours"], 2.4)  # 1, 2, 2.5: 80 % of the way from 2 to 2.5
    assert (week23["requests"], week23["within"], week23["breaches"], week23["pending"]) == (
        5,
        1,
        3,
        1,
    )
    assert close(week23["share_within"], 25.0)
    assert close(week23["median_hours"], 0.75)  # C: Friday's half hour, Monday's quarter
    assert close(week23["p90_hours"], 0.75)
    empty = weekly.loc[dt.date(2026, 11, 2)]
    assert empty["requests"] == 0
    assert math.isnan(empty["share_within"])
    assert math.isnan(empty["median_hours"])


def test_breaches_go_to_the_rep_holding_the_request_at_its_deadline(emea: Emea) -> None:
    by_rep = sla.sla_board(weeks=4, team_id=emea.team.pk).breaches_by_rep
    # Week 16: B (Tom), G (Rita). Week 23: D (moved to Tom before its deadline), E (moved to Tom
    # after it: still Rita's), H (nobody held it at its deadline: its owner now, Tom).
    assert list(by_rep.columns) == ["tom", "Rita Alves"]
    assert by_rep.loc[WEEK_16].to_dict() == {"tom": 1, "Rita Alves": 1}
    assert by_rep.loc[WEEK_23].to_dict() == {"tom": 2, "Rita Alves": 1}
    assert int(by_rep.loc[dt.date(2026, 11, 9)].sum()) == 0


def test_breaches_by_source_prefer_utm_then_form_then_channel(emea: Emea) -> None:
    by_source = sla.sla_board(weeks=4, team_id=emea.team.pk).breaches_by_source
    # B and E came from LinkedIn (E through the white paper form too: UTM wins); G and H
    # through the form; D through the API.
    assert list(by_source.columns) == ["linkedin", "White paper", "api"]
    assert by_source.loc[WEEK_16].to_dict() == {"linkedin": 1, "White paper": 1, "api": 0}
    assert by_source.loc[WEEK_23].to_dict() == {"linkedin": 1, "White paper": 1, "api": 1}


def test_all_teams_and_the_team_filter(emea: Emea, apac: Team) -> None:
    everyone = sla.sla_board(weeks=4)
    head = everyone.headline
    assert (head.within, head.breaches, head.pending) == (3, 5, 1)
    assert close(head.share_within, 37.5)
    # 10 minutes, 0.75, 1, 2, 2.5 hours.
    assert close(head.median_hours, 1.0)
    assert close(head.p90_hours, 2.3)
    assert everyone.weekly.loc[WEEK_16, "within"] == 2
    only_apac = sla.sla_board(weeks=4, team_id=apac.pk)
    assert (only_apac.headline.within, only_apac.headline.breaches) == (1, 0)
    assert close(only_apac.headline.median_hours, 1 / 6)
    assert only_apac.breaches_by_rep.empty


def test_a_shorter_window_leaves_older_weeks_out_but_still_counts_who_waits(emea: Emea) -> None:
    board = sla.sla_board(weeks=4, team_id=emea.team.pk)
    assert board.headline.waiting_past_due == 4
    touch(emea.requests["I"], NOW)  # late, but no longer waiting
    later = sla.sla_board(weeks=4, team_id=emea.team.pk)
    assert later.headline.waiting_past_due == 3
    assert later.headline.breaches == 5  # I's deadline was in October


def test_a_pending_request_becomes_a_breach_once_its_deadline_passes(emea: Emea) -> None:
    with clock.frozen_at(at(25, 12, 30)):  # exactly due: not late yet
        assert sla.sla_board(weeks=4, team_id=emea.team.pk).headline.pending == 1
    with clock.frozen_at(at(25, 12, 31)):
        head = sla.sla_board(weeks=4, team_id=emea.team.pk).headline
    assert (head.pending, head.breaches, head.waiting_past_due) == (0, 6, 5)


def test_business_time_skips_the_teams_public_holidays() -> None:
    team = factories.team(name="DACH", time_zone="Europe/Berlin", country="DE")
    rep = factories.user(username="lena", team=team)
    berlin = ZoneInfo("Europe/Berlin")
    # Thursday 30 April 16:30 in Berlin; 1 May (Friday) is a public holiday; then the weekend.
    request = factories.routed_request(
        at=dt.datetime(2026, 4, 30, 16, 30, tzinfo=berlin), owner=rep
    )
    assert due(request) == dt.datetime(2026, 5, 4, 9, 30, tzinfo=berlin)
    touch(request, dt.datetime(2026, 5, 4, 9, 15, tzinfo=berlin))
    with clock.frozen_at(dt.datetime(2026, 5, 6, 12, 0, tzinfo=UTC)):
        board = sla.sla_board(weeks=4, team_id=team.pk, tz=berlin)
    assert board.headline.within == 1
    assert close(board.headline.median_hours, 0.75)
    assert board.weekly.loc[dt.date(2026, 5, 4), "within"] == 1


def test_weeks_start_on_monday_in_the_viewers_time_zone() -> None:
    team = factories.team(name="Always on", working_hours="Mon-Sun 00:00-24:00")
    rep = factories.user(username="nina", team=team)
    # Due Sunday 23:30 UTC, which is Monday 00:30 in Berlin.
    request = factories.routed_request(at=at(22, 22, 30), owner=rep)
    assert due(request) == at(22, 23, 30)
    touch(request, at(22, 23, 0))
    in_utc = sla.sla_board(weeks=4, team_id=team.pk).weekly
    in_berlin = sla.sla_board(weeks=4, team_id=team.pk, tz=ZoneInfo("Europe/Berlin")).weekly
    assert in_utc.loc[WEEK_16, "within"] == 1
    assert in_utc.loc[WEEK_23, "within"] == 0
    assert in_berlin.loc[WEEK_16, "within"] == 0
    assert in_berlin.loc[WEEK_23, "within"] == 1


def test_only_the_top_reps_are_named_and_the_rest_are_others() -> None:
    team = factories.team(name="Big")
    reps = [factories.user(username=f"rep{n}", team=team) for n in range(8)]
    for n, rep in enumerate(reps):
        for _ in range(n + 1):  # rep7 misses 8 deadlines, rep0 one
            factories.routed_request(at=at(16, 10), owner=rep)
    by_rep = sla.sla_board(weeks=4, team_id=team.pk).breaches_by_rep
    assert list(by_rep.columns) == ["rep7", "rep6", "rep5", "rep4", "rep3", sla.OTHERS]
    assert by_rep.loc[WEEK_16, sla.OTHERS] == 1 + 2 + 3
    assert int(by_rep.to_numpy().sum()) == sum(range(1, 9))


def test_an_empty_period_has_no_numbers_yet() -> None:
    board = sla.sla_board()
    assert board.is_empty
    assert len(board.weeks) == sla.DEFAULT_WEEKS
    head = board.headline
    assert (head.within, head.breaches, head.pending, head.waiting_past_due) == (0, 0, 0, 0)
    assert head.share_within is None
    assert head.median_hours is None
    assert (board.weekly["requests"] == 0).all()
    assert board.breaches_by_rep.empty
    assert board.breaches_by_source.empty


def test_the_window_is_limited_and_the_default_team_is_the_managers_own(emea: Emea) -> None:
    with pytest.raises(ValueError, match="weeks"):
        sla.sla_board(weeks=3)
    with pytest.raises(ValueError, match="weeks"):
        sla.sla_board(weeks=53)
    sam = User.objects.get(username="sam")
    assert sla.sla_default_team(user=sam) == emea.team.pk  # manages EMEA
    sam.team = factories.team(name="Nordics")
    sam.save()
    assert sla.sla_default_team(user=sam) == sam.team.pk  # their own team first
    assert sla.sla_default_team(user=factories.user(role=Role.ADMIN)) is None
    assert [t.name for t in sla.sla_teams()] == ["EMEA", "Nordics"]
