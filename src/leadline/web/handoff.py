"""Handoffs from marketing to sales, the lifecycle on a person's page, the rejection reasons,
and the lead-quality report.

- /handoffs/: the seller's open handoffs first (soonest deadline first), then everyone else's,
  then recent decisions; accept or reject in place (htmx, or a plain post without JavaScript).
- The person page's "Qualification and handoff" card (web/_person_engagement.html): the stage
  and its history, the open handoff to decide, past handoffs with the reasons sales gave, the
  opportunity; marketing hands over and moves the stage by hand from it.
- /handoffs/reasons/: the managed list of rejection reasons.
- /reports/lead-quality/: per source, form and campaign: handed over, accepted, rejected by
  reason, open, won.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import Person, User
from leadline.core.permissions import access_handoff_create, access_handoffs, access_lead_quality
from leadline.engagement.models import (
    Handoff,
    Opportunity,
    OpportunityStatus,
    RejectionReason,
    Stage,
)
from leadline.engagement.selectors import (
    handoff_may_decide,
    handoffs_for,
    handoffs_query,
    opportunity_may_close,
    person_engagement,
    rejection_reasons,
)
from leadline.engagement.services import (
    handoff_accept,
    handoff_create,
    handoff_reject,
    lifecycle_set,
    opportunity_close,
    rejection_reason_save,
)
from leadline.web.access import is_htmx, page, person_in_view

PERSON = "person"  # a form posted from the person page: answer with the whole card


def _user(request: HttpRequest) -> User:
    """The logged-in user (every view here is behind `page`, which made sure)."""
    assert isinstance(request.user, User)
    return request.user


# The person page's card --------------------------------------------------------------------------


def person_engagement_context(
    request: HttpRequest,
    *,
    person: Person,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    errors_for: str = "",
    said: str = "",
) -> dict[str, Any]:
    """What _person_engagement.html needs; `errors_for`: which form the errors belong to
    ("handoff", "reject", "stage", "close"), `said`: a status line to announce."""
    engagement = person_engagement(person=person)
    user = request.user
    return {
        "engagement": engagement,
        "engagement_person": person,
        "engagement_may_hand_over": access_handoff_create(user),
        "engagement_may_decide": engagement.open_handoff is not None
        and handoff_may_decide(user, engagement.open_handoff),
        "engagement_may_close": engagement.open_opportunity is not None
        and opportunity_may_close(user, engagement.open_opportunity),
        "engagement_stages": Stage.choices,
        "engagement_reasons": list(rejection_reasons()) if engagement.open_handoff else [],
        "engagement_errors": errors or {},
        "engagement_errors_for": errors_for,
        "engagement_values": values or {},
        "engagement_said": said,
    }


def _person_card(
    request: HttpRequest, *, person: Person, status: int = 200, **extra: Any
) -> HttpResponse:
    context = person_engagement_context(request, person=person, **extra)
    return render(request, "web/_person_engagement.html", context, status=status)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return redirect(target or fallback)


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    return {"__all__": exc.messages}


@require_POST
@page(access_handoff_create)
def person_hand_over(request: HttpRequest, pk: int) -> HttpResponse:
    """Marketing hands the person to sales by hand, with a note for the seller."""
    person = person_in_view(request, pk=pk)
    note = request.POST.get("note", "").strip()[:2000]
    handoff = handoff_create(person=person, trigger="marketing", actor=_user(request), note=note)
    said = f"Handed to {handoff.owner or 'sales'}; to be decided by the deadline shown."
    if is_htmx(request):
        return _person_card(request, person=person, said=said)
    messages.success(request, said)
    return redirect("web:person", pk=person.pk)


@require_POST
@page(access_handoff_create)
def person_stage_set(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the person to a stage by hand, saying why (marketing, managers, admins)."""
    person = person_in_view(request, pk=pk)
    values = {"stage": request.POST.get("stage", ""), "reason": request.POST.get("reason", "")}
    try:
        moved = lifecycle_set(
            person=person,
            stage=values["stage"],
            reason=values["reason"][:500],
            actor=_user(request),
        )
    except ValidationError as exc:
        return _person_card(
            request,
            person=person,
            status=400,
            errors=_errors(exc),
            values=values,
            errors_for="stage",
        )
    stage_name = dict(Stage.choices)[values["stage"]]
    said = f"Now {stage_name.lower()}." if moved else f"Already {stage_name.lower()}."
    if is_htmx(request):
        return _person_card(request, person=person, said=said)
    messages.success(request, said)
    return redirect("web:person", pk=person.pk)


