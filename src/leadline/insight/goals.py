"""Goals: targets on the reports' metrics (`insight.metrics`) for a period, their progress, pace
and forecast, their history, the daily snapshots and the weekly digest to their owners.

Periods are whole days, from `starts_on` to `ends_on` (both included), in the company's time
zone (settings.TIME_ZONE): a quarter starts at midnight on its first day and ends at midnight
after its last.

Pace, in plain words (`progress_compute`, pure):
- A metric that *accumulates* (a count, a sum of money) should grow evenly over the period: by
  today it should be at the target times the share of the period gone ("expected"). Within 5%
  of that is "on pace"; else "12% ahead of pace" / "12% behind pace" (relative to expected).
  Forecast: the value projected to the end at the same rate (value / share gone); for a count,
  with a ±1.96·√value (Poisson) range. Before the period: nothing yet. After it: met or missed.
- A *rate* (a share, a median, an average) has no pace to keep: its current value is compared
  with the target ("on target", "3 points below target"), and the forecast is that value, with
  its 95% interval where one is honest (Wilson for a share; order statistics for a median).
- "Ahead" and "behind" follow the metric's direction: fewer rejected leads, a shorter median
  time, are ahead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.core.services import audit_record
from leadline.insight import metrics
from leadline.insight.metrics import Measure, Metric
from leadline.insight.models import Goal, GoalChange, GoalDigest, GoalSnapshot, PeriodKind
from leadline.notify.services import mail_send

PACE_TOLERANCE = 0.05
DIGEST_HOUR = 7  # the digest goes from Monday 07:00 in the owner's time zone
TARGET_MAX = Decimal("999999999999.99")
OWNER_ROLES = (Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER, Role.SALES_REP)
State = Literal["upcoming", "running", "ended"]


def zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def today(now: dt.datetime | None = None) -> dt.date:
    return (now or clock.now()).astimezone(zone()).date()


def period_bounds(starts_on: dt.date, ends_on: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end): midnight of the first day to midnight after the last, company time."""
    tz = zone()
    start = dt.datetime.combine(starts_on, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(ends_on + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def period_preset(kind: str, *, on: dt.date, offset: int = 0) -> tuple[dt.date, dt.date]:
    """The month, quarter or year holding `on` (`offset` periods later; -1: the one before)."""
    if kind == PeriodKind.MONTH:
        index = on.year * 12 + on.month - 1 + offset
        first = dt.date(index // 12, index % 12 + 1, 1)
        after = dt.date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    elif kind == PeriodKind.QUARTER:
        index = on.year * 4 + (on.month - 1) // 3 + offset
        first = dt.date(index // 4, (index % 4) * 3 + 1, 1)
        after = dt.date((index + 1) // 4, ((index + 1) % 4) * 3 + 1, 1)
    elif kind == PeriodKind.YEAR:
        first, after = dt.date(on.year + offset, 1, 1), dt.date(on.year + offset + 1, 1, 1)
    else:
        raise ValueError(f"no preset for {kind!r}")
    return first, after - dt.timedelta(days=1)


def period_label(kind: str, starts_on: dt.date, ends_on: dt.date) -> str:
    """ "November 2026", "Q4 2026", "2026" when the dates are exactly one (whatever `kind`
    says), else "3 Nov - 14 Dec 2026" (with an en dash)."""
    dates = (starts_on, ends_on)
    if dates == period_preset(PeriodKind.MONTH, on=starts_on):
        return f"{starts_on:%B %Y}"
    if dates == period_preset(PeriodKind.QUARTER, on=starts_on):
        return f"Q{(starts_on.month - 1) // 3 + 1} {starts_on.year}"
    if dates == period_preset(PeriodKind.YEAR, on=starts_on):
        return str(starts_on.year)
    first = f"{starts_on.day} {starts_on:%b}"
    if starts_on.year != ends_on.year:
        first += f" {starts_on.year}"
    return f"{first} – {ends_on.day} {ends_on:%b %Y}"


# Progress, pace and forecast ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Progress:
    metric: Metric
    value: float | None
    target: float
    state: State
    elapsed: float  # share of the period gone, 0..1
    expected: float | None  # accumulating: where the value should be by now
    pace: float | None  # signed, positive is good: relative to expected, or value - target
    on_pace: bool | None
    pace_words: str
    forecast: float | None
    forecast_low: float | None
    forecast_high: float | None
    forecast_words: str

    @property
    def bar(self) -> float:
        """How full the progress bar is, 0..1."""
        if self.value is None:
            return 0.0
        top = self.bar_max
        return max(0.0, min(1.0, self.value / top)) if top > 0 else 0.0

    @property
    def bar_max(self) -> float:
        if self.metric.unit == "percent":
            return 100.0
        if self.metric.unit == "score":
            return 5.0
        if self.metric.accumulates:
            return self.target
        return max(self.target, self.value or 0.0) * 1.25 or 1.0

    @property
    def marker(self) -> float | None:
        """Where the pace (accumulating) or the target (a rate) sits on the bar, 0..1."""
        if self.metric.accumulates:
            return self.elapsed if self.state == "running" else None
        top = self.bar_max
        return max(0.0, min(1.0, self.target / top)) if top > 0 else None

    @property
    def tone(self) -> str:
        return "" if self.on_pace is None else ("good" if self.on_pace else "bad")

    @property
    def value_text(self) -> str:
        return metrics.format_value(self.metric, self.value)

    @property
    def target_text(self) -> str:
        return metrics.format_value(self.metric, self.target)

    @property
    def expected_text(self) -> str:
        return metrics.format_value(self.metric, self.expected)

    @property
    def forecast_text(self) -> str:
        return metrics.format_value(self.metric, self.forecast)


def _difference_words(metric: Metric, gap: float) -> str:
    if metric.unit == "percent":
        points = abs(gap)
        return f"{points:.0f} point{'s' if round(points) != 1 else ''}"
    return metrics.format_value(metric, abs(gap))


def progress_compute(
    *,
    metric: Metric,
    measure: Measure,
    target: float,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> Progress:
    """The progress of a goal whose value over [start, min(now, end)) is `measure` (pure)."""
    span = (end - start).total_seconds()
    gone = (min(max(now, start), end) - start).total_seconds()
    elapsed = gone / span if span > 0 else 1.0
    state: State = "upcoming" if now < start else ("ended" if now >= end else "running")
    value = measure.value
    sign = 1.0 if metric.higher_is_better else -1.0
    fmt = metrics.format_value
    base: dict[str, Any] = {"metric": metric, "target": target, "state": state, "elapsed": elapsed}
    nothing: dict[str, Any] = {
        "value": None, "expected": None, "pace": None, "on_pace": None, "forecast": None,
        "forecast_low": None, "forecast_high": None, "forecast_words": "",
    }  # fmt: skip

    if state == "upcoming":
        when = start.astimezone(zone()).date()
        return Progress(**base | nothing | {"pace_words": f"Starts on {when.day} {when:%B %Y}"})

    if metric.accumulates:
        current = value or 0.0
        expected = target * elapsed
        if state == "ended":
            good = sign * (current - target)
            met = good >= 0
            words = "Met" if met else f"Missed by {fmt(metric, abs(current - target))}"
            if met and current != target:
                words += f" ({fmt(metric, abs(current - target))} to spare)"
            share = f" ({current / target:.0%} of the target)" if target else ""
            return Progress(
                **base,
                value=current,
                expected=target,
                pace=good,
                on_pace=met,
                pace_words=words,
                forecast=current,
                forecast_low=None,
                forecast_high=None,
                forecast_words=f"Final: {fmt(metric, current)}{share}",
            )
        if elapsed <= 0 or expected <= 0:
            return Progress(
                **base
                | nothing
                | {"value": current, "expected": expected, "pace_words": "Just started"}
                | {"forecast_words": "Too early for a forecast"}
            )
        ratio = current / expected - 1
        pace = sign * ratio
        if abs(ratio) <= PACE_TOLERANCE:
            words = "On pace"
        else:
            words = f"{abs(ratio):.0%} {'ahead of' if pace > 0 else 'behind'} pace"
        forecast = current / elapsed
        low = high = None
        if metric.unit == "count":
            spread = metrics.Z95 * math.sqrt(current)
            low, high = max(current, (current - spread) / elapsed), (current + spread) / elapsed
        forecast_words = f"Forecast at the end: {fmt(metric, forecast)}"
        if target:
            forecast_words += f" ({forecast / target:.0%} of the target)"
        if low is not None and high is not None:
            forecast_words += f", likely {fmt(metric, low)} to {fmt(metric, high)}"
        return Progress(
            **base,
            value=current,
            expected=expected,
            pace=pace,
            on_pace=pace >= -PACE_TOLERANCE,
            pace_words=words,
            forecast=forecast,
            forecast_low=low,
            forecast_high=high,
            forecast_words=forecast_words,
        )

    # A rate: the level now against the target.
    if value is None:
        return Progress(**base | nothing | {"pace_words": "Nothing to measure yet"})
    good = sign * (value - target)
    met = good >= 0
    if state == "ended":
        words = "Met" if met else f"Missed by {_difference_words(metric, value - target)}"
    elif met:
        words = "On target"
    else:
        side = "below" if metric.higher_is_better else "above"
        words = f"{_difference_words(metric, value - target)} {side} target"
    found = metrics.interval(metric, measure)
    low, high = found if found is not None else (None, None)
    label = "Final" if state == "ended" else "Forecast at the end"
    forecast_words = f"{label}: {fmt(metric, value)}"
    if low is not None and high is not None and state != "ended":
        forecast_words += f" (95% range {fmt(metric, low)} to {fmt(metric, high)})"
    return Progress(
        **base,
        value=value,
        expected=target,
        pace=good,
        on_pace=met,
        pace_words=words,
        forecast=value,
        forecast_low=low,
        forecast_high=high,
        forecast_words=forecast_words,
    )


def goal_metric(goal: Goal) -> Metric | None:
    return metrics.metric_get(goal.metric)


def goal_measure(*, goal: Goal, now: dt.datetime | None = None) -> Measure:
    """The goal's metric over its period up to now (the whole period once it has ended)."""
    now = now or clock.now()
    metric = goal_metric(goal)
    if metric is None:
        return Measure(value=None)
    start, end = period_bounds(goal.starts_on, goal.ends_on)
    return metric.measure(start=start, end=min(now, end), team_id=goal.team_id)


def goal_progress(*, goal: Goal, now: dt.datetime | None = None) -> Progress | None:
    """None when the goal's metric is no longer known."""
    now = now or clock.now()
    metric = goal_metric(goal)
    if metric is None:
        return None
    start, end = period_bounds(goal.starts_on, goal.ends_on)
    measure = goal_measure(goal=goal, now=now) if now >= start else Measure(value=None)
    return progress_compute(
        metric=metric, measure=measure, target=float(goal.target), start=start, end=end, now=now
    )


# Reads --------------------------------------------------------------------------------------------

PERIODS = {
    "current": "Running now",
    "upcoming": "Starting later",
    "past": "Ended",
    "all": "All periods",
}


def goals_query(
    *,
    period: str = "current",
    team_id: int | None = None,
    owner_id: int | None = None,
    archived: bool = False,
    on: dt.date | None = None,
) -> QuerySet[Goal]:
    on = on or today()
    rows = Goal.objects.filter(archived=archived).select_related("team", "created_by")
    if period == "current":
        rows = rows.filter(starts_on__lte=on, ends_on__gte=on)
    elif period == "upcoming":
        rows = rows.filter(starts_on__gt=on)
    elif period == "past":
        rows = rows.filter(ends_on__lt=on)
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    if owner_id is not None:
        rows = rows.filter(owners__pk=owner_id)
    order = ["-ends_on", "name", "pk"] if period == "past" else ["ends_on", "name", "pk"]
    return rows.prefetch_related("owners").order_by(*order).distinct()


def goal_past_periods(goal: Goal) -> list[Goal]:
    """Earlier goals on the same metric and team: how the same thing went before."""
    return list(
        Goal.objects.filter(
            Q(team__isnull=True) if goal.team_id is None else Q(team_id=goal.team_id),
            metric=goal.metric,
            ends_on__lt=goal.starts_on,
        )
        .order_by("-ends_on", "pk")
        .prefetch_related("snapshots")[:8]
    )


def goal_final_value(goal: Goal) -> float | None:
    """The last value measured for an ended goal (its snapshot after the end), else live."""
    last = goal.snapshots.order_by("-on").first()
    if last is not None and last.on > goal.ends_on:
        return last.value
    return goal_measure(goal=goal).value


def owner_choices() -> QuerySet[User]:
    return User.objects.filter(is_active=True, role__in=OWNER_ROLES).order_by(
        "first_name", "last_name", "username"
    )


# Writes -------------------------------------------------------------------------------------------

FIELDS = ("name", "metric", "team", "target", "period_kind", "starts_on", "ends_on", "owners")


def _described(goal: Goal, owners: Iterable[User] | None = None) -> dict[str, Any]:
    people = owners if owners is not None else goal.owners.all()
    return {
        "name": goal.name,
        "metric": goal.metric,
        "team": goal.team.name if goal.team_id and goal.team else None,
        "target": f"{Decimal(goal.target):.2f}",
        "period_kind": goal.period_kind,
        "starts_on": goal.starts_on.isoformat(),
        "ends_on": goal.ends_on.isoformat(),
        "owners": sorted(u.username for u in people),
    }


def _target(value: Any) -> Decimal:
    try:
        target = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"target": "Enter a number."}) from None
    if not target.is_finite():
        raise ValidationError({"target": "Enter a number."})
    return target


def _checked(
    *,
    name: str,
    metric: str,
    team: Team | None,
    target: Any,
    period_kind: str,
    starts_on: dt.date,
    ends_on: dt.date,
    owners: Sequence[User],
) -> tuple[str, Decimal]:
    errors: dict[str, str] = {}
    name = " ".join(str(name).split())
    if not name:
        errors["name"] = "Give the goal a name."
    elif len(name) > 200:
        errors["name"] = "At most 200 characters."
    found = metrics.metric_get(metric)
    if found is None:
        errors["metric"] = f"There is no metric “{str(metric)[:60]}”."
    elif team is not None and not found.per_team:
        errors["team"] = f"{found.label} is not measured per team; leave the team empty."
    amount = Decimal(0)
    try:
        amount = _target(target)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    else:
        if amount < 0:
            errors["target"] = "The target cannot be negative."
        elif amount > TARGET_MAX:
            errors["target"] = "That target is too large."
        elif found is not None and found.unit == "percent" and amount > 100:
            errors["target"] = "A share is at most 100%."
        elif found is not None and found.unit == "score" and amount > 5:
            errors["target"] = "Ratings go from 1 to 5."
    if period_kind not in PeriodKind.values:
        errors["period_kind"] = "Choose a month, a quarter, a year or custom dates."
    if ends_on < starts_on:
        errors["ends_on"] = "The period must end on or after the day it starts."
    elif (ends_on - starts_on).days > 3 * 366:
        errors["ends_on"] = "A goal's period is at most three years."
    for owner in owners:
        if not owner.is_active or owner.role not in OWNER_ROLES:
            errors["owners"] = f"{owner} cannot own a goal."
    if errors:
        raise ValidationError(errors)
    return name, amount.quantize(Decimal("0.01"))


def goal_create(
    *,
    actor: User | None,
    name: str,
    metric: str,
    target: Any,
    period_kind: str,
    starts_on: dt.date,
    ends_on: dt.date,
    owners: Sequence[User] = (),
    team: Team | None = None,
) -> Goal:
    name, amount = _checked(
        name=name,
        metric=metric,
        team=team,
        target=target,
        period_kind=period_kind,
        starts_on=starts_on,
        ends_on=ends_on,
        owners=owners,
    )
    now = clock.now()
    with transaction.atomic():
        goal = Goal.objects.create(
            name=name,
            metric=metric,
            team=team,
            target=amount,
            period_kind=period_kind,
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        goal.owners.set(owners)
        after = _described(goal, owners)
        GoalChange.objects.create(goal=goal, action="created", by=actor, at=now, after=after)
        audit_record(actor=actor, action="goal.create", obj=goal, data=after)
    return goal


def goal_update(*, goal: Goal, actor: User | None, changes: dict[str, Any]) -> Goal:
    """Change any of FIELDS; a GoalChange row keeps the fields that changed, before and after.
    Nothing changed: nothing is written."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError({name: "Not a field of a goal." for name in sorted(unknown)})
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal.pk)
        old_owners = list(goal.owners.all())
        before = _described(goal, old_owners)
        merged: dict[str, Any] = {
            "name": goal.name,
            "metric": goal.metric,
            "team": goal.team,
            "target": goal.target,
            "period_kind": goal.period_kind,
            "starts_on": goal.starts_on,
            "ends_on": goal.ends_on,
            "owners": old_owners,
        }
        merged.update(changes)
        name, amount = _checked(**merged)
        goal.name, goal.metric, goal.team = name, merged["metric"], merged["team"]
        goal.target, goal.period_kind = amount, merged["period_kind"]
        goal.starts_on, goal.ends_on = merged["starts_on"], merged["ends_on"]
        owners = list(merged["owners"])
        after = _described(goal, owners)
        changed = [key for key in after if after[key] != before[key]]
        if not changed:
            return goal
        now = clock.now()
        goal.updated_at = now
        goal.save()
        goal.owners.set(owners)
        if {"metric", "team", "starts_on"} & set(changed):
            # What was measured no longer measures this goal.
            goal.snapshots.all().delete()
        GoalChange.objects.create(
            goal=goal,
            action="edited",
            by=actor,
            at=now,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
        audit_record(
            actor=actor,
            action="goal.update",
            obj=goal,
            data={
                "before": {k: before[k] for k in changed},
                "after": {k: after[k] for k in changed},
            },
        )
    return goal


def goal_archive(*, goal: Goal, actor: User | None, archived: bool = True) -> Goal:
    """Archive a goal (out of the lists and the digest, history kept), or restore it."""
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal.pk)
        if goal.archived == archived:
            return goal
        now = clock.now()
        goal.archived = archived
        goal.archived_at = now if archived else None
        goal.updated_at = now
        goal.save(update_fields=["archived", "archived_at", "updated_at"])
        action = "archived" if archived else "restored"
        GoalChange.objects.create(
            goal=goal,
            action=action,
            by=actor,
            at=now,
            before={"archived": not archived},
            after={"archived": archived},
        )
        audit_record(actor=actor, action=f"goal.{action[:-1]}", obj=goal)
    return goal


# The sweep: snapshots and digests -----------------------------------------------------------------


def goal_snapshots_take(*, now: dt.datetime | None = None) -> int:
    """Today's value of every running goal, once a day; and one last value for a goal whose
    period has ended (taken on a day after the end). Returns how many were taken."""
    now = now or clock.now()
    on = today(now)
    after_end = GoalSnapshot.objects.filter(goal=OuterRef("pk"), on__gt=OuterRef("ends_on"))
    due = (
        Goal.objects.filter(archived=False, starts_on__lte=on)
        .exclude(snapshots__on=on)
        .filter(Q(ends_on__gte=on) | ~Exists(after_end))
        .order_by("pk")
    )
    taken = 0
    for goal in due:
        if goal_metric(goal) is None:
            continue
        value = goal_measure(goal=goal, now=now).value
        try:
            with transaction.atomic():
                GoalSnapshot.objects.create(goal=goal, on=on, value=value, measured_at=now)
        except IntegrityError:
            continue  # another worker took it first
        taken += 1
    return taken


def _user_zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _link(path: str) -> str:
    return (settings.PUBLIC_URL or "http://localhost:8000") + path


def digest_goals(*, on: dt.date) -> QuerySet[Goal]:
    """The goals a digest speaks of: running, or ended in the last week (their final word)."""
    return Goal.objects.filter(
        archived=False, starts_on__lte=on, ends_on__gte=on - dt.timedelta(days=7)
    )


def digest_text(*, user: User, goals: Sequence[tuple[Goal, Progress]], now: dt.datetime) -> str:
    local = now.astimezone(_user_zone(user))
    lines = [
        f"Hello {user.first_name or user.username},",
        "",
        f"Your goals as of {local:%A} {local.day} {local:%B %Y}:",
    ]
    for goal, progress in goals:
        period = period_label(goal.period_kind, goal.starts_on, goal.ends_on)
        team = f", {goal.team}" if goal.team_id else ""
        lines += ["", f"{goal.name} ({period}{team})"]
        share = ""
        if progress.metric.accumulates and progress.target and progress.value is not None:
            share = f" ({progress.value / progress.target:.0%})"
        lines.append(
            f"  {progress.metric.label}: {progress.value_text} of {progress.target_text}{share}"
        )
        pace = progress.pace_words
        if progress.metric.accumulates and progress.state == "running" and progress.expected:
            pace += f": {metrics.format_value(progress.metric, progress.expected)} expected by now"
        lines.append(f"  {pace}.")
        if progress.forecast_words:
            lines.append(f"  {progress.forecast_words}.")
        lines.append(f"  {_link(reverse('web:goal', args=[goal.pk]))}")
    lines += [
        "",
        f"All your goals: {_link(reverse('web:goals'))}?owner={user.pk}",
        "",
        "You get this mail once a week because you own these goals in Leadline.",
    ]
    return "\n".join(lines) + "\n"


def goal_digests_send(*, now: dt.datetime | None = None) -> int:
    """The weekly mail to each owner of a running goal: once per ISO week (from Monday 07:00 in
    their time zone; later in the week if the worker was down then). Returns how many went."""
    now = now or clock.now()
    on = today(now)
    goals = list(digest_goals(on=on).prefetch_related("owners").select_related("team"))
    by_owner: dict[int, list[Goal]] = {}
    owners: dict[int, User] = {}
    for goal in goals:
        for owner in goal.owners.all():
            if owner.is_active and owner.email:
                by_owner.setdefault(owner.pk, []).append(goal)
                owners[owner.pk] = owner
    progress_cache: dict[int, Progress | None] = {}
    sent = 0
    for pk, owned in sorted(by_owner.items()):
        user = owners[pk]
        local = now.astimezone(_user_zone(user))
        if local.weekday() == 0 and local.hour < DIGEST_HOUR:
            continue
        week = local.date() - dt.timedelta(days=local.weekday())
        if GoalDigest.objects.filter(user=user, week=week).exists():
            continue
        rows: list[tuple[Goal, Progress]] = []
        for goal in sorted(owned, key=lambda g: (g.ends_on, g.name, g.pk)):
            if goal.pk not in progress_cache:
                progress_cache[goal.pk] = goal_progress(goal=goal, now=now)
            found = progress_cache[goal.pk]
            if found is not None:
                rows.append((goal, found))
        if not rows:
            continue
        said = [
            {
                "goal": g.pk,
                "value": p.value,
                "target": p.target,
                "pace": p.pace_words,
                "forecast": p.forecast,
            }
            for g, p in rows
        ]
        try:
            with transaction.atomic():
                digest = GoalDigest.objects.create(user=user, week=week, sent_at=now, goals=said)
                mail = mail_send(
                    to=[user.email],
                    subject=f"Your goals this week: {len(rows)} goal{_s(len(rows))}",
                    text=digest_text(user=user, goals=rows, now=now),
                    reason="goals.digest",
                    user=user,
                    subject_ref=f"goal_digest:{week.isoformat()}",
                )
                digest.mail_id = mail.pk
                digest.save(update_fields=["mail_id"])
        except IntegrityError:
            continue  # another worker sent it
        sent += 1
    return sent


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def goals_sweep() -> None:
    """The worker's periodic job: today's snapshots, then the weekly digests."""
    goal_snapshots_take()
    goal_digests_send()
