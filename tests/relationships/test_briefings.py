"""What a new owner reads about a relationship, and the words of the warm introduction."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from leadline.booking.models import Meeting
from leadline.core import clock
from leadline.engagement.models import LifecycleChange
from leadline.journeys.models import Stakeholder, Visibility
from leadline.relationships.briefings import (
    DEFAULT_INTRO_BODY,
    DEFAULT_INTRO_SUBJECT,
    INTRO_MERGE_FIELDS,
    SECTION_KEYS,
    briefing_sections,
    briefing_title,
    intro_email_compose,
    intro_template_check,
    warm_intro_task_text,
)
from leadline.relationships.models import HandoverPlan
from leadline.routing.models import Ownership
from tests import factories

pytestmark = pytest.mark.django_db
NOW = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _frozen() -> object:
    with clock.frozen_at(NOW):
        yield


def _ana() -> tuple[object, object, object]:
    acme = factories.account(name="Acme", industry="Logistics", culture_notes="The CFO signs.")
    ana = factories.person(
        first_name="Ana",
        last_name="Silva",
        title="CFO",
        role_own_words="I keep the money honest",
        cares_about="Month-end close takes two weeks",
        preferred_channel="phone",
        preferred_hours="mornings",
    )
    factories.membership(person=ana, account=acme)
    leaver = factories.user(first_name="Leo", last_name="Vance")
    Ownership.objects.create(owner=leaver, person=ana, started_at=NOW - dt.timedelta(days=170))
    return acme, ana, leaver


def test_title_names_role_and_company() -> None:
    acme, ana, _ = _ana()
    assert briefing_title(person=ana) == "Ana Silva (CFO, Acme)"
    assert briefing_title(account=acme) == "Acme (Logistics)"
    plain = factories.person(first_name="Bo", last_name="Lee")
    assert briefing_title(person=plain) == "Bo Lee"


def test_sections_tell_the_story_of_a_person() -> None:
    acme, ana, leaver = _ana()
    factories.person_request(
        person=ana,
        kind="demo",
        message="We need a faster close",
        created_at=NOW - dt.timedelta(days=180),
    )
    factories.deal(
        person=ana,
        name="Acme pilot",
        amount=Decimal("12000"),
        status="won",
        opened_at=NOW - dt.timedelta(days=150),
        days_open=30,
    )
    LifecycleChange.objects.create(
        person=ana, to_stage="customer", at=NOW - dt.timedelta(days=120), reason="Signed"
    )
    factories.conversation(
        people=[ana],
        summary="Quarterly check-in",
        quotes="The close is still slow\nWe want the audit trail",
        occurred_at=NOW - dt.timedelta(days=10),
    )
    # A later private note of the leaver's: never the last conversation the new owner reads.
    factories.conversation(
        people=[ana],
        summary="She is about to change jobs, keep it quiet",
        occurred_at=NOW - dt.timedelta(days=2),
        visibility=Visibility.AUTHOR,
        logged_by=leaver,
    )
    promise = factories.commitment(
        person=ana,
        promised_by=leaver,
        what="Send the renewal quote",
        due_at=NOW + dt.timedelta(days=4),
    )
    host = factories.user(first_name="Rita", last_name="Santos")
    Meeting.objects.create(
        host=host,
        person=ana,
        starts_at=NOW + dt.timedelta(days=7),
        ends_at=NOW + dt.timedelta(days=7, minutes=30),
        title="Renewal review",
        uid="m-1@test",
    )
    Stakeholder.objects.create(
        account=acme,
        person=ana,
        part="signs",
        stance="supportive",
        influence="high",
        notes="Sponsor",
    )

    sections = briefing_sections(person=ana, departing=leaver)

    assert set(SECTION_KEYS) <= set(sections)
    json.dumps(sections)  # stored as JSON
    history = [line["text"] for line in sections["history"]["lines"]]
    assert history[0].startswith("First contact: asked for demo")
    assert '"We need a faster close"' in history[0]
    assert "Deal opened: Acme pilot (12,000.00)" in history
    assert "Deal won: Acme pilot (12,000.00)" in history
    assert any(t.startswith("Became Customer") for t in history)
    assert "Meeting: Renewal review (Rita Santos)" in history
    assert "Leo Vance took over the relationship" in history
    stamps = [line["at"] for line in sections["history"]["lines"]]
    assert stamps == sorted(stamps)

    words = {row["label"]: row for row in sections["own_words"]["lines"]}
    assert words["Their role"]["text"] == "I keep the money honest"
    assert words["Their role"]["quote"] is True
    assert words["Cares about"]["text"] == "Month-end close takes two weeks"
    assert words["Best reached"]["text"] == "Phone, mornings"

    assert [c["what"] for c in sections["commitments"]["open"]] == [promise.what]
    assert sections["commitments"]["empty"] == ""
    people = sections["stakeholders"]["people"]
    assert [(s["name"], s["part"], s["stance"]) for s in people] == [
        ("Ana Silva", "Signs", "Supportive")
    ]
    last = sections["last_conversation"]["conversation"]
    assert last["summary"] == "Quarterly check-in"
    assert last["quotes"] == ["The close is still slow", "We want the audit trail"]
    assert "change jobs" not in json.dumps(sections)
    promised = [line["text"] for line in sections["promised_next"]["lines"]]
    assert promised == [
        "Promised: Send the renewal quote (to Ana Silva)",
        "Meeting booked: Renewal review with Ana Silva",
    ]


def test_empty_sections_say_so() -> None:
    leaver = factories.user()
    quiet = factories.person(first_name="Quiet", last_name="One")
    sections = briefing_sections(person=quiet, departing=leaver)
    assert sections["history"]["lines"][0]["text"] == "First recorded in Leadline: Quiet One"
    for key in ("own_words", "commitments", "stakeholders", "last_conversation", "promised_next"):
        assert sections[key]["empty"], key
    assert sections["last_conversation"]["conversation"] is None


def test_an_account_briefing_covers_its_people() -> None:
    acme, _, leaver = _ana()
    bo = factories.person(first_name="Bo", last_name="Lee", role_own_words="I run the warehouse")
    factories.membership(person=bo, account=acme)
    Ownership.objects.create(owner=leaver, account=acme, started_at=NOW - dt.timedelta(days=90))
    factories.deal(account=acme, name="Fleet deal", opened_at=NOW - dt.timedelta(days=20))
    factories.commitment(person=bo, promised_by=leaver, what="Share the case study")
    factories.conversation(people=[bo], summary="Warehouse walk-through", account=acme)

    sections = briefing_sections(account=acme, departing=leaver)

    history = [line["text"] for line in sections["history"]["lines"]]
    assert "Deal opened: Fleet deal" in history
    labels = [(row["label"], row["person"]) for row in sections["own_words"]["lines"]]
    assert ("How they decide", "") in labels
    assert ("Their role", "Bo Lee") in labels
    assert ("Their role", "Ana Silva") in labels
    assert [(c["what"], c["person"]) for c in sections["commitments"]["open"]] == [
        ("Share the case study", "Bo Lee")
    ]
    assert sections["last_conversation"]["conversation"]["summary"] == "Warehouse walk-through"
    assert sections["stakeholders"]["empty"] == "Nobody mapped in Acme's buying committee yet."


def test_a_broken_promise_is_reported() -> None:
    _, ana, leaver = _ana()
    late = factories.commitment(person=ana, promised_by=leaver, what="Call back")
    late.status = "broken"
    late.broken_at = NOW - dt.timedelta(days=3)
    late.save()
    sections = briefing_sections(person=ana, departing=leaver)
    assert [c["what"] for c in sections["commitments"]["broken"]] == ["Call back"]


def test_the_history_keeps_the_first_contact_and_the_newest_lines() -> None:
    _, ana, leaver = _ana()
    for days in range(30, 0, -1):
        factories.person_request(
            person=ana, kind="download", created_at=NOW - dt.timedelta(days=days)
        )
    lines = briefing_sections(person=ana, departing=leaver)["history"]
    assert len(lines["lines"]) == 12
    assert lines["lines"][0]["text"].startswith("First ")
    assert lines["left_out"] > 0
    assert lines["lines"][-1]["at"] == (NOW - dt.timedelta(days=1)).isoformat()


def test_a_briefing_is_about_a_person_or_an_account() -> None:
    leaver = factories.user()
    with pytest.raises(ValueError, match="a person or an account"):
        briefing_sections(departing=leaver)


def _plan(leaver: object, **extra: object) -> HandoverPlan:
    return HandoverPlan(user=leaver, kind="leaving", effective_at=NOW, **extra)


def test_intro_email_default_and_template() -> None:
    _, ana, leaver = _ana()
    rita = factories.user(first_name="Rita", last_name="Santos")
    subject, body = intro_email_compose(plan=_plan(leaver), person=ana, new_owner=rita)
    assert subject == "Introducing Rita Santos, your new contact"
    assert body.startswith("Hi Ana,")
    assert "Acme" in body
    assert body.endswith("Leo Vance")
    assert "{" not in subject + body

    plan = _plan(
        leaver,
        intro_subject="{first_name}, meet {new_owner}",
        intro_body="Dear {first_name} at {{ company }}, {old_owner} hands over. {mystery}",
    )
    subject, body = intro_email_compose(plan=plan, person=ana, new_owner=rita)
    assert subject == "Ana, meet Rita Santos"
    assert body == "Dear Ana at Acme, Leo Vance hands over. {mystery}"


def test_intro_template_check_lists_unknown_fields() -> None:
    assert intro_template_check(DEFAULT_INTRO_SUBJECT + DEFAULT_INTRO_BODY) == []
    assert intro_template_check("Hi {first_name} {firstname} {{ boss }} {firstname}") == [
        "boss",
        "firstname",
    ]
    assert set(INTRO_MERGE_FIELDS) == {"first_name", "company", "old_owner", "new_owner"}


def test_warm_intro_task_text() -> None:
    acme, ana, leaver = _ana()
    rita = factories.user(first_name="Rita", last_name="Santos")
    title, text = warm_intro_task_text(
        person=ana, account=None, old_owner=leaver, new_owner=rita, effective_at=NOW
    )
    assert title == "Warm introduction: Ana Silva, with Rita Santos"
    assert text.startswith("Before 23 Nov 2026, Leo Vance introduces Rita Santos to Ana Silva")
    title, text = warm_intro_task_text(person=None, account=acme, old_owner=leaver, new_owner=rita)
    assert title == "Warm introduction: Acme, with Rita Santos"
    assert "the key people at Acme" in text
