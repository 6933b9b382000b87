"""The hot path for web tracking: check a batch of events, store it, queue its processing, return.

t.js (journeys/static/journeys/t.js) posts `{"site", "visitor_id", "events": [...]}` here, as
text/plain from `navigator.sendBeacon` (no CORS preflight) or as application/json. Like capture's
hot path (capture/ingest.py) it is a plain function view: the checks are pure functions, the
batch is one plain-SQL insert, and visitors, events, the timeline and journeys happen in the
worker (journeys.tracking). Each event is checked on its own; the bad ones are left out and named
in the answer, the good ones are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from leadline.core import clock
from leadline.core.links import origin_listed, own_origins
from leadline.core.permissions import public
from leadline.core.ratelimit import DATABASE_DOWN, client_ip, database_unavailable, rate_limited
from leadline.journeys.models import BatchStatus, EventBatch, TrackingSite
from leadline.journeys.signals import EVENT_NAME
from leadline.journeys.tracking import (
    IDENTIFY_TOKEN,
    VISITOR_ID,
    event_batches_process_queue,
)

logger = logging.getLogger(__name__)
SITE_CACHE_SECONDS = 10
MAX_EVENTS = 100
MAX_NAME = 80
MAX_URL = 2000
MAX_PATH = 500
MAX_TITLE = 300
MAX_PROPERTIES_BYTES = 4096
# Further back than this, a browser's clock is wrong (or the event was replayed): the server's
# time is used, the browser's kept in the event's properties.
MAX_AGE = dt.timedelta(days=7)
CLIENT_TIME_PROPERTY = "client_occurred_at"
# What a site's key may look like; anything else is no site's (and never reaches the database
# or the cache, which would refuse a NUL or warn about spaces).
SITE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
VISITOR_ID_RULE = "visitor_id: 1 to 64 characters of A-Z, a-z, 0-9, - and _"
ACCEPTED_TYPES = ("application/json", "text/plain")


@dataclasses.dataclass(frozen=True)
class SiteSpec:
    """What the hot path needs to know of an active tracking site."""

    id: int
    key: str
    allowed_origins: tuple[str, ...]

    def origin_allowed(self, origin: str) -> bool:
        """Listed origins only: nothing listed, no other site's page may send (issue 9)."""
        return origin_listed(self.allowed_origins, origin)


def site_spec(key: str) -> SiteSpec | None:
    """The active site with this key, cached briefly so a burst of batches costs one query."""
    cache_key = f"journeys:site:{key}"
    spec: SiteSpec | None = cache.get(cache_key)
    if spec is None:
        site = TrackingSite.objects.filter(key=key, is_active=True).first()
        if site is None:
            return None
        spec = SiteSpec(id=site.pk, key=key, allowed_origins=tuple(site.origins()))
        cache.set(cache_key, spec, SITE_CACHE_SECONDS)
    return spec


def site_spec_forget(key: str) -> None:
    cache.delete(f"journeys:site:{key}")
    cache.delete(ORIGINS_CACHE_KEY)


ORIGINS_CACHE_KEY = "journeys:origins"


def listed_origins() -> tuple[str, ...]:
    """Every active site's allowed origins, cached briefly: a preflight names no site, so it is
    answered for these (and the product's own) only."""
    origins: tuple[str, ...] | None = cache.get(ORIGINS_CACHE_KEY)
    if origins is None:
        origins = tuple(
            line.strip().rstrip("/")
            for text in TrackingSite.objects.filter(is_active=True).values_list(
                "allowed_origins", flat=True
            )
            for line in text.splitlines()
            if line.strip()
        )
        cache.set(ORIGINS_CACHE_KEY, origins, SITE_CACHE_SECONDS)
    return origins


class BadBatch(ValueError):
    """The batch as a whole cannot be taken; the message names the field."""


