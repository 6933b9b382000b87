"""Goals (/goals/): the current goals with their progress, pace and forecast; one goal's page
with its curve, its history and the earlier periods; the forms to set and change one.

Thin: reads and writes through `insight.goals`; the plot is drawn by `web.goal_plots`
(imported when a goal's page is drawn: matplotlib takes a second to load).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core import clock
from leadline.core.models import Team, User
from leadline.core.permissions import access_goal_edit, access_goals
from leadline.insight import goals as goal_service
from leadline.insight import metrics
from leadline.insight.models import Goal, PeriodKind
from leadline.web.access import page

PRESETS = {
    "this_month": ("This month", PeriodKind.MONTH, 0),
    "next_month": ("Next month", PeriodKind.MONTH, 1),
    "this_quarter": ("This quarter", PeriodKind.QUARTER, 0),
    "next_quarter": ("Next quarter", PeriodKind.QUARTER, 1),
    "this_year": ("This year", PeriodKind.YEAR, 0),
    "custom": ("Custom dates", PeriodKind.CUSTOM, 0),
}


def _metric_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (report, [(m.key, m.label) for m in found]) for report, found in metrics.metric_groups()
    ]


class OwnerChoice(forms.ModelMultipleChoiceField[User]):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.get_role_display()})"


class GoalForm(forms.Form):
    name = forms.CharField(
        max_length=200, help_text="In your words, e.g. “Accepted leads, Q4”", label="Name"
    )
    metric = forms.ChoiceField(label="Metric", choices=_metric_choices)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="All teams",
        label="Team",
        help_text="Count only this team’s work (not every metric splits by team)",
    )
    target = forms.DecimalField(
        label="Target",
        max_digits=14,
        decimal_places=2,
        help_text="A number; a share in percent (95), a time in business hours (1.5)",
    )
    preset = forms.ChoiceField(
        label="Period",
        choices=[(key, label) for key, (label, _, _) in PRESETS.items()],
        initial="this_quarter",
    )
    starts_on = forms.DateField(
        label="First day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="For custom dates",
    )
    ends_on = forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included",
    )
    owners = OwnerChoice(
        queryset=goal_service.owner_choices(),
        required=False,
        label="Owners",
        help_text="They get the weekly digest",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        preset = data.get("preset")
        if preset and preset != "custom":
            _, kind, offset = PRESETS[preset]
            data["period_kind"] = kind
            data["starts_on"], data["ends_on"] = goal_service.period_preset(
                kind, on=goal_service.today(), offset=offset
            )
        elif preset == "custom":
            data["period_kind"] = PeriodKind.CUSTOM
            if not data.get("starts_on") and "starts_on" not in self.errors:
                self.add_error("starts_on", "Give the first day of the period.")
            if not data.get("ends_on") and "ends_on" not in self.errors:
                self.add_error("ends_on", "Give the last day of the period.")
        return data


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field
            if field == "period_kind":
                target = "preset"
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _preset_of(goal: Goal) -> str:
    for key, (_, kind, offset) in PRESETS.items():
        if kind == goal.period_kind and kind != PeriodKind.CUSTOM:
            first = goal_service.period_preset(kind, on=goal_service.today(), offset=offset)
            if first == (goal.starts_on, goal.ends_on):
                return key
    return "custom"


# The list -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    goal: Goal
    metric: metrics.Metric | None
    progress: goal_service.Progress | None
    period: str


def _rows(found: list[Goal]) -> list[Row]:
    now = clock.now()
    return [
        Row(
            goal=goal,
            metric=goal_service.goal_metric(goal),
            progress=goal_service.goal_progress(goal=goal, now=now),
            period=goal_service.period_label(goal.period_kind, goal.starts_on, goal.ends_on),
        )
        for goal in found
    ]


def _int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@require_GET
@page(access_goals)
def goals_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    period = request.GET.get("period", "current")
    if period not in goal_service.PERIODS:
        period = "current"
    team_id = _int_or_none(request.GET.get("team"))
    raw_owner = request.GET.get("owner", "")
    owner_id = user.pk if raw_owner == "me" else _int_or_none(raw_owner)
    archived = request.GET.get("archived") == "1"
    found = list(
        goal_service.goals_query(
            period=period, team_id=team_id, owner_id=owner_id, archived=archived
        )[:200]
    )
    return render(
        request,
        "web/goal_list.html",
        {
            "nav": "goals",
            "rows": _rows(found),
            "periods": goal_service.PERIODS,
            "period": period,
            "teams": Team.objects.order_by("name"),
            "team_id": team_id,
            "owners": goal_service.owner_choices(),
            "owner_id": owner_id,
            "archived": archived,
            "may_edit": access_goal_edit(user),
        },
    )


# One goal -----------------------------------------------------------------------------------------


@require_GET
@page(access_goals)
def goal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from leadline.web import goal_plots

    user = request.user
    assert isinstance(user, User)
    goal = get_object_or_404(Goal.objects.select_related("team", "created_by"), pk=pk)
    [row] = _rows([goal])
    snapshots = list(goal.snapshots.order_by("on"))
    past = [
        (
            other,
            goal_service.period_label(other.period_kind, other.starts_on, other.ends_on),
            goal_service.goal_final_value(other),
        )
        for other in goal_service.goal_past_periods(goal)
    ]
    chart = (
        goal_plots.goal_chart(goal=goal, progress=row.progress, snapshots=snapshots)
        if row.progress is not None
        else None
    )
    return render(
        request,
        "web/goal_detail.html",
        {
            "nav": "goals",
            "goal": goal,
            "row": row,
            "chart": chart,
            "changes": [
                (change, _change_fields(change))
                for change in goal.changes.select_related("by")[:100]
            ],
            "past": [
                (other, label, metrics.format_value(row.metric, value) if row.metric else "–")
                for other, label, value in past
            ],
            "owners": list(goal.owners.order_by("first_name", "username")),
            "may_edit": access_goal_edit(user),
        },
    )


FIELD_LABELS = {
    "name": "Name",
    "metric": "Metric",
    "team": "Team",
    "target": "Target",
    "period_kind": "Period",
    "starts_on": "First day",
    "ends_on": "Last day",
    "owners": "Owners",
}


def _field_text(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "–"
    if key == "metric":
        found = metrics.metric_get(str(value))
        return found.label if found else str(value)
    if key == "period_kind":
        return str(PeriodKind(value).label) if value in PeriodKind.values else str(value)
    if key == "team" and value is None:
        return "All teams"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _change_fields(change: Any) -> list[tuple[str, str, str]]:
    """(label, before, after) per field the change touched, in the form's order."""
    if change.action not in ("created", "edited"):
        return []
    return [
        (label, _field_text(key, change.before.get(key)), _field_text(key, change.after[key]))
        for key, label in FIELD_LABELS.items()
        if key in change.after
    ]


