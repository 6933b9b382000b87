"""The Django admin is for the admin role, and shows every model of core and capture."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from leadline.core.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_core_and_capture_model_is_registered() -> None:
    from django.apps import apps

    for label in ("core", "capture"):
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model.__name__


def test_an_admin_by_role_uses_the_admin_without_staff_flags(client: Client) -> None:
    person = factories.person(first_name="Ann", role_own_words="I run finance systems")
    factories.form(slug="cfo-guide")
    factories.user(role=Role.ADMIN, username="ada")  # neither is_staff nor is_superuser
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "ada", "password": factories.PASSWORD}
    )
    assert response.status_code == 302
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/core/person/" in index.content.decode()
    assert "/admin/capture/form/" in index.content.decode()
    for url in (
        "/admin/core/person/",
        f"/admin/core/person/{person.pk}/change/",
        "/admin/core/user/",
        "/admin/core/user/add/",
        "/admin/core/timelineevent/",
        "/admin/capture/form/",
        "/admin/capture/submission/",
        "/admin/capture/request/",
        "/admin/core/account/?q=acme",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [Role.MARKETING, Role.SALES_MANAGER, Role.OUTSIDE_CALLER])
def test_other_roles_cannot_log_in_to_the_admin(client: Client, role: str) -> None:
    factories.user(role=role, username="mo", is_staff=True)
    response = client.post("/admin/login/", {"username": "mo", "password": factories.PASSWORD})
    assert response.status_code == 200
    assert "Only users with the admin role" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_logged_in_marketer_is_sent_to_the_admin_login(marketing_client: Client) -> None:
    response = marketing_client.get("/admin/core/person/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_raw_records_are_read_only(client: Client) -> None:
    admin_user = factories.user(role=Role.ADMIN)
    client.force_login(admin_user)
    form = factories.form()
    submission = factories.submission(form=form)
    assert client.get("/admin/capture/submission/add/").status_code == 403
    page = client.get(f"/admin/capture/submission/{submission.pk}/change/")
    assert page.status_code == 200
    assert 'name="payload"' not in page.content.decode()


def test_an_admin_edit_of_an_address_or_membership_keeps_search_in_step(client: Client) -> None:
    from leadline.core.models import Membership, PersonEmail
    from leadline.core.selectors import people_search, people_search_stale

    person = factories.person(first_name="Ann")
    globex = factories.account(name="Globex Holdings")
    client.force_login(factories.user(role=Role.ADMIN))
    stamp = {"created_at_0": "2026-11-24", "created_at_1": "09:00:00"}
    added = client.post(
        "/admin/core/personemail/add/",
        {"email": "ann@initech.example", "person": person.pk, **stamp},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    joined = client.post(
        "/admin/core/membership/add/",
        {"person": person.pk, "account": globex.pk, "is_current": "on", **stamp},
    )
    assert joined.status_code == 302, joined.content.decode()[:2000]
    assert list(people_search(query="initech globex")) == [person]
    membership = Membership.objects.get(person=person, account=globex)
    client.post(f"/admin/core/membership/{membership.pk}/delete/", {"post": "yes"})
    assert list(people_search(query="globex")) == []
    assert PersonEmail.objects.filter(person=person).count() == 2
    assert people_search_stale() == []
