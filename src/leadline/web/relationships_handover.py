"""Handover pages: plan the handover of a seller who leaves or moves team, review and change
who takes over what, then apply it (managers and admins).

- /handovers/: the plans, newest first, with their counts.
- /handovers/new/ (?user=<id>): who, leaving or moving (and to which team), when, a note for the
  people taking over, and an optional introduction email from the leaver.
- /handovers/<id>/: the review. The loads of the new owners against their caps, the problems
  that block applying, and the items grouped by relationship: each with its new owner (a select
  that saves at once with htmx and re-renders its group, the loads and the problems; a plain
  form post without JavaScript), the "key relationship" mark, and its dependents nested.
  Apply (confirmed; disabled while there are problems) and Cancel; after applying, what moved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import Role, Team, User
from leadline.core.permissions import access_handover
from leadline.relationships import briefings, selectors, services
from leadline.relationships.models import (
    RELATIONSHIP_KINDS,
    HandoverItem,
    HandoverPlan,
    PlanKind,
    PlanStatus,
)
from leadline.relationships.selectors import PlanGroup
from leadline.web.access import is_htmx, page

SELLER_ROLES = (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN)
NEEDING = "need"  # the filter: only the groups needing a decision


def _user(request: HttpRequest) -> User:
    """The logged-in user (every view here is behind `page`, which made sure)."""
    assert isinstance(request.user, User)
    return request.user


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    return {"__all__": exc.messages}


# The list of plans -------------------------------------------------------------------------------


@require_GET
@page(access_handover)
def handovers_page(request: HttpRequest) -> HttpResponse:
    relationship = Q(items__kind__in=list(RELATIONSHIP_KINDS))
    plans = selectors.plans_query().annotate(
        n_relationships=Count("items", filter=relationship, distinct=True),
        n_items=Count("items", distinct=True),
        n_unowned=Count("items", filter=Q(items__new_owner__isnull=True), distinct=True),
    )
    return render(request, "web/handover_list.html", {"nav": "handovers", "plans": plans})


# Planning a handover -----------------------------------------------------------------------------


def _intro_defaults() -> tuple[str, str, list[str]]:
    """The standard introduction email (subject, body) and its merge fields."""
    return (
        briefings.DEFAULT_INTRO_SUBJECT,
        briefings.DEFAULT_INTRO_BODY,
        ["{" + field + "}" for field in briefings.INTRO_MERGE_FIELDS],
    )


def _sellers() -> list[User]:
    return list(
        User.objects.filter(is_active=True, role__in=SELLER_ROLES)
        .select_related("team")
        .order_by("first_name", "last_name", "username")
    )


def _effective_at(raw: str) -> dt.datetime:
    """The start of the given day in the viewer's time zone; ValidationError naming the field."""
    raw = raw.strip()
    if not raw:
        raise ValidationError({"effective_at": ["Give the day they leave or move."]})
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            {"effective_at": [f"“{raw[:20]}” is not a date: use YYYY-MM-DD, e.g. 2026-12-12."]}
        ) from None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@require_http_methods(["GET", "POST"])
@page(access_handover)
def handover_new(request: HttpRequest) -> HttpResponse:
    subject, body, merge_fields = _intro_defaults()
    sellers = _sellers()
    teams = list(Team.objects.order_by("name"))
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {
        "user": request.GET.get("user", ""),
        "kind": PlanKind.LEAVING,
        "to_team": "",
        "effective_at": "",
        "note": "",
        "send_intro_emails": "",
        "intro_subject": subject,
        "intro_body": body,
    }
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in values}
        seller = next((s for s in sellers if str(s.pk) == values["user"]), None)
        team = next((t for t in teams if str(t.pk) == values["to_team"]), None)
        if seller is None:
            errors["user"] = ["Choose the seller who leaves or moves."]
        if values["kind"] not in PlanKind.values:
            errors["kind"] = ["Say whether they leave the company or move to another team."]
        elif values["kind"] == PlanKind.MOVING and team is None:
            errors["to_team"] = ["Choose the team they move to."]
        try:
            effective_at = _effective_at(values["effective_at"])
        except ValidationError as exc:
            errors.update(_errors(exc))
        if not errors and seller is not None:
            try:
                plan = services.handover_plan_create(
                    user=seller,
                    kind=values["kind"],
                    effective_at=effective_at,
                    to_team=team if values["kind"] == PlanKind.MOVING else None,
                    note=values["note"][:4000],
                    send_intro_emails=values["send_intro_emails"] == "yes",
                    intro_subject=values["intro_subject"][:200],
                    intro_body=values["intro_body"][:10000],
                    actor=_user(request),
                )
            except ValidationError as exc:
                errors = _errors(exc)
            else:
                messages.success(
                    request,
                    f"Planned the handover of {plan.user}: review who takes over what, then apply.",
                )
                return redirect("web:handover", pk=plan.pk)
    return render(
        request,
        "web/handover_new.html",
        {
            "nav": "handovers",
            "sellers": sellers,
            "teams": teams,
            "kinds": PlanKind.choices,
            "values": values,
            "errors": errors,
            "other_errors": [m for f, ms in errors.items() if f not in values for m in ms],
            "merge_fields": merge_fields,
        },
        status=400 if errors else 200,
    )


