"""Who is calling: a bearer token or the browser session; and may they do this.

Every operation declares its rule with `@rule(access_x)` (under `@router.<method>`); the rule
is recorded on the handler. `install` puts `declare_rule` around every operation, and the two
ways of authenticating admit a caller only if the rule does: the role check, then the token's
scope, before the body is read. An operation without a rule refuses everyone (403), and
tests/test_route_rules.py names it. `require` stays, for a handler to get its caller.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from leadline.core.models import ApiToken, Role, TokenScope, User
from leadline.core.permissions import RULE_ATTR
from leadline.core.services import api_token_for_key

Check = Callable[[Any], bool]
F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Rule:
    """Who may call an operation (`check`, a core.permissions.access_* function), and which
    token scopes let a token call it (None: `read` for GET, `write` for the rest)."""

    check: Check
    scopes: frozenset[str] | None = None

    def scopes_for(self, method: str) -> frozenset[str]:
        if self.scopes is not None:
            return self.scopes
        return frozenset({TokenScope.READ} if method in SAFE_METHODS else {TokenScope.WRITE})


def rule(check: Check, *, scopes: set[str] | None = None) -> Callable[[F], F]:
    """Declare who may call this operation. Put it under `@router.<method>(...)`."""

    def mark(handler: F) -> F:
        setattr(handler, RULE_ATTR, Rule(check, frozenset(scopes) if scopes else None))
        return handler

    return mark


class BearerToken(HttpBearer):
    """`Authorization: Bearer <key>`, a key made by `leadline token --user NAME`."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token:
            return None
        found = api_token_for_key(key=token)
        if found is None:
            return None
        request.leadline_token = found  # type: ignore[attr-defined]
        return _admit(request, found.user)


class BrowserSession(APIKeyCookie):
    """The logged-in web UI and the interactive docs; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # Only a logged-in browser is checked for CSRF: a call without a session has nothing
        # to forge, and must be told 401 (send a token), not 403 (CSRF).
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if key and isinstance(user, User) and user.is_authenticated:
            return _admit(request, user)
        return None


class Forbidden(AuthorizationError):
    def __init__(self, *, check: Check, user: User | None) -> None:
        self.missing = check.__name__
        self.your_role = str(user.role) if user is not None else None
        self.allowed_roles = [str(role) for role in Role if check(User(role=role))]
        super().__init__(
            message=(
                f"this needs the {self.missing} permission, which only these roles have: "
                f"{', '.join(self.allowed_roles)}; you are {self.your_role or 'not a known user'}"
            )
        )


class NoRule(AuthorizationError):
    def __init__(self) -> None:
        super().__init__(message="this operation declares no rule, so nobody may call it")


class MissingScope(AuthorizationError):
    def __init__(self, *, needed: frozenset[str], token: ApiToken, check: Check) -> None:
        self.missing = " or ".join(sorted(needed))
        self.your_scopes = sorted(token.scopes)
        self.your_role = str(token.user.role)
        self.allowed_roles = [str(role) for role in Role if check(User(role=role))]
        super().__init__(
            message=(
                f"this token lacks the {self.missing} scope; it has "
                f"{', '.join(self.your_scopes) or 'none'} (make a token with that scope)"
            )
        )


def declare_rule(run: Callable[..., Any]) -> Callable[..., Any]:
    """Around each operation's `run` (before authentication): put the operation's rule on the
    request, so that authentication refuses a caller it does not admit before the body is even
    read (a refused role gets 403 whatever it sent, never 422)."""
    operation = run.__self__  # type: ignore[attr-defined]

    @functools.wraps(run)
    def with_rule(request: HttpRequest, **kwargs: Any) -> Any:
        request.leadline_rule = getattr(operation.view_func, RULE_ATTR, None)  # type: ignore[attr-defined]
        return run(request, **kwargs)

    return with_rule


def _admit(request: HttpRequest, user: User) -> User:
    """The authenticated user, if the operation's rule admits them (and their token's scopes
    cover it); else Forbidden, MissingScope, or NoRule for an operation without a rule."""
    if not hasattr(request, "leadline_rule"):
        return user  # not an API operation (nothing to declare)
    declared: Rule | None = request.leadline_rule
    if declared is None:
        raise NoRule
    if not declared.check(user):
        raise Forbidden(check=declared.check, user=user)
    token: ApiToken | None = getattr(request, "leadline_token", None)
    if token is not None:
        needed = declared.scopes_for(request.method or "GET")
        if not needed & set(token.scopes):
            raise MissingScope(needed=needed, token=token, check=declared.check)
    return user


class ErrorOut(Schema):
    detail: str


class ForbiddenOut(ErrorOut):
    missing: str
    your_role: str | None
    allowed_roles: list[str]


def require(request: HttpRequest, check: Check) -> User:
    """The calling user, if `check` (a core.permissions.access_* function) lets them through."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User) or not check(user):
        raise Forbidden(check=check, user=user if isinstance(user, User) else None)
    return user


def install(api: NinjaAPI) -> None:
    """Every operation's rule enforced; error bodies that say what to do about it."""

    api.add_decorator(declare_rule, mode="view")

    @api.exception_handler(AuthenticationError)
    def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = api.create_response(
            request,
            {
                "detail": "send `Authorization: Bearer <key>` (make a key with "
                "`leadline token --user NAME`) or log in"
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="leadline"'
        return response

    @api.exception_handler(Forbidden)
    def forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
        body = ForbiddenOut(
            detail=exc.message,
            missing=exc.missing,
            your_role=exc.your_role,
            allowed_roles=exc.allowed_roles,
        )
        return api.create_response(request, body.model_dump(), status=403)

    @api.exception_handler(MissingScope)
    def missing_scope(request: HttpRequest, exc: MissingScope) -> HttpResponse:
        # The 403 shape every operation documents (ForbiddenOut), plus the token's scopes.
        body = {
            "detail": exc.message,
            "missing": exc.missing,
            "your_role": exc.your_role,
            "allowed_roles": exc.allowed_roles,
            "your_scopes": exc.your_scopes,
        }
        return api.create_response(request, body, status=403)

    @api.exception_handler(NoRule)
    def no_rule(request: HttpRequest, exc: NoRule) -> HttpResponse:
        body = ForbiddenOut(detail=exc.message, missing="rule", your_role=None, allowed_roles=[])
        return api.create_response(request, body.model_dump(), status=403)


class FieldErrorOut(Schema):
    type: str
    loc: list[str | int]
    msg: str


class InvalidOut(Schema):
    """422: one entry per problem (the last element of `loc` names the field), or a sentence."""

    detail: list[FieldErrorOut] | str


# Every operation documents the ways a call can be refused before it starts (422: bad input,
# including the checks a JSON schema cannot express, such as a valid email address).
REFUSALS: dict[int, type[Schema]] = {401: ErrorOut, 403: ForbiddenOut, 422: InvalidOut}
