"""Writes the access log: one row per staff look at, or change to, one person's data."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from leadline.core.models import User
from leadline.privacy.models import AccessAction
from leadline.privacy.services import access_record


def _person_id(request: HttpRequest) -> tuple[int, str] | None:
    """(person id, "web" | "api") when the page or API operation is about one person."""
    match = request.resolver_match
    if match is None:
        return None
    name = match.url_name or ""
    if name.startswith("privacy_"):  # export, erasure, consent write their own rows
        return None
    if match.namespace == "web" and name.startswith("person") and "pk" in match.kwargs:
        return int(match.kwargs["pk"]), "web"
    if match.namespace == "api" and "person_id" in match.kwargs:
        return int(match.kwargs["person_id"]), "api"
    return None


class AccessLogMiddleware:
    """After a successful answer about one person (the web page, its sub-pages, the people API)
    one insert records who, what (view, change, merge), how (web or api) and when."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 400:
            return response
        about = _person_id(request)
        if about is None:
            return response
        user = getattr(request, "auth", None) or getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_authenticated:
            return response
        person_id, via = about
        name = request.resolver_match.url_name or "" if request.resolver_match else ""
        if request.method in ("GET", "HEAD"):
            action = AccessAction.VIEW
        elif "merge" in name:
            action = AccessAction.MERGE
        else:
            action = AccessAction.CHANGE
        access_record(user=user, person_id=person_id, action=action, via=via, path=request.path)
        return response
