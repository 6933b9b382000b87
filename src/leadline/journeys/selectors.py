"""Reads for the buyer's journey."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from django.db.models import Count, Prefetch

from leadline.core.models import Account, Person
from leadline.journeys.models import (
    Journey,
    JourneyPosition,
    JourneyStep,
    JourneyTransition,
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
        item["exit_signals"] = list(step.exit_signals)
        steps.append(item)
    data: dict[str, Any] = {"name": journey.name, "slug": journey.slug}
    if journey.description:
        data["description"] = journey.description
    data["default"] = journey.is_default
    data["steps"] = steps
    return data


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

    @property
    def people(self) -> int:
        return sum(s.people for s in self.steps)

    @property
    def accounts(self) -> int:
        return sum(s.accounts for s in self.steps)


def _signal_words(raw: Any) -> list[SignalWords]:
    out = []
    for n, item in enumerate(raw if isinstance(raw, list) else [raw]):
        try:
            rule = rule_parse(item, where=f"exit_signals[{n}]")
        except RuleError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            out.append(SignalWords(name=str(name or "A broken rule"), words="", problem=str(exc)))
        else:
            out.append(SignalWords(name=rule.name, words=rule.describe()))
    return out


def journeys_now(*, slug: str | None = None) -> list[JourneyNow]:
    """Journeys (active first, then by name) with their steps in order, the exit signals in
    words, and how many people and accounts are at each step now. `slug`: only that one."""
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
