"""Login throttling and lockout (core/lockout.py, web/security.LoginView): five failures lock
a username (any address), twenty lock an address (any username), for fifteen minutes, with
429 and an audit row; a success resets the username's count; `leadline unlock` ends one.
Wrong API keys are counted per address the same way."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

from leadline.core import clock
from leadline.core.models import AuditEntry, LoginLockout, Role
from tests import factories

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts to log in"


def _login(client: Client, username: str, password: str, ip: str = "203.0.113.5") -> object:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_username_even_for_the_right_password(client: Client) -> None:
    factories.user(username="alice")
    with clock.frozen_at(factories.MONDAY_10):
        statuses = [
            _login(client, "alice", "wrong", ip=f"198.51.100.{n}").status_code for n in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429], f"statuses of five failures: {statuses}"
        # From yet another address, with the right password: still refused, nothing leaked.
        refused = _login(client, "alice", factories.PASSWORD, ip="192.0.2.77")
        assert refused.status_code == 429
        assert LOCKED in refused.content.decode()
        assert int(refused["Retry-After"]) == 15 * 60
        assert "_auth_user_id" not in client.session
        audit = AuditEntry.objects.filter(action="login.locked")
        assert [(a.data["kind"], a.data["key"]) for a in audit] == [("username", "alice")]

    # A user who does not exist is locked the same way: the answer says nothing about who exists.
    with clock.frozen_at(factories.MONDAY_10):
        ghost = [_login(client, "nobody", "x", ip="192.0.2.9").status_code for _ in range(5)]
    assert ghost[-1] == 429

    # The lockout ends after fifteen minutes.
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=14, seconds=59)):
        assert _login(client, "alice", factories.PASSWORD).status_code == 429
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=15, seconds=1)):
        released = _login(client, "alice", factories.PASSWORD)
    assert released.status_code == 302, released.content[:500]
    assert client.session["_auth_user_id"]


def test_a_success_resets_the_username_count(client: Client) -> None:
    factories.user(username="bob")
    with clock.frozen_at(factories.MONDAY_10):
        for _ in range(4):
            assert _login(client, "bob", "wrong").status_code == 200
        assert _login(client, "bob", factories.PASSWORD).status_code == 302
        client.logout()
        statuses = [_login(client, "bob", "wrong").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 200], f"after a success, four failures: {statuses}"
    assert not LoginLockout.objects.exists()


def test_failures_outside_the_window_do_not_count(client: Client) -> None:
    factories.user(username="carol")
    for minutes in (0, 5, 10, 16, 20):  # the first leaves the 15-minute window at 15
        with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=minutes)):
            assert _login(client, "carol", "wrong").status_code == 200, f"at +{minutes} min"
    assert not LoginLockout.objects.exists()


@override_settings(LOGIN_IP_MAX_FAILURES=6)
def test_one_address_failing_for_many_usernames_is_locked(client: Client) -> None:
    factories.user(username="dave")
    with clock.frozen_at(factories.MONDAY_10):
        statuses = [
            _login(client, f"guess{n}", "x", ip="203.0.113.66").status_code for n in range(6)
        ]
        assert statuses[-1] == 429, f"six usernames from one address: {statuses}"
        # A real user from that address is refused too; from another address, let in.
        assert _login(client, "dave", factories.PASSWORD, ip="203.0.113.66").status_code == 429
        assert _login(client, "dave", factories.PASSWORD, ip="203.0.113.67").status_code == 302
    lockouts = list(LoginLockout.objects.values_list("kind", "key"))
    assert lockouts == [("ip", "203.0.113.66")], lockouts


def test_an_admin_unlocks_a_username(client: Client) -> None:
    factories.user(username="erin")
    with clock.frozen_at(factories.MONDAY_10):
        for n in range(5):
            _login(client, "erin", "wrong", ip=f"198.51.100.{n}")
        assert _login(client, "erin", factories.PASSWORD).status_code == 429
        listing = io.StringIO()
        call_command("unlock", "--list", stdout=listing)
        assert "username\terin" in listing.getvalue()
        out = io.StringIO()
        call_command("unlock", "erin", stdout=out)
        assert "Unlocked user 'erin'" in out.getvalue()
        assert _login(client, "erin", factories.PASSWORD).status_code == 302
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["login.locked", "login.unlocked"], actions


@override_settings(API_IP_MAX_FAILURES=3)
def test_wrong_api_keys_lock_the_address_out_of_token_auth(client: Client) -> None:
    key = factories.api_key(user=factories.user(role=Role.ADMIN))
    with clock.frozen_at(factories.MONDAY_10):
        wrong = [
            client.get(
                "/api/v1/people", HTTP_AUTHORIZATION="Bearer ll_wrong", REMOTE_ADDR="203.0.113.9"
            ).status_code
            for _ in range(3)
        ]
        assert wrong == [401, 401, 401], wrong
        refused = client.get(
            "/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="203.0.113.9"
        )
        assert refused.status_code == 429, refused.content[:300]
        assert int(refused["Retry-After"]) == 15 * 60
        other = client.get(
            "/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="203.0.113.10"
        )
        assert other.status_code == 200, other.content[:300]
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=16)):
        again = client.get(
            "/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="203.0.113.9"
        )
    assert again.status_code == 200
