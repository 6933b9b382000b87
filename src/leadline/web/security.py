"""Security headers on every response, and login / API-token throttling at the edge.

SecurityHeadersMiddleware comes first in settings.MIDDLEWARE, so it sees every answer: pages,
the API, the public capture and booking endpoints, static files served by WhiteNoise, errors.
Each request gets a fresh nonce (`request.csp_nonce`, `{{ request.csp_nonce }}` in templates);
a <script> or <style> element runs only with it. No page uses inline event handlers, `hx-on`
or htmx's eval (meta htmx-config sets allowEval false): that behaviour lives in app.js.

Style attributes (`style="width: 40%"` on bars, and matplotlib's SVG charts, which style every
path with one) are allowed through `style-src-attr 'unsafe-inline'`; <style> elements are not,
unless they carry the nonce or are matplotlib's one constant rule (its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from leadline.core import lockout
from leadline.core.models import LoginLockout
from leadline.core.ratelimit import client_ip

# The one <style> matplotlib writes into every SVG chart (web/sla_plots.svg_inline).
MATPLOTLIB_SVG_STYLE = "*{stroke-linejoin: round; stroke-linecap: butt}"
_MATPLOTLIB_HASH = (
    "'sha256-"
    + base64.b64encode(hashlib.sha256(MATPLOTLIB_SVG_STYLE.encode()).digest()).decode()
    + "'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Routes customers may show in an iframe on their own sites: the hosted form and its thanks
# page, framed by the form's allowed origins.
_FRAMEABLE_FORM_ROUTES = frozenset({"capture:form", "capture:thanks"})
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def content_security_policy(nonce: str, *, frame_ancestors: str = "'none'") -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            # Browsers without style-src-elem/-attr (CSP 3) fall back to this line.
            "style-src 'self' 'unsafe-inline'",
            f"style-src-elem 'self' 'nonce-{nonce}' {_MATPLOTLIB_HASH}",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def _form_frame_ancestors(request: HttpRequest) -> str | None:
    """For the hosted form's pages: 'self' and the form's allowed origins (a form with none
    listed is not framed by other sites). None for every other route."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.view_name not in _FRAMEABLE_FORM_ROUTES:
        return None
    if request.method not in ("GET", "HEAD"):
        return "'self'"  # a post's answer is not a page to frame: no read on the capture path
    from leadline.capture.ingest import form_spec

    try:  # the form's spec as capture caches it: no query of its own in a burst
        spec = form_spec(str(match.kwargs.get("slug", "")))
    except DatabaseError:  # the page itself says the database is away (503)
        spec = None
    origins = [o for o in (spec.allowed_origins if spec else ()) if _ORIGIN.match(o)]
    return " ".join(["'self'", *origins])


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        refused = _api_refused(request)
        response = refused or self.get_response(request)
        _api_failure_count(request, response)
        frame_ancestors = _form_frame_ancestors(request)
        if frame_ancestors is not None and "X-Frame-Options" in response:
            # CSP frame-ancestors says who may frame it; X-Frame-Options DENY would forbid all.
            del response["X-Frame-Options"]
        response.setdefault(
            "Content-Security-Policy",
            content_security_policy(nonce, frame_ancestors=frame_ancestors or "'none'"),
        )
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY)
        if settings.LEADLINE_HTTPS:
            response.setdefault(
                "Strict-Transport-Security", f"max-age={int(settings.SECURITY_HSTS_SECONDS)}"
            )
        return response


# API tokens: wrong keys counted per address --------------------------------------------------


def _is_api_token_call(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") and str(
        request.META.get("HTTP_AUTHORIZATION", "")
    ).lower().startswith("bearer ")


def _api_refused(request: HttpRequest) -> HttpResponse | None:
    if not _is_api_token_call(request):
        return None
    found = lockout.lockout_active(kind=lockout.Kind.API_IP, key=client_ip(request))
    if found is None:
        return None
    wait = lockout.seconds_left(found)
    response = JsonResponse(
        {"detail": "Too many calls with a wrong API key from this address. Try again later."},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _api_failure_count(request: HttpRequest, response: HttpResponseBase) -> None:
    if response.status_code == 401 and _is_api_token_call(request):
        lockout.api_failure_record(ip=client_ip(request))


# The login page -------------------------------------------------------------------------------

LOCKED_MESSAGE = (
    "Too many failed attempts to log in. Logging in is paused for a while: try again in "
    "{minutes} min, or ask an admin to unlock it."
)


class LoginView(auth_views.LoginView):
    """Django's login, refusing (429) a username or address that failed too often."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        found = lockout.login_refused(username=username, ip=client_ip(request))
        if found is not None:
            return self._locked(found)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        lockout.login_success_record(username=str(form.cleaned_data.get("username", "")))
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(self.request.POST.get("username", ""))
        began = lockout.login_failure_record(username=username, ip=client_ip(self.request))
        if began is not None:
            return self._locked(began)
        return super().form_invalid(form)

    def _locked(self, found: LoginLockout) -> HttpResponse:
        wait = lockout.seconds_left(found)
        # An unbound form: a bound one would check the password while locked.
        form = AuthenticationForm(
            self.request, initial={"username": self.request.POST.get("username", "")}
        )
        context = self.get_context_data(
            form=form, locked_message=LOCKED_MESSAGE.format(minutes=-(-wait // 60))
        )
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response
