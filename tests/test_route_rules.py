"""Every route says who may use it, and the real responses agree, role by role.

The walk takes every URL pattern (django.urls.get_resolver), and every operation of the API
(each HTTP method it accepts) from ninja's path views behind those patterns. A route has a rule
when its view carries one: `page(check)` on staff pages, `@rule(check)` on API operations,
`@public("why")` on the public endpoints; the Django admin and the API's own description are
declared in leadline.web.access.DELEGATED_RULES. A route with none fails the first test, named.

The matrix then asks, as each role and as nobody, with one data set: pages and API reads by
GET, and every write as each role its rule refuses (which must be refused, and change nothing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path

from leadline import urls as leadline_urls
from leadline.api.auth import Rule
from leadline.core.models import Role, User
from leadline.core.permissions import PUBLIC_ATTR, RULE_ATTR
from leadline.web.access import DELEGATED_RULES
from tests import factories, figures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

ANONYMOUS = "anonymous"
ROLES = (Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER, Role.SALES_REP, Role.OUTSIDE_CALLER)
METHOD_REFUSED: list[str] = []


@dataclass(frozen=True)
class Route:
    kind: str  # "page" (a Django view), "api" (one method of an API operation)
    method: str  # the API operation's method; "ANY" for a Django view
    route: str
    name: str
    rule: Any  # a check function, an api.auth.Rule, a public reason, a delegated reason, None

    def label(self) -> str:
        return f"{self.method} /{self.route} ({self.name})"


def _patterns(
    patterns: list[Any], prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str | None, URLPattern, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            yield namespace, pattern, prefix + str(pattern.pattern)


def _path_view(callback: Any) -> Any:
    """The ninja PathView a URL pattern of the API calls (it closes over it), or None."""
    for cell in getattr(callback, "__closure__", None) or ():
        if hasattr(cell.cell_contents, "operations"):
            return cell.cell_contents
    return None


def declared(view: Any) -> Any:
    return getattr(view, RULE_ATTR, None) or getattr(view, PUBLIC_ATTR, None)


def all_routes() -> list[Route]:
    """Every route the product answers, one per API operation and method."""
    found: dict[tuple[str, str], Route] = {}
    for namespace, pattern, route in _patterns(get_resolver().url_patterns):
        name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
        path_view = _path_view(pattern.callback)
        if path_view is not None:
            for operation in path_view.operations:
                for method in operation.methods:
                    rule = getattr(operation.view_func, RULE_ATTR, None)
                    found[(method, route)] = Route("api", method, route, name, rule)
            continue
        rule = declared(pattern.callback)
        if rule is None:
            rule = DELEGATED_RULES.get(name) or DELEGATED_RULES.get(f"{namespace}:*")
        found[("ANY", route)] = Route("page", "ANY", route, name, rule)
    return list(found.values())


def _report(line: str) -> None:
    figures.report(f"[routes] {line}")


def test_every_route_declares_who_may_use_it() -> None:
    routes = all_routes()
    without = [route.label() for route in routes if route.rule is None]
    api = [route for route in routes if route.kind == "api"]
    public = [route for route in routes if isinstance(route.rule, str)]
    figures = (
        f"{len(routes)} routes, {len(routes) - len(without)} with a rule "
        f"({len(api)} API operations, {len(public)} public or delegated)"
    )
    _report(figures)
    assert without == [], f"{figures}; without a rule: {without}"
    assert len(api) >= 103, figures
    assert all(isinstance(route.rule, Rule) for route in api), figures


def _unmarked(request: HttpRequest) -> HttpResponse:
    return HttpResponse("nobody said who may see this")


urlpatterns = [path("unmarked/", _unmarked, name="unmarked"), *leadline_urls.urlpatterns]


@pytest.mark.urls("tests.test_route_rules")
def test_a_view_without_a_rule_is_named() -> None:
    without = [route.label() for route in all_routes() if route.rule is None]
    assert without == ["ANY /unmarked/ (unmarked)"]


# The matrix -------------------------------------------------------------------------------------

PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@pytest.fixture
def world() -> dict[str, Any]:
    """One data set: a user of each role, and one row of what the URLs name."""
    users = {role: factories.user(role=role, username=f"matrix-{role}") for role in ROLES}
    rep = users[Role.SALES_REP]
    person = factories.person_with_phone(first_name="Ann", last_name="Lee")
    account = factories.account(name="Acme Widgets")
    factories.membership(person=person, account=account)
    factories.owned(owner=rep, of=person)
    factories.owned(owner=rep, of=account)
    form = factories.form(slug="white-paper")
    request = factories.routed_request(at=factories.MONDAY_10, owner=rep)
    conversation = factories.conversation(people=[person], summary="Pricing worry")
    task = factories.call_task(person=person, assignee=rep)
    ids = {
        "person": person.pk,
        "account": account.pk,
        "form": form.pk,
        "request": request.pk,
        "conversation": conversation.pk,
        "task": task.pk,
        "user": rep.pk,
    }
    return {"users": users, "ids": ids, "slug": form.slug}


def url_for(route: str, world: dict[str, Any]) -> str:
    ids: dict[str, int] = world["ids"]

    def value(match: re.Match[str]) -> str:
        converter, name = match.group("converter"), match.group("name")
        for kind, pk in ids.items():
            if name.startswith(kind):
                return str(pk)
        if converter == "int" or name in {"pk", "other"} or name.endswith("_id"):
            return str(ids["person"])
        return str(world["slug"])

    return "/" + PARAM.sub(value, route)


def _allowed(rule: Any, role: str) -> bool:
    if isinstance(rule, str):
        return True
    check: Callable[[Any], bool] = rule.check if isinstance(rule, Rule) else rule
    return check(User(role=role, is_active=True))


def _clients(world: dict[str, Any]) -> dict[str, Client]:
    clients = {ANONYMOUS: Client()}
    for role, user in world["users"].items():
        client = Client()
        client.force_login(user)
        clients[role] = client
    return clients


def _ask(client: Client, method: str, url: str) -> HttpResponse:
    if method == "GET":
        return client.get(url)
    content_type = "application/json" if url.startswith("/api/") else "application/octet-stream"
    response: HttpResponse = getattr(client, method.lower())(url, "{}", content_type=content_type)
    return response


def _wrong(route: Route, method: str, who: str, url: str, response: HttpResponse) -> str | None:
    """What is wrong with this answer to `who` under the route's rule, or None."""
    status = response.status_code
    where = response.get("Location", "")
    said = f"{method} {url} as {who} → {status} {where}".rstrip()
    if status == 405:
        # The method is refused before any rule (`require_POST` sits outside `page`): nothing
        # is read or done, whoever asks. Counted, and printed.
        METHOD_REFUSED.append(said)
        return None
    if isinstance(route.rule, str) and route.name.startswith("admin:"):
        if who == Role.ADMIN:
            return None if status == 200 else said
        return None if status == 302 and where.startswith("/admin/login/") else said
    if isinstance(route.rule, str):
        refused = status in {401, 403} or (status == 302 and where.startswith("/login/"))
        return said if refused else None
    if who == ANONYMOUS:
        if route.kind == "api":
            return None if status == 401 else said
        return None if status == 302 and where.startswith("/login/") else said
    if _allowed(route.rule, who):
        return said if status in {401, 403} else None
    return None if status == 403 else said


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.label not in {"sessions.Session"} and not model._meta.proxy
    }