# Deciding a handoff ------------------------------------------------------------------------------


def _decidable(request: HttpRequest, pk: int) -> Handoff:
    handoff = get_object_or_404(handoffs_query(), pk=pk)
    if not handoff_may_decide(request.user, handoff):
        raise PermissionDenied
    return handoff


def _item(
    request: HttpRequest, handoff: Handoff, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The handoff's item on the Handoffs page (htmx), or the page itself around it."""
    handoff = handoffs_query().get(pk=handoff.pk)
    context = {
        "handoff": handoff,
        "may_decide": handoff_may_decide(request.user, handoff),
        "reasons": list(rejection_reasons()),
        "errors": {},
        "values": {},
        "said": "",
        **extra,
    }
    if is_htmx(request):
        return render(request, "web/handoff_item.html", context, status=status)
    return render(
        request,
        "web/handoff_decide.html",
        {**context, "nav": "handoffs"},
        status=status,
    )


@require_POST
@page(access_handoffs)
def handoff_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _decidable(request, pk)
    values = {
        "amount": request.POST.get("amount", "").strip(),
        "note": request.POST.get("note", ""),
    }
    amount: Decimal | None = None
    errors: dict[str, list[str]] = {}
    if values["amount"]:
        try:
            amount = Decimal(values["amount"].replace(",", ""))
        except InvalidOperation:
            errors["amount"] = ["Give the amount as a number, e.g. 12000"]
    if not errors:
        try:
            handoff_accept(
                handoff=handoff, actor=_user(request), note=values["note"], amount=amount
            )
        except ValidationError as exc:
            errors = _errors(exc)
    where = request.POST.get("from", "")
    if errors:
        if where == PERSON and is_htmx(request):
            return _person_card(
                request,
                person=handoff.person,
                status=400,
                errors=errors,
                values=values,
                errors_for="accept",
            )
        return _item(request, handoff, status=400, errors=errors, values=values, form="accept")
    said = f"Accepted: {handoff.person} is now an opportunity."
    if where == PERSON and is_htmx(request):
        return _person_card(request, person=handoff.person, said=said)
    if is_htmx(request):
        return _item(request, handoff, said=said)
    messages.success(request, said)
    return _back(request, reverse("web:handoffs"))


@require_POST
@page(access_handoffs)
def handoff_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _decidable(request, pk)
    values = {
        "reason": request.POST.get("reason", ""),
        "reason_text": request.POST.get("reason_text", "")[:2000],
    }
    reason = None
    if values["reason"].isdigit():
        reason = RejectionReason.objects.filter(pk=int(values["reason"])).first()
    where = request.POST.get("from", "")
    try:
        handoff_reject(
            handoff=handoff,
            actor=_user(request),
            reason=reason,
            reason_text=values["reason_text"],
        )
    except ValidationError as exc:
        if where == PERSON and is_htmx(request):
            return _person_card(
                request,
                person=handoff.person,
                status=400,
                errors=_errors(exc),
                values=values,
                errors_for="reject",
            )
        return _item(
            request, handoff, status=400, errors=_errors(exc), values=values, form="reject"
        )
    said = f"Rejected: {handoff.person} goes back to marketing with your reason."
    if where == PERSON and is_htmx(request):
        return _person_card(request, person=handoff.person, said=said)
    if is_htmx(request):
        return _item(request, handoff, said=said)
    messages.success(request, said)
    return _back(request, reverse("web:handoffs"))


@require_POST
@page(access_handoffs)
def opportunity_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = get_object_or_404(Opportunity.objects.select_related("person"), pk=pk)
    if not opportunity_may_close(request.user, opportunity):
        raise PermissionDenied
    values = {
        "outcome": request.POST.get("outcome", ""),
        "amount": request.POST.get("amount", "").strip(),
        "note": request.POST.get("note", "")[:2000],
    }
    errors: dict[str, list[str]] = {}
    amount: Decimal | None = None
    if values["amount"]:
        try:
            amount = Decimal(values["amount"].replace(",", ""))
        except InvalidOperation:
            errors["amount"] = ["Give the amount as a number, e.g. 12000"]
    if not errors:
        try:
            opportunity_close(
                opportunity=opportunity,
                outcome=values["outcome"],
                amount=amount,
                note=values["note"],
                actor=_user(request),
            )
        except ValidationError as exc:
            errors = _errors(exc)
    person = opportunity.person
    if person is None:  # the person page closes a person's deals; an account's are elsewhere
        raise Http404("This opportunity belongs to an account, not a person")
    if errors:
        if is_htmx(request):
            return _person_card(
                request, person=person, status=400, errors=errors, values=values, errors_for="close"
            )
        messages.error(request, " ".join(m for ms in errors.values() for m in ms))
        return redirect("web:person", pk=person.pk)
    won = values["outcome"] == OpportunityStatus.WON
    said = f"Closed {'won: a customer now' if won else 'lost: back to nurture'}."
    if is_htmx(request):
        return _person_card(request, person=person, said=said)
    messages.success(request, said)
    return redirect("web:person", pk=person.pk)


# The Handoffs page -------------------------------------------------------------------------------


@require_GET
@page(access_handoffs)
def handoffs_page(request: HttpRequest) -> HttpResponse:
    lists = handoffs_for(user=_user(request))
    return render(
        request,
        "web/handoff_list.html",
        {
            "nav": "handoffs",
            "lists": lists,
            # Each with whether the viewer may decide it (a rep only their own; managers any).
            "mine": [(h, handoff_may_decide(request.user, h)) for h in lists.mine],
            "others": [(h, handoff_may_decide(request.user, h)) for h in lists.others],
            "reasons": list(rejection_reasons()),
            "may_manage_reasons": access_handoff_create(request.user),
        },
    )


# Rejection reasons -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@page(access_handoff_create)
def handoff_reasons(request: HttpRequest) -> HttpResponse:
    """The list of rejection reasons: add one, or change one (name, nurture or not, on or off)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    editing: int | None = None
    if request.method == "POST":
        pk = request.POST.get("pk", "")
        reason = get_object_or_404(RejectionReason, pk=int(pk)) if pk.isdigit() else None
        values = {"name": request.POST.get("name", "")[:200]}
        try:
            saved = rejection_reason_save(
                reason=reason,
                name=values["name"],
                sends_to_nurture=request.POST.get("sends_to_nurture") == "yes",
                is_active=request.POST.get("is_active", "yes") == "yes",
                actor=_user(request),
            )
        except ValidationError as exc:
            errors = _errors(exc)
            editing = reason.pk if reason is not None else None
        else:
            messages.success(request, f"Saved “{saved.name}”.")
            return redirect("web:handoff_reasons")
    return render(
        request,
        "web/handoff_reasons.html",
        {
            "nav": "handoffs",
            "reasons": list(rejection_reasons(active_only=False)),
            "errors": errors,
            "values": values,
            "editing": editing,
        },
        status=400 if errors else 200,
    )


# The lead-quality report -------------------------------------------------------------------------


def _date(raw: str, name: str, notes: list[str]) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        notes.append(f"“{raw[:20]}” is not a date (use YYYY-MM-DD); the {name} is ignored.")
        return None


@require_GET
@page(access_lead_quality)
def lead_quality_page(request: HttpRequest) -> HttpResponse:
    from leadline.insight.lead_quality import lead_quality

    notes: list[str] = []
    start = _date(request.GET.get("start", ""), "start", notes)
    end = _date(request.GET.get("end", ""), "end", notes)
    if start and end and end < start:
        notes.append("The end is before the start; showing from the start on.")
        end = None
    report = lead_quality(start=start, end=end)
    return render(
        request,
        "web/handoff_report.html",
        {"nav": "lead_quality", "report": report, "notes": notes},
    )


urlpatterns: list[URLPattern] = [
    path("handoffs/", handoffs_page, name="handoffs"),
    path("handoffs/reasons/", handoff_reasons, name="handoff_reasons"),
    path("handoffs/<int:pk>/accept/", handoff_accept_view, name="handoff_accept"),
    path("handoffs/<int:pk>/reject/", handoff_reject_view, name="handoff_reject"),
    path("opportunities/<int:pk>/close/", opportunity_close_view, name="opportunity_close"),
    path("people/<int:pk>/hand-over/", person_hand_over, name="person_hand_over"),
    path("people/<int:pk>/stage/", person_stage_set, name="person_stage_set"),
    path("reports/lead-quality/", lead_quality_page, name="lead_quality"),
]
