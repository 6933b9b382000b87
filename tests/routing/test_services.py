"""Routing: every request gets exactly one owner and a first-touch deadline, and why is recorded."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Team, TimelineEvent, User
from leadline.routing import services
from leadline.routing.models import (
    Absence,
    Assignment,
    Ownership,
    Queue,
    RoutingRule,
    Touch,
    TouchKind,
)
from leadline.routing.selectors import leaks
from tests import factories
from tests.routing.conftest import MONDAY_10, new_request, owner_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def test_a_matching_rule_gives_one_owner_a_deadline_and_a_reason(emea: Team) -> None:
    request = new_request()
    assignment = services.request_assign(request_id=request.pk)
    assert assignment is not None
    owner = owner_of(request)
    assert owner is not None
    assert owner.username in {"rita", "tom"}
    assert request.routing.queue == Queue.OWNER
    # A contact request on Monday 10:00 is due within one business hour.
    assert request.routing.first_touch_due == MONDAY_10 + dt.timedelta(hours=1)
    assert "rule “Germany and Austria”" in assignment.why
    event = TimelineEvent.objects.get(kind="request.assigned", person=request.person)
    assert str(owner) in event.summary
    assert Ownership.objects.filter(owner=owner, person=request.person, ended_at=None).exists()


def test_assigning_twice_keeps_the_first_owner(emea: Team) -> None:
    request = new_request()
    services.request_assign(request_id=request.pk)
    first = owner_of(request)
    assert services.request_assign(request_id=request.pk) is None
    assert owner_of(request) == first
    assert Assignment.objects.filter(request=request).count() == 1


def test_equal_reps_take_turns(emea: Team) -> None:
    owners = Counter()
    for _ in range(10):
        request = new_request()
        services.request_assign(request_id=request.pk)
        owners[owner_of(request).username] += 1  # type: ignore[union-attr]
    assert owners == {"rita": 5, "tom": 5}


def test_more_free_capacity_means_more_leads(emea: Team) -> None:
    User.objects.filter(username="rita").update(relationship_cap=10)
    User.objects.filter(username="tom").update(relationship_cap=40)
    owners = Counter()
    for _ in range(20):
        request = new_request()
        services.request_assign(request_id=request.pk)
        owners[owner_of(request).username] += 1  # type: ignore[union-attr]
    assert owners["tom"] >= 3 * owners["rita"] > 0


def test_the_account_owner_wins(emea: Team) -> None:
    account = factories.account()
    tom = User.objects.get(username="tom")
    Ownership.objects.create(owner=tom, account=account)
    for _ in range(3):
        request = new_request(account=account)
        assignment = services.request_assign(request_id=request.pk)
        assert owner_of(request) == tom
        assert assignment is not None
        assert "owns the account" in assignment.why


def test_away_paused_and_full_reps_are_skipped_with_reasons(emea: Team) -> None:
    rita = User.objects.get(username="rita")
    Absence.objects.create(
        user=rita,
        starts_at=MONDAY_10 - dt.timedelta(days=1),
        ends_at=MONDAY_10 + dt.timedelta(days=4),
    )
    tom = User.objects.get(username="tom")
    tom.relationship_cap = 1
    tom.save()
    # A relationship counts against the cap while it is active: here, a recent touch.
    known = factories.person()
    Ownership.objects.create(owner=tom, person=known)
    Touch.objects.create(person=known, user=tom, kind=TouchKind.EMAIL)

    request = new_request()
    assignment = services.request_assign(request_id=request.pk)

    assert owner_of(request) == User.objects.get(username="sam")
    assert request.routing.queue == Queue.FALLBACK
    assert assignment is not None
    why = {s["user"]: s["why"] for s in assignment.skipped}
    assert why[str(rita)].startswith("away until")
    assert why[str(tom)] == "at their cap of 1 relationships"
    assert "Fallback queue, held by" in assignment.why


def test_when_nobody_is_in_hours_an_urgent_lead_still_gets_a_rep() -> None:
    berlin = factories.team(name="Berlin", time_zone="Europe/Berlin")
    anna = factories.user(username="anna", team=berlin)
    RoutingRule.objects.create(name="everyone", team=berlin, conditions=[])
    with clock.frozen_at(dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)):  # 21:00 in Berlin
        request = new_request()
        assignment = services.request_assign(request_id=request.pk)
    assert owner_of(request) == anna
    assert request.routing.queue == Queue.OWNER
    assert assignment is not None
    assert "nobody in hours now" in assignment.why
    # One business hour after 09:00 Berlin (08:00 UTC) the next morning.
    assert request.routing.first_touch_due == dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_a_touch_meets_the_deadline_and_a_call_needs_its_outcome(emea: Team) -> None:
    request = new_request()
    services.request_assign(request_id=request.pk)
    rep = owner_of(request)
    with pytest.raises(ValidationError, match="outcome"):
        services.touch_record(request=request, user=rep, kind="call")
    services.touch_record(request=request, user=rep, kind="call", outcome="voicemail")
    request.refresh_from_db()
    assert request.routing.first_touched_at == MONDAY_10
    assert TimelineEvent.objects.filter(
        kind="touch.recorded", summary="Call attempt: left a voicemail"
    ).exists()


def test_leaks_lists_unrouted_requests_until_the_sweep_routes_them(
    emea: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    request = new_request()
    assert [leak.why for leak in leaks()] == ["never routed"]
    with pytest.raises(SystemExit) as exit_info:
        call_command("leaks")
    assert exit_info.value.code == 1
    assert "1 dropped leads" in capsys.readouterr().out

    assert services.unrouted_requests_assign() == 1
    assert leaks() == []
    call_command("leaks")
    assert "0 dropped leads" in capsys.readouterr().out
    assert owner_of(request) is not None


def test_a_processed_submission_is_routed_by_the_worker(
    client: Any, run_worker: Any, emea: Team
) -> None:
    form = factories.form()
    response = client.post(
        f"/f/{form.slug}/",
        data=factories.submission_data(email="ann@firma.example"),
        content_type="application/json",
    )
    assert response.status_code == 201
    run_worker()
    request = Request.objects.get()
    # The form asks no country, so no rule matches and nobody has a default team: the manager
    # holds the lead in the fallback queue. Still not dropped.
    assert owner_of(request) == User.objects.get(username="sam")
    assert leaks() == []


def test_routing_a_batch_costs_the_queries_of_one_request_and_stays_fair(emea: Team) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(requests: list[Request]) -> int:
        with CaptureQueriesContext(connection) as captured:
            services.requests_route_new(request_ids=[r.pk for r in requests])
        # One transaction: inside the test's own, that is one savepoint, and none nested.
        assert [q["sql"].startswith("SAVEPOINT") for q in captured.captured_queries].count(
            True
        ) == 1
        return len(captured.captured_queries)

    alone = queries([new_request()])
    batch = [new_request() for _ in range(9)]
    assert queries(batch) == alone
    owners = Counter(owner_of(r).username for r in batch)  # type: ignore[union-attr]
    assert owners == {"rita": 5, "tom": 4} or owners == {"rita": 4, "tom": 5}
    assert not leaks()
    assert Ownership.objects.filter(ended_at=None, person__isnull=False).count() == 10


def test_two_requests_of_one_person_in_a_batch_go_to_one_owner(emea: Team) -> None:
    person = factories.person(country="DE")
    first, second = (
        factories.person_request(person=person, wants_contact=True, created_at=clock.now())
        for _ in range(2)
    )
    services.requests_route_new(request_ids=[first.pk, second.pk])
    assert owner_of(first) == owner_of(second)
    assert Ownership.objects.filter(person=person, ended_at=None).count() == 1
    assert "owns this person" in Assignment.objects.get(request=second).why