def _save_fields(form: GoalForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "metric": data["metric"],
        "team": data.get("team"),
        "target": data["target"],
        "period_kind": data["period_kind"],
        "starts_on": data["starts_on"],
        "ends_on": data["ends_on"],
        "owners": list(data.get("owners") or []),
    }


@require_http_methods(["GET", "POST"])
@page(access_goal_edit)
def goal_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    initial: dict[str, Any] = {"preset": "this_quarter", "owners": [user.pk]}
    if request.GET.get("metric") in metrics.METRICS:
        initial["metric"] = request.GET["metric"]
    form = GoalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            goal = goal_service.goal_create(actor=user, **_save_fields(form))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"The goal “{goal.name}” is set.")
            return redirect("web:goal", pk=goal.pk)
    return render(
        request,
        "web/goal_form.html",
        {"nav": "goals", "form": form, "goal": None},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@page(access_goal_edit)
def goal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    goal = get_object_or_404(Goal, pk=pk)
    initial = {
        "name": goal.name,
        "metric": goal.metric,
        "team": goal.team_id,
        "target": goal.target,
        "preset": _preset_of(goal),
        "starts_on": goal.starts_on,
        "ends_on": goal.ends_on,
        "owners": [u.pk for u in goal.owners.all()],
    }
    form = GoalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            goal_service.goal_update(goal=goal, actor=user, changes=_save_fields(form))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"“{goal.name}” is saved.")
            return redirect("web:goal", pk=goal.pk)
    return render(
        request,
        "web/goal_form.html",
        {"nav": "goals", "form": form, "goal": goal},
        status=400 if form.errors else 200,
    )


@require_POST
@page(access_goal_edit)
def goal_archive(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    goal = get_object_or_404(Goal, pk=pk)
    restore = request.POST.get("restore") == "1"
    goal_service.goal_archive(goal=goal, actor=user, archived=not restore)
    messages.success(request, f"“{goal.name}” is {'back in the list' if restore else 'archived'}.")
    return redirect("web:goal", pk=goal.pk)


urlpatterns: list[URLPattern] = [
    path("goals/", goals_list, name="goals"),
    path("goals/new/", goal_new, name="goal_new"),
    path("goals/<int:pk>/", goal_detail, name="goal"),
    path("goals/<int:pk>/edit/", goal_edit, name="goal_edit"),
    path("goals/<int:pk>/archive/", goal_archive, name="goal_archive"),
]
