"""Demo data for the channels-and-teams report (insight/effectiveness.py): every channel and
the outside calling team have something to show.

- The outside calling team's past month: otto's calls, logged — no answer, voicemail, spoke to
  them, not interested, and appointments set with a seller, most of them held since (one in
  three a no-show).
- LinkedIn: sellers' messages (the manual channel, through the contact gate) and the chats
  some of them led to.
- The trade show (demo/campaigns.py's summit): talks at the booth with some of its visitors.

All through the services, once: a second run adds nothing."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from leadline.booking.models import Meeting, MeetingOutcome, MeetingSource
from leadline.calls.models import CallTask
from leadline.calls.services import call_task_create, call_task_log
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.demo.calls import CALLER, CALLING_TEAM
from leadline.demo.campaigns import SUMMIT
from leadline.engagement.services import handoff_create
from leadline.journeys.conversations import conversation_log
from leadline.journeys.models import ConversationKind, Event
from leadline.outreach.services import contact_reserve

SOURCE = "demo-effectiveness"
# What otto's past calls came to, one a day or so over the last month, oldest first.
CALL_OUTCOMES = (
    "no_answer",
    "voicemail",
    "connected",
    "appointment_set",
    "no_answer",
    "not_interested",
    "connected",
    "appointment_set",
    "voicemail",
    "wrong_number",
    "appointment_set",
    "connected",
)
LINKEDIN_PEOPLE = 8
CHATS = (
    "Replied on LinkedIn: month-end close takes them nine days; asked for the CFO guide.",
    "LinkedIn chat: evaluating tools next quarter, wants to see the reconciliation demo.",
    "Messaged back: not the right person, pointed us to their controller.",
    "LinkedIn chat about intercompany eliminations; agreed to a call next week.",
    "Short chat: happy with their spreadsheets for now, asked to stay in touch.",
)
SUMMIT_TALKS = (
    "Talked at the booth about closing the books faster; they close in ten days today.",
    "Stopped by after the talk: audit trail questions, wants a follow-up with their CFO.",
    "Booth chat: multi-entity consolidation is their pain; took the guide.",
    "Met at the summit dinner table: evaluating in spring, budget not yet set.",
    "Talk at the booth about approvals in close; asked for pricing.",
    "Quick talk after the session: comparing us with their ERP's own module.",
)


def effectiveness_demo(*, now: dt.datetime) -> int:
    """The calls, chats and talks above, as of `now`; returns how many things were added."""
    if CallTask.objects.filter(source=SOURCE).exists():
        return 0
    sellers = list(User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("pk"))
    if not sellers:
        return 0
    made = _calls(now=now, sellers=sellers)
    with clock.frozen_at(now):  # what the services stamp with the clock, the same every run
        return made + _linkedin(now=now, sellers=sellers) + _summit(sellers=sellers)


def _calls(*, now: dt.datetime, sellers: list[User]) -> int:
    """otto's month. An appointment set is logged on the call and handed to sales like a booking
    (handoff "appointment"); the meeting row itself is written here, with a fixed UID and no
    invitation mail, so the same plan makes the same data (booking's UIDs and signed links are
    random)."""
    caller = User.objects.filter(username=CALLER, role=Role.OUTSIDE_CALLER).first()
    if caller is None or caller.team is None or caller.team.name != CALLING_TEAM:
        return 0
    people = list(
        Person.objects.filter(merged_into__isnull=True, phones__isnull=False)
        .exclude(time_zone="")
        .exclude(call_tasks__source="demo")
        .distinct()
        .order_by("pk")[: len(CALL_OUTCOMES)]
    )
    made = set_count = 0
    for n, (person, outcome) in enumerate(zip(people, CALL_OUTCOMES, strict=False)):
        at = now - dt.timedelta(days=30 - 2 * n, hours=3)
        with clock.frozen_at(at - dt.timedelta(hours=1)):
            task = call_task_create(
                person=person,
                title="Intro call",
                due_at=at - dt.timedelta(hours=1),
                team=caller.team,
                source=SOURCE,
                source_ref=f"{SOURCE}:{person.pk}",
            )
        made += 1
        with clock.frozen_at(at):
            call_task_log(task=task, outcome=outcome, actor=caller, at=at)
            if outcome != "appointment_set":
                continue
            host = sellers[set_count % len(sellers)]
            starts_at = (at + dt.timedelta(days=2)).replace(hour=9, minute=30, second=0)
            while starts_at.weekday() >= 5:
                starts_at += dt.timedelta(days=1)
            held = starts_at < now and set_count % 3 != 1
            with transaction.atomic():
                Meeting.objects.create(
                    host=host,
                    person=person,
                    starts_at=starts_at,
                    ends_at=starts_at + dt.timedelta(minutes=30),
                    title=f"Intro with {host.get_full_name() or host}",
                    booked_by=caller,
                    source=MeetingSource.CALL,
                    source_ref=f"call_task:{task.pk}",
                    uid=f"{SOURCE}-{task.pk}@leadline.demo",
                    created_at=at,
                    updated_at=at,
                    outcome=(
                        ""
                        if starts_at >= now
                        else MeetingOutcome.HELD
                        if held
                        else MeetingOutcome.NO_SHOW
                    ),
                    outcome_at=starts_at + dt.timedelta(hours=1) if starts_at < now else None,
                    outcome_by=host if starts_at < now else None,
                )
                handoff_create(
                    person=person,
                    trigger="appointment",
                    actor=caller,
                    owner=host,
                    note=f"Appointment set by {caller} on a call",
                    at=at,
                )
            set_count += 1
    return made


def _linkedin(*, now: dt.datetime, sellers: list[User]) -> int:
    """Messages on LinkedIn on weekday afternoons (UTC); the gate may refuse some (consent,
    quiet hours, the weekly cap): those are not sent, and the next person is tried."""
    people = Person.objects.filter(
        merged_into__isnull=True, created_at__lt=now - dt.timedelta(days=25)
    ).order_by("-pk")[: LINKEDIN_PEOPLE * 5]
    made = sent = 0
    for person in people:
        if sent == LINKEDIN_PEOPLE:
            break
        at = (now - dt.timedelta(days=22 - 2 * sent)).replace(hour=14, minute=0, second=0)
        while at.weekday() >= 5:
            at -= dt.timedelta(days=1)
        seller = sellers[sent % len(sellers)]
        with transaction.atomic():
            verdict = contact_reserve(
                person=person,
                channel="manual",
                purpose="sales",
                source="linkedin",
                ref=f"{SOURCE}:linkedin:{person.pk}",
                at=at,
            )
        if not verdict.allowed:
            continue
        made += 1
        if sent < len(CHATS):
            conversation_log(
                kind=ConversationKind.CHAT,
                summary=CHATS[sent],
                people=[person],
                logged_by=seller,
                sellers=[seller],
                occurred_at=at + dt.timedelta(days=1, hours=2),
            )
            made += 1
        sent += 1
    return made


def _summit(*, sellers: list[User]) -> int:
    visits = list(
        Event.objects.filter(dedupe_key__startswith="import:demo-summit:p-", person__isnull=False)
        .select_related("person")
        .order_by("pk")[: len(SUMMIT_TALKS)]
    )
    for n, (visit, summary) in enumerate(zip(visits, SUMMIT_TALKS, strict=False)):
        seller = sellers[(n + 1) % len(sellers)]
        assert visit.person is not None
        conversation_log(
            kind=ConversationKind.EVENT,
            summary=f"{SUMMIT}: {summary}",
            people=[visit.person],
            logged_by=seller,
            sellers=[seller],
            occurred_at=visit.occurred_at + dt.timedelta(minutes=20),
        )
    return len(visits)
