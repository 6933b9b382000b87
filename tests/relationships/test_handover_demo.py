"""The acceptance test: with the demo data, a rep with 140 active relationships leaves; then
applying twice, or at once from two threads (PostgreSQL), moves everything only once."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from leadline.cadences.models import ManualTask
from leadline.core import clock
from leadline.core.models import User
from leadline.relationships import services
from leadline.relationships.leaks import inactive_owner_leaks
from leadline.relationships.models import Briefing, HandoverPlan, PlanStatus
from leadline.relationships.selectors import (
    active_relationships,
    plan_loads,
    plan_problems,
    relationship_cap,
)
from leadline.routing.models import Ownership
from leadline.routing.selectors import leaks
from tests import factories

UNTIL = "2026-11-20"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
def test_a_rep_with_140_relationships_leaves_and_nothing_leaks() -> None:
    call_command("demo_data", people=12, seed=7, until=UNTIL, stdout=StringIO(), stderr=StringIO())
    with clock.frozen_at(factories.MONDAY_10):
        rita, sam = User.objects.get(username="rita"), User.objects.get(username="sam")
        missing = 140 - active_relationships(user=rita)
        factories.owned_people(owner=rita, count=max(missing, 0))
        assert active_relationships(user=rita) >= 140
        plan = factories.handover_plan(leaver=rita, actor=sam, days=10)
        assert plan.items.filter(new_owner__isnull=True).count() == 0
        assert plan_problems(plan=plan) == []
        assert not any(load.over for load in plan_loads(plan=plan))
        result = services.handover_plan_apply(plan_id=plan.pk, actor=sam)
        assert result.applied, result.problems
        owners = set(plan.items.values_list("new_owner", flat=True))
        for owner in User.objects.filter(pk__in=owners):
            assert active_relationships(user=owner) <= relationship_cap(owner), owner
        relationships = plan.items.filter(kind__in=["person", "account"])
        assert relationships.filter(is_active_relationship=True).count() >= 140
        for pk in set(relationships.values_list("new_owner", flat=True)):
            theirs = relationships.filter(new_owner=pk)
            # A briefing for every relationship, a warm introduction for every key one.
            assert Briefing.objects.filter(plan=plan, recipient=pk).count() == theirs.count()
            intros = ManualTask.objects.filter(assignee=pk, title__startswith="Warm introduction")
            assert intros.count() >= theirs.filter(is_key=True).count() > 0
    with clock.frozen_at(plan.effective_at + dt.timedelta(days=1)):
        assert services.handovers_complete_due() == 1
        rita.refresh_from_db()
        assert not rita.is_active
        assert leaks() == []
        assert not Ownership.objects.filter(owner=rita, ended_at__isnull=True).exists()
        assert inactive_owner_leaks() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="threads racing for a lock: PostgreSQL only",
)
def test_two_managers_applying_at_once_apply_it_once() -> None:
    with clock.frozen_at(factories.MONDAY_10):
        _crew, boss, (rita, _jonas, _liam) = factories.handover_team(reps=3)
        factories.owned_people(owner=rita, count=5)
        plan = factories.handover_plan(leaver=rita, actor=boss)
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            with clock.frozen_at(factories.MONDAY_10):
                results[i] = services.handover_plan_apply(plan_id=plan.pk, actor=boss).applied
        except Exception as exc:
            results[i] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results, key=str) == [False, True]
    assert HandoverPlan.objects.get(pk=plan.pk).status == PlanStatus.APPLIED
    assert Ownership.objects.filter(ended_at__isnull=True, person__isnull=False).count() == 5
    assert Briefing.objects.filter(plan=plan).count() == 5
