"""Cadences: the list with its numbers, the editor (steps added, reordered, removed with htmx),
enrolling people (by hand, in bulk), taking them out, and "My tasks" (manual steps)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.cadences.models import (
    Cadence,
    CadenceStep,
    Enrolment,
    EnrolmentSource,
    ManualTask,
    Purpose,
    RuleKind,
    StepKind,
    TaskStatus,
)
from leadline.cadences.selectors import (
    cadence_stats,
    cadence_steps,
    cadences_overview,
    enrolment_log,
    enrolment_next,
    enrolments_list,
    manual_tasks_done_recently,
    manual_tasks_open,
    person_cadences,
)
from leadline.cadences.services import (
    MERGE_FIELDS,
    cadence_create,
    cadence_step_add,
    cadence_step_move,
    cadence_step_remove,
    cadence_step_update,
    cadence_update,
    enrolment_create,
    enrolment_stop,
    enrolments_create_bulk,
    manual_task_done,
)
from leadline.calls.models import Outcome
from leadline.capture.models import RequestKind
from leadline.core.models import Person, Role, Team
from leadline.core.permissions import access_cadence_edit, access_cadences
from leadline.engagement.models import Stage
from leadline.journeys.models import JourneyStep
from leadline.web import queries
from leadline.web.access import is_htmx, page, person_in_view
from leadline.web.forms import PeopleFilterForm

STEP_KINDS = [(k.value, k.label) for k in StepKind]
BULK_SHOWN = 200


def _errors(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {
            "general" if name == "__all__" else name: " ".join(texts)
            for name, texts in exc.message_dict.items()
        }
    return {"general": " ".join(exc.messages)}


def _step_values(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "subject": post.get("subject", ""),
        "text": post.get("text", ""),
        "html": post.get("html", ""),
        "title": post.get("title", ""),
        "script": post.get("script", ""),
        "instructions": post.get("instructions", ""),
        "outcome_options": post.getlist("outcome_options"),
        "wait_days": post.get("wait_days", ""),
        "branch_outcomes": post.getlist("branch_outcomes"),
        "branch_to": post.get("branch_to") or None,
    }


def _rule_choices() -> dict[str, list[tuple[str, str]]]:
    steps = JourneyStep.objects.select_related("journey").order_by("journey__name", "position")
    return {
        RuleKind.LIFECYCLE_STAGE: list(Stage.choices),
        RuleKind.REQUEST_KIND: list(RequestKind.choices),
        RuleKind.JOURNEY_STEP: [(str(s.pk), f"{s.journey.name}: {s.name}") for s in steps],
    }


def _editor_context(
    request: HttpRequest,
    cadence: Cadence,
    *,
    new_kind: str = "",
    editing: int | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    focus: str = "",
) -> dict[str, Any]:
    return {
        "cadence": cadence,
        "steps": cadence_steps(cadence=cadence),
        "step_kinds": STEP_KINDS,
        "outcomes": list(Outcome.choices),
        "merge_fields": MERGE_FIELDS,
        "may_edit": access_cadence_edit(request.user),
        "new_kind": new_kind,
        "editing": editing,
        "values": values or {},
        "errors": errors or {},
        "focus": focus,
    }


def _steps_response(request: HttpRequest, cadence: Cadence, **extra: Any) -> HttpResponse:
    if is_htmx(request):
        return render(
            request, "web/_cadence_steps.html", _editor_context(request, cadence, **extra)
        )
    if extra.get("errors"):
        context = _editor_context(request, cadence, **extra)
        context.update(_detail_extra(cadence))
        return render(request, "web/cadence_detail.html", context, status=400)
    return redirect("web:cadence", pk=cadence.pk)


def _detail_extra(cadence: Cadence) -> dict[str, Any]:
    enrolments = list(enrolments_list(cadence=cadence)[:50])
    return {
        "nav": "cadences",
        "stats": cadence_stats(cadence=cadence),
        "enrolments": [(e, enrolment_next(e)) for e in enrolments],
        "purposes": list(Purpose.choices),
        "rule_kinds": list(RuleKind.choices),
        "rule_choices": _rule_choices(),
        "teams": Team.objects.order_by("name"),
    }


# The list and the editor ---------------------------------------------------------------------


@require_GET
@page(access_cadences)
def cadences_list(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "cadences",
        "rows": cadences_overview(),
        "purposes": list(Purpose.choices),
        "may_edit": access_cadence_edit(request.user),
        "open_tasks": manual_tasks_open(user=request.user).count(),  # type: ignore[arg-type]
    }
    return render(request, "web/cadence_list.html", context)


@require_POST
@page(access_cadence_edit)
def cadence_new(request: HttpRequest) -> HttpResponse:
    try:
        cadence = cadence_create(
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            purpose=request.POST.get("purpose", Purpose.SALES),
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        context = {
            "nav": "cadences",
            "rows": cadences_overview(),
            "purposes": list(Purpose.choices),
            "may_edit": True,
            "errors": _errors(exc),
            "values": request.POST,
        }
        return render(request, "web/cadence_list.html", context, status=400)
    messages.success(request, f"Cadence ‘{cadence.name}’ created: now add its steps.")
    return redirect("web:cadence", pk=cadence.pk)


@require_GET
@page(access_cadences)
def cadence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cadence = get_object_or_404(Cadence, pk=pk)
    kind = request.GET.get("add", "")
    context = _editor_context(request, cadence, new_kind=kind if kind in StepKind.values else "")
    context.update(_detail_extra(cadence))
    return render(request, "web/cadence_detail.html", context)


@require_POST
@page(access_cadence_edit)
def cadence_settings(request: HttpRequest, pk: int) -> HttpResponse:
    cadence = get_object_or_404(Cadence, pk=pk)
    post = request.POST
    team_id = post.get("call_team") or ""
    changes = {
        "name": post.get("name", ""),
        "description": post.get("description", ""),
        "purpose": post.get("purpose", ""),
        "is_active": post.get("is_active") == "on",
        "call_team": Team.objects.filter(pk=team_id).first() if team_id.isdigit() else None,
        "rule_kind": post.get("rule_kind", ""),
        "rule_value": post.get(f"rule_value_{post.get('rule_kind', '')}", ""),
    }
    try:
        cadence_update(cadence=cadence, changes=changes, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        cadence.refresh_from_db()
        context = _editor_context(request, cadence)
        context.update(_detail_extra(cadence))
        context["settings_errors"] = _errors(exc)
        return render(request, "web/cadence_detail.html", context, status=400)
    messages.success(request, "Saved.")
    return redirect("web:cadence", pk=cadence.pk)


@require_http_methods(["GET", "POST"])
@page(access_cadence_edit)
def cadence_step_new(request: HttpRequest, pk: int) -> HttpResponse:
    """GET ?kind=…: the form for a new step of that kind. POST: add it."""
    cadence = get_object_or_404(Cadence, pk=pk)
    kind = request.POST.get("kind") or request.GET.get("kind") or ""
    if kind not in StepKind.values:
        return _steps_response(request, cadence)
    if request.method == "GET":
        return _steps_response(request, cadence, new_kind=kind, focus="new")
    values = _step_values(request)
    try:
        step = cadence_step_add(
            cadence=cadence,
            kind=kind,
            values=values,
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        return _steps_response(
            request, cadence, new_kind=kind, values=values, errors=_errors(exc), focus="new"
        )
    return _steps_response(request, cadence, focus=f"step-{step.pk}")


@require_http_methods(["GET", "POST"])
@page(access_cadence_edit)
def cadence_step_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the step's form in place. POST: save it."""
    step = get_object_or_404(CadenceStep.objects.select_related("cadence"), pk=pk)
    cadence = step.cadence
    if request.method == "GET":
        return _steps_response(request, cadence, editing=step.pk, focus=f"edit-{step.pk}")
    values = _step_values(request)
    try:
        cadence_step_update(step=step, values=values, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _steps_response(
            request,
            cadence,
            editing=step.pk,
            values=values,
            errors=_errors(exc),
            focus=f"edit-{step.pk}",
        )
    return _steps_response(request, cadence, focus=f"step-{step.pk}")


@require_POST
@page(access_cadence_edit)
def cadence_step_order(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a step up or down (action=up|down), or remove it (action=remove)."""
    step = get_object_or_404(CadenceStep.objects.select_related("cadence"), pk=pk)
    cadence = step.cadence
    action = request.POST.get("action", "")
    actor = request.user
    if action in ("up", "down"):
        cadence_step_move(step=step, by=-1 if action == "up" else 1, actor=actor)  # type: ignore[arg-type]
        return _steps_response(request, cadence, focus=f"{action}-{step.pk}")
    if action == "remove":
        cadence_step_remove(step=step, actor=actor)  # type: ignore[arg-type]
        return _steps_response(request, cadence, focus="add")
    return _steps_response(request, cadence)


# Enrolling and taking out --------------------------------------------------------------------


def _person_card(request: HttpRequest, person: Person, **extra: Any) -> HttpResponse:
    context = {"person": person, **person_cadences(person=person), **extra}
    return render(request, "web/_person_cadences.html", context)


@require_POST
@page(access_cadences)
def person_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    person = person_in_view(request, pk=pk)
    cadence = Cadence.objects.filter(pk=request.POST.get("cadence") or 0).first()
    error, done = "", ""
    if cadence is None:
        error = "Choose a cadence."
    else:
        try:
            enrolment_create(
                cadence=cadence,
                person=person,
                actor=request.user,  # type: ignore[arg-type]
                source=EnrolmentSource.BY_HAND,
            )
            done = f"Enrolled in ‘{cadence.name}’."
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if is_htmx(request):
        return _person_card(request, person, cadence_error=error, cadence_done=done)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("web:person", pk=person.pk)


@require_POST
@page(access_cadences)
def enrolment_stop_view(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = get_object_or_404(Enrolment.objects.select_related("person", "cadence"), pk=pk)
    stopped = enrolment_stop(
        enrolment=enrolment,
        actor=request.user,  # type: ignore[arg-type]
        detail=request.POST.get("detail", "")[:300],
    )
    done = (
        f"Took them out of ‘{enrolment.cadence.name}’."
        if stopped
        else "They had already left that cadence."
    )
    if request.POST.get("from") == "person":
        if is_htmx(request):
            return _person_card(request, enrolment.person, cadence_done=done)
        messages.success(request, done)
        return redirect("web:person", pk=enrolment.person_id)
    messages.success(request, f"{enrolment.person}: {done}")
    return redirect("web:cadence", pk=enrolment.cadence_id)


@require_GET
@page(access_cadences)
def enrolment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = get_object_or_404(
        Enrolment.objects.select_related("person", "cadence", "current_step", "enrolled_by"),
        pk=pk,
    )
    context = {
        "nav": "cadences",
        "enrolment": enrolment,
        "next": enrolment_next(enrolment),
        "log": enrolment_log(enrolment=enrolment),
    }
    return render(request, "web/cadence_enrolment.html", context)


@require_http_methods(["GET", "POST"])
@page(access_cadences)
def cadence_enrol_bulk(request: HttpRequest) -> HttpResponse:
    """Enrol the people a search of the people list finds (all of them, or those ticked)."""
    source = request.POST if request.method == "POST" else request.GET
    filter_form = PeopleFilterForm(source)
    filters = filter_form.filters()
    found = Person.objects.filter(
        pk__in=queries.people_list(filters, user=request.user).values("pk")
    )
    total = found.count()
    cadences = Cadence.objects.filter(is_active=True).order_by("name")
    context: dict[str, Any] = {
        "nav": "cadences",
        "filters": filters,
        "filter_query": _filter_query(source),
        "total": total,
        "shown": found.order_by("last_name", "first_name", "pk")[:BULK_SHOWN],
        "shown_limit": BULK_SHOWN,
        "cadences": cadences,
        "chosen": source.get("cadence", ""),
    }
    if request.method == "GET":
        return render(request, "web/cadence_enrol.html", context)
    cadence = cadences.filter(pk=source.get("cadence") or 0).first()
    if source.get("scope") == "selected":
        ids = [int(x) for x in source.getlist("person") if x.isdigit()]
        chosen = found.filter(pk__in=ids)
    else:
        chosen = found
    expected = source.get("count", "")
    if cadence is None:
        context["error"] = "Choose a cadence."
    elif not chosen.exists():
        context["error"] = "Nobody is selected."
    elif source.get("scope") != "selected" and expected != str(total):
        context["error"] = (
            f"The search now finds {total} people, not {expected}: check and confirm again."
        )
    if "error" in context:
        return render(request, "web/cadence_enrol.html", context, status=400)
    assert cadence is not None
    try:
        result = enrolments_create_bulk(
            cadence=cadence,
            people=chosen,
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "web/cadence_enrol.html", context, status=400)
    context.update({"cadence": cadence, "result": result})
    return render(request, "web/cadence_enrol_done.html", context)


def _filter_query(source: Any) -> str:
    params = source.copy()
    for name in ("cadence", "scope", "person", "count", "csrfmiddlewaretoken", "page"):
        params.pop(name, None)
    return str(params.urlencode())


# My tasks ------------------------------------------------------------------------------------


@require_GET
@page(access_cadences)
def my_tasks(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "cadence_tasks",
        "tasks": manual_tasks_open(user=request.user),  # type: ignore[arg-type]
        "done": manual_tasks_done_recently(user=request.user),  # type: ignore[arg-type]
    }
    return render(request, "web/cadence_tasks.html", context)


@require_POST
@page(access_cadences)
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    task = get_object_or_404(ManualTask.objects.select_related("person"), pk=pk)
    managers = {Role.ADMIN, Role.SALES_MANAGER}
    if task.assignee_id not in (None, user.pk) and getattr(user, "role", "") not in managers:
        return HttpResponse("This task is someone else's.", status=403)
    error = ""
    if task.status == TaskStatus.OPEN:
        try:
            manual_task_done(task=task, actor=user)  # type: ignore[arg-type]
        except ValidationError as exc:
            error = " ".join(exc.messages)
    task.refresh_from_db()
    if is_htmx(request):
        return render(request, "web/_cadence_task_row.html", {"task": task, "error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Done: {task.title} ({task.person}).")
    return redirect(request.POST.get("next") or reverse("web:cadence_tasks"))


urlpatterns: list[URLPattern] = [
    path("cadences/", cadences_list, name="cadences"),
    path("cadences/new/", cadence_new, name="cadence_new"),
    path("cadences/enrol/", cadence_enrol_bulk, name="cadence_enrol"),
    path("cadences/tasks/", my_tasks, name="cadence_tasks"),
    path("cadences/tasks/<int:pk>/done/", task_done, name="cadence_task_done"),
    path("cadences/<int:pk>/", cadence_detail, name="cadence"),
    path("cadences/<int:pk>/settings/", cadence_settings, name="cadence_settings"),
    path("cadences/<int:pk>/steps/new/", cadence_step_new, name="cadence_step_new"),
    path("cadences/steps/<int:pk>/", cadence_step_edit, name="cadence_step"),
    path("cadences/steps/<int:pk>/order/", cadence_step_order, name="cadence_step_order"),
    path("cadences/enrolments/<int:pk>/", enrolment_detail, name="cadence_enrolment"),
    path("cadences/enrolments/<int:pk>/stop/", enrolment_stop_view, name="cadence_stop"),
    path("people/<int:pk>/cadences/enrol/", person_enrol, name="person_cadence_enrol"),
]
