"""The public endpoints' guards: a fixed-window rate limit (per client address, form or site) and
the answer when the database cannot store (503 with Retry-After, never a 500)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

# What a public endpoint answers 503 to: the database refused or could not be reached (a server
# stopped or restarting, a connection cut, SQLite's write lock held past the wait). Nothing was
# stored; the client sends again, with the same Idempotency-Key, after Retry-After.
DATABASE_DOWN = (OperationalError, InterfaceError)


def client_ip(request: HttpRequest) -> str:
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return str(forwarded).split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/60" → (20, 60): twenty in sixty seconds."""
    count, _, seconds = rate.partition("/")
    return int(count), int(seconds or 60)


def rate_limited(*, scope: str, key: str, rate: str) -> int | None:
    """Count one hit; return the seconds to wait when over the limit, else None."""
    limit, window = parse_rate(rate)
    if limit <= 0:
        return None
    now = int(time.time())
    slot = now // window
    cache_key = f"rl:{scope}:{key}:{slot}"
    # add() sets only if absent, so the first hit of a window starts the count without a race.
    if cache.add(cache_key, 1, timeout=window + 1):
        hits = 1
    else:
        try:
            hits = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window + 1)
            hits = 1
    if hits > limit:
        return (slot + 1) * window - now
    return None


def retry_after(response: JsonResponse, seconds: int) -> JsonResponse:
    response["Retry-After"] = str(max(1, seconds))
    return response


def database_unavailable(what: str) -> JsonResponse:
    """503: `what` could not be stored now; send it again after Retry-After seconds."""
    seconds = settings.PUBLIC_RETRY_AFTER_SECONDS
    body = {
        "error": f"{what} could not be stored just now; nothing was kept."
        f" Please send it again in {seconds} seconds (the same Idempotency-Key is safe).",
        "retry_after": seconds,
    }
    return retry_after(JsonResponse(body, status=503), seconds)
