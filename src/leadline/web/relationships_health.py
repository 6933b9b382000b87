"""My relationships: the health of each relationship a seller holds, and the ones going cold.
A manager sees their team's (or one seller's with ?owner=); a rep asking for another's gets 403.
Thin: reads through relationships.health."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from leadline.core import clock
from leadline.core.models import User
from leadline.core.permissions import access_relationship_health, is_manager
from leadline.relationships.health import (
    SELLER_ROLES,
    Health,
    health_of,
    may_read_health_of,
    sellers_managed,
)
from leadline.web.access import page

PAGE_SIZE = 50


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[Health], Any]  # None sorts last either way
    descending: bool = False  # the first click's direction


COLUMNS = [
    Column("name", "Name", lambda h: h.name.lower()),
    Column("account", "Account", lambda h: h.account_name.lower() or None),
    Column("touch", "Last two-way touch", lambda h: h.last_touch_at),
    Column("unanswered", "Unanswered", lambda h: h.unanswered, descending=True),
    Column("broken", "Promises broken", lambda h: h.broken, descending=True),
    Column("reciprocity", "Reciprocity", lambda h: h.reciprocity),
    Column("status", "Status", lambda h: 0 if h.is_active else 1),
]
BY_KEY = {c.key: c for c in COLUMNS}


def _sorted(found: list[Health], key: str, descending: bool) -> list[Health]:
    if key not in BY_KEY:  # "health": worst first
        return sorted(found, key=Health.sort_key, reverse=descending)
    column = BY_KEY[key]
    known = [h for h in found if column.value(h) is not None]
    unknown = [h for h in found if column.value(h) is None]
    known.sort(key=lambda h: (column.value(h), h.name.lower()), reverse=descending)
    return known + sorted(unknown, key=lambda h: h.name.lower())


def _whose(request: HttpRequest, user: User) -> tuple[str, list[User] | None, User | None]:
    """(the owner parameter, the owners to read (None: everyone), the one seller or None)."""
    asked = request.GET.get("owner", "")
    if asked in ("", str(user.pk)):
        return "", [user], user
    if asked == "team":
        if not is_manager(user):
            raise PermissionDenied
        managed = sellers_managed(user=user)
        return "team", None if managed is None else [user, *managed], None
    if not asked.isdigit():
        raise Http404("no such seller")
    owner = User.objects.filter(pk=int(asked)).select_related("team").first()
    if owner is None:
        raise Http404("no such seller")
    if not may_read_health_of(viewer=user, owner=owner):
        raise PermissionDenied
    return asked, [owner], owner


def _link(params: QueryDict, **changes: str) -> str:
    query = params.copy()
    query.pop("page", None)
    for name, value in changes.items():
        if value:
            query[name] = value
        else:
            query.pop(name, None)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@require_GET
@page(access_relationship_health)
def relationships_health(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    owner_param, owners, owner = _whose(request, user)
    found = health_of(owners=owners, at=clock.now())
    cold = [h for h in found if h.going_cold]
    show_cold = request.GET.get("show") == "cold"
    sort = request.GET.get("sort", "health")
    sort = sort if sort in BY_KEY else "health"
    descending = request.GET.get("dir") == "desc"
    listing = Paginator(
        _sorted(cold if show_cold else found, sort, descending), PAGE_SIZE
    ).get_page(request.GET.get("page"))

    headers = []
    for column in COLUMNS:
        current = column.key == sort
        goes_down = (not descending) if current else column.descending
        headers.append(
            {
                "label": column.label,
                "key": column.key,
                "aria_sort": ("descending" if descending else "ascending") if current else "",
                "href": _link(request.GET, sort=column.key, dir="desc" if goes_down else "asc"),
            }
        )
    choices: list[User] = []
    if is_manager(user):
        managed = sellers_managed(user=user)
        everyone = User.objects.filter(role__in=SELLER_ROLES, is_active=True)
        choices = list((everyone if managed is None else managed).order_by("first_name", "pk"))
    params = request.GET.copy()
    params.pop("page", None)
    if owner_param == "team":
        heading = "Everyone's relationships" if owners is None else "My team's relationships"
    elif owner is not None and owner.pk != user.pk:
        heading = f"{owner}'s relationships"
    else:
        heading = "My relationships"
    context = {
        "heading": heading,
        "nav": "relationships",
        "owner": owner,
        "owner_param": owner_param,
        "team_view": owners is None or len(owners) > 1,
        "choices": [c for c in choices if c.pk != user.pk],
        "total": len(found),
        "active": sum(1 for h in found if h.is_active),
        "cold_count": len(cold),
        "show_cold": show_cold,
        "all_href": _link(request.GET, show=""),
        "cold_href": _link(request.GET, show="cold"),
        "health_href": _link(request.GET, sort="", dir=""),
        "sort": sort,
        "headers": headers,
        "page_obj": listing,
        "rows": listing.object_list,
        "query_string": params.urlencode(),
    }
    return render(request, "web/relationships_health.html", context)


urlpatterns: list[URLPattern] = [
    path("relationships/", relationships_health, name="relationships_health"),
]
