"""The API tokens page: one's own tokens (an admin: everyone's), the key shown once, revoking."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from leadline.core.models import ApiToken, Role, User
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_rep_makes_a_read_only_token_sees_the_key_once_and_it_works() -> None:
    rita = factories.user(role=Role.SALES_REP, username="rita")
    client = _as(rita)

    response = client.post("/account/api-tokens/", {"name": "my script", "scopes": ["read"]})

    assert response.status_code == 200
    page = response.content.decode()
    key = re.search(r'value="(ll_[^"]+)"', page)
    assert key is not None, page
    token = ApiToken.objects.get(user=rita)
    assert token.scopes == ["read"]
    api = Client(headers={"Authorization": f"Bearer {key.group(1)}"})
    assert api.get("/api/v1/people").status_code == 200
    # The key is shown this once: the list shows only its first characters.
    again = client.get("/account/api-tokens/").content.decode()
    assert key.group(1) not in again
    assert token.prefix in again
    assert "my script" in again


def test_a_token_needs_a_scope() -> None:
    response = _as(factories.user()).post("/account/api-tokens/", {"name": "x"})

    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_revoking_on_the_page_stops_the_key_at_once() -> None:
    rita = factories.user(role=Role.SALES_REP)
    key = factories.api_key(user=rita)
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/people").status_code == 200
    token = ApiToken.objects.get(user=rita)

    response = _as(rita).post(f"/account/api-tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    assert api.get("/api/v1/people").status_code == 401
    page = _as(rita).get("/account/api-tokens/").content.decode()
    assert "revoked" in page
    assert "23 Nov 2026 10:00" in page  # last used: the call above, on the frozen clock


def test_a_rep_neither_sees_nor_revokes_someone_elses_token_but_an_admin_does() -> None:
    rita, sam = factories.user(username="rita"), factories.user(username="sam")
    factories.api_key(user=sam, name="sam's export")
    token = ApiToken.objects.get(user=sam)

    assert "sam's export" not in _as(rita).get("/account/api-tokens/").content.decode()
    assert _as(rita).post(f"/account/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    admin = factories.user(role=Role.ADMIN)
    listed = _as(admin).get("/account/api-tokens/").content.decode()
    assert "sam&#x27;s export" in listed or "sam's export" in listed
    assert _as(admin).post(f"/account/api-tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = Client().get("/account/api-tokens/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
