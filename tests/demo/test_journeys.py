"""The demo's buyer journeys (demo/journeys.py): tracking, conversations, pain points, committees
and journey moves, the same for the same seed, and the same rows the services would have made."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db.models import Count, Q
from django_tasks_db.models import DBTaskResult

from leadline.core import clock
from leadline.core.models import Account, AuditEntry, Person, PersonEmail, TimelineEvent
from leadline.journeys.committee import committee_of
from leadline.journeys.conversations import pain_points_suggest, person_functions
from leadline.journeys.models import (
    Conversation,
    ConversationPainPoint,
    Event,
    EventBatch,
    EventSource,
    Journey,
    JourneyPosition,
    JourneyStep,
    JourneyTransition,
    PainPoint,
    Stakeholder,
    StakeholderLink,
    TransitionCause,
    Visitor,
)
from leadline.journeys.services import journey_move, signals_evaluate
from leadline.journeys.tasks import requests_signals_record_task
from leadline.routing.selectors import leaks
from tests.demo.test_generator import demo, wipe


def _email_of() -> dict[int, str]:
    found: dict[int, str] = {}
    for person_id, email in PersonEmail.objects.order_by("email").values_list("person", "email"):
        found.setdefault(person_id, email)
    return found


def test_demo_people_have_journeys_visits_conversations_and_committees(db: None) -> None:
    demo(people=120, seed=4)
    people = Person.objects.all()
    default = Journey.objects.get(is_default=True)

    # Every person is on the default journey, moved along it by signals; each move says why
    # and from where, and the timeline says it too.
    positions = JourneyPosition.objects.filter(journey=default, person__isnull=False)
    assert positions.count() == people.count() == 120
    assert len({p.step_id for p in positions}) >= 4
    moves = JourneyTransition.objects.filter(person__isnull=False).select_related("to_step")
    assert moves.filter(cause=TransitionCause.START).count() == 120
    for move in moves.exclude(cause=TransitionCause.START).filter(journey=default):
        assert move.from_step_id is not None, move
    signalled = moves.filter(cause=TransitionCause.SIGNAL)
    assert {m.signal_name for m in signalled} >= {
        "Read a guide",
        "Asked to be contacted",
        "Visited pricing twice",
        "Asked for a proposal",
        "Finance joined a call",
    }
    for move in signalled:  # the evidence: that person's events, of what the rule looks for
        evidence = Event.objects.filter(pk__in=move.evidence["events"], person=move.person_id)
        assert evidence.count() == len(move.evidence["events"]) >= 1, move
        assert all(e.occurred_at <= move.at for e in evidence)
    by_hand = moves.filter(cause=TransitionCause.USER)
    assert by_hand.exists()
    assert all(m.note and m.moved_by_id for m in by_hand)
    assert any(
        m.from_step is not None and m.to_step.position < m.from_step.position for m in by_hand
    ), "a move backwards"
    assert TimelineEvent.objects.filter(kind="journey.moved").count() == (
        JourneyTransition.objects.count()
    )
    assert AuditEntry.objects.filter(action="journey.move").count() == by_hand.count()
    assert JourneyTransition.objects.filter(account__isnull=False).exists()
    payroll = Journey.objects.get(slug="payroll-small-teams")
    assert JourneyPosition.objects.filter(journey=payroll, person__isnull=False).count() >= 2

    # Tracking: most people's browser is stitched to them, with visits before their first form;
    # some visitors never said who they are.
    visitors = Visitor.objects.filter(person__isnull=False)
    assert visitors.count() == 120
    tracked = visitors.annotate(n=Count("events")).filter(n__gt=0)
    assert 0.75 * 120 < tracked.count() < 120
    earlier = 0
    for visitor in tracked:
        assert visitor.identified_at is not None
        before = visitor.events.filter(occurred_at__lt=visitor.identified_at)
        earlier += before.exists()
        assert all(e.person_id == visitor.person_id for e in visitor.events.all())
    assert earlier > 0.5 * tracked.count()
    assert Visitor.objects.filter(person__isnull=True, events__isnull=False).exists()
    assert not Event.objects.filter(
        visitor__isnull=False, visitor__person__isnull=True, person__isnull=False
    ).exists()
    page_views = Event.objects.filter(name="page_view", person__isnull=False)
    assert TimelineEvent.objects.filter(kind="web.page_view").count() == page_views.count()
    assert page_views.filter(path="/pricing").exists()
    assert page_views.filter(path__startswith="/guides/").exists()
    assert page_views.filter(path__startswith="/customers/").exists()
    batch = EventBatch.objects.filter(status="processed").first()
    assert batch is not None
    assert Event.objects.filter(dedupe_key=f"{batch.pk}:0").exists()

    # Conversations with the buyer's own words; pain points suggested from them, decided by a
    # rep (mostly confirmed); a finance colleague joined some.
    assert PainPoint.objects.values("product").annotate(n=Count("id")).filter(n__gte=8).count() == 2
    conversations = Conversation.objects.prefetch_related("people")
    assert {c.kind for c in conversations} == {"call", "meeting", "email", "chat", "event", "note"}
    assert conversations.exclude(quotes="").count() > 0.8 * conversations.count()
    for conversation in conversations:
        stored = {
            (s.pain_point_id, s.evidence)
            for s in ConversationPainPoint.objects.filter(conversation=conversation)
        }
        assert stored == {(p.pk, e) for p, e in pain_points_suggest(conversation)}
    statuses = dict(
        ConversationPainPoint.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    assert statuses["confirmed"] > statuses["rejected"] > 0
    assert statuses["suggested"] > 0
    assert TimelineEvent.objects.filter(kind="pain_point.confirmed").exists()
    joined = [c for c in conversations if len(c.people.all()) > 1]
    assert joined
    assert any("finance" in person_functions(p) for c in joined for p in c.people.all()[1:])

    # Committees on about a third of the accounts with two or more people, with links and
    # culture notes; their coverage warnings differ; others are left without one.
    with_two = Account.objects.annotate(
        n=Count("memberships", filter=Q(memberships__is_current=True))
    ).filter(n__gte=2)
    committees = with_two.filter(stakeholders__isnull=False).distinct()
    assert 0.2 * with_two.count() <= committees.count() <= 0.45 * with_two.count()
    assert with_two.filter(stakeholders__isnull=True).exists()
    assert StakeholderLink.objects.filter(kind="reports_to").exists()
    assert StakeholderLink.objects.filter(kind="trusts").exists()
    assert all(a.culture_notes for a in committees)
    assert {s.part for s in Stakeholder.objects.all()} >= {"decides", "signs", "champions"}
    warnings = [tuple(committee_of(account=a).warnings) for a in committees]
    assert any(warnings)
    assert len(set(warnings)) > 1

    # The history leaks no lead, and leaves the worker no signal tasks to redo.
    assert leaks() == []
    out = StringIO()
    call_command("leaks", stdout=out)
    assert out.getvalue().strip().endswith("0 dropped leads")
    assert not DBTaskResult.objects.filter(
        task_path=requests_signals_record_task.module_path
    ).exists()


# The same seed makes the same journey rows ------------------------------------------------------


def _journey_rows() -> dict[str, list[str]]:
    emails = _email_of()
    accounts = dict(Account.objects.values_list("pk", "name"))
    steps = {
        s.pk: f"{s.journey.slug}/{s.name}" for s in JourneyStep.objects.select_related("journey")
    }
    events = {
        e["pk"]: f"{e['name']}@{e['occurred_at'].isoformat()}{e['path']}"
        for e in Event.objects.values("pk", "name", "occurred_at", "path")
    }

    def who(row: Any) -> str:
        return emails.get(row.person_id) or accounts.get(row.account_id) or ""

    def line(*values: Any) -> str:
        return json.dumps(values, default=str)

    rows: dict[str, list[str]] = defaultdict(list)
    for t in JourneyTransition.objects.select_related("moved_by"):
        proof = sorted(events[pk] for pk in t.evidence.get("events", []))
        rows["transitions"].append(
            line(
                who(t),
                steps.get(t.from_step_id),
                steps[t.to_step_id],
                t.at,
                t.cause,
                t.signal_name,
                t.moved_by.username if t.moved_by else None,
                t.note,
                proof,
            )
        )
    for p in JourneyPosition.objects.all():
        rows["positions"].append(line(who(p), steps[p.step_id], p.since))
    for e in Event.objects.select_related("visitor"):
        rows["events"].append(
            line(
                e.source,
                e.name,
                emails.get(e.person_id),
                e.occurred_at,
                e.recorded_at,
                e.url,
                e.title,
                e.referrer,
                e.properties,
                e.visitor.visitor_id if e.visitor else None,
            )
        )
    for v in Visitor.objects.all():
        rows["visitors"].append(
            line(
                v.visitor_id,
                emails.get(v.person_id),
                v.first_seen_at,
                v.last_seen_at,
                v.identified_at,
            )
        )
    for c in Conversation.objects.prefetch_related("people", "pain_points__pain_point"):
        pains = sorted(
            (s.pain_point.name, s.status, s.evidence, str(s.decided_at))
            for s in c.pain_points.all()
        )
        rows["conversations"].append(
            line(
                c.kind,
                c.occurred_at,
                c.created_at,
                c.summary,
                c.quotes,
                accounts.get(c.account_id),
                sorted(emails[p.pk] for p in c.people.all()),
                pains,
            )
        )
    for s in Stakeholder.objects.all():
        rows["stakeholders"].append(
            line(
                accounts[s.account_id],
                emails[s.person_id],
                s.part,
                s.stance,
                s.influence,
                s.notes,
                s.added_at,
            )
        )
    for k in StakeholderLink.objects.select_related("source", "target"):
        rows["links"].append(line(emails[k.source.person_id], emails[k.target.person_id], k.kind))
    return {name: sorted(values) for name, values in rows.items()}


def test_same_seed_makes_the_same_journeys(db: None) -> None:
    def fresh_run(seed: int) -> dict[str, list[str]]:
        wipe()
        demo(people=30, seed=seed)
        return _journey_rows()

    first = fresh_run(7)
    second = fresh_run(7)
    other = fresh_run(8)
    assert set(first) == {
        "transitions",
        "positions",
        "events",
        "visitors",
        "conversations",
        "stakeholders",
        "links",
    }
    assert first == second
    assert first["events"] != other["events"]
    assert first["transitions"] != other["transitions"]


# What the services would have written -------------------------------------------------------------


def _moves_stored() -> dict[str, list[str]]:
    def line(*values: Any) -> str:
        return json.dumps(values, default=str)

    out: dict[str, list[str]] = {
        "transitions": sorted(
            line(
                t.journey_id,
                t.person_id,
                t.account_id,
                t.from_step_id,
                t.to_step_id,
                t.at,
                t.cause,
                t.signal_name,
                t.moved_by_id,
                t.note,
                t.evidence,
            )
            for t in JourneyTransition.objects.all()
        ),
        "positions": sorted(
            line(p.journey_id, p.person_id, p.account_id, p.step_id, p.since)
            for p in JourneyPosition.objects.all()
        ),
        "timeline": sorted(
            line(
                e.summary,
                e.person_id,
                e.account_id,
                e.actor_id,
                e.occurred_at,
                e.recorded_at,
                {k: v for k, v in e.data.items() if k != "transition_id"},
            )
            for e in TimelineEvent.objects.filter(kind="journey.moved")
        ),
        "audit": sorted(
            line(a.at, a.actor_id, a.data) for a in AuditEntry.objects.filter(action="journey.move")
        ),
    }
    return out


def test_journeys_are_what_the_services_would_have_made(db: None) -> None:
    """Replay the demo's events through `signals_evaluate`, each person's as they became known
    with the clock at that moment, and its moves by hand through `journey_move`: the same
    positions, transitions and timeline rows as the demo stored."""
    demo(people=50, seed=5)
    stored = _moves_stored()
    assert len(stored["transitions"]) > 150
    assert stored["audit"], "moves by hand"
    assert any('"signal", "Finance joined a call"' in t for t in stored["transitions"])

    # Imported history (the demo's trade-show touches) never moves anyone: an import records
    # what happened then, it does not replay it through today's signals.
    live = Event.objects.filter(person__isnull=False).exclude(source=EventSource.IMPORT)
    rows = list(live.order_by("pk").values())
    identified: dict[int, dt.datetime] = {}
    for row in rows:
        if row["name"] == "form_submitted":
            person = row["person_id"]
            identified[person] = min(identified.get(person, row["recorded_at"]), row["recorded_at"])
    known = [
        (
            max(row["recorded_at"], identified[row["person_id"]])
            if row["source"] == "web"
            else row["recorded_at"],
            row,
        )
        for row in rows
    ]
    by_hand = list(
        JourneyTransition.objects.filter(cause=TransitionCause.USER).select_related(
            "journey", "to_step", "moved_by", "person"
        )
    )
    JourneyTransition.objects.all().delete()
    JourneyPosition.objects.all().delete()
    TimelineEvent.objects.filter(kind="journey.moved").delete()
    AuditEntry.objects.filter(action="journey.move").delete()
    live.delete()

    agenda: list[tuple[dt.datetime, int, int, Any]] = [
        (at, 0, person, None) for at, person in {(at, r["person_id"]) for at, r in known}
    ]
    agenda += [(m.at, 1, m.person_id or 0, m) for m in by_hand]
    waiting = sorted(known, key=lambda k: (k[0], k[1]["id"]))
    for at, _, person_id, move in sorted(agenda, key=lambda a: a[:3]):
        due = [row for when, row in waiting if when <= at]
        waiting = [(when, row) for when, row in waiting if when > at]
        Event.objects.bulk_create(Event(**row) for row in due)
        with clock.frozen_at(at):
            if move is None:
                signals_evaluate(person_ids=[person_id])
            else:
                journey_move(
                    journey=move.journey,
                    to_step=move.to_step,
                    moved_by=move.moved_by,
                    person=move.person,
                    note=move.note,
                )
    assert _moves_stored() == stored
