"""Who may call the API: bearer keys, browser sessions, and the role checks behind them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.test import Client, RequestFactory
from ninja import NinjaAPI

from leadline.api import auth
from leadline.core import clock
from leadline.core.models import ApiToken, AuditEntry, Person, Role, User
from leadline.core.permissions import access_people
from leadline.core.services import api_token_create, api_token_revoke
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
    """A rep reads the people they own; someone else's are out of their view (issue 9)."""
    rep = factories.user(role=Role.SALES_REP)
    factories.owned(owner=rep, of=factories.person())
    factories.person()

    response = bearer(rep).get("/api/v1/people")

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


# Scopes and revocation ---------------------------------------------------------------------------


def _with_scopes(user: User, scopes: list[str]) -> Client:
    key = factories.api_key(user=user, scopes=scopes)
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.mark.django_db
def test_a_read_only_token_reads_but_may_not_write_and_is_told_the_missing_scope() -> None:
    user = factories.user(role=Role.MARKETING)
    client = _with_scopes(user, ["read"])
    before = Person.objects.count()

    assert client.get("/api/v1/people").status_code == 200
    response = client.post(
        "/api/v1/people", {"email": "new@buyer.example"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "write"
    assert "lacks the write scope" in response.json()["detail"]
    assert response.json()["your_scopes"] == ["read"]
    assert Person.objects.count() == before


@pytest.mark.django_db
def test_a_write_only_token_may_not_read() -> None:
    client = _with_scopes(factories.user(role=Role.MARKETING), ["write"])

    response = client.get("/api/v1/people")

    assert response.status_code == 403
    assert response.json()["missing"] == "read"


@pytest.mark.django_db
def test_a_capture_token_sends_submissions_and_nothing_else() -> None:
    form = factories.form(slug="white-paper")
    client = _with_scopes(factories.user(role=Role.MARKETING), ["capture"])

    sent = client.post(
        f"/api/v1/forms/{form.slug}/submissions",
        factories.submission_data(),
        content_type="application/json",
    )
    read = client.get("/api/v1/submissions")

    assert sent.status_code in {200, 201}, sent.content
    assert read.status_code == 403
    assert read.json()["missing"] == "read"


@pytest.mark.django_db
def test_a_scope_never_adds_rights_the_role_lacks() -> None:
    rep = factories.user(role=Role.SALES_REP)
    client = _with_scopes(rep, ["read", "write", "capture"])

    response = client.get("/api/v1/submissions")

    assert response.status_code == 403
    assert response.json()["missing"] == "access_submissions"


@pytest.mark.django_db
def test_a_refused_role_is_told_403_before_its_body_is_read() -> None:
    """The rule is checked at authentication: an empty body is not 422 to a role refused."""
    response = bearer(factories.user(role=Role.SALES_REP)).post(
        "/api/v1/forms", {}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "access_forms"


@pytest.mark.django_db
def test_unknown_scopes_are_refused() -> None:
    with pytest.raises(ValidationError):
        api_token_create(user=factories.user(), name="x", scopes=["root"])


@pytest.mark.django_db
def test_revoking_takes_effect_at_once_and_is_audited() -> None:
    user = factories.user(role=Role.MARKETING)
    client = bearer(user)
    assert client.get("/api/v1/people").status_code == 200
    token = ApiToken.objects.get(user=user)
    assert token.last_used_at is not None

    api_token_revoke(token=token, actor=user)

    assert client.get("/api/v1/people").status_code == 401
    assert AuditEntry.objects.filter(action="api_token.revoke").count() == 1


@pytest.mark.django_db
def test_an_operation_without_a_rule_refuses_everyone() -> None:
    """Fail closed: a handler that forgot `@rule` answers 403 to every caller."""
    api = NinjaAPI(urls_namespace="norule", auth=[auth.BearerToken()])
    auth.install(api)

    @api.get("/open")
    def forgot(request: HttpRequest) -> dict[str, bool]:
        return {"ok": True}

    @api.get("/ruled")
    @auth.rule(access_people)
    def ruled(request: HttpRequest) -> dict[str, bool]:
        return {"ok": True}

    key = factories.api_key(user=factories.user(role=Role.ADMIN))
    views = {pattern.name: pattern.callback for pattern in api.urls[0]}
    factory = RequestFactory(headers={"Authorization": f"Bearer {key}"})

    refused = views["forgot"](factory.get("/open"))
    allowed = views["ruled"](factory.get("/ruled"))

    assert refused.status_code == 403
    assert b"declares no rule" in refused.content
    assert allowed.status_code == 200
