"""What leaves the product for other sites: absolute links (in embed snippets, API answers and
mail) and the scripts their pages load."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


def public_url(request: HttpRequest, path: str) -> str:
    """Links other sites use must name the public address, not the one we were reached by."""
    return settings.PUBLIC_URL + path if settings.PUBLIC_URL else request.build_absolute_uri(path)


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
