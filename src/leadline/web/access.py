"""The gate in front of every staff page: log in first, then the role check, then the page."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


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

        return wrapped

    return decorate


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap wants a fragment; a history restore after Back wants the whole page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
