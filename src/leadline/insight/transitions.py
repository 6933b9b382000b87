"""What moves a buyer from one step of a journey to the next: the report behind
/insight/journeys/<slug>/ and its API.

Per step, from the journey's history (`history.step_visits_frame`):
- reached: the people (or accounts) who ever arrived at the step; arrivals counts each
  arrival (someone who went back and came again arrives twice);
- moved on: the people who left it for a later step at least once;
- where they went: every arrival's end: a later step, back to an earlier one, taken off the
  journey by hand, or still there;
- time in step: Kaplan-Meier (`survival`): a stay ends when they move to any other step; a stay
  still going is censored now, one cut short by a removal at the removal. Median with its 95%
  interval, and the quartiles, in days;
- the drivers of moving on (`drivers`) among the stays that had the whole horizon to show it
  (`features.step_examples`): every field and signal compared, adjusted together, only the
  significant ones named.

And the drivers of winning (`win_drivers`): every closed opportunity, won against lost.

Fields whose value was written down at or after the outcome for most cases (by their time
stamps) are left out of the drivers and named: they would "explain" the outcome only because
they were filled in once it was known.

Reads only. The number of queries grows with the number of steps, never with the people.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from leadline.core import clock
from leadline.insight import drivers as drivers_module
from leadline.insight import features, history
from leadline.insight.drivers import DriverReport
from leadline.insight.survival import Curve, kaplan_meier
from leadline.journeys.models import Journey

DEFAULT_HORIZON_DAYS = 30
MIN_HORIZON_DAYS = 1
MAX_HORIZON_DAYS = 365
ALPHA = 0.05
MIN_N = 30
AFTER_OUTCOME_SHARE = 0.5  # a field written down at or after the outcome this often is left out

Progress = Callable[[str, float], None]


@dataclasses.dataclass(frozen=True)
class Destination:
    kind: str  # "forward" | "back" | "removed" | "still"
    label: str  # "Comparing vendors", "back to Noticing a problem", "taken off the journey"
    count: int  # arrivals that ended this way
    position: int | None = None


@dataclasses.dataclass(frozen=True)
class TimeInStep:
    """Days in the step, by Kaplan-Meier. None where the curve does not get there yet."""

    stays: int
    ended: int  # stays seen to end (moved to another step)
    censored: int  # still there, or taken off the journey
    median: float | None
    median_low: float | None
    median_high: float | None
    q25: float | None  # a quarter had left by then
    q75: float | None  # three quarters had left by then
    curve: Curve


@dataclasses.dataclass(frozen=True)
class LeftOut:
    field: str
    why: str


@dataclasses.dataclass
class StepReport:
    step_id: int
    position: int
    name: str
    reached: int
    arrivals: int
    moved_on: int
    still_there: int
    removed: int
    went: list[Destination]
    time: TimeInStep
    next_name: str | None  # None at the last step: nothing to move on to
    outcome_words: str
    drivers: DriverReport | None  # None at the last step
    left_out: list[LeftOut]

    @property
    def moved_on_share(self) -> float | None:
        return self.moved_on / self.reached if self.reached else None


@dataclasses.dataclass
class JourneyReport:
    journey_id: int
    name: str
    slug: str
    horizon_days: int
    as_of: dt.datetime
    who: str  # "People" or "Accounts"
    steps: list[StepReport]

    @property
    def subjects(self) -> int:
        return self.steps[0].reached if self.steps else 0


@dataclasses.dataclass
class WinReport:
    drivers: DriverReport
    left_out: list[LeftOut]
    won: int
    lost: int


# Fields filled in after the outcome -------------------------------------------------------------


def _after_outcome(examples: features.Examples) -> list[LeftOut]:
    """Fields whose known values were mostly written down at or after the outcome."""
    if not len(examples) or examples.known_at.empty:
        return []
    left: list[LeftOut] = []
    outcome_at = pd.to_datetime(examples.outcome_at, utc=True)
    for name in examples.known_at.columns:
        known = pd.to_datetime(examples.known_at[name], utc=True)
        stamped = known.notna() & examples.X[name].notna() & outcome_at.notna()
        if int(stamped.sum()) == 0:
            continue
        share = float((known[stamped] >= outcome_at[stamped]).mean())
        if share > AFTER_OUTCOME_SHARE:
            left.append(
                LeftOut(
                    field=str(name),
                    why=f"Written down at or after the outcome for {share:.0%} of the "
                    f"{int(stamped.sum()):,} cases with a time stamp.",
                )
            )
    return left


def _drivers(
    examples: features.Examples, *, outcome_words: str, who: str
) -> tuple[DriverReport, list[LeftOut]]:
    left_out = _after_outcome(examples)
    X = examples.X.drop(columns=[item.field for item in left_out])
    report = drivers_module.drivers(
        X, examples.y, outcome_words=outcome_words, alpha=ALPHA, min_n=MIN_N, who=who
    )
    return report, left_out


# Steps ------------------------------------------------------------------------------------------


def _time_in_step(stays: pd.DataFrame, now: pd.Timestamp) -> TimeInStep:
    ended = (stays["left_at"].notna() & ~stays["removed"]).to_numpy()
    until = stays["left_at"].fillna(now)
    seconds = (until - stays["entered_at"]).dt.total_seconds().to_numpy(dtype=float)
    days = np.clip(seconds / 86_400, 0, None)
    curve = kaplan_meier(days, ended)
    low, high = curve.median_ci
    return TimeInStep(
        stays=curve.n,
        ended=curve.n_events,
        censored=curve.n_censored,
        median=curve.median,
        median_low=low,
        median_high=high,
        q25=curve.quantile(0.25),
        q75=curve.quantile(0.75),
        curve=curve,
    )


def _destinations(stays: pd.DataFrame, position: int, names: dict[int, str]) -> list[Destination]:
    went: list[Destination] = []
    moved = stays[stays["next_position"].notna()]
    counts = moved["next_position"].astype(int).value_counts()
    for to in sorted(counts.index, key=lambda p: (p < position, p)):
        name = names.get(int(to), f"Step {to}")
        forward = to > position
        went.append(
            Destination(
                kind="forward" if forward else "back",
                label=name if forward else f"back to {name}",
                count=int(counts[to]),
                position=int(to),
            )
        )
    removed = int(stays["removed"].sum())
    if removed:
        went.append(Destination(kind="removed", label="taken off the journey", count=removed))
    still = int(stays["left_at"].isna().sum())
    if still:
        went.append(Destination(kind="still", label="still there", count=still))
    return went


def outcome_words(next_name: str, *, horizon_days: int, last_but_one: bool) -> str:
    further = "" if last_but_one else " or further"
    return f"moved to {next_name}{further} within {horizon_days} days"


def journey_transitions(
    journey: Journey,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    as_of: dt.datetime | None = None,
    progress: Progress | None = None,
) -> JourneyReport:
    """The whole report for one journey."""
    if not MIN_HORIZON_DAYS <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError(f"horizon_days must be between {MIN_HORIZON_DAYS} and {MAX_HORIZON_DAYS}")
    moment = as_of or clock.now()
    now = pd.Timestamp(moment)
    steps = list(journey.steps.order_by("position").values_list("pk", "position", "name"))
    names = {position: name for _, position, name in steps}
    all_visits = history.step_visits_frame(journey.pk)
    events = history.events_frame(until=moment)
    visits = all_visits[all_visits["entered_at"] <= now]
    who = "Accounts" if len(visits) and (visits["subject"] == "account").all() else "People"
    reports: list[StepReport] = []
    last_position = steps[-1][1] if steps else 0
    for done, (step_id, position, name) in enumerate(steps):
        if progress is not None:
            progress(f"Step {position}: {name}", done / max(len(steps), 1))
        stays = visits[visits["position"] == position]
        subjects = stays[["subject", "subject_id"]].drop_duplicates()
        forward = stays[stays["next_position"].fillna(0).astype(int) > position]
        later = [p for p in names if p > position]
        next_name = names[min(later)] if later else None
        words = (
            outcome_words(
                next_name, horizon_days=horizon_days, last_but_one=min(later) == last_position
            )
            if next_name is not None
            else ""
        )
        report: DriverReport | None = None
        left_out: list[LeftOut] = []
        if next_name is not None:
            examples = features.step_examples(
                journey_id=journey.pk,
                position=position,
                horizon_days=horizon_days,
                as_of=moment,
                visits=all_visits,
                events=events,
            )
            report, left_out = _drivers(examples, outcome_words=words, who=who)
        reports.append(
            StepReport(
                step_id=step_id,
                position=position,
                name=name,
                reached=len(subjects),
                arrivals=len(stays),
                moved_on=len(forward[["subject", "subject_id"]].drop_duplicates()),
                still_there=int(stays["left_at"].isna().sum()),
                removed=int(stays["removed"].sum()),
                went=_destinations(stays, position, names),
                time=_time_in_step(stays, now),
                next_name=next_name,
                outcome_words=words,
                drivers=report,
                left_out=left_out,
            )
        )
    if progress is not None:
        progress("Done", 1.0)
    return JourneyReport(
        journey_id=journey.pk,
        name=journey.name,
        slug=journey.slug,
        horizon_days=horizon_days,
        as_of=moment,
        who=who,
        steps=reports,
    )


def win_drivers(*, examples: features.Examples | None = None) -> WinReport:
    """What made a difference to winning: every closed opportunity, won against lost."""
    examples = examples if examples is not None else features.win_examples()
    report, left_out = _drivers(examples, outcome_words="won", who="Deals")
    won = int(np.asarray(examples.y, dtype=bool).sum())
    return WinReport(drivers=report, left_out=left_out, won=won, lost=len(examples) - won)
