"""Who is calling: a bearer token or the browser session; and may they do this."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from leadline.core.models import Role, User
from leadline.core.services import api_token_user

Check = Callable[[Any], bool]


class BearerToken(HttpBearer):
    """`Authorization: Bearer <key>`, a key made by `leadline token --user NAME`."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token:
            return None
        return api_token_user(key=token)


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
            return user
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
    """Error bodies that say what to do about it."""

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


# Every operation documents the two ways a call can be refused before it starts.
REFUSALS: dict[int, type[Schema]] = {401: ErrorOut, 403: ForbiddenOut}
