"""Reports too big to compute while someone waits: computed by the worker, shown as of a moment.

Decision 15. The SLA board, the journey report, attribution and what makes deals win each read
the whole history. On a small database a page computes its report on every request (fresh, as
before). Once the database holds more people than the report's `INLINE_MAX_PEOPLE`, the page
shows the report's snapshot instead: the full computation's result, run by the worker, with the
moment it is as of. A page that finds its snapshot older than `max_age()` (or missing, or made
before a change the page knows of) asks for a refresh and goes on showing the old one, saying
so; a missing one shows the refresh's progress until it is there. A request never runs the
full computation itself, and one refresh per report and parameters runs at a time.

The figures are the full computation's, never an approximation: `compute()` is what both paths
call (tests/insight/test_snapshots.py compares them).

Reads: `shown()`. Writes: `snapshot_request()` (a page asks), `snapshot_refresh()` (the worker
computes), `snapshots_rebuild()` (compute the default snapshots now: for the bulk generator,
after a load, and for repair).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle  # our own rows, written only by snapshot_refresh below
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Person
from leadline.insight.models import ReportSnapshot, SnapshotStatus

Progress = Callable[[str, float], None]

SLA = "sla"
JOURNEY = "journey"
ATTRIBUTION = "attribution"
WINNING = "winning"

# Above this many people the page shows the worker's snapshot; at or below it, it computes on
# each request. Measured on PostgreSQL (bench/reports.py, 100,400 people): the SLA board took
# 0.6 s for one team over 12 weeks and 2.8 s for all teams over 52; the journey report 57 s;
# attribution over a year 6.3 s; what makes deals win 0.35 s.
INLINE_MAX_PEOPLE: dict[str, int] = {
    SLA: 20_000,
    JOURNEY: 2_000,
    ATTRIBUTION: 20_000,
    WINNING: 200_000,
}
# A refresh asked for longer ago than this and not finished is taken for dead (a worker that
# stopped) and asked for again.
STUCK_AFTER = dt.timedelta(hours=2)
PROGRESS_EVERY_S = 1.0


def max_age() -> dt.timedelta:
    """How old a snapshot may be before a page asks for a fresh one (settings, from
    LEADLINE_REPORTS_MAX_AGE_S; 15 minutes)."""
    return dt.timedelta(seconds=int(settings.REPORTS_MAX_AGE_S))


def _inline_limit(report: str) -> int:
    # The settings' REPORTS_INLINE_MAX_PEOPLE, when set, replaces every report's own limit.
    override = settings.REPORTS_INLINE_MAX_PEOPLE
    return int(override) if override is not None else INLINE_MAX_PEOPLE[report]


def is_large(report: str) -> bool:
    """More people than the report computes for while someone waits. Counts at most limit + 1
    rows, so it costs the same on a million people as on a thousand."""
    limit = _inline_limit(report)
    return Person.objects.values("pk")[: limit + 1].count() > limit


# The computations ------------------------------------------------------------------------------


def _sla(params: dict[str, Any], progress: Progress) -> Any:
    from leadline.insight import sla

    progress("Reading the deadlines", 0.0)
    return sla.sla_board(
        weeks=int(params["weeks"]), team_id=params.get("team"), tz=ZoneInfo(params["tz"])
    )


def _journey(params: dict[str, Any], progress: Progress) -> Any:
    from leadline.insight import transitions
    from leadline.journeys.models import Journey

    journey = Journey.objects.get(pk=params["journey"])
    return transitions.journey_transitions(
        journey, horizon_days=int(params["horizon"]), progress=progress
    )


def _attribution(params: dict[str, Any], progress: Progress) -> Any:
    from leadline.insight.touches import attribution_report

    progress("Reading the touches", 0.0)
    return attribution_report(
        since=dt.datetime.fromisoformat(params["since"]),
        until=dt.datetime.fromisoformat(params["until"]),
    )


def _winning(params: dict[str, Any], progress: Progress) -> Any:
    from leadline.insight import transitions

    progress("Reading the deals", 0.0)
    return transitions.win_drivers()


COMPUTE: dict[str, Callable[[dict[str, Any], Progress], Any]] = {
    SLA: _sla,
    JOURNEY: _journey,
    ATTRIBUTION: _attribution,
    WINNING: _winning,
}


def compute(report: str, params: dict[str, Any], progress: Progress | None = None) -> Any:
    """The full computation of a report: what a small database's page shows and what a
    snapshot holds."""
    return COMPUTE[report](params, progress or (lambda stage, share: None))


def key_of(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


# What a page shows -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Shown:
    """A report as a page shows it, and how fresh it is.

    `result` is None while the first snapshot is computed (`stage`, `progress` say how far).
    `as_of` is the moment the figures are as of; `live` when computed for this request.
    `refreshing` when a newer snapshot is on its way; `error` when the last refresh failed.
    """

    report: str
    result: Any
    as_of: dt.datetime | None
    live: bool
    refreshing: bool = False
    stage: str = ""
    progress: float = 0.0
    error: str = ""
    max_age: dt.timedelta = dataclasses.field(default_factory=max_age)

    @property
    def pending(self) -> bool:
        return self.result is None

    @property
    def max_age_minutes(self) -> int:
        return max(1, round(self.max_age.total_seconds() / 60))


def shown(report: str, params: dict[str, Any], *, changed_at: dt.datetime | None = None) -> Shown:
    """The report for a page: computed now on a small database, else its snapshot (asking the
    worker for a fresh one when it is missing, older than `max_age()`, or older than
    `changed_at`, a change the caller knows of)."""
    if not is_large(report):
        now = clock.now()
        return Shown(report=report, result=compute(report, params), as_of=now, live=True)
    age = max_age()
    row = ReportSnapshot.objects.filter(report=report, key=key_of(params)).first()
    now = clock.now()
    fresh = (
        row is not None
        and row.computed_at is not None
        and row.computed_at >= now - age
        and (changed_at is None or row.computed_at >= changed_at)
    )
    refreshing = row is not None and row.status in (SnapshotStatus.QUEUED, SnapshotStatus.RUNNING)
    if not fresh:
        refreshing = snapshot_request(report=report, params=params) or refreshing
    result = None
    if row is not None and row.result is not None:
        result = pickle.loads(bytes(row.result))  # noqa: S301 - written by snapshot_refresh
    return Shown(
        report=report,
        result=result,
        as_of=row.computed_at if row is not None and result is not None else None,
        live=False,
        refreshing=refreshing,
        stage=row.stage if row is not None else "",
        progress=row.progress if row is not None else 0.0,
        error=row.error if row is not None and row.status == SnapshotStatus.FAILED else "",
        max_age=age,
    )


# Writes ----------------------------------------------------------------------------------------


def snapshot_request(*, report: str, params: dict[str, Any]) -> bool:
    """Ask the worker for a fresh snapshot, unless one is already queued or running. True when
    one is on its way."""
    from leadline.insight.tasks import report_snapshot_task

    if report not in COMPUTE:
        raise ValueError(f"no report {report!r}")
    now = clock.now()
    with transaction.atomic():
        row, created = ReportSnapshot.objects.select_for_update().get_or_create(
            report=report,
            key=key_of(params),
            defaults={"params": params, "requested_at": now, "status": SnapshotStatus.QUEUED},
        )
        if not created:
            busy = row.status in (SnapshotStatus.QUEUED, SnapshotStatus.RUNNING)
            if busy and row.requested_at >= now - STUCK_AFTER:
                return True
            # A failed computation is tried again once the snapshot's age allows, not on each
            # page view (a page polling a failure must not queue one every two seconds).
            if row.status == SnapshotStatus.FAILED and row.requested_at >= now - max_age():
                return False
            row.status = SnapshotStatus.QUEUED
            row.requested_at = now
            row.stage, row.progress, row.error = "", 0.0, ""
            row.save(update_fields=["status", "requested_at", "stage", "progress", "error"])
        pk = row.pk
        transaction.on_commit(lambda: report_snapshot_task.enqueue(pk))
    return True


def snapshot_refresh(*, snapshot_id: int) -> None:
    """Compute the snapshot's report from the whole history and store it (the worker's part).
    A failure keeps the last good result and records why."""
    row = ReportSnapshot.objects.filter(pk=snapshot_id).first()
    if row is None:
        return
    as_of = clock.now()  # the computation reads the clock a moment later, to the same minute
    started = time.perf_counter()
    ReportSnapshot.objects.filter(pk=row.pk).update(
        status=SnapshotStatus.RUNNING, started_at=as_of, stage="Starting", progress=0.0
    )
    last_write = [0.0]

    def progress(stage: str, share: float) -> None:
        moment = time.perf_counter()
        if moment - last_write[0] >= PROGRESS_EVERY_S:
            last_write[0] = moment
            ReportSnapshot.objects.filter(pk=row.pk).update(
                stage=stage[:200], progress=max(0.0, min(1.0, share))
            )

    try:
        result = compute(row.report, row.params, progress)
    except Exception as exc:  # the row says why; the old result stays
        ReportSnapshot.objects.filter(pk=row.pk).update(
            status=SnapshotStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    ReportSnapshot.objects.filter(pk=row.pk).update(
        status=SnapshotStatus.DONE,
        stage="Done",
        progress=1.0,
        computed_at=as_of,
        took_s=time.perf_counter() - started,
        result=pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL),
        error="",
    )


def _zone_name(name: str) -> str:
    from leadline.web.access import zone_or_none

    return str(zone_or_none(name) or "UTC")  # as web.access shows the pages


def default_requests(*, tz: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The reports and parameters the pages open on, in the time zones of the people who may
    open them (or in `tz` alone): the SLA board for all teams in each zone and for each team in
    its managers' zones, every journey's report, attribution over the last year in each zone,
    what makes deals win."""
    from django.utils import timezone

    from leadline.core.models import Role, Team, User
    from leadline.insight import sla
    from leadline.journeys.models import Journey

    readers = User.objects.filter(
        is_active=True, role__in=[Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER]
    )
    if tz is not None:
        zones = [tz]
    else:
        found = {_zone_name(name) for name in readers.values_list("time_zone", flat=True)}
        zones = sorted(found) or ["UTC"]
    weeks = sla.DEFAULT_WEEKS
    wanted: list[tuple[str, dict[str, Any]]] = [
        (SLA, sla_params(weeks=weeks, team_id=None, tz=zone)) for zone in zones
    ]
    managers = readers.filter(role=Role.SALES_MANAGER)
    for team in Team.objects.order_by("pk"):
        team_zones = (
            [tz]
            if tz is not None
            else sorted(
                {
                    _zone_name(name)
                    for name in managers.filter(Q(team=team) | Q(pk=team.manager_id)).values_list(
                        "time_zone", flat=True
                    )
                }
            )
        )
        wanted += [(SLA, sla_params(weeks=weeks, team_id=team.pk, tz=z)) for z in team_zones]
    for journey_id in Journey.objects.order_by("pk").values_list("pk", flat=True):
        wanted.append((JOURNEY, journey_params(journey_id=journey_id, horizon=30)))
    for zone in zones:
        today = timezone.localdate(clock.now(), ZoneInfo(zone))
        wanted.append((ATTRIBUTION, attribution_params_for(today=today, tz=zone)))
    wanted.append((WINNING, {}))
    return wanted


