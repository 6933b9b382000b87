"""The inbound webhook: a mail provider posts each mail it receives for us (its "inbound parse").

POST /inbound/mail/ with the raw RFC 5322 message as the body (message/rfc822, text/plain or
application/octet-stream), or JSON {"raw": "<the message>"} / {"raw_base64": "…"}. Signed like
our own outgoing webhooks (notify/signing.py), with LEADLINE_INBOUND_SECRET as the key:

    X-Leadline-Timestamp: seconds since the epoch
    X-Leadline-Signature: "sha256=" + hex HMAC-SHA256 of b"<timestamp>." + the raw body

No signature: 401; a wrong or stale one (more than 5 minutes off): 403; a body over
LEADLINE_INBOUND_MAX_BYTES: 413; not a mail: 400 — and in each case nothing is stored. A good
one is stored (202, or 200 for a Message-ID already stored) and processed by the worker.
"""

from __future__ import annotations

import base64
import binascii
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from leadline.core.permissions import public
from leadline.inbound.models import Source
from leadline.inbound.services import NotAMail, inbound_store
from leadline.notify.signing import webhook_signature_verify

SIGNATURE_MAX_AGE_S = 300


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@public("the inbound-mail webhook: each post is signed with the shared secret")
@csrf_exempt  # no cookies: each post is signed with the shared secret instead
@require_POST
def inbound_mail(request: HttpRequest) -> HttpResponse:
    secret = settings.INBOUND_SECRET
    if not secret:
        raise Http404("the inbound webhook is off (LEADLINE_INBOUND_SECRET is not set)")
    limit = settings.INBOUND_MAX_BYTES
    try:
        too_big = int(request.META.get("CONTENT_LENGTH") or 0) > limit or len(request.body) > limit
    except (RequestDataTooBig, ValueError):
        too_big = True
    if too_big:
        return _error(413, f"body over {limit} bytes")
    signature = request.headers.get("X-Leadline-Signature", "")
    timestamp = request.headers.get("X-Leadline-Timestamp", "")
    if not signature or not timestamp:
        return _error(401, "sign the body: X-Leadline-Timestamp and X-Leadline-Signature")
    if not webhook_signature_verify(
        secret, timestamp, request.body, signature, max_age_s=SIGNATURE_MAX_AGE_S
    ):
        return _error(403, "bad signature (or a timestamp more than 5 minutes off)")
    raw = _raw_message(request)
    if raw is None:
        return _error(400, 'send the message as the body, or JSON {"raw": "<the message>"}')
    try:
        message, new = inbound_store(raw=raw, source=Source.WEBHOOK, require_mail=True)
    except NotAMail as exc:
        return _error(400, str(exc))
    return JsonResponse({"id": message.pk, "duplicate": not new}, status=202 if new else 200)


def _raw_message(request: HttpRequest) -> bytes | None:
    if request.content_type != "application/json":
        return request.body or None
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("raw"), str) and payload["raw"]:
        return str(payload["raw"]).encode("utf-8", "replace")
    if isinstance(payload.get("raw_base64"), str):
        try:
            return base64.b64decode(payload["raw_base64"], validate=True) or None
        except (binascii.Error, ValueError):
            return None
    return None
