"""The hot path for form submissions: check, store the raw submission, queue its processing, return.

A plain function view, as in PostHog's old capture: no ORM graph, no signals. Everything else
(people, accounts, requests, the timeline) happens in the worker, idempotently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.views.decorators.csrf import csrf_exempt

from leadline.capture.models import Form, Submission, SubmissionStatus
from leadline.capture.services import submissions_process_queue
from leadline.capture.validation import (
    HONEYPOT_FIELD,
    KEY_FIELD,
    FormSpec,
    honeypot_filled,
    submission_clean,
)
from leadline.core import clock
from leadline.core.links import own_origins, public_url
from leadline.core.ratelimit import (
    DATABASE_DOWN,
    client_ip,
    database_unavailable,
    rate_limited,
    retry_after,
)

logger = logging.getLogger(__name__)
SPEC_CACHE_SECONDS = 10
THANKS_SALT = "leadline.capture.thanks"
# The hosted form's hidden field and the embed's body field carrying fill_token().
RENDERED_FIELD = "_rendered"
_FILL_SIGNER = signing.Signer(salt="leadline.capture.rendered")


def form_spec(slug: str) -> FormSpec | None:
    """The active form's spec, cached briefly so a burst of submissions costs one query."""
    cache_key = f"capture:form:{slug}"
    spec: FormSpec | None = cache.get(cache_key)
    if spec is None:
        form = Form.objects.filter(slug=slug, is_active=True).first()
        if form is None:
            return None
        spec = FormSpec(
            id=form.pk,
            slug=slug,
            fields=form.fields,
            contact_box=form.contact_box,
            consent_text=form.consent_text,
            consent_required=form.consent_required,
            allowed_origins=form.origins(),
            has_asset=form.asset_id is not None,
        )
        cache.set(cache_key, spec, SPEC_CACHE_SECONDS)
    return spec


def form_spec_forget(slug: str) -> None:
    cache.delete(f"capture:form:{slug}")


