"""The System health page: `leadline doctor`'s checks for admins, refreshed by htmx."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import Role, WorkerHeartbeat

URL = "/system-health/"


@pytest.mark.django_db
def test_admins_see_every_check_and_what_to_do(role_client: Any, settings: Any) -> None:
    settings.HEALTH_DISK_FREE_MIN_MB = 1
    admin: Client = role_client(Role.ADMIN)
    response = admin.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>System health</h1>" in html
    # No worker: the summary and the check say so, with the fix.
    assert "Needs fixing" in html
    assert 'id="check-worker"' in html
    assert "No worker is running" in html
    assert "Start it: `leadline worker`" in html
    for title in ("Database schema", "Mail server", "Deadlines", "Disk space", "Backups"):
        assert f'<h3 class="health-title">{title}</h3>' in html
    # It refreshes itself every 30 s, and screen readers hear the summary change.
    assert 'hx-get="/system-health/" hx-trigger="every 30s"' in html
    assert 'aria-live="polite"' in html
    # The link in the admin part of the navigation, marked as the current page.
    assert '<a href="/system-health/" aria-current="page">System health</a>' in html


@pytest.mark.django_db
def test_the_refresh_is_a_fragment_and_shows_a_worker_that_came_back(
    role_client: Any, settings: Any
) -> None:
    settings.HEALTH_DISK_FREE_MIN_MB = 1
    admin: Client = role_client(Role.ADMIN)
    now = clock.now()
    WorkerHeartbeat.objects.create(
        name="worker@web1:123", host="web1", pid=123, started_at=now, beat_at=now,
        sweeps_at=now, timers_at=now, cadences_at=now,
    )  # fmt: skip
    response = admin.get(URL, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "1 worker running (worker@web1:123)" in html
    assert "No worker is running" not in html
    WorkerHeartbeat.objects.update(beat_at=now - dt.timedelta(minutes=5))
    html = admin.get(URL, headers={"HX-Request": "true"}).content.decode()
    assert "The worker worker@web1:123 last reported 5 minutes ago" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.MARKETING, Role.SALES_MANAGER, Role.SALES_REP, Role.OUTSIDE_CALLER]
)
def test_other_roles_get_403_and_no_link(role_client: Any, role: str) -> None:
    client: Client = role_client(role)
    assert client.get(URL).status_code == 403
    assert b"System health" not in client.get("/").content


def test_anonymous_visitors_go_to_the_login_page(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
