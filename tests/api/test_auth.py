"""Who may call the API: bearer keys, browser sessions, and the role checks behind them."""

from __future__ import annotations

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import ApiToken, Role
from tests import factories
from tests.api.conftest import ApiClient, bearer

LISTS = ["/api/v1/people", "/api/v1/accounts", "/api/v1/requests", "/api/v1/submissions"]


@pytest.mark.django_db
def test_no_credentials_is_401_json_saying_how_to_authenticate(client: Client) -> None:
    response = client.get("/api/v1/people")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "Bearer" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer ll_not-a-real-key", "Bearer ", "Basic Zm9vOmJhcg=="])
def test_garbage_credentials_are_401(header: str) -> None:
    response = Client(headers={"Authorization": header}).get("/api/v1/people")

    assert response.status_code == 401


@pytest.mark.django_db
def test_a_revoked_key_stops_working() -> None:
    user = factories.user(role=Role.MARKETING)
    client = bearer(user)
    assert client.get("/api/v1/people").status_code == 200

    ApiToken.objects.filter(user=user).update(revoked_at=clock.now())

    assert client.get("/api/v1/people").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_users_key_stops_working() -> None:
    user = factories.user(role=Role.MARKETING)
    client = bearer(user)
    user.is_active = False
    user.save()

    assert client.get("/api/v1/people").status_code == 401


@pytest.mark.parametrize("path", [*LISTS, "/api/v1/forms"])
def test_outside_callers_are_refused_everything_for_now(api_as: ApiClient, path: str) -> None:
    response = api_as(Role.OUTSIDE_CALLER).get(path)

    assert response.status_code == 403
    body = response.json()
    assert body["missing"].startswith("access_")
    assert body["your_role"] == "outside_caller"
    assert "outside_caller" not in body["allowed_roles"]
    assert body["missing"] in body["detail"]


def test_outside_callers_cannot_open_a_person_either(api_as: ApiClient) -> None:
    person = factories.person()

    response = api_as(Role.OUTSIDE_CALLER).get(f"/api/v1/people/{person.pk}")

    assert response.status_code == 403
    assert response.json()["missing"] == "access_people"


@pytest.mark.parametrize(
    ("path", "missing"),
    [("/api/v1/forms", "access_forms"), ("/api/v1/submissions", "access_submissions")],
)
def test_a_sales_rep_is_told_which_permission_is_missing(
    api_as: ApiClient, path: str, missing: str
) -> None:
    response = api_as(Role.SALES_REP).get(path)

    assert response.status_code == 403
    assert response.json()["missing"] == missing
    assert set(response.json()["allowed_roles"]) >= {"admin", "marketing"}


def test_a_sales_rep_reads_people(api_as: ApiClient) -> None:
    factories.person()

    response = api_as(Role.SALES_REP).get("/api/v1/people")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_sales_rep_may_not_merge(api_as: ApiClient) -> None:
    survivor, loser = factories.person(), factories.person()

    response = api_as(Role.SALES_REP).post(
        f"/api/v1/people/{survivor.pk}/merge",
        {"loser_id": loser.pk},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "access_merge"
    loser.refresh_from_db()
    assert loser.merged_into_id is None


@pytest.mark.django_db
def test_the_logged_in_web_ui_reads_through_its_session(role_client: object) -> None:
    client = role_client(Role.SALES_MANAGER)  # type: ignore[operator]

    assert client.get("/api/v1/people").status_code == 200


@pytest.mark.django_db
def test_a_session_must_send_the_csrf_token_to_change_anything() -> None:
    user = factories.user(role=Role.MARKETING)
    person = factories.person(first_name="Ann")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    url = f"/api/v1/people/{person.pk}"

    forged = browser.patch(url, {"title": "CFO"}, content_type="application/json")
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    person.refresh_from_db()
    assert person.title == ""

    browser.get("/api/v1/docs")  # the docs page hands out the CSRF cookie, as the web UI does
    token = browser.cookies["csrftoken"].value
    allowed = browser.patch(
        url, {"title": "CFO"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert allowed.status_code == 200
    assert allowed.json()["title"] == "CFO"


@pytest.mark.django_db
def test_a_bearer_key_needs_no_csrf_token() -> None:
    person = factories.person()
    client = Client(
        enforce_csrf_checks=True,
        headers={
            "Authorization": "Bearer " + factories.api_key(user=factories.user(role=Role.MARKETING))
        },
    )

    response = client.patch(
        f"/api/v1/people/{person.pk}", {"title": "CFO"}, content_type="application/json"
    )

    assert response.status_code == 200


@pytest.mark.django_db
def test_an_unsafe_call_without_any_credentials_is_401_not_a_csrf_403() -> None:
    person = factories.person()

    response = Client(enforce_csrf_checks=True).patch(
        f"/api/v1/people/{person.pk}", {"title": "CFO"}, content_type="application/json"
    )

    assert response.status_code == 401
