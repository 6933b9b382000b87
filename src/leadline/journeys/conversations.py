"""Writes for conversations and the pain points found in them.

A conversation is logged with its people and what they said; each person gets it on their
timeline and a "conversation" event (the kind, and the functions of the people who took part:
a journey's exit signal can wait for finance to join a call). Pain points from the catalogue
whose phrases occur in it are suggested; a rep confirms or rejects each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from leadline.core import clock
from leadline.core.models import Account, Person, TimelineEvent, User
from leadline.core.services import audit_record, timeline_event
from leadline.journeys import pain_matching
from leadline.journeys.models import (
    Conversation,
    ConversationKind,
    ConversationPainPoint,
    Event,
    EventSource,
    PainPoint,
    PainStatus,
    Visibility,
)

# The functions a person's job title or own words show, for exit signals ("finance joined").
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "finance": (
        "cfo",
        "finance",
        "financial",
        "controller",
        "accounting",
        "treasury",
        "fp&a",
        "accountant",
        "accounts payable",
        "accounts receivable",
        "tax",
        "internal audit",
        "reporting",
        "billing",
        "collections",
        "ledger",
        "revenue accounting",
    ),
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


def pain_points_suggest(conversation: Conversation) -> list[tuple[PainPoint, str]]:
    """The active pain points a conversation names, each with its evidence: the prospect's own
    words (the quotes) when they name it there, else the rep's summary. As
    LEADLINE_PAIN_MATCHING says: by phrases, or by meaning too (journeys.pain_matching)."""
    catalogue = list(PainPoint.objects.filter(is_active=True))
    found = pain_matching.pain_points_suggest(conversation.quotes, catalogue)
    named = {pain.pk for pain, _ in found}
    rest = [pain for pain in catalogue if pain.pk not in named]
    return found + pain_matching.pain_points_suggest(conversation.summary, rest)


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
    private: bool = False,
    visibility: str = Visibility.COMPANY,
) -> Conversation:
    """Log a conversation; suggest the pain points it names; move the journeys it shows.
    `private`: for staff only (outside callers never see it). `visibility`: who on the staff
    may read it (journeys.models.Visibility; relationships.memory applies it)."""
    from leadline.journeys.services import signals_evaluate

    if kind not in ConversationKind.values:
        raise ValueError(f"kind: one of {', '.join(ConversationKind.values)}")
    if not summary.strip():
        raise ValueError("summary: say what was talked about")
    if not people:
        raise ValueError("people: at least one person took part")
    if visibility not in Visibility.values:
        raise ValueError(f"visibility: one of {', '.join(Visibility.values)}")
    at = occurred_at or clock.now()
    # Before the transaction: matching by meaning takes a tenth of a second or more (the first
    # time in a process, seconds), which SQLite's write lock should not wait for.
    suggested = pain_points_suggest(Conversation(summary=summary.strip(), quotes=quotes.strip()))
    with transaction.atomic():
        conversation = Conversation.objects.create(
            kind=kind,
            summary=summary.strip(),
            quotes=quotes.strip(),
            account=account,
            occurred_at=at,
            logged_by=logged_by,
            private=private,
            visibility=visibility,
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
        ConversationPainPoint.objects.bulk_create(
            ConversationPainPoint(conversation=conversation, pain_point=pain, evidence=sentence)
            for pain, sentence in suggested
        )
        audit_record(actor=logged_by, action="conversation.log", obj=conversation)
    signals_evaluate(person_ids=[p.pk for p in people])
    return conversation


def pain_point_decide(
    *, suggestion: ConversationPainPoint, confirmed: bool, decided_by: User
) -> ConversationPainPoint:
    """A rep confirms (it is what they said hurts) or rejects a suggested pain point. A decision
    can be changed; deciding the same again changes nothing."""
    status = PainStatus.CONFIRMED if confirmed else PainStatus.REJECTED
    if suggestion.status == status:
        return suggestion
    with transaction.atomic():
        suggestion.status = status
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
                    data={
                        "pain_point_id": suggestion.pain_point_id,
                        # The words come from the conversation: shown only to who may read it.
                        "conversation_id": suggestion.conversation_id,
                    },
                )
                for person in suggestion.conversation.people.all()
            )
        audit_record(
            actor=decided_by,
            action="pain_point.confirm" if confirmed else "pain_point.reject",
            obj=suggestion,
        )
    return suggestion


# The pain-point catalogue -------------------------------------------------------------------------

PAIN_POINT_FIELDS = ("product", "name", "description", "phrases", "is_active")
PHRASE_MIN_CHARS = 3
PHRASE_MAX_CHARS = 200


def phrases_tidy(text: str) -> str:
    """One phrase a line: blanks dropped, spaces trimmed, the same phrase (any case) once."""
    seen: set[str] = set()
    lines = []
    for raw in text.splitlines():
        phrase = " ".join(raw.split())
        if phrase and phrase.lower() not in seen:
            seen.add(phrase.lower())
            lines.append(phrase)
    return "\n".join(lines)


def _pain_point_check(pain_point: PainPoint) -> None:
    """Raise ValidationError naming the field: a name, phrases long enough to match on, and a
    name not already used for the same product."""
    problems: dict[str, list[str]] = {}
    for phrase in pain_point.phrase_list():
        if len(phrase) < PHRASE_MIN_CHARS:
            problems.setdefault("phrases", []).append(
                f"“{phrase}” is too short to match on (at least {PHRASE_MIN_CHARS} characters)."
            )
        elif len(phrase) > PHRASE_MAX_CHARS:
            problems.setdefault("phrases", []).append(
                f"A phrase can be at most {PHRASE_MAX_CHARS} characters."
            )
    try:
        pain_point.full_clean(validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            problems.setdefault(name, []).extend(messages)
    taken = PainPoint.objects.filter(
        product__iexact=pain_point.product, name__iexact=pain_point.name
    ).exclude(pk=pain_point.pk)
    if pain_point.name and "name" not in problems and taken.exists():
        where = f"for “{pain_point.product}”" if pain_point.product else "for any product"
        problems["name"] = [f"There is already a pain point called “{pain_point.name}” {where}."]
    if problems:
        raise ValidationError(problems)


def _pain_point_tidy(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(PAIN_POINT_FIELDS)
    if unknown:
        raise ValueError(f"not a pain point field: {', '.join(sorted(unknown))}")
    tidy = dict(fields)
    for name in ("product", "name", "description"):
        if name in tidy:
            tidy[name] = str(tidy[name]).strip()
    if "phrases" in tidy:
        tidy["phrases"] = phrases_tidy(str(tidy["phrases"]))
    if "is_active" in tidy:
        tidy["is_active"] = bool(tidy["is_active"])
    return tidy


def pain_point_create(
    *,
    name: str,
    created_by: User | None,
    product: str = "",
    description: str = "",
    phrases: str = "",
) -> PainPoint:
    """Add a pain point to the catalogue. Raises ValidationError naming the field."""
    fields = _pain_point_tidy(
        {"name": name, "product": product, "description": description, "phrases": phrases}
    )
    pain_point = PainPoint(**fields)
    _pain_point_check(pain_point)
    with transaction.atomic():
        pain_point.save()
        audit_record(
            actor=created_by, action="pain_point.create", obj=pain_point, data={"fields": fields}
        )
    return pain_point


def pain_point_update(
    *, pain_point: PainPoint, changes: Mapping[str, Any], changed_by: User | None
) -> PainPoint:
    """Change a pain point (is_active False takes it out of matching; its past suggestions and
    confirmations stay). Raises ValidationError naming the field."""
    tidy = _pain_point_tidy(changes)
    before = {name: getattr(pain_point, name) for name in tidy}
    for name, value in tidy.items():
        setattr(pain_point, name, value)
    _pain_point_check(pain_point)
    changed = {name: value for name, value in tidy.items() if before[name] != value}
    if not changed:
        return pain_point
    with transaction.atomic():
        pain_point.save(update_fields=list(changed))
        audit_record(
            actor=changed_by,
            action="pain_point.update",
            obj=pain_point,
            data={"before": {n: before[n] for n in changed}, "after": changed},
        )
    return pain_point
