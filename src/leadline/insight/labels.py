"""The labels on a person's page — journey step, fit, interest, lifecycle — each with why.

A label is a short value ("Strong fit", "High interest", "Opportunity") and the signals behind
it in plain words, with figures and dates ("Visited /pricing 3 times in the last 14 days"), so
that a seller can check it rather than trust it.

- Journey step: where they are on their journey (journeys.selectors.journey_places) and the last
  move's cause.
- Fit and interest: the two qualification scores of engagement.qualification (the same numbers
  the lifecycle sweep compares with its thresholds), put into words here.
- Lifecycle: the stage stored for them (engagement.PersonLifecycle) and the reason of the last
  move — what happened, not a guess from their data.

Reads only; a fixed number of queries per person, whatever their history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from leadline.core.models import Account, Person
from leadline.engagement.models import PersonLifecycle, Stage
from leadline.engagement.qualification import (
    INTEREST_DAYS,
    Profile,
    day_words,
    fit_score,
    interest_score,
    signals_read,
)
from leadline.engagement.selectors import lifecycle_current
from leadline.journeys.selectors import Place, journey_places

Tone = Literal["good", "neutral", "low"]


@dataclasses.dataclass(frozen=True)
class Label:
    """One label: `name` ("Fit"), `value` in a few words ("Strong fit"), a `tone` for styling
    (good / neutral / low) and `why`: the signals behind it, one sentence each."""

    key: str
    name: str
    value: str
    tone: Tone
    why: tuple[str, ...]


_day = day_words


# Journey step ------------------------------------------------------------------------------------


def journey_label(places: Sequence[Place], *, now: dt.datetime) -> Label:
    """The step of the journey they last moved on; why: the step's place, the move's cause."""
    placed = [p for p in places if p.position is not None]
    if not placed:
        return Label(
            key="journey",
            name="Journey step",
            value="Not started",
            tone="low",
            why=("Not on a journey yet: no signal has placed them, and nobody has by hand",),
        )
    placed.sort(key=lambda p: p.position.since if p.position else now, reverse=True)
    why = []
    for place in placed:
        position = place.position
        assert position is not None
        why.append(
            f"{place.journey.name}: step {position.step.position} of {len(place.steps)}, "
            f"“{position.step.name}”, since {_day(position.since, now)}"
        )
        last = place.last
        if last is not None:
            text = f"Moved there on {_day(last.transition.at, now)} — {last.why}"
            if last.transition.note:
                text += f" (“{last.transition.note}”)"
            why.append(text)
    current = placed[0].position
    assert current is not None
    return Label(
        key="journey", name="Journey step", value=current.step.name, tone="neutral", why=tuple(why)
    )


# Fit ---------------------------------------------------------------------------------------------

FIT_STRONG = 4  # of the five checks
FIT_PARTIAL = 2


def fit_label(*, person: Person, account: Account | None, profile: Profile) -> Label:
    """How well they match the ideal customer profile; each check is one line of why."""
    fit = fit_score(person=person, account=account, profile=profile)
    why = fit.reasons
    if fit.company is None:
        return Label(
            key="fit",
            name="Fit",
            value="Unknown fit",
            tone="neutral",
            why=("No company known", *why),
        )
    if not fit.company_known:
        return Label(
            key="fit",
            name="Fit",
            value="Unknown fit",
            tone="neutral",
            why=(f"Nothing known about {fit.company}'s size or industry", *why),
        )
    score = f"Meets {fit.score} of {len(fit.checks)} points of the ideal customer profile"
    if fit.score >= FIT_STRONG:
        return Label(key="fit", name="Fit", value="Strong fit", tone="good", why=(score, *why))
    if fit.score >= FIT_PARTIAL:
        return Label(key="fit", name="Fit", value="Partial fit", tone="neutral", why=(score, *why))
    return Label(key="fit", name="Fit", value="Poor fit", tone="low", why=(score, *why))


# Interest ----------------------------------------------------------------------------------------

INTEREST_HIGH = 15.0
INTEREST_MEDIUM = 6.0


def interest_label(
    *, events: Sequence[Mapping[str, Any]], requests: Sequence[Mapping[str, Any]], now: dt.datetime
) -> Label:
    """Recency-weighted engagement in the last INTEREST_DAYS days; why: the top signals."""
    interest = interest_score(events=events, requests=requests, now=now)
    if not interest.signals:
        return Label(
            key="interest",
            name="Interest",
            value="No interest shown",
            tone="low",
            why=(f"No visits, events or requests in the last {INTEREST_DAYS} days",),
        )
    levels: tuple[tuple[float, str, Tone], ...] = (
        (INTEREST_HIGH, "High interest", "good"),
        (INTEREST_MEDIUM, "Medium interest", "neutral"),
        (0.0, "Low interest", "low"),
    )
    _, value, tone = next(level for level in levels if interest.score >= level[0])
    return Label(key="interest", name="Interest", value=value, tone=tone, why=interest.reasons)


# Lifecycle ---------------------------------------------------------------------------------------

STAGE_TONES: dict[str, Tone] = {
    Stage.SUBSCRIBER: "low",
    Stage.ENGAGED: "neutral",
    Stage.MARKETING_QUALIFIED: "good",
    Stage.SALES_ACCEPTED: "good",
    Stage.OPPORTUNITY: "good",
    Stage.CUSTOMER: "good",
    Stage.RECYCLED: "neutral",
    Stage.DISQUALIFIED: "low",
}
STAGE_NAMES: dict[str, str] = {
    **dict(Stage.choices),
    Stage.RECYCLED: "Recycled",  # the label is short; "back to nurture" goes in the why
}


def lifecycle_label(*, person: Person, current: PersonLifecycle | None, now: dt.datetime) -> Label:
    """The stage stored for them and the last move's reason, when and by whom."""
    if current is None:
        return Label(
            key="lifecycle",
            name="Lifecycle",
            value="Subscriber",
            tone="low",
            why=(f"Known since {_day(person.created_at, now)}; nothing has moved them yet",),
        )
    by = f" by {current.actor}" if current.actor is not None else ""
    why = [current.reason or "No reason was given", f"Since {_day(current.since, now)}{by}"]
    if current.stage == Stage.RECYCLED:
        why.append("Back to nurture: marketing works them again")
    return Label(
        key="lifecycle",
        name="Lifecycle",
        value=STAGE_NAMES[current.stage],
        tone=STAGE_TONES[current.stage],
        why=tuple(why),
    )


# All of them -------------------------------------------------------------------------------------


def person_labels(
    *, person: Person, now: dt.datetime, places: Sequence[Place] | None = None
) -> list[Label]:
    """The four labels for a person's page, in the order shown. `places`: their journey places
    when the caller has them already (saves reading them again)."""
    if places is None:
        places = journey_places(person=person)
    signals = signals_read(person=person, now=now)
    return [
        journey_label(places, now=now),
        fit_label(person=person, account=signals.account, profile=Profile.from_settings()),
        interest_label(events=signals.events, requests=signals.requests, now=now),
        lifecycle_label(person=person, current=lifecycle_current(person=person), now=now),
    ]
