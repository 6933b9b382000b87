"""The metrics goals can be set on: what the reports compute, measured over any period.

Each metric has a key (stored on a goal), a label in the users' words, the report it comes
from (the forms group the choice by it), a unit, a direction (is more better?), and whether it
*accumulates* over the period (a count or a sum of money: the period's value grows from 0) or
is a *rate* (a share or a median: the period's value is a level, it does not grow).

`Metric.measure(start=, end=, team_id=)` counts what happened in [start, end): the value, and
for a rate the evidence an honest interval needs (a share's successes and trials, a median's
sample). `value(...)` is the number alone. A metric that cannot be split by team says so
(`per_team`), and refuses a team.

The definitions, in the managers' words (each is the definition of the report named):
- New requests: requests that came in (capture), by the team routing gave them to.
- Within deadline (response times board, `insight.sla`): requests whose first-touch deadline
  fell in the period, touched at or before it; the share counts decided ones (touched, or
  due and not touched), as the board does.
- Touched within 1 business hour: requests that came in during the period and that routing gave
  a first-touch deadline (contact requests), touched within one business hour of the owning
  team's clock; one not touched counts as missed once that hour has passed, and is left out
  while it has not.
- Median time to first touch: the board's median, in business hours, of the requests due in the
  period that have been touched.
- Handoffs, accepted, rejected: handoffs made in the period; decided (accepted, rejected) in it.
- Meetings booked: meetings booked in the period and not cancelled, by the host's team.
- Opportunities created, pipeline created: deals opened in the period (their amounts).
- Won deals, won revenue: deals won (closed) in the period.
- Influenced pipeline (attribution report, `insight.touches.attribution_report`): the amounts
  of the deals opened in the period with at least one campaign touch on their path: the
  report's pipeline minus its "no campaign touch" part. Not per team.
- Attempts, connects, connect rate, appointments set and held (the effectiveness report,
  `insight.effectiveness.effectiveness_measure`, over every channel).
- Average prospect rating (`feedback.selectors.ratings_summary`): the mean 1-5 answer to the
  asks made in the period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from leadline.booking.models import Meeting, MeetingStatus
from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Team
from leadline.engagement.models import Handoff, HandoffStatus, Opportunity, OpportunityStatus
from leadline.routing.models import RequestRouting
from leadline.routing.services import team_hours

Unit = Literal["count", "money", "percent", "hours", "score"]
Z95 = 1.959963984540054  # the normal quantile for a 95% interval
WITHIN_HOURS = 1.0


@dataclasses.dataclass(frozen=True)
class Measure:
    """A metric's value over a period, with what an interval needs: `successes` of `trials`
    (a share), or the `sample` (a median, a mean)."""

    value: float | None
    successes: int | None = None
    trials: int | None = None
    sample: tuple[float, ...] | None = None


Compute = Callable[[dt.datetime, dt.datetime, int | None], Measure]


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    label: str
    report: str
    unit: Unit
    higher_is_better: bool
    accumulates: bool
    compute: Compute
    description: str
    per_team: bool = True

    def measure(
        self, *, start: dt.datetime, end: dt.datetime, team_id: int | None = None
    ) -> Measure:
        if team_id is not None and not self.per_team:
            raise ValueError(f"{self.label} is not measured per team")
        if end <= start:
            return Measure(value=0.0 if self.accumulates else None)
        return self.compute(start, end, team_id)

    def value(
        self, *, start: dt.datetime, end: dt.datetime, team_id: int | None = None
    ) -> float | None:
        return self.measure(start=start, end=end, team_id=team_id).value


# Intervals ----------------------------------------------------------------------------------------


def wilson(successes: int, trials: int, *, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion, as shares 0..1; None with no trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def median_interval(sample: tuple[float, ...], *, z: float = Z95) -> tuple[float, float] | None:
    """A distribution-free ~95% interval for the median: the order statistics at ranks
    n/2 ± z·√n/2 (the binomial's normal approximation); None below 6 values."""
    n = len(sample)
    if n < 6:
        return None
    ordered = sorted(sample)
    half = z * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return ordered[low], ordered[high]


def mean_interval(sample: tuple[float, ...], *, z: float = Z95) -> tuple[float, float] | None:
    """mean ± z · s/√n; None below 2 values."""
    n = len(sample)
    if n < 2:
        return None
    mean = sum(sample) / n
    variance = sum((x - mean) ** 2 for x in sample) / (n - 1)
    half = z * math.sqrt(variance / n)
    return mean - half, mean + half


def interval(metric: Metric, measure: Measure) -> tuple[float, float] | None:
    """The honest range of a rate's current value (in the metric's unit), where one is known."""
    if metric.accumulates:
        return None
    if measure.successes is not None and measure.trials is not None:
        found = wilson(measure.successes, measure.trials)
        return None if found is None else (100 * found[0], 100 * found[1])
    if measure.sample is not None:
        if metric.unit == "hours":
            return median_interval(measure.sample)
        return mean_interval(measure.sample)
    return None


# The computations ---------------------------------------------------------------------------------


def _count(rows: QuerySet[object]) -> Measure:  # type: ignore[type-var]
    return Measure(value=float(rows.count()))


def _amount(rows: QuerySet[Opportunity]) -> Measure:
    total = rows.aggregate(total=Sum("amount"))["total"]
    return Measure(value=float(total or Decimal(0)))


def _team(field: str, team_id: int | None) -> Q:
    return Q() if team_id is None else Q(**{field: team_id})


def _requests_new(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    return _count(
        Request.objects.filter(
            _team("routing__team_id", team_id), created_at__gte=start, created_at__lt=end
        )
    )


def _hours_between(team: Team | None, start: dt.datetime, end: dt.datetime) -> float:
    """Business hours in the team's week, counted as the SLA board counts them."""
    # Here, not at the top: the SLA module loads pandas, which the URL map must not wait for.
    from leadline.insight.sla import business_hours, team_hours_or_default

    hours = team_hours(None) if team is None else team_hours_or_default(team)
    return business_hours(hours, start=start, end=end)


def _teams(team_ids: set[int]) -> dict[int | None, Team | None]:
    found: dict[int | None, Team | None] = {None: None}
    found.update({t.pk: t for t in Team.objects.filter(pk__in=team_ids)})
    return found


def _within_deadline(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    now = clock.now()
    rows = RequestRouting.objects.filter(
        _team("team_id", team_id), first_touch_due__gte=start, first_touch_due__lt=end
    ).values_list("first_touch_due", "first_touched_at")
    within = breaches = 0
    for due, touched in rows:
        if due is None:
            continue
        if touched is not None:
            within += touched <= due
            breaches += touched > due
        elif due < now:
            breaches += 1
    decided = within + breaches
    return Measure(
        value=100 * within / decided if decided else None, successes=within, trials=decided
    )


def _touched_within_hour(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    now = clock.now()
    rows = list(
        RequestRouting.objects.filter(
            _team("team_id", team_id),
            first_touch_due__isnull=False,
            request__created_at__gte=start,
            request__created_at__lt=end,
        ).values_list("team_id", "request__created_at", "first_touched_at")
    )
    teams = _teams({t for t, _, _ in rows if t is not None})
    within = decided = 0
    for team, created, touched in rows:
        if touched is not None:
            decided += 1
            within += _hours_between(teams.get(team), created, touched) <= WITHIN_HOURS
        elif _hours_between(teams.get(team), created, now) > WITHIN_HOURS:
            decided += 1  # the hour has passed, untouched: missed
    return Measure(
        value=100 * within / decided if decided else None, successes=within, trials=decided
    )


def _median_first_touch(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    rows = list(
        RequestRouting.objects.filter(
            _team("team_id", team_id),
            first_touch_due__gte=start,
            first_touch_due__lt=end,
            first_touched_at__isnull=False,
        ).values_list("team_id", "request__created_at", "first_touched_at")
    )
    teams = _teams({t for t, _, _ in rows if t is not None})
    hours = tuple(
        _hours_between(teams.get(team), created, touched)
        for team, created, touched in rows
        if touched is not None
    )
    if not hours:
        return Measure(value=None, sample=())
    ordered = sorted(hours)
    n = len(ordered)
    # Linear interpolation between neighbours, as the board (NumPy's default) does.
    middle = (n - 1) / 2
    low, high = ordered[math.floor(middle)], ordered[math.ceil(middle)]
    return Measure(value=low + (high - low) * (middle - math.floor(middle)), sample=hours)


def _handoffs(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    return _count(
        Handoff.objects.filter(_team("team_id", team_id), created_at__gte=start, created_at__lt=end)
    )


def _decided(status: str) -> Compute:
    def compute(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
        return _count(
            Handoff.objects.filter(
                _team("team_id", team_id), status=status, decided_at__gte=start, decided_at__lt=end
            )
        )

    return compute


def _meetings_booked(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    return _count(
        Meeting.objects.filter(
            _team("host__team_id", team_id),
            status=MeetingStatus.BOOKED,
            created_at__gte=start,
            created_at__lt=end,
        )
    )


def _opened(start: dt.datetime, end: dt.datetime, team_id: int | None) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(
        _team("owner__team_id", team_id), opened_at__gte=start, opened_at__lt=end
    )


def _won(start: dt.datetime, end: dt.datetime, team_id: int | None) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(
        _team("owner__team_id", team_id),
        status=OpportunityStatus.WON,
        closed_at__gte=start,
        closed_at__lt=end,
    )


def _influenced_pipeline(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    from leadline.insight.touches import attribution_report

    report = attribution_report(since=start, until=end)
    return Measure(value=float(report.pipeline - report.untouched_pipeline))


def _average_rating(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
    from leadline.feedback.selectors import ratings_summary

    team = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    scores = [0, 0, 0, 0, 0]
    for row in ratings_summary(start=start, end=end, by="channel", team=team):
        scores = [a + b for a, b in zip(scores, row.scores, strict=True)]
    sample = tuple(float(n + 1) for n, c in enumerate(scores) for _ in range(c))
    return Measure(value=sum(sample) / len(sample) if sample else None, sample=sample)


def _effectiveness(name: str) -> Compute:
    """A measure of the effectiveness report (`insight.effectiveness`), over every channel."""

    def compute(start: dt.datetime, end: dt.datetime, team_id: int | None) -> Measure:
        from leadline.insight.effectiveness import effectiveness_measure

        found = effectiveness_measure(name=name, start=start, end=end, team_id=team_id)
        return Measure(value=None if math.isnan(found) else float(found))

    return compute


# The registry -------------------------------------------------------------------------------------

REQUESTS = "Inbound requests"
RESPONSE = "Response times"
HANDOFFS = "Handoffs to sales"
MEETINGS = "Meetings"
DEALS = "Deals"
ATTRIBUTION = "Attribution"
RATINGS = "Prospect ratings"
EFFECTIVENESS = "Channel and team effectiveness"

_ALL: tuple[Metric, ...] = (
    Metric("requests_new", "New requests", REQUESTS, "count", True, True, _requests_new,
           "Requests that came in"),
    Metric("touched_within_1h", "Contact requests touched within 1 business hour", RESPONSE,
           "percent", True, False, _touched_within_hour,
           "Of the contact requests that came in, the share first touched within one business "
           "hour of the owning team"),
    Metric("sla_within_deadline", "Requests touched within their deadline", RESPONSE, "percent",
           True, False, _within_deadline,
           "Of the requests due in the period and decided, the share touched by the deadline"),
    Metric("median_first_touch_hours", "Median time to first touch", RESPONSE, "hours", False,
           False, _median_first_touch,
           "Business hours from arrival to first touch, the median of the requests due"),
    Metric("handoffs", "Leads handed to sales", HANDOFFS, "count", True, True, _handoffs,
           "Handoffs made"),
    Metric("sales_accepted", "Sales-accepted leads", HANDOFFS, "count", True, True,
           _decided(HandoffStatus.ACCEPTED), "Handoffs sales accepted"),
    Metric("sales_rejected", "Leads rejected by sales", HANDOFFS, "count", False, True,
           _decided(HandoffStatus.REJECTED), "Handoffs sales rejected"),
    Metric("meetings_booked", "Meetings booked", MEETINGS, "count", True, True, _meetings_booked,
           "Meetings booked and not cancelled"),
    Metric("attempts", "Attempts to reach prospects", EFFECTIVENESS, "count", True, True,
           _effectiveness("attempts"), "Calls, emails and messages to prospects, every channel"),
    Metric("connects", "Connects", EFFECTIVENESS, "count", True, True,
           _effectiveness("connects"), "Attempts that reached the prospect, every channel"),
    Metric("connect_rate", "Connect rate", EFFECTIVENESS, "percent", True, False,
           _effectiveness("connect_rate"), "Connects per attempt"),
    Metric("appointments_set", "Appointments set", EFFECTIVENESS, "count", True, True,
           _effectiveness("appointments_set"), "Appointments set, every channel"),
    Metric("appointments_held", "Appointments held", EFFECTIVENESS, "count", True, True,
           _effectiveness("appointments_held"), "Appointments that took place"),
    Metric("opportunities_created", "Opportunities created", DEALS, "count", True, True,
           lambda s, e, t: _count(_opened(s, e, t)), "Deals opened"),
    Metric("pipeline_created", "Pipeline created", DEALS, "money", True, True,
           lambda s, e, t: _amount(_opened(s, e, t)), "The amounts of the deals opened"),
    Metric("won_deals", "Won deals", DEALS, "count", True, True,
           lambda s, e, t: _count(_won(s, e, t)), "Deals won"),
    Metric("won_revenue", "Won revenue", DEALS, "money", True, True,
           lambda s, e, t: _amount(_won(s, e, t)), "The amounts of the deals won"),
    Metric("influenced_pipeline", "Influenced pipeline", ATTRIBUTION, "money", True, True,
           _influenced_pipeline,
           "The amounts of the deals opened with at least one campaign touch on their path",
           per_team=False),
    Metric("average_rating", "Average prospect rating", RATINGS, "score", True, False,
           _average_rating, "The prospects' mean answer (1 to 5) to the asks made"),
)  # fmt: skip

METRICS: dict[str, Metric] = {metric.key: metric for metric in _ALL}


def metric_get(key: str) -> Metric | None:
    return METRICS.get(key)


def metric_groups() -> list[tuple[str, list[Metric]]]:
    """The metrics by report, in the registry's order (for a grouped select)."""
    groups: dict[str, list[Metric]] = {}
    for metric in METRICS.values():
        groups.setdefault(metric.report, []).append(metric)
    return list(groups.items())


def format_value(metric: Metric, value: float | None) -> str:
    """A value as people read it: "64", "412,000 EUR" (settings.CURRENCY), "93%", "1 h 05 min",
    "4.2"."""
    if value is None or math.isnan(value):
        return "–"
    if metric.unit == "count":
        return f"{value:,.0f}"
    if metric.unit == "money":
        return f"{value:,.0f} {settings.CURRENCY}"
    if metric.unit == "percent":
        return f"{value:.0f}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"
    if metric.unit == "hours":
        minutes = int(value * 60 + 0.5)
        if minutes < 60:
            return f"{minutes} min"
        whole, rest = divmod(minutes, 60)
        return f"{whole} h" if rest == 0 else f"{whole} h {rest:02d} min"
    return f"{value:.1f}"
