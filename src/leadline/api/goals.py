"""The API for goals: the metrics a goal can be set on, the goals with their progress (value,
pace, forecast), one goal with its history and snapshots, and setting or changing one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Patch, Strict, field_errors
from leadline.core import clock
from leadline.core.models import Team, User
from leadline.core.permissions import access_goal_edit, access_goals
from leadline.insight import goals as goal_service
from leadline.insight import metrics
from leadline.insight.models import Goal, PeriodKind

router = Router(tags=["Goals"])


class MetricOut(Schema):
    key: str
    label: str
    report: str
    unit: str = Field(description="count | money | percent | hours | score")
    higher_is_better: bool
    accumulates: bool = Field(description="True: a count or sum; False: a rate or a level")
    per_team: bool
    description: str


class ProgressOut(Schema):
    value: float | None
    target: float
    state: str = Field(description="upcoming | running | ended")
    elapsed: float = Field(description="Share of the period gone, 0 to 1")
    expected: float | None = Field(description="Where the value should be by now")
    pace: float | None = Field(
        description="Signed, positive is good: relative to expected (a count or sum), or value "
        "minus target (a rate)"
    )
    on_pace: bool | None
    pace_words: str
    forecast: float | None
    forecast_low: float | None
    forecast_high: float | None
    forecast_words: str


class GoalOut(Schema):
    id: int
    name: str
    metric: str
    metric_label: str | None
    team_id: int | None
    target: Decimal
    period_kind: str
    starts_on: dt.date
    ends_on: dt.date
    owners: list[int]
    archived: bool
    created_at: dt.datetime
    progress: ProgressOut | None


class ChangeOut(Schema):
    action: str
    by_id: int | None
    at: dt.datetime
    before: dict[str, Any]
    after: dict[str, Any]


class SnapshotOut(Schema):
    on: dt.date
    value: float | None


class GoalDetailOut(GoalOut):
    changes: list[ChangeOut]
    snapshots: list[SnapshotOut]


class GoalsQuery(Schema):
    period: Literal["current", "upcoming", "past", "all"] = "current"
    team_id: int | None = None
    owner_id: int | None = None
    archived: bool = False


class GoalIn(Strict):
    name: str = Field(max_length=200)
    metric: str = Field(description="A key from GET /goals/metrics")
    target: Decimal = Field(description="In the metric's unit (percent as 95, hours as 1.5)")
    period_kind: PeriodKind = PeriodKind.CUSTOM
    starts_on: dt.date
    ends_on: dt.date = Field(description="The last day, included")
    team_id: int | None = None
    owner_ids: list[int] = Field(default_factory=list)


class GoalPatch(Patch):
    nullable = frozenset({"team_id"})

    name: str | None = Field(None, max_length=200)
    metric: str | None = None
    target: Decimal | None = None
    period_kind: PeriodKind | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    team_id: int | None = None
    owner_ids: list[int] | None = None


def _progress(goal: Goal, now: dt.datetime) -> ProgressOut | None:
    found = goal_service.goal_progress(goal=goal, now=now)
    if found is None:
        return None
    return ProgressOut(
        value=found.value,
        target=found.target,
        state=found.state,
        elapsed=found.elapsed,
        expected=found.expected,
        pace=found.pace,
        on_pace=found.on_pace,
        pace_words=found.pace_words,
        forecast=found.forecast,
        forecast_low=found.forecast_low,
        forecast_high=found.forecast_high,
        forecast_words=found.forecast_words,
    )


def _out(goal: Goal, now: dt.datetime) -> dict[str, Any]:
    metric = metrics.metric_get(goal.metric)
    return {
        "id": goal.pk,
        "name": goal.name,
        "metric": goal.metric,
        "metric_label": metric.label if metric else None,
        "team_id": goal.team_id,
        "target": goal.target,
        "period_kind": goal.period_kind,
        "starts_on": goal.starts_on,
        "ends_on": goal.ends_on,
        "owners": sorted(u.pk for u in goal.owners.all()),
        "archived": goal.archived,
        "created_at": goal.created_at,
        "progress": _progress(goal, now),
    }


def _detail(goal: Goal) -> dict[str, Any]:
    out = _out(goal, clock.now())
    out["changes"] = [
        {"action": c.action, "by_id": c.by_id, "at": c.at, "before": c.before, "after": c.after}
        for c in goal.changes.all()
    ]
    out["snapshots"] = [{"on": s.on, "value": s.value} for s in goal.snapshots.order_by("on")]
    return out


def _team(team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise field_errors(DjangoValidationError({"team_id": "There is no such team."}))
    return team


def _owners(ids: list[int]) -> list[User]:
    found = list(User.objects.filter(pk__in=set(ids)))
    if len(found) != len(set(ids)):
        raise field_errors(DjangoValidationError({"owner_ids": "There is no such user."}))
    return found


RENAME = {"team": "team_id", "owners": "owner_ids"}


@router.get("/metrics", response={200: list[MetricOut], **REFUSALS}, summary="Metrics")
@rule(access_goals)
def metrics_list(request: HttpRequest) -> list[MetricOut]:
    """Every metric a goal can be set on, grouped by the report it comes from."""
    require(request, access_goals)
    return [
        MetricOut(
            key=m.key,
            label=m.label,
            report=m.report,
            unit=m.unit,
            higher_is_better=m.higher_is_better,
            accumulates=m.accumulates,
            per_team=m.per_team,
            description=m.description,
        )
        for m in metrics.METRICS.values()
    ]


@router.get("", response={200: list[GoalOut], **REFUSALS}, summary="Goals with their progress")
@rule(access_goals)
def goals_list(request: HttpRequest, query: Query[GoalsQuery]) -> list[dict[str, Any]]:
    """Goals of a period (`current`: running today), with their progress now. At most 200."""
    require(request, access_goals)
    now = clock.now()
    found = goal_service.goals_query(
        period=query.period,
        team_id=query.team_id,
        owner_id=query.owner_id,
        archived=query.archived,
    )[:200]
    return [_out(goal, now) for goal in found]


@router.get(
    "/{goal_id}", response={200: GoalDetailOut, 404: ErrorOut, **REFUSALS}, summary="One goal"
)
@rule(access_goals)
def goal_detail(request: HttpRequest, goal_id: int) -> dict[str, Any]:
    """A goal with its progress, its history of changes and the values measured each day."""
    require(request, access_goals)
    return _detail(get_object_or_404(Goal, pk=goal_id))


@router.post("", response={201: GoalDetailOut, **REFUSALS}, summary="Set a goal")
@rule(access_goal_edit)
def goal_create(request: HttpRequest, payload: GoalIn) -> Status[dict[str, Any]]:
    user = require(request, access_goal_edit)
    try:
        goal = goal_service.goal_create(
            actor=user,
            name=payload.name,
            metric=payload.metric,
            target=payload.target,
            period_kind=payload.period_kind,
            starts_on=payload.starts_on,
            ends_on=payload.ends_on,
            team=_team(payload.team_id),
            owners=_owners(payload.owner_ids),
        )
    except DjangoValidationError as exc:
        raise field_errors(exc, rename=RENAME) from None
    return Status(201, _detail(goal))


@router.patch(
    "/{goal_id}", response={200: GoalDetailOut, 404: ErrorOut, **REFUSALS}, summary="Change a goal"
)
@rule(access_goal_edit)
def goal_update(request: HttpRequest, goal_id: int, payload: GoalPatch) -> dict[str, Any]:
    """Only the fields sent change; the goal's history records them, before and after."""
    user = require(request, access_goal_edit)
    goal = get_object_or_404(Goal, pk=goal_id)
    sent = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name in ("name", "metric", "target", "period_kind", "starts_on", "ends_on"):
        if name in sent:
            changes[name] = sent[name]
    if "team_id" in sent:
        changes["team"] = _team(sent["team_id"])
    if "owner_ids" in sent:
        changes["owners"] = _owners(sent["owner_ids"])
    if not changes:
        raise HttpError(422, "send at least one field to change")
    try:
        goal = goal_service.goal_update(goal=goal, actor=user, changes=changes)
    except DjangoValidationError as exc:
        raise field_errors(exc, rename=RENAME) from None
    return _detail(goal)
