"""Writes for conversations and the pain points found in them.

A conversation is logged with its people and what they said; each person gets it on their
timeline and a "conversation" event (the kind, and the functions of the people who took part:
a journey's exit signal can wait for finance to join a call). Pain points from the catalogue
whose phrases occur in it are suggested; a rep confirms or rejects each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction

from leadline.core import clock
from leadline.core.models import Account, Person, TimelineEvent, User
from leadline.core.services import audit_record, timeline_event
from leadline.journeys.models import (
    Conversation,
    ConversationPainPoint,
    Event,
    EventSource,
    PainPoint,
    PainStatus,
)

# The functions a person's job title or own words show, for exit signals ("finance joined").
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "finance": ("cfo", "finance", "financial", "controller", "accounting", "treasury", "fp&a"),
    "it": ("cio", "cto", "head of it", "it director", "it manager", "information technology"),
    "procurement": ("procurement", "purchasing", "buyer", "sourcing"),
    "legal": ("legal", "counsel", "lawyer", "compliance"),
    "executive": ("ceo", "chief executive", "managing director", "founder", "president"),
    "operations": ("coo", "operations", "logistics"),
}


def person_functions(person: Person) -> list[str]:
    """The functions a person's title and own words name, e.g. ["finance"]."""
    text = f" {person.title} {person.role_own_words} ".lower()
    return sorted(
        name
        for name, words in FUNCTIONS.items()
        if any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) for word in words)
    )


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", text) if part.strip()]


def pain_points_match(text: str, catalogue: Iterable[PainPoint]) -> list[tuple[PainPoint, str]]:
    """Pain points whose phrases occur in `text` (whole words, any case), each with the
    sentence that matched."""
    found = []
    sentences = _sentences(text)
    for pain in catalogue:
        for phrase in pain.phrase_list():
            pattern = re.compile(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)")
            hit = next((s for s in sentences if pattern.search(s.lower())), None)
            if hit is not None:
                found.append((pain, hit))
                break
    return found


def conversation_log(
    *,
    kind: str,
    summary: str,
    people: Sequence[Person],
    logged_by: User | None,
    quotes: str = "",
    sellers: Sequence[User] = (),
    account: Account | None = None,
    occurred_at: Any = None,
) -> Conversation:
    """Log a conversation; suggest the pain points it names; move the journeys it shows."""
    from leadline.journeys.services import signals_evaluate

    if not summary.strip():
        raise ValueError("summary: say what was talked about")
    if not people:
        raise ValueError("people: at least one person took part")
    at = occurred_at or clock.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            kind=kind,
            summary=summary.strip(),
            quotes=quotes.strip(),
            account=account,
            occurred_at=at,
            logged_by=logged_by,
        )
        conversation.people.set(people)
        conversation.sellers.set(sellers)
        functions = sorted({f for person in people for f in person_functions(person)})
        Event.objects.bulk_create(
            Event(
                source=EventSource.API,
                name="conversation",
                person=person,
                occurred_at=at,
                properties={"kind": kind, "participant_function": functions},
                dedupe_key=f"conversation:{conversation.pk}:{person.pk}",
            )
            for person in people
        )
        said = f"{conversation.get_kind_display()}: {conversation.summary}"
        TimelineEvent.objects.bulk_create(
            timeline_event(
                kind=f"conversation.{kind}",
                summary=said,
                person=person,
                actor=logged_by,
                occurred_at=at,
                data={"conversation_id": conversation.pk, "quotes": conversation.quotes},
            )
            for person in people
        )
        catalogue = PainPoint.objects.filter(is_active=True)
        ConversationPainPoint.objects.bulk_create(
            ConversationPainPoint(conversation=conversation, pain_point=pain, evidence=sentence)
            for pain, sentence in pain_points_match(
                f"{conversation.summary}\n{conversation.quotes}", catalogue
            )
        )
        audit_record(actor=logged_by, action="conversation.log", obj=conversation)
    signals_evaluate(person_ids=[p.pk for p in people])
    return conversation


def pain_point_decide(
    *, suggestion: ConversationPainPoint, confirmed: bool, decided_by: User
) -> ConversationPainPoint:
    """A rep confirms (it is what they said hurts) or rejects a suggested pain point."""
    with transaction.atomic():
        suggestion.status = PainStatus.CONFIRMED if confirmed else PainStatus.REJECTED
        suggestion.decided_by = decided_by
        suggestion.decided_at = clock.now()
        suggestion.save(update_fields=["status", "decided_by", "decided_at"])
        if confirmed:
            said = f"Said it hurts: {suggestion.pain_point.name} — “{suggestion.evidence}”"
            TimelineEvent.objects.bulk_create(
                timeline_event(
                    kind="pain_point.confirmed",
                    summary=said,
                    person=person,
                    actor=decided_by,
                    data={"pain_point_id": suggestion.pain_point_id},
                )
                for person in suggestion.conversation.people.all()
            )
        audit_record(
            actor=decided_by,
            action="pain_point.confirm" if confirmed else "pain_point.reject",
            obj=suggestion,
        )
    return suggestion
