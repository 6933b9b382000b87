"""Demo cadences: a marketing "New trial" sequence and a sales "Demo follow-up" with a call,
a branch and a LinkedIn task; a few people walk them over the last days, so the list shows
numbers, person pages show where they are, and reps have tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Max

from leadline.cadences.models import Cadence, EnrolmentSource
from leadline.cadences.services import (
    EnrolmentRefused,
    cadence_create,
    cadence_step_add,
    cadence_step_move,
    enrolment_create,
    enrolments_run_due,
    enrolments_stop,
)
from leadline.core import clock
from leadline.core.models import Person, Role, Team, User
from leadline.demo.selling import history_settle, history_tasks_drop
from leadline.notify.models import InboxItem, OutgoingMail

TRIAL = "New trial"
FOLLOW_UP = "Demo follow-up"
PEOPLE = 12


def _cadences(marketer: User | None, calling_team: Team | None) -> list[Cadence]:
    trial = cadence_create(
        name=TRIAL,
        description="Welcome a trial user, then let a caller ask how it goes.",
        purpose="marketing",
        call_team=calling_team,
        actor=marketer,
    )
    trial_steps: list[tuple[str, dict[str, Any]]] = [
        (
            "email",
            {
                "subject": "Welcome to your trial, {{ first_name }}",
                "text": "Hi {{ first_name }},\n\nyour trial is ready. Three things to try "
                "first: import a month of invoices, close a period, share a report "
                "with your team at {{ company }}.\n\n{{ owner_name }}",
            },
        ),
        ("wait", {"wait_days": 2}),
        (
            "email",
            {
                "subject": "How is the trial going?",
                "text": "Hi {{ first_name }},\n\nanything we can help with? Just reply."
                "\n\n{{ owner_name }}",
            },
        ),
        ("wait", {"wait_days": 2}),
        (
            "call",
            {
                "title": "Trial check-in",
                "script": "Ask {{ first_name }} what they tried.",
                "outcome_options": ["connected", "no_answer", "voicemail", "call_back"],
            },
        ),
    ]
    for kind, values in trial_steps:
        cadence_step_add(cadence=trial, kind=kind, values=values, actor=marketer)
    follow_up = cadence_create(
        name=FOLLOW_UP,
        description="After a demo request: call, and keep in touch when they do not answer.",
        purpose="sales",
        actor=marketer,
    )
    follow_up_steps: list[tuple[str, dict[str, Any]]] = [
        (
            "call",
            {
                "title": "Book the demo",
                "script": "Find a time for the demo.",
                "outcome_options": ["connected", "no_answer", "voicemail"],
            },
        ),
        (
            "email",
            {
                "subject": "Sorry we missed you, {{ first_name }}",
                "text": "Hi {{ first_name }},\n\nI tried to call about your demo. When "
                "suits you?\n\n{{ owner_name }}",
            },
        ),
        (
            "manual",
            {
                "title": "Connect on LinkedIn",
                "instructions": "Send a short note mentioning their demo request.",
            },
        ),
    ]
    steps = [
        cadence_step_add(cadence=follow_up, kind=kind, values=values, actor=marketer)
        for kind, values in follow_up_steps
    ]
    # After the call: when they answered, skip the "sorry we missed you" mail.
    branch = cadence_step_add(
        cadence=follow_up,
        kind="branch",
        values={"branch_outcomes": ["connected"], "branch_to": steps[-1].pk},
        actor=marketer,
    )
    cadence_step_move(step=branch, by=-2, actor=marketer)
    return [trial, follow_up]


def cadences_demo(*, now: dt.datetime) -> int:
    """The two cadences and their people, once (a second run adds nothing). Returns how many
    people were enrolled."""
    if Cadence.objects.filter(name__in=[TRIAL, FOLLOW_UP]).exists():
        return 0
    marketer = User.objects.filter(role=Role.MARKETING).order_by("pk").first()
    calling_team = Team.objects.filter(name__icontains="outsourced").first()
    people = list(
        Person.objects.filter(
            merged_into__isnull=True,
            ownerships__ended_at__isnull=True,
            phones__isnull=False,
            created_at__lt=now - dt.timedelta(days=6),
        )
        .exclude(time_zone="")
        .distinct()
        .order_by("-created_at", "-pk")[: PEOPLE * 2]
    )
    start = now - dt.timedelta(days=6)
    enrolled = 0
    first_mail = (OutgoingMail.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
    first_item = (InboxItem.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
    with transaction.atomic():
        with clock.frozen_at(start):
            cadences = _cadences(marketer, calling_team)
            for n, person in enumerate(people[:PEOPLE]):
                cadence = cadences[n % 2]
                try:
                    enrolment_create(
                        cadence=cadence,
                        person=person,
                        actor=marketer,
                        source=EnrolmentSource.BULK,
                    )
                except EnrolmentRefused:
                    continue
                enrolled += 1
        for hours in range(0, 6 * 24, 2):  # the worker, every two hours of those six days
            with clock.frozen_at(start + dt.timedelta(hours=hours)):
                enrolments_run_due(limit=500)
        with clock.frozen_at(now - dt.timedelta(hours=3)):
            for person in people[:2]:
                enrolments_stop(person=person, reason="replied", detail="Replied to the welcome")
        # The cadence mail of those days went out then: the worker must not send it now.
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return enrolled