def batch_read(body: bytes) -> tuple[dict[str, Any], bool]:
    """(the posted JSON object, whether all of it can be stored as it is), or BadBatch.

    orjson reads it, in a third of json's time. What orjson refuses and Python's json reads —
    NaN, Infinity, a lone surrogate (from a page title cut in half) — no database stores; the
    batch is read again with json, and events_clean leaves out the events holding such values.
    Integers past 64 bits come back as floats, as a browser's JavaScript has them anyway.
    """
    storable = True
    try:
        data = orjson.loads(body or b"")
    except orjson.JSONDecodeError:
        try:
            data = json.loads(body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadBatch(f"body: not JSON ({exc})") from exc
        storable = False
    if not isinstance(data, dict):
        raise BadBatch("body: must be a JSON object")
    return data, storable


def batch_check(data: dict[str, Any]) -> tuple[str, list[Any]]:
    """(visitor id, raw events) of a batch, or BadBatch naming the field."""
    visitor_id = data.get("visitor_id")
    if not isinstance(visitor_id, str) or not VISITOR_ID.fullmatch(visitor_id):
        raise BadBatch(VISITOR_ID_RULE)
    identify = data.get("identify")
    if identify is not None and not (
        isinstance(identify, str) and IDENTIFY_TOKEN.fullmatch(identify)
    ):
        raise BadBatch("identify: the ll_t token of a link in a mail, as it was in the link")
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise BadBatch("events: must be a non-empty list")
    if len(events) > MAX_EVENTS:
        raise BadBatch(f"events: at most {MAX_EVENTS} in one batch, got {len(events)}")
    return visitor_id, events


def _text(raw: dict[str, Any], field: str, limit: int) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be text")
    if len(value) > limit:
        raise ValueError(f"{field}: at most {limit} characters")
    return value


def _occurred_at(raw: Any, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """(when the event happened, was the browser's time replaced by the server's)."""
    if raw is None or raw == "":
        return now, False
    if not isinstance(raw, str):
        raise ValueError("occurred_at: must be an ISO 8601 time as text")
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"occurred_at: not an ISO 8601 time: {raw[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when > now or when < now - MAX_AGE:
        return now, True
    return when, False


def event_clean(raw: Any, *, now: dt.datetime, size_known_fine: bool = False) -> dict[str, Any]:
    """One event as stored in the batch, or ValueError("field: what is wrong").

    `size_known_fine`: the caller measured its properties (with others') within the limit.
    """
    if not isinstance(raw, dict):
        raise ValueError("event: must be a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not (name := name.strip().lower()):
        raise ValueError("name: required")
    if len(name) > MAX_NAME:
        raise ValueError(f"name: at most {MAX_NAME} characters")
    if not EVENT_NAME.fullmatch(name):
        raise ValueError("name: only a-z, 0-9 and _ . : -")
    url = _text(raw, "url", MAX_URL)
    path = _text(raw, "path", MAX_PATH)
    if not path and url:
        try:
            path = (urlsplit(url).path or "/")[:MAX_PATH]
        except ValueError:
            raise ValueError("url: not a URL") from None
    title = _text(raw, "title", MAX_TITLE)
    referrer = _text(raw, "referrer", MAX_URL)
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        raise ValueError("properties: must be a JSON object")
    elif properties and not size_known_fine:
        size = _json_size(properties)
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(
                f"properties: at most {MAX_PROPERTIES_BYTES} bytes as JSON, got {size}"
            )
    occurred_at, replaced = _occurred_at(raw.get("occurred_at"), now)
    if replaced:
        properties = {**properties, CLIENT_TIME_PROPERTY: raw["occurred_at"]}
    return {
        "name": name,
        "url": url,
        "path": path,
        "title": title,
        "referrer": referrer,
        "occurred_at": occurred_at.isoformat(),
        "properties": properties,
    }


def _json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON, in UTF-8: as it is stored."""
    return len(_json_text(value))


def _json_text(value: Any) -> str:
    """`value` as compact JSON. orjson writes it; an integer past 64 bits (only from a batch
    json had to read) is left to json."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _storable(raw: Any) -> bool:
    """Whether a value read by json holds nothing a database refuses: NaN, Infinity or a lone
    surrogate (not valid UTF-8)."""
    try:
        json.dumps(raw, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError):
        return False
    return True


NUL_ERROR = "event: the NUL character (\\u0000) is not allowed"
UNSTORABLE_ERROR = "event: NaN, Infinity or a lone surrogate (\\ud800-\\udfff) cannot be stored"


def events_clean(
    raw_events: list[Any], *, now: dt.datetime, nul_possible: bool = True, storable: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the good events, in order; [{"index", "error"}] for each bad one).

    An event holding a NUL character anywhere is bad: PostgreSQL's JSON cannot store one.
    `nul_possible` False: the caller knows there is none (its body has no "\\u0000").
    So is one holding NaN, Infinity or a lone surrogate; `storable` True: the caller knows
    there is none (orjson read the batch).
    """
    # One measure of all the properties together: when they fit the limit, each one does, and
    # the events need not be measured one by one.
    properties = [raw.get("properties") for raw in raw_events if isinstance(raw, dict)]
    fine = storable and _json_size(properties) <= MAX_PROPERTIES_BYTES
    clean: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        if not storable and not _storable(raw):
            rejected.append({"index": index, "error": UNSTORABLE_ERROR})
            continue
        if nul_possible and "\\u0000" in json.dumps(raw):
            rejected.append({"index": index, "error": NUL_ERROR})
            continue
        try:
            clean.append(event_clean(raw, now=now, size_known_fine=fine))
        except ValueError as exc:
            rejected.append({"index": index, "error": str(exc)})
    return clean, rejected


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response


def _error(status: int, message: str, origin: str, **extra: Any) -> HttpResponse:
    return _cors(JsonResponse({"error": message, **extra}, status=status), origin)


@public("the tracking beacon: each batch carries its site's public key; it reads nothing back")
@csrf_exempt  # No cookies are read or set here; each batch carries its site's public key.
def collect(request: HttpRequest) -> HttpResponse:
    try:
        return _collect(request)
    except DATABASE_DOWN as exc:
        logger.warning("tracking: the database could not store a batch (%s); 503", exc)
        answer = database_unavailable("This batch of events")
        # The origin is not known to be allowed (its site was not read): no CORS header.
        return answer


def _collect(request: HttpRequest) -> HttpResponse:
    # META, not request.headers: that builds a dict of every header first (a hot path).
    origin = request.META.get("HTTP_ORIGIN", "")
    if request.method == "OPTIONS":
        # A preflight carries no body, so no site key: it is answered for the origins some
        # active site lists (and the product's own) only; the POST that follows is checked
        # against its own site's.
        if origin and not (
            origin_listed(listed_origins(), origin) or origin.rstrip("/") in own_origins(request)
        ):
            return JsonResponse({"error": f"origin {origin} may not send events"}, status=403)
        return _cors(HttpResponse(status=204), origin)
    if request.method != "POST":
        return _error(405, "POST a batch of events", origin)

    limit = settings.TRACKING_MAX_BODY_BYTES
    try:
        too_big = int(request.META.get("CONTENT_LENGTH") or 0) > limit or len(request.body) > limit
    except RequestDataTooBig:
        too_big = True
    if too_big:
        return _error(413, f"body: over {limit} bytes", origin)

    ip = client_ip(request)
    wait = rate_limited(scope="tracking", key=ip, rate=settings.TRACKING_RATE_LIMIT)
    if wait is not None:
        response = _error(429, "too many batches from this address; try again shortly", origin)
        response["Retry-After"] = str(wait)
        return response

    if request.content_type not in ACCEPTED_TYPES:
        return _error(400, "body: send JSON as application/json or text/plain", origin)
    try:
        data, storable = batch_read(request.body)
    except BadBatch as exc:
        return _error(400, str(exc), origin)

    key = data.get("site")
    site = site_spec(key) if isinstance(key, str) and SITE_KEY.fullmatch(key) else None
    if site is None:
        return _error(403, "site: no active tracking site has this key", origin)
    if origin and not (site.origin_allowed(origin) or origin.rstrip("/") in own_origins(request)):
        return JsonResponse(
            {"error": f"origin {origin} may not send events for this site"}, status=403
        )
    # However many addresses it comes from, a flood for one site is held back too.
    wait = rate_limited(scope="tracking-site", key=site.key, rate=settings.TRACKING_SITE_RATE_LIMIT)
    if wait is not None:
        response = _error(429, "too many batches for this site; try again shortly", origin)
        response["Retry-After"] = str(wait)
        return response

    try:
        visitor_id, raw_events = batch_check(data)
    except BadBatch as exc:
        return _error(400, str(exc), origin)
    now = clock.now()
    # JSON can only carry a NUL as the escape; without one in the body, no event has one.
    clean, rejected = events_clean(
        raw_events, now=now, nul_possible=b"\\u0000" in request.body, storable=storable
    )
    if not clean:
        return _error(400, "events: none could be taken", origin, accepted=0, rejected=rejected)

    event_batch_store(
        site_id=site.id,
        visitor_id=visitor_id,
        events=clean,
        meta={
            "ip": ip,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
            "origin": origin,
            # Checked by the worker, which joins the visitor to the person it names.
            **({"identify": data["identify"]} if "identify" in data else {}),
        },
        received_at=now,
    )
    answer: HttpResponse
    if rejected:
        answer = JsonResponse({"accepted": len(clean), "rejected": rejected}, status=202)
    else:  # the usual answer, without a JSON encoder
        answer = HttpResponse(
            b'{"accepted": %d, "rejected": []}' % len(clean),
            content_type="application/json",
            status=202,
        )
    return _cors(answer, origin)


_INSERT = (
    f"INSERT INTO {EventBatch._meta.db_table} (site_id, visitor_id, received_at, events, meta,"  # noqa: S608
    " status, attempts, last_error) VALUES (%s, %s, %s, %s, %s, %s, 0, '')"
)


def _db_value(field: str, value: Any) -> Any:
    return EventBatch._meta.get_field(field).get_db_prep_value(value, connection)  # type: ignore[union-attr]


def _json_value(value: Any, *, sqlite: bool) -> Any:
    """A JSON column's value as the JSONField stores it; on SQLite (text) without the spaces
    after separators, which the ORM reads back the same and which make the row smaller."""
    if sqlite:
        return _json_text(value)
    return _db_value("events", value)


def event_batch_store(
    *,
    site_id: int,
    visitor_id: str,
    events: list[dict[str, Any]],
    meta: dict[str, Any],
    received_at: dt.datetime,
) -> int:
    """Store a checked batch, then queue its processing; returns the batch's id.

    The insert commits on its own, so the batch is kept before anything else can fail. If
    queueing fails, or the process dies in between, the worker's sweep
    (`event_batches_requeue_stale`) queues the batch again: stored means processed, later.
    """
    # Plain SQL, as in capture: the ORM's insert compiler costs more than the insert here.
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if sqlite:
            # A browser waits at most this long for the write lock; then 503 + Retry-After.
            cursor.cursor.lock_wait = settings.PUBLIC_DB_LOCK_WAIT_SECONDS
        cursor.execute(
            _INSERT if sqlite else f"{_INSERT} RETURNING id",
            [
                site_id,
                visitor_id,
                _db_value("received_at", received_at),
                _json_value(events, sqlite=sqlite),
                _json_value(meta, sqlite=sqlite),
                BatchStatus.RECEIVED,
            ],
        )
        # Not RETURNING on SQLite: that statement, and with it the write lock, stays open until
        # its row is fetched, and this thread may wait for the GIL in between while every other
        # writer waits for the lock.
        batch_id = int(cursor.lastrowid if sqlite else cursor.fetchone()[0])
    try:
        event_batches_process_queue()
    except DatabaseError:
        logger.exception("event batch %s stored; queueing failed, the sweep will retry", batch_id)
    return batch_id
