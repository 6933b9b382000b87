"""Privacy pages: the person page's consent and privacy cards, consent recorded by hand, the
export (JSON and a readable page, both downloadable), erasure, the access log, the purposes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import Person, User
from leadline.core.permissions import (
    access_person_edit,
    access_privacy_erase,
    access_privacy_export,
)
from leadline.privacy import selectors, services
from leadline.privacy.models import AccessAction
from leadline.web.access import page, person_in_view


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def privacy_context(request: HttpRequest, *, person: Person) -> dict[str, Any]:
    """What the person page's consent and privacy cards show."""
    user = request.user
    may_erase = access_privacy_erase(user)
    return {
        "consent_purposes": selectors.person_consents(person=person),
        "may_record_consent": access_person_edit(user),
        "may_export": access_privacy_export(user),
        "may_erase": may_erase,
        "access_recent": list(selectors.person_access(person=person, limit=10))
        if may_erase
        else [],
        "erasure": selectors.person_erasure(person=person),
    }


@page(access_person_edit)
@require_POST
def person_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a consent given (or withdrawn) another way than a form: a call, an email, paper."""
    person = person_in_view(request, pk=pk, merged_into__isnull=True)
    try:
        services.consent_record(
            person=person,
            purpose=request.POST.get("purpose", ""),
            granted=request.POST.get("granted") == "yes",
            text=request.POST.get("text", "")[:5000],
            method=request.POST.get("method", ""),
            source=request.POST.get("source", ""),
            actor=_user(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"/people/{person.pk}/#consent-h")
    messages.success(request, "Consent recorded.")
    return redirect(f"/people/{person.pk}/#consent-h")


def _export(request: HttpRequest, pk: int) -> tuple[Person, dict[str, Any]]:
    person = person_in_view(request, pk=pk)
    return person, services.person_export(person=person, actor=_user(request))


@page(access_privacy_export)
@require_GET
def person_export_json(request: HttpRequest, pk: int) -> HttpResponse:
    person, data = _export(request, pk)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="person-{person.pk}-export.json"'
    return response


@page(access_privacy_export)
@require_GET
def person_export_html(request: HttpRequest, pk: int) -> HttpResponse:
    person, data = _export(request, pk)
    tables = []
    for label, rows in data["tables"].items():
        columns = list(rows[0]) if rows else []
        tables.append(
            {
                "label": label,
                "columns": columns,
                "rows": [[_cell(row[c]) for c in columns] for row in rows],
            }
        )
    response = render(
        request,
        "privacy/export.html",
        {"person": person, "export": data, "tables": tables, "fields": data["person"].items()},
    )
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="person-{person.pk}-export.html"'
    return response


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    return "" if value is None else str(value)


@page(access_privacy_erase)
@require_http_methods(["GET", "POST"])
def person_erase(request: HttpRequest, pk: int) -> HttpResponse:
    person = person_in_view(request, pk=pk)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            error = "Type erase to confirm."
        else:
            try:
                services.person_erase(
                    person=person, actor=_user(request), reason=request.POST.get("reason", "")
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(request, f"Person #{person.pk} was erased.")
                return redirect("web:person", pk=person.pk)
    return render(
        request,
        "privacy/erase.html",
        {
            "person": person,
            "nav": "people",
            "error": error,
            "reason": request.POST.get("reason", ""),
            "erasure": selectors.person_erasure(person=person),
        },
        status=400 if error else 200,
    )


def _int(value: str) -> int | None:
    value = value.strip().lstrip("#")
    return int(value) if value.isdigit() else None


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


@page(access_privacy_erase)
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """Who saw or changed whose data, newest first; filter by person, user, action, dates."""
    query = request.GET
    entries = selectors.access_log(
        user_id=_int(query.get("user", "")),
        person_id=_int(query.get("person", "")),
        action=query.get("action", "") if query.get("action") in AccessAction.values else "",
        since=_date(query.get("since", "")),
        until=_date(query.get("until", "")),
    )
    listing = Paginator(entries, 50).get_page(query.get("page"))
    return render(
        request,
        "privacy/access_log.html",
        {
            "nav": "privacy",
            "page_obj": listing,
            "entries": listing.object_list,
            "actions": AccessAction.choices,
            "users": User.objects.order_by("username"),
            "q": query,
        },
    )


@page(access_privacy_erase)
@require_http_methods(["GET", "POST"])
def purposes(request: HttpRequest) -> HttpResponse:
    """The purposes consent is asked for; admins add new ones."""
    error = ""
    if request.method == "POST":
        try:
            services.purpose_create(
                code=request.POST.get("code", "").strip().lower().replace(" ", "_")[:60],
                name=request.POST.get("name", "").strip()[:120],
                description=request.POST.get("description", "").strip(),
                actor=_user(request),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, "Purpose added.")
            return redirect("web:privacy_purposes")
    return render(
        request,
        "privacy/purposes.html",
        {"nav": "privacy", "purposes": selectors.purposes_all(), "error": error},
        status=400 if error else 200,
    )


urlpatterns: list[URLPattern] = [
    path("people/<int:pk>/consent/", person_consent, name="privacy_person_consent"),
    path("people/<int:pk>/export.json", person_export_json, name="privacy_person_export_json"),
    path("people/<int:pk>/export/", person_export_html, name="privacy_person_export_html"),
    path("people/<int:pk>/erase/", person_erase, name="privacy_person_erase"),
    path("privacy/access-log/", access_log, name="privacy_access_log"),
    path("privacy/purposes/", purposes, name="privacy_purposes"),
]
