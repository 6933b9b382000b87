"""`leadline token`: a key for scripts."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from leadline import cli
from leadline.core.models import ApiToken, Role
from tests import factories


@pytest.mark.django_db
def test_prints_only_a_key_that_works() -> None:
    factories.user(role=Role.MARKETING, username="maria")
    out = io.StringIO()

    call_command("token", user="maria", name="zapier", stdout=out)

    key = out.getvalue().strip()
    assert "\n" not in key
    assert key.startswith("ll_")
    token = ApiToken.objects.get(user__username="maria")
    assert token.name == "zapier"
    assert key not in token.key_hash
    response = Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/people")
    assert response.status_code == 200


@pytest.mark.django_db
def test_unknown_user_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("token", user="nobody")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_through_the_leadline_command_an_unknown_user_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["token", "--user", "nobody"])

    assert exited.value.code != 0
    assert "no user named 'nobody'" in capsys.readouterr().err


@pytest.mark.django_db
def test_a_deactivated_user_gets_no_token() -> None:
    factories.user(username="gone", is_active=False)

    with pytest.raises(CommandError, match="deactivated"):
        call_command("token", user="gone")


def _run(*words: str) -> str:
    out = io.StringIO()
    call_command("token", *words, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_list_and_revoke() -> None:
    factories.user(role=Role.MARKETING, username="maria")

    key = _run("create", "--user", "maria", "--name", "export", "--scope", "read").strip()
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/people").status_code == 200
    assert client.post("/api/v1/people", {}, content_type="application/json").status_code == 403

    listed = _run("list", "--user", "maria")
    assert "export" in listed
    assert "\tread\t" in listed
    assert "last used never" not in listed  # it was used just now

    assert "revoked" in _run("revoke", key[:10])
    assert client.get("/api/v1/people").status_code == 401
    assert "export" not in _run("list", "--user", "maria")
    assert "revoked" in _run("list", "--user", "maria", "--all")


@pytest.mark.django_db
def test_revoking_an_unknown_token_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no token 'll_nothing'"):
        call_command("token", "revoke", "ll_nothing")
