"""One URL map for the whole product."""

from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from leadline.api.urls import api
from leadline.core.permissions import public


@public("the health check for load balancers: answers ok, shows nothing")
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("leadline.capture.urls")),
    path("", include("leadline.journeys.urls")),
    path("", include("leadline.outreach.urls")),
    path("", include("leadline.booking.urls")),
    path("", include("leadline.inbound.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("", include("leadline.web.urls")),
]

if settings.BENCH_ENDPOINTS:

    @csrf_exempt
    def bench_bare_insert(request: HttpRequest) -> HttpResponse:
        """The floor for bench/capture.py: read the body, insert one row, answer."""
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_bare (id INTEGER PRIMARY KEY, body TEXT)"
                if connection.vendor == "sqlite"
                else "CREATE TABLE IF NOT EXISTS bench_bare (id SERIAL PRIMARY KEY, body TEXT)"
            )
            cursor.execute("INSERT INTO bench_bare (body) VALUES (%s)", [request.body.decode()])
        return JsonResponse({"ok": True}, status=201)

    @csrf_exempt
    def bench_bare_204(request: HttpRequest) -> HttpResponse:
        """The floor for bench/tracking.py: read the body, answer 204."""
        request.body  # noqa: B018 - read, as the endpoint measured against does
        return HttpResponse(status=204)

    urlpatterns.insert(0, path("bench/bare/", bench_bare_insert))
    urlpatterns.insert(0, path("bench/bare-204/", bench_bare_204))
