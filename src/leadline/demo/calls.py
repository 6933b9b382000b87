"""Demo calls: an outsourced calling team (the demo's outside caller, otto, works for it) with
a queue of intro calls. None is logged: the demo's history has only the sellers' own touches
(a call shows those as its earlier calls)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from leadline.calls.models import CallTask
from leadline.calls.services import call_task_create
from leadline.core import clock
from leadline.core.models import Person, Role, Team, User

CALLING_TEAM = "Callsource (outsourced calls)"
CALLER = "otto"
QUEUE = 12
SCRIPT = (
    "Hello {first}, this is Otto calling for Leadline. You downloaded our guide to closing the "
    "books faster — did it help?\n\n"
    "Ask: how many days does month-end close take today? Who else feels the pain?\n"
    "If they want to see more: set an appointment with a sales rep."
)


def calls_demo(*, now: dt.datetime) -> int:
    """The calling team and its queue around `now` (the plan's end, so the same plan makes the
    same calls), once: a second run adds nothing. Returns how many calls were made."""
    caller = User.objects.filter(username=CALLER, role=Role.OUTSIDE_CALLER).first()
    if caller is None or CallTask.objects.filter(source="demo").exists():
        return 0
    people = list(
        Person.objects.filter(merged_into__isnull=True, phones__isnull=False)
        .exclude(time_zone="")
        .distinct()
        .order_by("-created_at", "-pk")[:QUEUE]
    )
    with transaction.atomic(), clock.frozen_at(now):
        team, _ = Team.objects.get_or_create(
            name=CALLING_TEAM,
            defaults={"time_zone": "Europe/Berlin", "country": "DE"},
        )
        if caller.team_id is None:
            caller.team = team
            caller.save(update_fields=["team"])
        for n, person in enumerate(people):
            call_task_create(
                person=person,
                title="Intro call",
                script=SCRIPT.format(first=person.first_name or "there"),
                due_at=now + dt.timedelta(hours=n - QUEUE // 2),
                team=team,
                assignee=caller if n % 4 == 0 else None,
                source="demo",
                source_ref=f"demo:{person.pk}",
            )
    return len(people)
