"""Login throttling and lockout (decision 0020-login-lockout): the services and selectors.

After LOGIN_MAX_FAILURES failed logins for one username (from any address) within
LOGIN_FAILURE_WINDOW seconds, or LOGIN_IP_MAX_FAILURES from one address (for any username),
further logins for that username / from that address are refused for LOGIN_LOCKOUT_SECONDS,
even with the right password. Wrong API tokens are counted per address the same way
(API_IP_MAX_FAILURES). Failures and lockouts are rows, not cache entries, so several web
processes count together whatever the cache is. Time comes from leadline.core.clock.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db import transaction

from leadline.core import clock
from leadline.core.models import LoginFailure, LoginLockout, User
from leadline.core.services import audit_record

Kind = LoginFailure.Kind


def username_key(username: str) -> str:
    """Failures for "Alice" and "alice " count together."""
    return username.strip().casefold()[:200]


def _limit(kind: str) -> int:
    if kind == Kind.USERNAME:
        return int(settings.LOGIN_MAX_FAILURES)
    if kind == Kind.IP:
        return int(settings.LOGIN_IP_MAX_FAILURES)
    return int(settings.API_IP_MAX_FAILURES)


# Selectors ---------------------------------------------------------------------------------


def lockout_active(*, kind: str, key: str) -> LoginLockout | None:
    if not key:
        return None
    return (
        LoginLockout.objects.filter(kind=kind, key=key, until__gt=clock.now(), released_at=None)
        .order_by("-until")
        .first()
    )


def login_refused(*, username: str, ip: str) -> LoginLockout | None:
    """The lockout that refuses this login, if any (the username's first, then the address's)."""
    return lockout_active(kind=Kind.USERNAME, key=username_key(username)) or lockout_active(
        kind=Kind.IP, key=ip
    )


def seconds_left(lockout: LoginLockout) -> int:
    return max(1, math.ceil((lockout.until - clock.now()).total_seconds()))


def lockouts_current() -> list[LoginLockout]:
    return list(
        LoginLockout.objects.filter(until__gt=clock.now(), released_at=None).order_by("until")
    )


# Services ----------------------------------------------------------------------------------


def _failure_count(*, kind: str, key: str) -> LoginLockout | None:
    """Record one failure for (kind, key); lock the key when it reaches its limit."""
    now = clock.now()
    window = dt.timedelta(seconds=int(settings.LOGIN_FAILURE_WINDOW))
    with transaction.atomic():
        # Failures older than the window no longer count: drop them as we go.
        LoginFailure.objects.filter(kind=kind, key=key, at__lte=now - window).delete()
        LoginFailure.objects.create(kind=kind, key=key, at=now)
        failures = LoginFailure.objects.filter(kind=kind, key=key).count()
        if failures < _limit(kind) or lockout_active(kind=kind, key=key) is not None:
            return None
        lockout = LoginLockout.objects.create(
            kind=kind,
            key=key,
            locked_at=now,
            until=now + dt.timedelta(seconds=int(settings.LOGIN_LOCKOUT_SECONDS)),
        )
        # The counted failures led to this lockout; after it, the count starts again.
        LoginFailure.objects.filter(kind=kind, key=key).delete()
        audit_record(
            actor=None,
            action="login.locked",
            obj=lockout,
            data={
                "kind": kind,
                "key": key,
                "failures": failures,
                "until": lockout.until.isoformat(),
            },
        )
    return lockout


def login_failure_record(*, username: str, ip: str) -> LoginLockout | None:
    """A failed login: count it for the username and the address. Returns a lockout it began."""
    by_name = _failure_count(kind=Kind.USERNAME, key=username_key(username))
    by_ip = _failure_count(kind=Kind.IP, key=ip) if ip else None
    return by_name or by_ip


def login_success_record(*, username: str) -> None:
    """A successful login resets the username's count (not the address's)."""
    LoginFailure.objects.filter(kind=Kind.USERNAME, key=username_key(username)).delete()


def api_failure_record(*, ip: str) -> LoginLockout | None:
    """A call with a wrong API token, counted per address."""
    return _failure_count(kind=Kind.API_IP, key=ip) if ip else None


def lockout_release(*, kind: str, key: str, actor: User | None) -> int:
    """Unlock a username or address now (an admin's button or `leadline unlock`); returns how
    many lockouts ended. Its failure count starts again too."""
    now = clock.now()
    with transaction.atomic():
        LoginFailure.objects.filter(kind=kind, key=key).delete()
        ended = list(
            LoginLockout.objects.select_for_update().filter(
                kind=kind, key=key, until__gt=now, released_at=None
            )
        )
        for lockout in ended:
            lockout.released_at = now
            lockout.released_by = actor
            lockout.save(update_fields=["released_at", "released_by"])
            audit_record(
                actor=actor, action="login.unlocked", obj=lockout, data={"kind": kind, "key": key}
            )
    return len(ended)


def username_unlock(*, username: str, actor: User | None) -> int:
    return lockout_release(kind=Kind.USERNAME, key=username_key(username), actor=actor)
