"""Outside callers see only what a call needs: every page and API operation, walked.

The walk takes every URL pattern there is (django.urls.get_resolver), fills its parameters
with the ids and slugs of real rows, and asks as an outside caller with every method. Anything
not on the short allow-list must refuse: 403, 404 or 405. A page or endpoint added later
without a role check fails here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path

from leadline import urls as leadline_urls
from leadline.api.urls import api
from leadline.calls.services import call_task_log
from leadline.core.models import Role, User
from leadline.journeys.models import Journey
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

# Public to anyone, logged in or not, and showing nothing of anyone (capture forms, tracking,
# booking pages, unsubscribe links, inbound mail hooks, the health check, static files).
PUBLIC_NAMESPACES = frozenset({"capture", "journeys", "outreach", "booking", "inbound"})
PUBLIC_NAMES = frozenset({"healthz", "rating_answer"})  # the prospect's signed rating link
# The outside caller's own pages: logging in and out, their queue and their calls.
ALLOWED_WEB = frozenset(
    {"login", "logout", "call_next", "calls", "call_task", "call_log", "call_appointment"}
)
ALLOWED_API = frozenset({"calls_list", "call_get", "call_outcome"})
# The API's docs pages describe the API; they show no data.
API_DOCS = frozenset({"openapi-json", "openapi-view", "api-root"})
REFUSED = {403, 404, 405}
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    namespace: str | None
    name: str | None
    route: str


def routes(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(
                pattern.url_patterns,
                prefix + str(pattern.pattern),
                pattern.namespace or namespace,
            )
        elif isinstance(pattern, URLPattern):
            yield Route(namespace, pattern.name, prefix + str(pattern.pattern))


PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def urls(route: str, ids: list[int], slugs: list[str]) -> list[str]:
    """The route with its parameters filled in: once per real id (or slug)."""
    params = PARAM.findall(route)
    if not params:
        return ["/" + route]
    filled = []
    for i in range(max(len(ids), len(slugs))):

        def value(match: re.Match[str], i: int = i) -> str:
            converter, name = match.group("converter"), match.group("name")
            if converter == "int" or name == "pk" or name.endswith("_id") or name == "other":
                return str(ids[i % len(ids)])
            return slugs[i % len(slugs)]

        filled.append("/" + PARAM.sub(value, route))
    return filled


@pytest.fixture
def world() -> dict[str, Any]:
    """One row of most things, so that the ids and slugs the walk uses are real."""
    rep = factories.user(role=Role.SALES_REP, username="rita")
    ann = factories.person_with_phone(first_name="Ann", last_name="Lee")
    account = factories.account(name="Acme Widgets")
    factories.membership(person=ann, account=account)
    form = factories.form(slug="white-paper")
    request = factories.routed_request(at=factories.MONDAY_10, owner=rep)
    factories.conversation(people=[ann], summary="Pricing worry", private=True)
    factories.pain_point(name="Slow close", phrases="month-end")
    other_team = factories.team(name="Other callers")
    theirs = factories.call_task(person=ann, team=other_team)
    done = factories.call_task(person=ann, assignee=rep)
    call_task_log(task=done, outcome="connected", actor=rep)
    callers = factories.team(name="Callsource")
    olive = factories.outside_caller(calling_team=callers, username="olive")
    mine = factories.call_task(person=request.person, team=callers)
    journey = Journey.objects.order_by("pk").first()
    ids = sorted(
        {
            ann.pk,
            account.pk,
            form.pk,
            request.pk,
            request.person.pk,
            theirs.pk,
            done.pk,
        }
    )
    slugs = [form.slug, journey.slug if journey is not None else "default", "x"]
    return {
        "olive": olive,
        "mine": mine,
        "theirs": theirs,
        "ids": ids,
        "slugs": slugs,
    }


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ask(client: Client, method: str, url: str) -> int:
    if method == "get":
        return client.get(url).status_code
    body = "{}" if url.startswith("/api/") else ""
    content_type = "application/json" if url.startswith("/api/") else "application/octet-stream"
    return getattr(client, method)(url, body, content_type=content_type).status_code


def _api_handlers() -> dict[tuple[str, str], Any]:
    """Each API operation's handler by (the URL name of any operation on its path, method),
    for a look at its source."""
    handlers: dict[tuple[str, str], Any] = {}
    for _, router in api._routers:
        for path_view in router.path_operations.values():
            names = [operation.view_func.__name__ for operation in path_view.operations]
            for operation in path_view.operations:
                for method in operation.methods:
                    for name in names:
                        handlers[(name, method.lower())] = operation.view_func
    return handlers


def checks_the_role(handler: Any) -> bool:
    """The handler calls api.auth.require itself, or through a helper of its module."""
    source = inspect.getsource(handler)
    if "require(request" in source:
        return True
    module = inspect.getmodule(handler)
    for name in re.findall(r"\b(_\w+)\(request\b", source):
        helper = getattr(module, name, None)
        if callable(helper) and "require(request" in inspect.getsource(helper):
            return True
    return False


def walk(
    client: Client, world: dict[str, Any], *, only: frozenset[str] | None = None
) -> tuple[int, list[str]]:
    """How many requests were made, and the ones that were not refused (`only`: these URL
    names alone)."""
    handlers = _api_handlers()
    let_through: list[str] = []
    walked = 0
    for route in routes(get_resolver().url_patterns):
        if only is not None and route.name not in only:
            continue
        if route.namespace in PUBLIC_NAMESPACES or route.name in PUBLIC_NAMES:
            continue
        if route.namespace == "admin":
            continue  # below
        if route.namespace == "web" and route.name in ALLOWED_WEB | {"home"}:
            continue
        if route.namespace == "api" and route.name in ALLOWED_API | API_DOCS:
            continue
        for url in urls(route.route, world["ids"], world["slugs"]):
            for method in METHODS:
                walked += 1
                status = _ask(client, method, url)
                if status in REFUSED:
                    continue
                # The API checks the body and query before its handler runs: an empty body or a
                # missing query parameter is refused as 422 whatever the caller's role. Then
                # the handler must be seen to check the role itself.
                if route.namespace == "api" and status == 422:
                    handler = handlers.get((route.name or "", method))
                    if handler is not None and checks_the_role(handler):
                        continue
                let_through.append(f"{method.upper()} {url} ({route.name}) → {status}")
    return walked, let_through


def test_every_page_and_api_operation_refuses_an_outside_caller(world: dict[str, Any]) -> None:
    walked, let_through = walk(_client(world["olive"]), world)
    assert walked > 300
    assert let_through == []


def _unchecked(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"person {pk}")


# The product's URLs plus one page someone forgot to check (see the test below).
urlpatterns = [
    path("forgotten/<int:pk>/", _unchecked, name="forgotten"),
    *leadline_urls.urlpatterns,
]


@pytest.mark.urls("tests.web.test_outside_callers")
def test_the_walk_finds_a_page_without_a_check(world: dict[str, Any]) -> None:
    _, let_through = walk(_client(world["olive"]), world, only=frozenset({"forgotten", "person"}))
    assert let_through
    assert all("(forgotten)" in line for line in let_through)
    assert f"GET /forgotten/{world['ids'][0]}/ (forgotten) → 200" in let_through


def test_the_home_page_sends_an_outside_caller_to_their_queue(world: dict[str, Any]) -> None:
    response = _client(world["olive"]).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/calls/"


def test_the_admin_is_closed_to_an_outside_caller(world: dict[str, Any]) -> None:
    client = _client(world["olive"])
    for url in ("/admin/", "/admin/core/person/", f"/admin/core/person/{world['ids'][0]}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    # Even the login page does not let them in: they are not staff.
    assert "not authorized" in client.get("/admin/login/").content.decode()


def test_their_own_pages_answer_and_another_teams_call_is_not_found(
    world: dict[str, Any],
) -> None:
    client = _client(world["olive"])
    mine, theirs = world["mine"].pk, world["theirs"].pk
    assert client.get("/calls/").status_code == 200
    assert client.get(f"/calls/{mine}/").status_code == 200
    assert client.get(f"/api/v1/calls/{mine}").status_code == 200
    assert client.get(f"/calls/{theirs}/").status_code == 404
    assert client.post(f"/calls/{theirs}/log/", {"outcome": "connected"}).status_code == 404
    assert client.post(f"/calls/{theirs}/appointment/", {}).status_code == 404
    assert client.get(f"/api/v1/calls/{theirs}").status_code == 404
    response = client.post(
        f"/api/v1/calls/{theirs}/outcome", {"outcome": "connected"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_the_full_person_page_is_403(world: dict[str, Any]) -> None:
    mine = world["mine"]
    response = _client(world["olive"]).get(f"/people/{mine.person_id}/")
    assert response.status_code == 403
    assert mine.person.full_name not in response.content.decode()