def snapshots_rebuild(
    *, progress: Progress | None = None, tz: str | None = None
) -> list[ReportSnapshot]:
    """Compute the snapshots the pages open on, now, in this process (after a bulk load, or
    to repair). Progress as (stage, share of the reports done)."""
    wanted = default_requests(tz=tz)
    done: list[ReportSnapshot] = []
    for index, (report, params) in enumerate(wanted):
        if progress is not None:
            progress(f"{report} {key_of(params)}", index / len(wanted))
        row, _ = ReportSnapshot.objects.get_or_create(
            report=report, key=key_of(params), defaults={"params": params}
        )
        snapshot_refresh(snapshot_id=row.pk)
        row.refresh_from_db()
        done.append(row)
    if progress is not None:
        progress("Done", 1.0)
    return done


# The parameters of each report, in one place for the pages and the rebuild ---------------------


def sla_params(*, weeks: int, team_id: int | None, tz: str) -> dict[str, Any]:
    return {"weeks": weeks, "team": team_id, "tz": tz}


def journey_params(*, journey_id: int, horizon: int) -> dict[str, Any]:
    return {"journey": journey_id, "horizon": horizon}


def attribution_params(*, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    return {"since": since.isoformat(), "until": until.isoformat()}


def attribution_params_for(*, today: dt.date, tz: str, days: int = 365) -> dict[str, Any]:
    """The attribution page's default period (the last `days` days to today) as moments."""
    zone = ZoneInfo(tz)
    since = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(since, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return attribution_params(since=start, until=end.astimezone(dt.UTC))
