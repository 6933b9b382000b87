"""The SLA board's reads: how well the team answers inbound requests, week by week.

In the managers' words:
- A request counts once routing gave it a first-touch deadline. Its week is the week of that
  deadline (weeks start on Monday, in the viewer's time zone).
- Within deadline: first touched at or before the deadline. A breach: touched after it, or not
  touched yet while the deadline has passed. Not touched and not due yet: pending, left out of
  the share until it is decided.
- Time to first touch counts only the owning team's open hours (nights, weekends and holidays
  do not count), from when the request came in: the same clock the deadline runs on. Only
  requests that have been touched have one; untouched ones show up as breaches.
- A breach is charged to the rep who held the request at its deadline: the latest assignment
  at or before it, else (routed only after the deadline had passed) the current owner.
- Waiting past due: open, untouched requests whose deadline has passed, whatever their week.

Percentiles interpolate linearly between neighbours (NumPy's default): the p90 of 1, 2, 3 and
4 hours is 3.7 hours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import F, Q, QuerySet

from leadline.capture.models import RequestStatus
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import Assignment, RequestRouting
from leadline.routing.services import team_hours

DEFAULT_WEEKS = 12
MIN_WEEKS = 4
MAX_WEEKS = 52
TOP_GROUPS = 5
OTHERS = "Others"
NOBODY = "Nobody (no owner)"

WEEKLY_COLUMNS = (
    "requests",
    "within",
    "breaches",
    "pending",
    "touched",
    "share_within",
    "median_hours",
    "p90_hours",
)

_ROUTING_FIELDS = {
    "request_id": "request_id",
    "team_id": "team_id",
    "owner_id": "owner_id",
    "owner__username": "owner_username",
    "owner__first_name": "owner_first_name",
    "owner__last_name": "owner_last_name",
    "first_touch_due": "due",
    "first_touched_at": "touched_at",
    "request__created_at": "created_at",
    "request__status": "status",
    "request__source": "source",
    "request__utm_source": "utm_source",
    "request__form__name": "form_name",
}
_ASSIGNMENT_FIELDS = {
    "id": "id",
    "request_id": "request_id",
    "at": "at",
    "owner_id": "owner_id",
    "owner__username": "owner_username",
    "owner__first_name": "owner_first_name",
    "owner__last_name": "owner_last_name",
}


@dataclasses.dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class Headline:
    """The whole period in a few numbers."""

    within: int
    breaches: int
    pending: int
    touched: int
    share_within: float | None  # percent of decided requests (within + breaches)
    median_hours: float | None  # business hours to first touch
    p90_hours: float | None
    waiting_past_due: int  # right now, whatever the week of the deadline

    @property
    def decided(self) -> int:
        return self.within + self.breaches


@dataclasses.dataclass(frozen=True)
class SlaBoard:
    """Weekly figures, indexed by the Monday that starts each week (oldest first).

    `weekly` has the WEEKLY_COLUMNS (share in percent, times in business hours, NaN where a week
    has nothing to measure); `breaches_by_rep` and `breaches_by_source` have one column per
    group, biggest first and "Others" last, counting breaches.
    """

    start: dt.datetime
    end: dt.datetime  # exclusive: the Monday after the current week
    now: dt.datetime
    weeks: list[dt.date]
    team_id: int | None
    headline: Headline
    weekly: pd.DataFrame
    breaches_by_rep: pd.DataFrame
    breaches_by_source: pd.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.headline.decided + self.headline.pending == 0


def sla_teams() -> list[TeamChoice]:
    """The teams the board can be narrowed to, by name."""
    return [
        TeamChoice(id=pk, name=name)
        for pk, name in Team.objects.order_by("name", "pk").values_list("pk", "name")
    ]


def sla_default_team(*, user: User) -> int | None:
    """A sales manager starts on their own team (the one they are in, else one they manage);
    everyone else on all teams (None)."""
    if user.role != Role.SALES_MANAGER:
        return None
    if user.team_id is not None:
        return user.team_id
    return Team.objects.filter(manager=user).order_by("pk").values_list("pk", flat=True).first()


def sla_window(
    *, weeks: int, now: dt.datetime, tz: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime, list[dt.date]]:
    """[start, end) covering `weeks` whole weeks in `tz`, the last one the current week."""
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be {MIN_WEEKS} to {MAX_WEEKS}, got {weeks}")
    today = now.astimezone(tz).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    start = dt.datetime.combine(mondays[0], dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(this_monday + dt.timedelta(weeks=1), dt.time(0), tzinfo=tz)
    return start, end.astimezone(dt.UTC), mondays


def sla_board(
    *, weeks: int = DEFAULT_WEEKS, team_id: int | None = None, tz: dt.tzinfo = dt.UTC
) -> SlaBoard:
    """The board for the last `weeks` weeks (the current one included), for one team or all."""
    now = clock.now()
    start, end, mondays = sla_window(weeks=weeks, now=now, tz=tz)
    routings = RequestRouting.objects.filter(first_touch_due__isnull=False)
    if team_id is not None:
        routings = routings.filter(team_id=team_id)

    in_period = Q(first_touch_due__gte=start, first_touch_due__lt=end)
    # Older requests only matter while they are still waiting: one query brings both.
    still_waiting = Q(
        first_touch_due__lt=start, first_touched_at__isnull=True, request__status=RequestStatus.OPEN
    )
    frame = _frame(
        routings.filter(in_period | still_waiting).values(*_ROUTING_FIELDS), _ROUTING_FIELDS
    )
    for column in ("due", "touched_at", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)

    now_ts = pd.Timestamp(now)
    touched = frame["touched_at"].notna()
    frame["touched"] = touched
    frame["within"] = touched & (frame["touched_at"] <= frame["due"])
    frame["breach"] = (touched & (frame["touched_at"] > frame["due"])) | (
        ~touched & (frame["due"] < now_ts)
    )
    frame["pending"] = ~touched & (frame["due"] >= now_ts)
    waiting_past_due = int(
        (~touched & (frame["due"] < now_ts) & (frame["status"] == RequestStatus.OPEN)).sum()
    )

    period = frame[(frame["due"] >= pd.Timestamp(start)) & (frame["due"] < pd.Timestamp(end))]
    period = period.assign(
        week=_week_of(period["due"], tz=tz),
        hours=_hours_to_first_touch(period),
    )
    breaches = period[period["breach"]]
    reps = _rep_at_deadline(breaches, routings=routings, start=start, end=end)
    return SlaBoard(
        start=start,
        end=end,
        now=now,
        weeks=mondays,
        team_id=team_id,
        headline=_headline(period, waiting_past_due=waiting_past_due),
        weekly=_weekly(period, mondays),
        breaches_by_rep=_stacked(breaches.assign(group=reps), mondays, last=[NOBODY]),
        breaches_by_source=_stacked(breaches.assign(group=_source(breaches)), mondays),
    )


def _frame(rows: QuerySet[Any, dict[str, Any]], fields: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(fields)).rename(columns=fields)


def _week_of(due: pd.Series, *, tz: dt.tzinfo) -> pd.Series:
    """The Monday (a date) starting the week of each moment, on the wall clock of `tz`."""
    local = due.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    monday = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
    return pd.Series([moment.date() for moment in monday], index=due.index, dtype=object)


def _hours_to_first_touch(period: pd.DataFrame) -> pd.Series:
    """Business hours of the owning team from receipt to first touch; NaN when not touched."""
    touched = period[period["touched"]]
    team_ids = {int(pk) for pk in touched["team_id"].dropna().unique()}
    hours: dict[int | None, WorkingHours] = {None: team_hours(None)}
    for team in Team.objects.filter(pk__in=team_ids):
        hours[team.pk] = team_hours_or_default(team)
    values = [
        business_hours(
            hours[None if pd.isna(team) else int(team)],
            start=created.to_pydatetime(),
            end=touched_at.to_pydatetime(),
        )
        for team, created, touched_at in zip(
            touched["team_id"], touched["created_at"], touched["touched_at"], strict=True
        )
    ]
    return pd.Series(values, index=touched.index, dtype=float).reindex(period.index)


def team_hours_or_default(team: Team) -> WorkingHours:
    # Hours are typed by people; routing refuses bad ones, so only an old row can have them.
    try:
        return team_hours(team)
    except ValueError:
        return team_hours(None)


def business_hours(hours: WorkingHours, *, start: dt.datetime, end: dt.datetime) -> float:
    # A touch recorded before the request arrived (a back-dated note) took no time.
    if end <= start:
        return 0.0
    return hours.business_time_between(start, end).total_seconds() / 3600


def _quantile(values: pd.Series, q: float) -> float | None:
    clean = values.dropna()
    if clean.empty:
        return None
    return float(np.percentile(clean.to_numpy(dtype=float), q * 100))


def _headline(period: pd.DataFrame, *, waiting_past_due: int) -> Headline:
    within, breaches = int(period["within"].sum()), int(period["breach"].sum())
    decided = within + breaches
    return Headline(
        within=within,
        breaches=breaches,
        pending=int(period["pending"].sum()),
        touched=int(period["touched"].sum()),
        share_within=100 * within / decided if decided else None,
        median_hours=_quantile(period["hours"], 0.5),
        p90_hours=_quantile(period["hours"], 0.9),
        waiting_past_due=waiting_past_due,
    )


def _weekly(period: pd.DataFrame, mondays: list[dt.date]) -> pd.DataFrame:
    index = pd.Index(mondays, name="week", dtype=object)
    grouped = period.groupby("week")
    counts = pd.DataFrame(
        {
            "requests": grouped.size(),
            "within": grouped["within"].sum(),
            "breaches": grouped["breach"].sum(),
            "pending": grouped["pending"].sum(),
            "touched": grouped["touched"].sum(),
        }
    )
    weekly = counts.reindex(index, fill_value=0).astype(int)
    decided = weekly["within"] + weekly["breaches"]
    weekly["share_within"] = (100 * weekly["within"] / decided.where(decided > 0)).astype(float)
    hours = period.groupby("week")["hours"]
    weekly["median_hours"] = hours.quantile(0.5).reindex(index).astype(float)
    weekly["p90_hours"] = hours.quantile(0.9).reindex(index).astype(float)
    return weekly[list(WEEKLY_COLUMNS)]


def _display_name(frame: pd.DataFrame) -> pd.Series:
    """As User.__str__ reads: the full name, else the user name; nobody when there is no owner."""
    full = frame["owner_first_name"].fillna("") + " " + frame["owner_last_name"].fillna("")
    full = full.str.strip()
    name = full.where(full != "", frame["owner_username"].fillna(""))
    return name.where(frame["owner_id"].notna(), NOBODY)


def _rep_at_deadline(
    breaches: pd.DataFrame,
    *,
    routings: QuerySet[RequestRouting],
    start: dt.datetime,
    end: dt.datetime,
) -> pd.Series:
    """The name of the owner each breached request had at its deadline."""
    if breaches.empty:
        return pd.Series([], index=breaches.index, dtype=object)
    breached = routings.filter(first_touch_due__gte=start, first_touch_due__lt=end).filter(
        Q(first_touched_at__isnull=True) | Q(first_touched_at__gt=F("first_touch_due"))
    )
    history = _frame(
        Assignment.objects.filter(
            request__in=breached.values("request_id"),
            at__lte=F("request__routing__first_touch_due"),
        )
        .order_by("request_id", "at", "id")
        .values(*_ASSIGNMENT_FIELDS),
        _ASSIGNMENT_FIELDS,
    )
    # The rows are in order, so the last one per request is who held it at the deadline.
    at_deadline = history.drop_duplicates("request_id", keep="last").set_index("request_id")
    current = breaches.set_index("request_id")
    held = at_deadline.reindex(current.index)
    has_history = held["owner_id"].notna() | held["at"].notna()
    owner_columns = ["owner_id", "owner_username", "owner_first_name", "owner_last_name"]
    chosen = held[owner_columns].where(has_history, current[owner_columns], axis=0)
    names = _unique_names(chosen)
    return pd.Series(names.to_numpy(), index=breaches.index, dtype=object)


def _unique_names(owners: pd.DataFrame) -> pd.Series:
    """Display names; two different people with the same name get their user names added."""
    names = _display_name(owners)
    ids_per_name = owners.assign(name=names).groupby("name")["owner_id"].nunique()
    shared = names.isin(ids_per_name[ids_per_name > 1].index)
    return names.where(~shared, names + " (" + owners["owner_username"].fillna("") + ")")


def _source(frame: pd.DataFrame) -> pd.Series:
    """The UTM source when set, else the form's name, else how the request came in."""
    utm = frame["utm_source"].fillna("").str.strip()
    form = frame["form_name"].fillna("").str.strip()
    source = frame["source"].fillna("").str.strip()
    chosen = utm.where(utm != "", form.where(form != "", source))
    return chosen.where(chosen != "", "Unknown")