def _error(status: int, message: str, fields: dict[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key"
        response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response


def _wants_html(request: HttpRequest) -> bool:
    return not (request.content_type or "").startswith("application/json")


def _read_data(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: request.POST.get(key) for key in request.POST}
    raise ValueError("send application/json or a form (application/x-www-form-urlencoded)")


def idempotency_key(request: HttpRequest, spec: FormSpec, data: dict[str, Any]) -> str:
    given = request.headers.get("Idempotency-Key") or data.get(KEY_FIELD)
    if given:
        return str(given)
    # No key: the same payload to the same form on the same day is the same submission
    # (a refreshed thank-you page, a double click), later ones are new signals.
    canonical = json.dumps(data, sort_keys=True, default=str)
    day = clock.now().date().isoformat()
    return "auto:" + hashlib.sha256(f"{spec.id}|{day}|{canonical}".encode()).hexdigest()


def thanks_token(submission_id: int) -> str:
    return signing.dumps(submission_id, salt=THANKS_SALT)


def thanks_submission_id(token: str) -> int:
    return int(signing.loads(token, salt=THANKS_SALT))


_TOKEN_MARK = "~token~"  # noqa: S105 (not a password: where the token goes in a path)


@functools.lru_cache(maxsize=1024)
def _path_with_token_mark(name: str, *args: str, script_prefix: str) -> str:
    return reverse(name, args=[*args, _TOKEN_MARK])


def _token_path(name: str, *args: str, token: str) -> str:
    """The path of a URL that ends in a token.

    reverse() once per form and process instead of twice per submission: it cost more than
    the rest of the answer (bench/capture.py).
    """
    marked = _path_with_token_mark(name, *args, script_prefix=get_script_prefix())
    return marked.replace(_TOKEN_MARK, token)


def _received(
    request: HttpRequest, spec: FormSpec, submission_id: int, *, duplicate: bool, origin: str
) -> HttpResponse:
    token = thanks_token(submission_id)
    thanks_url = _token_path("capture:thanks", spec.slug, token=token)
    if _wants_html(request):
        return redirect(thanks_url, permanent=False)
    body: dict[str, Any] = {
        "id": submission_id,
        "status": "received",
        "duplicate": duplicate,
        "thanks_url": public_url(request, thanks_url),
    }
    if spec.has_asset:
        download = _token_path("capture:download", token=token)
        body["download_url"] = public_url(request, download)
    return _cors(JsonResponse(body, status=200 if duplicate else 201), origin)


def _no_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def _csrf_protected(request: HttpRequest) -> HttpResponse:
    """Stands in for a view that is not CSRF-exempt, so the middleware's check applies."""
    return HttpResponse()


def _origin_ok(request: HttpRequest, spec: FormSpec, origin: str) -> bool:
    """Listed sites, and the product's own pages (the hosted form); nothing else (issue 9)."""
    return spec.origin_allowed(origin) or origin.rstrip("/") in own_origins(request)


def fill_token(form_id: int) -> str:
    """The signed moment a form was shown (the hosted page, the embed's schema): a submission
    sent back sooner than CAPTURE_MIN_FILL_SECONDS was filled by a bot."""
    issued = int(clock.now().timestamp() * 1000)
    return _FILL_SIGNER.sign_object([form_id, issued], compress=False)


def fill_check(request: HttpRequest, spec: FormSpec, data: dict[str, Any]) -> str | None:
    """None when the submission may be stored, else why it looks like a bot's.

    The rule (docs/deploy.md, "Bots and other sites"): a submission carrying a render token is
    checked (signed, for this form, older than the minimum, younger than the maximum). Without
    one, a hosted-form post (it always carries one) and a browser's JSON post (an Origin) with no
    Idempotency-Key header are a bot's; an API or server-to-server post is stored as before.
    Signatures only: no database read.
    """
    token = data.get(RENDERED_FIELD)
    if not token:
        if request.content_type != "application/json":
            return "a hosted-form post without its render token"
        if request.META.get("HTTP_ORIGIN") and not request.META.get("HTTP_IDEMPOTENCY_KEY"):
            return "a browser post without a render token or Idempotency-Key"
        return None
    try:
        form_id, issued = _FILL_SIGNER.unsign_object(str(token))
        age = clock.now().timestamp() - int(issued) / 1000
    except (signing.BadSignature, ValueError, TypeError):
        return "a forged or damaged render token"
    if form_id != spec.id:
        return "another form's render token"
    if age < settings.CAPTURE_MIN_FILL_SECONDS:
        return f"filled in {max(age, 0):.2f} s"
    if age > settings.CAPTURE_FILL_TOKEN_MAX_AGE:
        return f"a render token {age / 3600:.0f} h old"
    return None


def _dropped(request: HttpRequest, spec: FormSpec, origin: str, why: str) -> HttpResponse:
    """A bot's submission: answered as if stored (so it learns nothing), kept nowhere, counted."""
    try:
        dropped = cache.incr(f"capture:dropped:{spec.id}")
    except ValueError:
        cache.set(f"capture:dropped:{spec.id}", 1, timeout=None)
        dropped = 1
    logger.warning(
        "capture: dropped a submission to form %s as a bot's (%s) from %s; %s so far",
        spec.slug,
        why,
        client_ip(request),
        dropped,
    )
    if _wants_html(request):
        return render(request, "capture/received.html", {"title": "Thank you"})
    body = {"id": 0, "status": "received", "duplicate": False}
    return _cors(JsonResponse(body, status=201), origin)


def dropped_count(form_id: int) -> int:
    """Submissions to the form this process dropped as bots' (since it started; logged too)."""
    return int(cache.get(f"capture:dropped:{form_id}") or 0)


@csrf_exempt  # CSRF is checked below for browser form posts; JSON posts rely on CORS preflight.
def form_submit(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        return _form_submit(request, slug)
    except DATABASE_DOWN as exc:
        logger.warning("capture: form %s: the database could not store (%s); 503", slug, exc)
        return _unavailable(request, slug)


def _unavailable(request: HttpRequest, slug: str) -> HttpResponse:
    """503 + Retry-After. A hosted-form post gets a page that sends the same post again (same
    key, same token); JSON gets the message, with CORS only for an origin known to be allowed
    (from the cached form: the database is not asked again)."""
    seconds = settings.PUBLIC_RETRY_AFTER_SECONDS
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = [(k, v) for k, v in request.POST.items()]
        response = render(
            request,
            "capture/unavailable.html",
            {"fields": fields, "action": request.path, "seconds": seconds},
            status=503,
        )
        response["Retry-After"] = str(seconds)
        return response
    answer = database_unavailable("Your submission")
    origin = request.META.get("HTTP_ORIGIN", "")
    spec: FormSpec | None = cache.get(f"capture:form:{slug}")
    if origin and spec is not None and _origin_ok(request, spec, origin):
        _cors(answer, origin)
    return answer


def _form_submit(request: HttpRequest, slug: str) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    spec = form_spec(slug)
    if spec is None:
        return _cors(_error(404, f"no active form {slug!r}"), origin)
    if origin and not _origin_ok(request, spec, origin):
        return _error(403, f"origin {origin} may not post to this form")
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    if request.method != "POST":
        return _cors(_error(405, "POST a submission"), origin)

    limit = settings.CAPTURE_MAX_BODY_BYTES
    try:
        # Read the body once, here: a request without Content-Length is measured after reading.
        too_big = int(request.META.get("CONTENT_LENGTH") or 0) > limit or len(request.body) > limit
    except RequestDataTooBig:
        too_big = True
    if too_big:
        return _cors(_error(413, f"body over {limit} bytes"), origin)

    ip = client_ip(request)
    wait = rate_limited(scope="capture", key=ip, rate=settings.CAPTURE_RATE_LIMIT)
    if wait is not None:
        response = _error(429, "too many submissions from this address; try again shortly")
        return _cors(retry_after(response, wait), origin)
    # However many addresses it comes from, a flood to one form is held back too.
    wait = rate_limited(
        scope="capture-form", key=str(spec.id), rate=settings.CAPTURE_FORM_RATE_LIMIT
    )
    if wait is not None:
        response = _error(429, "too many submissions to this form; try again shortly")
        return _cors(retry_after(response, wait), origin)

    is_form_post = request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )
    if is_form_post:
        rejected = CsrfViewMiddleware(_no_response).process_view(request, _csrf_protected, (), {})
        if rejected is not None:
            return rejected

    try:
        data = _read_data(request)
    except (ValueError, UnicodeDecodeError) as exc:
        return _cors(_error(400, f"unreadable body: {exc}"), origin)

    if honeypot_filled(data):
        return _cors(
            _error(400, "rejected", {HONEYPOT_FIELD: "This field must be left empty."}), origin
        )
    bot = fill_check(request, spec, data)
    if bot is not None:
        return _dropped(request, spec, origin, bot)

    clean, errors = submission_clean(spec, data)
    if errors:
        if is_form_post:
            from leadline.capture.views import form_page

            return form_page(request, slug, errors=errors, values=data, status=400)
        return _cors(_error(400, "some fields need attention", errors), origin)

    key = idempotency_key(request, spec, data)
    if len(key) > 200:
        return _cors(_error(400, "Idempotency-Key: at most 200 characters"), origin)
    meta = {
        "ip": ip,
        "user_agent": request.headers.get("User-Agent", "")[:500],
        "origin": origin,
        "channel": "form_post" if is_form_post else "json",
    }
    submission_id, duplicate = submission_store(
        form_id=spec.id, idempotency_key=key, payload=clean, meta=meta
    )
    return _received(request, spec, submission_id, duplicate=duplicate, origin=origin)


def _db_value(field: str, value: Any) -> Any:
    return Submission._meta.get_field(field).get_db_prep_value(value, connection)  # type: ignore[union-attr]


def submission_store(
    *, form_id: int, idempotency_key: str, payload: dict[str, Any], meta: dict[str, Any]
) -> tuple[int, bool]:
    """Store a checked submission, then queue its processing. Returns (id, was it a duplicate).

    The insert commits on its own, so the submission is kept before anything else can fail; the
    task row follows. If queueing fails, or the process dies in between, the worker's sweep
    (`submissions_requeue_stale`) queues the submission again: stored means processed, later.
    """
    table = Submission._meta.db_table
    # Plain SQL: the ORM's insert compiler cost more than the insert itself here. ON CONFLICT
    # DO NOTHING answers a duplicate with no row instead of an error, which would abort an
    # enclosing transaction on PostgreSQL.
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if sqlite:
            # A visitor waits at most this long for the write lock; then 503 and their retry.
            cursor.cursor.lock_wait = settings.PUBLIC_DB_LOCK_WAIT_SECONDS
        cursor.execute(
            f"INSERT INTO {table} (form_id, idempotency_key, received_at, payload, meta,"  # noqa: S608
            " status, attempts, last_error) VALUES (%s, %s, %s, %s, %s, %s, 0, '')"
            " ON CONFLICT (form_id, idempotency_key) DO NOTHING"
            # Not RETURNING on SQLite: that statement, and with it the one write lock, stays
            # open until the row is fetched, which can wait for the interpreter lock.
            + ("" if sqlite else " RETURNING id"),
            [
                form_id,
                idempotency_key,
                # The fields' own conversions: stored exactly as the ORM would.
                _db_value("received_at", clock.now()),
                _db_value("payload", payload),
                _db_value("meta", meta),
                SubmissionStatus.RECEIVED,
            ],
        )
        if sqlite:
            inserted = (cursor.lastrowid,) if cursor.rowcount == 1 else None
        else:
            inserted = cursor.fetchone()
    if inserted is None:
        existing = Submission.objects.get(form_id=form_id, idempotency_key=idempotency_key)
        return existing.pk, True
    submission_id = int(inserted[0])
    try:
        submissions_process_queue()
    except DatabaseError:
        logger.exception(
            "submission %s stored; queueing failed, the sweep will retry", submission_id
        )
    return submission_id, False


def new_idempotency_key() -> str:
    return uuid.uuid4().hex
