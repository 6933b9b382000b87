"""System health (admins): the checks `leadline doctor` runs, refreshed every 30 seconds."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from leadline.core import clock
from leadline.core.permissions import access_system_health
from leadline.insight.health import checks_run, overall
from leadline.web.access import is_htmx, page

REFRESH_SECONDS = 30


@require_GET
@page(access_system_health)
def system_health(request: HttpRequest) -> HttpResponse:
    results = checks_run()
    context = {
        "nav": "health",
        "checks": results,
        "worst": overall(results),
        "failed": sum(r.status == "fail" for r in results),
        "warned": sum(r.status == "warn" for r in results),
        "checked_at": clock.now(),
        "refresh": REFRESH_SECONDS,
    }
    if is_htmx(request):
        return render(request, "web/health_checks.html", context)
    return render(request, "web/health.html", context)


urlpatterns: list[URLPattern] = [
    path("system-health/", system_health, name="system_health"),
]
