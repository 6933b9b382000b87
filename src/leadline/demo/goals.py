"""Demo goals: the issue's three examples for this quarter ("120 sales-accepted leads and 400k
influenced pipeline this quarter", "95% of contact requests touched within 1 business hour")
and last quarter's accepted-leads goal, so a goal's page has an earlier period to show. Owned by
Maria (marketing) and Sam (sales manager), with the values the sweep would have measured: one
a week (one every four weeks for influenced pipeline, which runs the attribution report), and
today's."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from leadline.core import clock
from leadline.core.models import Role, User
from leadline.insight import goals
from leadline.insight.models import Goal, GoalSnapshot, PeriodKind

# name: (metric, target, quarter offset)
GOALS: dict[str, tuple[str, int, int]] = {
    "Sales-accepted leads this quarter": ("sales_accepted", 120, 0),
    "Influenced pipeline this quarter": ("influenced_pipeline", 400_000, 0),
    "Contact requests touched within 1 business hour": ("touched_within_1h", 95, 0),
    "Sales-accepted leads last quarter": ("sales_accepted", 100, -1),
}
EXPENSIVE = {"influenced_pipeline"}


def goals_demo(*, now: dt.datetime) -> int:
    """The goals (those missing) and their snapshots, as of `now`. Returns how many were made."""
    owners = list(
        User.objects.filter(username__in=["maria", "sam"], is_active=True).order_by("username")
    )
    author = next((u for u in owners if u.role == Role.MARKETING), None)
    on = goals.today(now)
    made = 0
    for name, (metric, target, offset) in GOALS.items():
        if Goal.objects.filter(name=name).exists():
            continue
        starts_on, ends_on = goals.period_preset(PeriodKind.QUARTER, on=on, offset=offset)
        # Set when its period began (the demo's history), so two runs make the same rows.
        with clock.frozen_at(min(now, goals.period_bounds(starts_on, ends_on)[0])):
            goal = goals.goal_create(
                actor=author,
                name=name,
                metric=metric,
                target=target,
                period_kind=PeriodKind.QUARTER,
                starts_on=starts_on,
                ends_on=ends_on,
                owners=owners,
            )
        _snapshots(goal, now=now, on=on)
        made += 1
    return made


def _snapshots(goal: Goal, *, now: dt.datetime, on: dt.date) -> None:
    step = 28 if goal.metric in EXPENSIVE else 7
    last = min(on, goal.ends_on + dt.timedelta(days=1))
    days = [
        goal.starts_on + dt.timedelta(days=n)
        for n in range(step, (last - goal.starts_on).days, step)
    ]
    days.append(last)
    rows = []
    for day in days:
        moment = now if day >= on else min(now, goals.period_bounds(day, day)[0])
        rows.append(
            GoalSnapshot(
                goal=goal,
                on=day,
                value=goals.goal_measure(goal=goal, now=moment).value,
                measured_at=moment,
            )
        )
    with transaction.atomic():
        GoalSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
