"""Routing in the admin: every model is there for the admin role; a new absence hands on at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from leadline.core.models import AuditEntry, Role
from leadline.routing import services
from leadline.routing.models import Absence
from tests import factories
from tests.routing.conftest import MONDAY_10, new_request, owner_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def test_every_routing_model_is_registered() -> None:
    for model in apps.get_app_config("routing").get_models():
        assert admin.site.is_registered(model), model.__name__


def test_the_pages_are_for_the_admin_role_only(client: Client, emea: Any) -> None:
    services.request_assign(request_id=new_request().pk)
    pages = [
        f"/admin/routing/{model._meta.model_name}/"
        for model in apps.get_app_config("routing").get_models()
    ]
    client.force_login(factories.user(role=Role.ADMIN, username="ada"))
    for url in pages:
        assert client.get(url).status_code == 200, url
    client.force_login(emea.manager)
    for url in pages:
        # Not staff: the admin sends them to its login page.
        assert client.get(url).status_code in (302, 403), url


def test_an_absence_added_in_the_admin_hands_waiting_requests_on(client: Client, emea: Any) -> None:
    request = new_request()
    services.request_assign(request_id=request.pk)
    owner = owner_of(request)
    assert owner is not None
    client.force_login(factories.user(role=Role.ADMIN, username="ada"))
    response = client.post(
        "/admin/routing/absence/add/",
        {
            "user": owner.pk,
            "starts_at_0": "2026-11-23",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-11-27",
            "ends_at_1": "18:00:00",
            "reason": "Holiday",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    absence = Absence.objects.get(user=owner)
    assert absence.starts_at <= MONDAY_10 < absence.ends_at
    assert owner_of(request) not in (None, owner)
    assert AuditEntry.objects.filter(action="absence.record").exists()


def test_an_absence_that_ends_before_it_starts_is_refused(client: Client, emea: Any) -> None:
    rep = factories.user(role=Role.SALES_REP, team=emea)
    client.force_login(factories.user(role=Role.ADMIN, username="ada"))
    response = client.post(
        "/admin/routing/absence/add/",
        {
            "user": rep.pk,
            "starts_at_0": "2026-11-23",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-11-22",
            "ends_at_1": "09:00:00",
        },
    )
    assert response.status_code == 200
    assert not Absence.objects.exists()
