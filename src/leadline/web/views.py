"""Staff pages. Thin: check the role, read through selectors/queries, write through services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.files.base import File
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from leadline.booking.selectors import person_meetings
from leadline.cadences.selectors import person_cadences
from leadline.capture.models import PERSON_FIELDS, Form, Request
from leadline.capture.services import asset_create, form_save
from leadline.capture.views import embed_snippet, field_specs
from leadline.core import clock, selectors
from leadline.core.links import public_url
from leadline.core.models import Account, Membership, Person
from leadline.core.permissions import (
    access_forms,
    access_journey_move,
    access_merge,
    access_people,
)
from leadline.core.services import account_merge, person_merge
from leadline.insight.labels import person_labels
from leadline.journeys.selectors import journey_places
from leadline.relationships.memory import person_timeline_visible
from leadline.relationships.visibility import may_see_account, may_see_person
from leadline.web import queries
from leadline.web.access import is_htmx, page, zone_or_none
from leadline.web.commitments import commitments_context
from leadline.web.committee import committee_context
from leadline.web.conversations import (
    account_timeline_context,
    account_timeline_fragment,
    conversations_context,
)
from leadline.web.forms import (
    DEFAULT_FIELDS,
    FIELD_ROWS_PREFIX,
    FieldRowForm,
    FieldRowFormSet,
    FormSettingsForm,
    MergeSearchForm,
    PeopleFilterForm,
)
from leadline.web.handoff import person_engagement_context
from leadline.web.insight_models import predictions_context
from leadline.web.outreach import person_contact_context
from leadline.web.privacy import privacy_context

PAGE_SIZE = 25
MEMBERS_SHOWN = 50  # people listed on an account page; the rest are a search away


def _page_of(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for page links that keep them."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _fragment_or_page(
    request: HttpRequest, *, page_template: str, fragment_template: str, context: dict[str, Any]
) -> HttpResponse:
    template = fragment_template if is_htmx(request) else page_template
    response = render(request, template, context)
    # The same URL answers with a fragment or a page; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _follow_merges(model: type[Person] | type[Account], pk: int) -> Any:
    record: Any = get_object_or_404(model, pk=pk)
    return selectors.merge_survivor(record)


def _logged_in(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active)


@require_GET
@page(_logged_in)
def home(request: HttpRequest) -> HttpResponse:
    """People first; a role that may not browse people (outside callers) goes to its calls."""
    if access_people(request.user):
        return redirect("web:people")
    return redirect("web:calls")


# People ----------------------------------------------------------------------------------------


@require_GET
@page(access_people)
def people(request: HttpRequest) -> HttpResponse:
    filter_form = PeopleFilterForm(request.GET)
    filters = filter_form.filters()
    listing = queries.CappedPaginator(
        queries.people_list(filters, user=request.user), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    account = Account.objects.filter(pk=filters.account_id).first() if filters.account_id else None
    if account is not None and not may_see_account(user=request.user, account=account):
        account = None  # the filter still applies; the name of an account out of view is not shown
    context = {
        "filter_form": filter_form,
        "nav": "people",
        "filters": filters,
        "filtering": filters != queries.PeopleFilters(),
        "account": account,
        "page_obj": listing,
        "people": listing.object_list,
        "query_string": _query_without_page(request),
    }
    return _fragment_or_page(
        request,
        page_template="web/people_list.html",
        fragment_template="web/_people_fragment.html",
        context=context,
    )


@require_GET
@page(access_people)
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _follow_merges(Person, pk)
    if not may_see_person(user=request.user, person=person):
        raise Http404("No such person")  # out of view: not 403, which would confirm it exists
    if person.pk != pk:
        messages.info(request, f"Record #{pk} was merged into this one.")
        return redirect("web:person", pk=person.pk)
    prefetch_related_objects(  # on the person already read, not read again
        [person],
        "emails",
        "phones",
        "consents__form",
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("account").order_by(
                "-is_current", "-created_at"
            ),
        ),
    )
    zone = zone_or_none(person.time_zone)
    places = journey_places(person=person)
    context = {
        "person": person,
        "nav": "people",
        "local_now": clock.now().astimezone(zone) if zone else None,
        "requests": Request.objects.filter(person=person)
        .select_related("form", "asset", "account")
        .order_by("-created_at", "-pk"),
        "timeline": person_timeline_visible(person=person, user=request.user),
        "may_merge": access_merge(request.user),
        "merge_form": MergeSearchForm(),
        "journeys": places,
        "may_move_journeys": access_journey_move(request.user),
    }
    context["labels"] = person_labels(person=person, now=clock.now(), places=places)
    context.update(person_engagement_context(request, person=person))
    context.update(conversations_context(request, person=person))
    context.update(person_cadences(person=person))
    context.update(commitments_context(request, person=person))
    context.update(person_contact_context(request, person=person))
    context.update(person_meetings(person=person))
    context.update(predictions_context(request, person=person))
    context.update(privacy_context(request, person=person))
    return render(request, "web/person_detail.html", context)


# Accounts --------------------------------------------------------------------------------------


@require_GET
@page(access_people)
def accounts(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    listing = _page_of(request, queries.accounts_list(query, user=request.user))
    context = {
        "q": query,
        "nav": "accounts",
        "page_obj": listing,
        "accounts": listing.object_list,
        "query_string": _query_without_page(request),
    }
    return _fragment_or_page(
        request,
        page_template="web/account_list.html",
        fragment_template="web/_account_fragment.html",
        context=context,
    )


@require_GET
@page(access_people)
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _follow_merges(Account, pk)
    if not may_see_account(user=request.user, account=account):
        raise Http404("No such account")  # out of view: not 403, which would confirm it exists
    if account.pk != pk:
        messages.info(request, f"Account #{pk} was merged into this one.")
        return redirect("web:account", pk=account.pk)
    prefetch_related_objects([account], "domains")
    fragment = account_timeline_fragment(request, account=account)  # the timeline's filter
    if fragment is not None:
        return fragment
    # A company of thousands shows its first MEMBERS_SHOWN and says how many there are.
    members, members_count = selectors.account_members(account=account, limit=MEMBERS_SHOWN)
    context = {
        "account": account,
        "nav": "accounts",
        "members": members,
        "members_count": members_count,
        "requests": Request.objects.filter(account=account)
        .select_related("person", "form")
        .order_by("-created_at", "-pk")[:50],
        **account_timeline_context(request, account=account),
        "may_merge": access_merge(request.user),
        "merge_form": MergeSearchForm(),
        "journeys": journey_places(account=account),
        "may_move_journeys": access_journey_move(request.user),
        **committee_context(request, account),
        **conversations_context(request, account=account),
        **predictions_context(request, account=account),
    }
    return render(request, "web/account_detail.html", context)


# Merge tool ------------------------------------------------------------------------------------

MERGE_KINDS: dict[str, dict[str, Any]] = {
    "person": {
        "model": Person,
        "candidates": queries.people_merge_candidates,
        "merge": person_merge,
        "detail": "web:person",
        "noun": "person",
        "nav": "people",
    },
    "account": {
        "model": Account,
        "candidates": queries.account_merge_candidates,
        "merge": account_merge,
        "detail": "web:account",
        "noun": "account",
        "nav": "accounts",
    },
}


@require_GET
@page(access_merge)
def merge_search(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = MERGE_KINDS[kind]
    survivor = get_object_or_404(spec["model"], pk=pk, merged_into__isnull=True)
    form = MergeSearchForm(request.GET or None)
    candidates = (
        spec["candidates"](survivor=survivor, query=form.cleaned_data["q"])
        if form.is_valid()
        else []
    )
    context = {
        "nav": spec["nav"],
        "kind": kind,
        "noun": spec["noun"],
        "survivor": survivor,
        "survivor_url": reverse(spec["detail"], args=[survivor.pk]),
        "form": form,
        "candidates": candidates,
        "searched": form.is_bound,
    }
    return render(request, "web/merge_search.html", context)


@require_http_methods(["GET", "POST"])
@page(access_merge)
def merge_confirm(request: HttpRequest, kind: str, pk: int, other: int) -> HttpResponse:
    spec = MERGE_KINDS[kind]
    survivor = get_object_or_404(spec["model"], pk=pk, merged_into__isnull=True)
    loser = get_object_or_404(spec["model"], pk=other, merged_into__isnull=True)
    survivor_url = reverse(spec["detail"], args=[survivor.pk])
    if survivor.pk == loser.pk:
        messages.error(request, f"A {spec['noun']} cannot be merged into itself.")
        return redirect(survivor_url)
    if request.method == "POST":
        try:
            spec["merge"](survivor=survivor, loser=loser, actor=request.user)
        except ValueError as exc:
            messages.error(request, f"Nothing was merged: {exc}.")
        else:
            messages.success(request, f"Merged “{loser}” (#{loser.pk}) into this record.")
        return redirect(survivor_url)
    context = {
        "nav": spec["nav"],
        "kind": kind,
        "noun": spec["noun"],
        "survivor": survivor,
        "loser": loser,
        "survivor_url": survivor_url,
        "loser_url": reverse(spec["detail"], args=[loser.pk]),
        "moving": queries.merge_preview(loser),
    }
    return render(request, "web/merge_confirm.html", context)


# Forms -----------------------------------------------------------------------------------------


@require_GET
@page(access_forms)
def forms_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/form_list.html", {"nav": "forms", "forms": queries.forms_list()})


EXAMPLE_VALUES = {
    "email": "ann.lee@acme-widgets.example",
    "first_name": "Ann",
    "last_name": "Lee",
    "company": "Acme Widgets",
    "role_own_words": "I run the finance systems team",
    "title": "Head of Finance Systems",
    "phone": "+44 20 7946 0958",
    "country": "GB",
    "message": "We close the books in 12 days and want it in 5.",
    "preferred_channel": "email",
}


def _example_payload(form: Form) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for field in form.fields:
        name = field["name"]
        kind = field.get("type") or PERSON_FIELDS.get(name, {}).get("type", "text")
        if name in EXAMPLE_VALUES:
            payload[name] = EXAMPLE_VALUES[name]
        elif kind == "checkbox":
            payload[name] = True
        elif kind == "select":
            payload[name] = (field.get("options") or [""])[0]
        elif kind == "number":
            payload[name] = 1
        else:
            payload[name] = "…"
    if form.contact_box:
        payload["contact_me"] = True
    if form.consent_text:
        payload["consent"] = True
    return payload


@require_GET
@page(access_forms)
def form_detail(request: HttpRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(Form.objects.select_related("asset", "created_by"), pk=pk)
    hosted_url = public_url(request, reverse("capture:form", args=[form.slug]))
    payload = json.dumps(_example_payload(form), ensure_ascii=False, indent=2).replace("'", "'\\''")
    curl = (
        f"curl -X POST {hosted_url} \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -H 'Idempotency-Key: any-unique-id-per-submission' \\\n"
        f"  -d '{payload}'"
    )
    context = {
        "form": form,
        "nav": "forms",
        "embed_snippet": embed_snippet(request, form),
        "hosted_url": hosted_url,
        "curl": curl,
        "submissions": queries.form_recent_submissions(form),
        "field_specs": field_specs(form),
    }
    return render(request, "web/form_detail.html", context)


def _field_rows(request: HttpRequest, form: Form | None) -> Any:
    if request.method == "POST":
        return FieldRowFormSet(request.POST, prefix=FIELD_ROWS_PREFIX)
    specs = form.fields if form is not None else DEFAULT_FIELDS
    return FieldRowFormSet(
        prefix=FIELD_ROWS_PREFIX, initial=[FieldRowForm.initial_for(s) for s in specs]
    )


def _error_summary(settings_form: FormSettingsForm, rows: Any) -> list[dict[str, str]]:
    """Each problem once, named by its field, linking to the input that needs attention."""
    summary = []
    for name, errors in settings_form.errors.items():
        if name == "__all__":
            summary += [{"label": "Form", "message": str(e), "anchor": ""} for e in errors]
            continue
        field = settings_form[name]
        for error in errors:
            summary.append(
                {"label": str(field.label), "message": str(error), "anchor": field.auto_id}
            )
    summary += [
        {"label": "", "message": str(e), "anchor": "field-rows"} for e in rows.non_form_errors()
    ]
    for number, row in enumerate(rows.forms, start=1):
        if getattr(row, "cleaned_data", {}).get("DELETE"):
            continue
        for name, errors in row.errors.items():
            if name == "__all__":
                continue
            field = row[name]
            for error in errors:
                summary.append(
                    {
                        "label": f"Field {number} {name}",
                        "message": str(error),
                        "anchor": field.auto_id,
                    }
                )
    return summary


def _form_builder(request: HttpRequest, form: Form | None) -> HttpResponse:
    created = form is None
    instance = form if form is not None else Form()
    if request.method == "POST":
        settings_form = FormSettingsForm(request.POST, request.FILES, instance=instance)
    else:
        settings_form = FormSettingsForm(instance=instance)
    rows = _field_rows(request, form)
    status = 200
    if request.method == "POST":
        if "add_field" in request.POST:
            # Without JavaScript, "Add a field" posts the page back with one more blank row.
            data = request.POST.copy()
            total = f"{FIELD_ROWS_PREFIX}-TOTAL_FORMS"
            data[total] = str(int(data.get(total) or 0) + 1)
            rows = FieldRowFormSet(data, prefix=FIELD_ROWS_PREFIX)
        elif settings_form.is_valid() and rows.is_valid():
            saved = _form_store(settings_form, rows, actor=request.user, created=created)
            verb = "created" if created else "saved"
            messages.success(request, f"Form “{saved.name}” {verb}.")
            return redirect("web:form", pk=saved.pk)
        else:
            status = 400
    context = {
        "form_obj": form,
        "nav": "forms",
        "settings_form": settings_form,
        "rows": rows,
        "errors": _error_summary(settings_form, rows) if status == 400 else [],
        "person_fields": PERSON_FIELDS,
    }
    return render(request, "web/form_builder.html", context, status=status)


def _form_store(settings_form: FormSettingsForm, rows: Any, *, actor: Any, created: bool) -> Form:
    form: Form = settings_form.save(commit=False)
    form.fields = rows.specs()
    with transaction.atomic():
        if settings_form.cleaned_data.get("new_asset_file"):
            # The asset and the form commit together.
            form.asset = asset_create(
                title=settings_form.new_asset_title_or_default(),
                upload=File(settings_form.cleaned_data["new_asset_file"]),
                actor=actor,
            )
        return form_save(form=form, actor=actor, created=created)


@require_http_methods(["GET", "POST"])
@page(access_forms)
def form_new(request: HttpRequest) -> HttpResponse:
    return _form_builder(request, None)


@require_http_methods(["GET", "POST"])
@page(access_forms)
def form_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_builder(request, get_object_or_404(Form, pk=pk))


@require_GET
@page(access_forms)
def form_field_row(request: HttpRequest) -> HttpResponse:
    """One more blank row for the builder (htmx)."""
    try:
        index = max(0, int(request.GET.get(f"{FIELD_ROWS_PREFIX}-TOTAL_FORMS", "0")))
    except ValueError:
        index = 0
    index = min(index, 200)
    row = FieldRowFormSet(prefix=FIELD_ROWS_PREFIX).empty_form
    row.prefix = f"{FIELD_ROWS_PREFIX}-{index}"
    # app.js counts the rows into the formset's TOTAL_FORMS after the swap.
    return render(request, "web/_field_row.html", {"row": row, "number": index + 1, "focus": True})
