"""Public pages of journeys: the tracking script customers' sites embed."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=300, public=True)
def tracking_js(request: HttpRequest) -> HttpResponse:
    """/t.js: `<script src="https://LEADLINE/t.js" data-site="KEY" async></script>`."""
    from django.contrib.staticfiles import finders

    path = finders.find("journeys/t.js")
    if not path:
        raise Http404("t.js missing")
    with open(str(path), "rb") as handle:
        response = HttpResponse(handle.read(), content_type="text/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response