def test_every_role_gets_what_the_rule_says(world: dict[str, Any]) -> None:
    METHOD_REFUSED.clear()
    clients = _clients(world)
    routes = all_routes()
    # The admin is Django's: two of its pages stand for it.
    admin_sample = {"admin/", "admin/core/person/"}
    routes = [r for r in routes if not r.name.startswith("admin:") or r.route in admin_sample]
    wrong: list[str] = []
    asked = 0
    started = time.monotonic()

    # Reads: pages (GET) and API reads, as every role and as nobody.
    for route in routes:
        if route.method not in {"ANY", "GET"}:
            continue
        url = url_for(route.route, world)
        for who, client in clients.items():
            asked += 1
            problem = _wrong(route, "GET", who, url, _ask(client, "GET", url))
            if problem:
                wrong.append(problem)

    # Writes: each refused role (and nobody) must be refused, and nothing may change.
    before = _row_counts()
    writes = 0
    for route in routes:
        if isinstance(route.rule, str):
            continue
        methods = ("POST",) if route.kind == "page" else (route.method,)
        if route.kind == "api" and route.method == "GET":
            continue
        url = url_for(route.route, world)
        for method in methods:
            for who, client in clients.items():
                if who != ANONYMOUS and _allowed(route.rule, who):
                    continue
                asked += 1
                writes += 1
                problem = _wrong(route, method, who, url, _ask(client, method, url))
                if problem:
                    wrong.append(problem)
    after = _row_counts()
    changed = {
        label: (count, after[label]) for label, count in before.items() if count != after[label]
    }

    seconds = time.monotonic() - started
    figures = (
        f"{len(routes)} routes × {len(clients)} callers: {asked} requests "
        f"({writes} refused writes) in {seconds:.1f} s; {len(METHOD_REFUSED)} answered 405 "
        f"(method refused before the rule); {len(wrong)} disagree with the rule"
    )
    _report(figures)
    assert wrong == [], f"{figures}:\n" + "\n".join(wrong)
    assert changed == {}, f"{figures}; refused writes changed rows: {changed}"
    assert asked > 1000, figures


def test_every_write_with_a_session_needs_the_csrf_token(world: dict[str, Any]) -> None:
    """CSRF: an admin logged in by session (who may do anything) posting to any staff page or
    API write without the token is refused 403 and nothing changes; public endpoints are
    left out (they are posted by other sites and check what they need themselves)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"][Role.ADMIN])
    routes = [r for r in all_routes() if not isinstance(r.rule, str)]
    before = _row_counts()
    refused, wrong = 0, []
    for route in routes:
        if route.kind == "api" and route.method == "GET":
            continue
        method = "POST" if route.kind == "page" else route.method
        url = url_for(route.route, world)
        status = _ask(client, method, url).status_code
        if status == 405:  # the method is refused before anything else
            continue
        refused += status == 403
        if status != 403:
            wrong.append(f"{method} {url}: {status}")
    after = _row_counts()
    figures = f"{refused} session writes refused without the CSRF token, {len(wrong)} let through"
    _report(figures)
    assert wrong == [], f"{figures}:\n" + "\n".join(wrong)
    assert before == after, figures
    assert refused > 100, figures