# Reviewing a plan --------------------------------------------------------------------------------


def _plan(pk: int) -> HandoverPlan:
    return get_object_or_404(selectors.plans_query(), pk=pk)


@dataclasses.dataclass
class Row:
    """One group on the review page: its element id, whether it needs a decision, and its
    relationship and dependents each with their owner select's options."""

    group: PlanGroup
    key: str
    needs: bool
    relationship: Line | None = None
    dependents: list[Line] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Line:
    item: HandoverItem
    options: str  # the owner select's <option>s, the new owner selected (built once: fast)


def _options(choices: Sequence[tuple[int, str]], selected: int | None) -> str:
    nobody = ['<option value="" selected>Nobody yet — choose…</option>'] if selected is None else []
    return mark_safe(  # noqa: S308 - the names are escaped in _review_context
        "".join(
            nobody
            + [
                f'<option value="{pk}"{" selected" if pk == selected else ""}>{name}</option>'
                for pk, name in choices
            ]
        )
    )


def _group_key(group: PlanGroup) -> str:
    first = group.relationship or group.dependents[0]
    return f"hg-{'' if group.relationship else 'd'}{first.pk}"


def _needs_decision(group: PlanGroup, over_cap: set[int]) -> bool:
    """Nobody takes something over yet, or its new owner would end over their cap."""
    return any(i.new_owner_id is None or i.new_owner_id in over_cap for i in group.items)


def _choices(plan: HandoverPlan, groups: list[PlanGroup]) -> list[User]:
    """Who an item may go to: the candidates, and anyone the plan already proposes (an account's
    owner in another team) or gives something to."""
    people = {u.pk: u for u in selectors.handover_candidates(plan=plan)}
    for group in groups:
        for item in group.items:
            for user in (item.proposed_owner, item.new_owner):
                if user is not None and user.pk != plan.user_id:
                    people.setdefault(user.pk, user)
    return sorted(people.values(), key=lambda u: (str(u).lower(), u.pk))


def _review_context(
    request: HttpRequest, plan: HandoverPlan, *, item_pk: int | None = None
) -> dict[str, Any]:
    """What the review page needs; with `item_pk` only the group holding that item is shown
    (the answer to a change)."""
    is_draft = plan.status == PlanStatus.DRAFT
    loads = selectors.plan_loads(plan=plan)
    over_cap = {load.user.pk for load in loads if load.over}
    groups = selectors.plan_groups(plan=plan)
    rows = [Row(group=g, key=_group_key(g), needs=_needs_decision(g, over_cap)) for g in groups]
    need_only = request.GET.get("show") == NEEDING
    if item_pk is not None:
        shown = [r for r in rows if any(i.pk == item_pk for i in r.group.items)]
    else:
        shown = [r for r in rows if r.needs or not need_only]
    choices = _choices(plan, groups) if is_draft else []
    named = [(u.pk, escape(str(u))) for u in choices]
    for row in shown:
        if row.group.relationship is not None:
            item = row.group.relationship
            row.relationship = Line(item=item, options=_options(named, item.new_owner_id))
        row.dependents = [
            Line(item=i, options=_options(named, i.new_owner_id)) for i in row.group.dependents
        ]
    return {
        "nav": "handovers",
        "plan": plan,
        "is_draft": is_draft,
        "loads": loads,
        "problems": selectors.plan_problems(plan=plan, loads=loads) if is_draft else [],
        "rows": shown,
        "n_groups": len(rows),
        "n_items": sum(len(g.items) for g in groups),
        "n_needing": sum(1 for r in rows if r.needs),
        "need_only": need_only,
        "choices": choices,
        "items_url": reverse("web:handover", args=[plan.pk]) + "items/",
    }


def _result(plan: HandoverPlan) -> dict[str, Any]:
    """What applying did: how many relationships and items moved, to whom, the briefings."""
    items = list(plan.items.select_related("new_owner").order_by("id"))
    moved = [i for i in items if i.applied_at is not None and i.outcome.startswith("now with")]
    moved_ids = {i.pk for i in moved}
    relationships = [i for i in moved if i.kind in RELATIONSHIP_KINDS]
    owners: dict[str, int] = {}
    for item in relationships:
        name = str(item.new_owner) if item.new_owner else "nobody"
        owners[name] = owners.get(name, 0) + 1
    return {
        "moved": len(moved),
        "relationships": len(relationships),
        "not_moved": [i for i in items if i.pk not in moved_ids],
        "owners": sorted(owners.items(), key=lambda pair: (-pair[1], pair[0])),
        "briefings": plan.briefings.count(),
        "intro_tasks": sum(1 for i in relationships if i.is_key),
    }


