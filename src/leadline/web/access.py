"""The gate in front of every staff page: log in first, then the role check, then the page."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from leadline.core.models import Account, Person
from leadline.core.permissions import RULE_ATTR
from leadline.relationships.visibility import may_see_account, may_see_person

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]

# Routes whose views we do not write, and who may use them (by "namespace:url name", or
# "namespace:*" for all of a namespace). Every other route carries its rule on its view:
# `page(check)`, the API's `@rule(check)` or `@public("why")`; tests/test_route_rules.py.
DELEGATED_RULES: dict[str, str] = {
    "admin:*": "Django's admin: its own login; active admins only (core.admin.AdminRoleOnly)",
    "api:openapi-json": "the API's description (OpenAPI): operations and fields, no data",
    "api:openapi-view": "the API's interactive docs page: calls made from it need a login",
    "api:api-root": "the API's root: says where the docs are, no data",
}


def person_in_view(request: HttpRequest, **lookup: Any) -> Person:
    """The person `lookup` names, if the user may see them (`relationships.visibility`); else
    404, as for a person who does not exist: a page under a person shows nothing of someone
    out of view and does not confirm they exist."""
    person = get_object_or_404(Person, **lookup)
    if not may_see_person(user=request.user, person=person):
        raise Http404("No such person.")
    return person


def account_in_view(request: HttpRequest, **lookup: Any) -> Account:
    """The account `lookup` names, if the user may see it; else 404 (see `person_in_view`)."""
    account = get_object_or_404(Account, **lookup)
    if not may_see_account(user=request.user, account=account):
        raise Http404("No such account.")
    return account


def zone_or_none(name: str) -> zoneinfo.ZoneInfo | None:
    """The named time zone, or None when the name is empty or unknown (data typed by people)."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def page(check: Callable[[Any], bool]) -> Callable[[View[P]], View[P]]:
    """Anonymous visitors go to the login page; a logged-in user whose role fails `check` gets 403.

    The check is recorded on the view (`leadline_rule`), so the URL map says who may use it.
    Times on the page are shown in the viewer's own time zone.
    """

    def decorate(view: View[P]) -> View[P]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(user):
                raise PermissionDenied
            with timezone.override(zone_or_none(getattr(user, "time_zone", "")) or "UTC"):
                return view(request, *args, **kwargs)

        # Who may use this page, readable from the URL map (tests/test_route_rules.py).
        setattr(wrapped, RULE_ATTR, check)
        return wrapped

    return decorate


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap wants a fragment; a history restore after Back wants the whole page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