def _stacked(
    frame: pd.DataFrame, mondays: list[dt.date], *, last: list[str] | None = None
) -> pd.DataFrame:
    """Counts per week and group: the biggest TOP_GROUPS groups, the rest as "Others"."""
    index = pd.Index(mondays, name="week", dtype=object)
    if frame.empty:
        return pd.DataFrame(index=index, dtype=int)
    totals = frame.groupby("group").size()
    # Biggest first; ties by name, so the order does not depend on the database.
    ranked = sorted(totals.items(), key=lambda item: (-int(item[1]), str(item[0]).casefold()))
    order = [str(name) for name, _ in ranked]
    if len(order) > TOP_GROUPS + 1:
        keep = order[:TOP_GROUPS]
        groups = frame["group"].where(frame["group"].isin(keep), OTHERS)
        order = [*keep, OTHERS]
    else:
        groups = frame["group"]
    counts = (
        frame.assign(group=groups)
        .groupby(["week", "group"])
        .size()
        .unstack("group", fill_value=0)
        .reindex(index=index, columns=order, fill_value=0)
        .astype(int)
    )
    counts.columns.name = None
    # "Nobody" is not a rep to rank with the others: it goes last, before "Others".
    moved = [name for name in (last or []) if name in counts.columns and name != OTHERS]
    if moved:
        rest = [c for c in counts.columns if c not in moved and c != OTHERS]
        tail = [OTHERS] if OTHERS in counts.columns else []
        counts = counts[[*rest, *moved, *tail]]
    return counts