@require_GET
@page(access_handover)
def handover_review(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(pk)
    context = _review_context(request, plan)
    if plan.status == PlanStatus.APPLIED:
        context["result"] = _result(plan)
    if is_htmx(request) and request.headers.get("HX-Target") == "handover-groups":
        return render(request, "web/_handover_groups.html", context)
    return render(request, "web/handover_review.html", context)


def _draft_item(plan_pk: int, item_pk: int) -> HandoverItem:
    item = get_object_or_404(
        HandoverItem.objects.select_related("plan", "plan__user"), pk=item_pk, plan_id=plan_pk
    )
    if item.plan.status != PlanStatus.DRAFT:
        raise Http404("This plan is no longer a draft: it cannot change.")
    return item


def _changed(
    request: HttpRequest, item: HandoverItem, *, said: str, status: int = 200
) -> HttpResponse:
    """htmx: the item's group again, and out of band the loads and problems; else the page."""
    plan = _plan(item.plan_id)
    if is_htmx(request):
        context = _review_context(request, plan, item_pk=item.pk)
        context["said"] = said
        context["opened"] = item.kind not in RELATIONSHIP_KINDS
        return render(request, "web/_handover_changed.html", context, status=status)
    if status == 200:
        messages.success(request, said)
    else:
        messages.error(request, said)
    return redirect(f"{reverse('web:handover', args=[plan.pk])}#ho-owner-{item.pk}")


@require_POST
@page(access_handover)
def handover_item_owner(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _draft_item(pk, item_pk)
    raw = request.POST.get("new_owner", "")
    choices = _choices(item.plan, selectors.plan_groups(plan=item.plan))
    new_owner = next((u for u in choices if str(u.pk) == raw), None)
    if new_owner is None:
        return _changed(request, item, said="Choose someone who can take it over.", status=400)
    try:
        changed = services.handover_item_reassign(
            item=item,
            new_owner=new_owner,
            actor=_user(request),
            with_dependents=item.kind in RELATIONSHIP_KINDS,
        )
    except ValidationError as exc:
        return _changed(request, item, said=" ".join(exc.messages), status=400)
    followed = len(changed) - 1
    said = f"{item.label} now goes to {new_owner}."
    if followed > 0:
        said = f"{said[:-1]}, with {followed} item{'s' if followed != 1 else ''} that followed."
    return _changed(request, item, said=said)


@require_POST
@page(access_handover)
def handover_item_key(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _draft_item(pk, item_pk)
    is_key = request.POST.get("is_key") == "yes"
    try:
        services.handover_item_key_set(item=item, is_key=is_key, actor=_user(request))
    except ValidationError as exc:
        return _changed(request, item, said=" ".join(exc.messages), status=400)
    said = (
        f"{item.label} is a key relationship: a warm introduction will be arranged."
        if is_key
        else f"{item.label} is no longer marked key."
    )
    return _changed(request, item, said=said)


@require_POST
@page(access_handover)
def handover_apply(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(pk)
    result = services.handover_plan_apply(plan_id=plan.pk, actor=_user(request))
    if result.applied:
        messages.success(request, f"Applied: everything {plan.user} held has its new owner.")
    elif result.plan.status == PlanStatus.APPLIED:
        messages.info(request, "This plan was already applied: nothing changed.")
    elif result.problems:
        messages.error(request, "Not applied: " + " ".join(result.problems))
    else:
        messages.error(
            request, f"Not applied: the plan is {result.plan.get_status_display().lower()}."
        )
    return redirect("web:handover", pk=plan.pk)


@require_POST
@page(access_handover)
def handover_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(pk)
    if plan.status != PlanStatus.DRAFT:
        messages.error(request, "Only a draft can be cancelled: nothing changed.")
        return redirect("web:handover", pk=plan.pk)
    try:
        services.handover_plan_cancel(plan=plan, actor=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("web:handover", pk=plan.pk)
    messages.success(request, f"Cancelled the handover of {plan.user}; nothing moved.")
    return redirect("web:handovers")


urlpatterns: list[URLPattern] = [
    path("handovers/", handovers_page, name="handovers"),
    path("handovers/new/", handover_new, name="handover_new"),
    path("handovers/<int:pk>/", handover_review, name="handover"),
    path(
        "handovers/<int:pk>/items/<int:item_pk>/owner/",
        handover_item_owner,
        name="handover_item_owner",
    ),
    path(
        "handovers/<int:pk>/items/<int:item_pk>/key/", handover_item_key, name="handover_item_key"
    ),
    path("handovers/<int:pk>/apply/", handover_apply, name="handover_apply"),
    path("handovers/<int:pk>/cancel/", handover_cancel, name="handover_cancel"),
]
