"""What leaves the product for other sites: absolute links (in embed snippets, API answers and
mail) and the scripts their pages load."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


def public_url(request: HttpRequest, path: str) -> str:
    """Links other sites use must name the public address, not the one we were reached by."""
    return settings.PUBLIC_URL + path if settings.PUBLIC_URL else request.build_absolute_uri(path)


def own_origins(request: HttpRequest) -> tuple[str, ...]:
    """The product's own origins (scheme://host[:port]): the public URL's and the one this request
    reached. Its hosted pages post from there; any other site must be listed to post."""
    reached = f"{request.scheme}://{request.get_host()}"
    if not settings.PUBLIC_URL:
        return (reached,)
    parts = urlsplit(settings.PUBLIC_URL)
    return (f"{parts.scheme}://{parts.netloc}", reached)


def origin_listed(allowed: tuple[str, ...] | list[str], origin: str) -> bool:
    """Whether `origin` is one of the `allowed` ones: nothing listed, none is (the product's own
    pages are allowed by the endpoints, see own_origins). `http://localhost:*` allows any port
    of that host (the demo's, for a page on a developer's machine)."""
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    host, _, port = origin.rpartition(":")
    return port.isdigit() and f"{host}:*" in allowed


def public_script(static_path: str) -> Callable[[HttpRequest], HttpResponse]:
    """A view serving the static file `static_path` as a script any site may load (CORS *),
    cached five minutes: the embed form's and the tracking tag's."""

    @require_GET
    @cache_control(max_age=300, public=True)
    def script(request: HttpRequest) -> HttpResponse:
        path = finders.find(static_path)
        if not path:
            raise Http404(f"{static_path} missing")
        with open(str(path), "rb") as handle:
            response = HttpResponse(handle.read(), content_type="text/javascript; charset=utf-8")
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return script
