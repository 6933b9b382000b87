"""Reads for the buyer's journey."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from django.db import connection
from django.db.models import Count, Prefetch, QuerySet

from leadline.core.models import Account, Person, User
from leadline.core.selectors import account_people, ids_in
from leadline.journeys.models import (
    Conversation,
    ConversationPainPoint,
    Journey,
    JourneyPosition,
    JourneyStep,
    JourneyTransition,
    PainPoint,
    PainStatus,
    TransitionCause,
)
from leadline.journeys.signals import RuleError, rule_parse

STEP_TEXT_FIELDS = ("buyer_words", "content_to_offer", "who_should_talk")


def journey_as_data(journey: Journey) -> dict[str, Any]:
    """The journey as plain data, the shape `journey_import` reads."""
    steps = []
    for step in journey.steps.order_by("position"):
        item: dict[str, Any] = {"name": step.name}
        for field in STEP_TEXT_FIELDS:
            if getattr(step, field):
                item[field] = getattr(step, field)
        item["exit_signals"] = _rules_data(step.exit_signals)
        steps.append(item)
    data: dict[str, Any] = {"name": journey.name, "slug": journey.slug}
    if journey.description:
        data["description"] = journey.description
    if journey.audience:
        data["audience"] = journey.audience
    data["default"] = journey.is_default
    if journey.start_signals:
        data["start_signals"] = _rules_data(journey.start_signals)
    data["steps"] = steps
    return data


def _rules_data(raw: Any) -> list[Any]:
    """Stored rules in their written order of keys (name, event, ...), whatever order the
    database keeps them in (PostgreSQL's jsonb sorts them); a rule that cannot be read goes
    as it is stored, for the import to refuse by name."""
    out: list[Any] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            out.append(rule_parse(item).as_dict())
        except RuleError:
            out.append(item)
    return out


def journey_yaml(journey: Journey) -> str:
    return yaml.safe_dump(journey_as_data(journey), sort_keys=False, allow_unicode=True, width=100)


# For the web pages ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignalWords:
    """One exit signal as the journey page shows it: its name and what it looks for, in words.
    `problem` is set for a stored rule that cannot be used (it moves nobody)."""

    name: str
    words: str
    problem: str = ""


@dataclasses.dataclass(frozen=True)
class StepNow:
    """A step with how many people and accounts are at it now."""

    step: JourneyStep
    people: int
    accounts: int
    signals: list[SignalWords]


@dataclasses.dataclass(frozen=True)
class JourneyNow:
    journey: Journey
    steps: list[StepNow]
    # Its start signals in words (who starts on it by themselves).
    starts: list[SignalWords] = dataclasses.field(default_factory=list)

    @property
    def people(self) -> int:
        return sum(s.people for s in self.steps)

    @property
    def accounts(self) -> int:
        return sum(s.accounts for s in self.steps)


def _signal_words(raw: Any, *, where: str = "exit_signals") -> list[SignalWords]:
    out = []
    for n, item in enumerate(raw if isinstance(raw, list) else [raw]):
        try:
            rule = rule_parse(item, where=f"{where}[{n}]")
        except RuleError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            out.append(SignalWords(name=str(name or "A broken rule"), words="", problem=str(exc)))
        else:
            out.append(SignalWords(name=rule.name, words=rule.describe()))
    return out


def journeys_now(*, slug: str | None = None) -> list[JourneyNow]:
    """Journeys (active first, then by name) with their steps in order, the start and exit
    signals in words, and how many people and accounts are at each step now. `slug`: only
    that one."""
    journeys = Journey.objects.order_by("-is_active", "name").prefetch_related(
        Prefetch("steps", queryset=JourneyStep.objects.order_by("position"))
    )
    positions = JourneyPosition.objects.all()
    if slug is not None:
        journeys = journeys.filter(slug=slug)
        positions = positions.filter(journey__slug=slug)
    counts = {
        row["step_id"]: (row["people"], row["accounts"])
        for row in positions.values("step_id").annotate(
            people=Count("person_id"), accounts=Count("account_id")
        )
    }
    return [
        JourneyNow(
            journey=journey,
            steps=[
                StepNow(
                    step=step,
                    people=counts.get(step.pk, (0, 0))[0],
                    accounts=counts.get(step.pk, (0, 0))[1],
                    signals=_signal_words(step.exit_signals),
                )
                for step in journey.steps.all()
            ],
            starts=_signal_words(journey.start_signals or [], where="start_signals"),
        )
        for journey in journeys
    ]


def transition_why(transition: JourneyTransition) -> str:
    """Why a move happened, in words: the signal's name, or who moved them."""
    if transition.cause == TransitionCause.SIGNAL:
        return f"Signal: {transition.signal_name}"
    if transition.cause == TransitionCause.USER:
        who = transition.moved_by
        return f"Moved by {who}" if who is not None else "Moved by someone no longer here"
    if transition.cause == TransitionCause.IMPORT:
        return "Imported"
    if transition.signal_name:
        return f"Start signal: {transition.signal_name}"
    return "Started on the journey"


@dataclasses.dataclass(frozen=True)
class Move:
    transition: JourneyTransition
    why: str


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a person or an account's buying group is on one journey, and how they got there."""

    journey: Journey
    position: JourneyPosition | None
    steps: list[JourneyStep]
    recent: list[Move]

    @property
    def last(self) -> Move | None:
        return self.recent[0] if self.recent else None

    @property
    def next_step(self) -> JourneyStep | None:
        """The step the move form offers first: the one after the current step."""
        if self.position is None:
            return self.steps[0] if self.steps else None
        later = [s for s in self.steps if s.position > self.position.step.position]
        return later[0] if later else None


RECENT_MOVES = 5


def journey_places(*, person: Person | None = None, account: Account | None = None) -> list[Place]:
    """Each journey the person (or the account's buying group) is on: the step now, since when,
    the last few moves with why. Someone on no journey gets the default one, with no position,
    so that they can be placed on it by hand."""
    if (person is None) == (account is None):
        raise ValueError("a person or an account")
    subject: dict[str, Any] = {"person": person} if person is not None else {"account": account}
    positions = list(
        JourneyPosition.objects.filter(**subject)
        .select_related("journey", "step")
        .order_by("journey__name")
    )
    journeys = [p.journey for p in positions]
    if not positions:
        default = Journey.objects.filter(is_default=True, is_active=True).first()
        journeys = [default] if default is not None else []
    places = []
    by_journey = {p.journey_id: p for p in positions}
    for journey in journeys:
        moves = (
            JourneyTransition.objects.filter(journey=journey, **subject)
            .select_related("from_step", "to_step", "moved_by")
            .order_by("-at", "-id")[:RECENT_MOVES]
        )
        places.append(
            Place(
                journey=journey,
                position=by_journey.get(journey.pk),
                steps=list(journey.steps.order_by("position")),
                recent=[Move(transition=t, why=transition_why(t)) for t in moves],
            )
        )
    return places


# Conversations and pain points ------------------------------------------------------------------


def quote_lines(text: str) -> list[str]:
    """A conversation's quotes, one a line, as the prospect said them."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclasses.dataclass(frozen=True)
class ConversationItem:
    """One conversation as the person and account pages list it."""

    conversation: Conversation
    people: list[Person]
    sellers: list[Any]
    quotes: list[str]
    suggestions: list[ConversationPainPoint]

    @property
    def waiting(self) -> int:
        """Suggestions nobody has confirmed or rejected yet."""
        return sum(1 for s in self.suggestions if s.status == PainStatus.SUGGESTED)


CONVERSATIONS_SHOWN = 50


def conversations_query(
    *, person: Person | None = None, account: Account | None = None
) -> QuerySet[Conversation]:
    """Conversations a person took part in, or held with an account (logged against it, or
    with any of its people), newest first, with their people, sellers and suggestions."""
    if (person is None) == (account is None):
        raise ValueError("a person or an account")
    found = Conversation.objects.all()
    if person is not None:
        found = found.filter(people=person)
    elif account is not None:
        # A union, each side from its index: an OR across the join reads every conversation.
        held = Conversation.objects.filter(account=account).order_by().values("pk")
        with_people = (
            Conversation.people.through.objects.filter(account_people("person_id", account=account))
            .order_by()
            .values("conversation_id")
        )
        either = held.union(with_people)
        if connection.vendor == "postgresql":
            # Their ids first: given the union as a subquery, PostgreSQL misjudges how many
            # it finds and reads every conversation to join them.
            found = found.filter(ids_in("pk", [row["pk"] for row in either]))
        else:
            found = found.filter(pk__in=either)
    return _with_details(found.order_by("-occurred_at", "-id"))


def _with_details(found: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return found.select_related("logged_by", "account").prefetch_related(
        Prefetch("people", queryset=Person.objects.order_by("last_name", "first_name", "pk")),
        Prefetch("sellers", queryset=User.objects.order_by("first_name", "last_name", "pk")),
        Prefetch(
            "pain_points",
            queryset=ConversationPainPoint.objects.select_related(
                "pain_point", "decided_by"
            ).order_by("pain_point__name"),
        ),
    )


def conversations_of(
    *, person: Person | None = None, account: Account | None = None, limit: int | None = None
) -> list[ConversationItem]:
    """The latest conversations (see conversations_query) as the pages list them."""
    found = conversations_query(person=person, account=account)
    return [_item(c) for c in found[: limit or CONVERSATIONS_SHOWN]]


def conversation_item(conversation_id: int) -> ConversationItem | None:
    """One conversation as the pages list it, or None."""
    found = _with_details(Conversation.objects.filter(pk=conversation_id)).first()
    return _item(found) if found is not None else None


def _item(c: Conversation) -> ConversationItem:
    return ConversationItem(
        conversation=c,
        people=list(c.people.all()),
        sellers=list(c.sellers.all()),
        quotes=quote_lines(c.quotes),
        suggestions=list(c.pain_points.all()),
    )


@dataclasses.dataclass(frozen=True)
class PainMention:
    """Where a person said a pain point hurts: their words, in which conversation, when."""

    evidence: str
    in_their_words: bool
    conversation: Conversation


@dataclasses.dataclass(frozen=True)
class PainSaid:
    pain_point: PainPoint
    mentions: list[PainMention]

    @property
    def latest(self) -> PainMention:
        return self.mentions[0]


def pains_said(*, person: Person) -> list[PainSaid]:
    """What the person said hurts: the pain points confirmed in their conversations, each with
    their words and where they said them (newest first); the most recently said first."""
    confirmed = (
        ConversationPainPoint.objects.filter(
            conversation__people=person, status=PainStatus.CONFIRMED
        )
        .select_related("pain_point", "conversation")
        .order_by("-conversation__occurred_at", "-conversation_id", "pain_point__name")
    )
    grouped: dict[int, PainSaid] = {}
    for row in confirmed:
        said = grouped.setdefault(
            row.pain_point_id, PainSaid(pain_point=row.pain_point, mentions=[])
        )
        quotes = row.conversation.quotes
        said.mentions.append(
            PainMention(
                evidence=row.evidence,
                in_their_words=bool(row.evidence) and row.evidence in quotes,
                conversation=row.conversation,
            )
        )
    return list(grouped.values())


@dataclasses.dataclass(frozen=True)
class PainPointTally:
    """A pain point in the catalogue and how its suggestions went."""

    pain_point: PainPoint
    confirmed: int
    rejected: int
    waiting: int

    @property
    def decided(self) -> int:
        return self.confirmed + self.rejected

    @property
    def confirmed_share(self) -> int | None:
        """Of the suggestions decided, the percentage confirmed; None before any decision."""
        return round(100 * self.confirmed / self.decided) if self.decided else None


def pain_point_tallies(
    *, product: str | None = None, active: bool | None = None, pk: int | None = None
) -> list[PainPointTally]:
    """The catalogue, by product then name, each pain point with how often it was confirmed,
    rejected, or is still waiting for a rep."""
    catalogue = PainPoint.objects.order_by("product", "name")
    if product is not None:
        catalogue = catalogue.filter(product=product)
    if active is not None:
        catalogue = catalogue.filter(is_active=active)
    if pk is not None:
        catalogue = catalogue.filter(pk=pk)
    counts: dict[tuple[int, str], int] = {
        (row["pain_point_id"], row["status"]): row["n"]
        for row in ConversationPainPoint.objects.filter(pain_point__in=catalogue)
        .values("pain_point_id", "status")
        .annotate(n=Count("id"))
    }
    return [
        PainPointTally(
            pain_point=p,
            confirmed=counts.get((p.pk, PainStatus.CONFIRMED), 0),
            rejected=counts.get((p.pk, PainStatus.REJECTED), 0),
            waiting=counts.get((p.pk, PainStatus.SUGGESTED), 0),
        )
        for p in catalogue
    ]


def pain_point_products() -> list[str]:
    """The products the catalogue names (not the empty "any product")."""
    return list(
        PainPoint.objects.exclude(product="")
        .order_by("product")
        .values_list("product", flat=True)
        .distinct()
    )
