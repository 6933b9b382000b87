"""Notifications in the admin: admin role only; a new endpoint's secret is shown once."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from leadline.core.models import AuditEntry, Role
from leadline.notify import services
from leadline.notify.models import WebhookEndpoint
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = (
    "/admin/notify/outgoingmail/",
    "/admin/notify/inboxitem/",
    "/admin/notify/webhookendpoint/",
    "/admin/notify/webhookendpoint/add/",
    "/admin/notify/webhookdelivery/",
)


def test_every_notify_model_is_registered() -> None:
    for model in apps.get_app_config("notify").get_models():
        assert admin.site.is_registered(model), model.__name__


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(client: Client) -> None:
    ada = factories.user(role=Role.ADMIN, username="ada")
    client.force_login(ada)
    services.mail_send(to=["ann@buyer.example"], subject="Hi", text="Hi", reason="test")
    for url in PAGES:
        assert client.get(url).status_code == 200, url

    response = client.post(
        "/admin/notify/webhookendpoint/add/",
        {"url": "https://chat.example/hooks/sales", "description": "Sales", "kinds": '["*"]'},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.created_by, endpoint.kinds, endpoint.active) == (ada, ["*"], True)
    assert endpoint.secret in response.content.decode()
    assert AuditEntry.objects.filter(action="webhook_endpoint.create", actor=ada).exists()
    change = client.get(f"/admin/notify/webhookendpoint/{endpoint.pk}/change/")
    assert change.status_code == 200
    assert endpoint.secret not in change.content.decode()


def test_a_bad_endpoint_in_the_admin_names_the_field(client: Client) -> None:
    client.force_login(factories.user(role=Role.ADMIN))
    response = client.post(
        "/admin/notify/webhookendpoint/add/",
        {"url": "ftp://chat.example/x", "kinds": "[]"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"url", "kinds"}
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("role", [Role.MARKETING, Role.SALES_MANAGER, Role.SALES_REP])
def test_other_roles_are_sent_to_the_admin_login(client: Client, role: str) -> None:
    client.force_login(factories.user(role=role, is_staff=True))
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")
