"""How webhook deliveries are signed, and how a receiver checks them.

Every delivery is a POST of a JSON body with these headers:

    X-Leadline-Event:     the event kind, e.g. "request.assigned"
    X-Leadline-Delivery:  the delivery's id (the same on every retry: use it to drop repeats)
    X-Leadline-Timestamp: seconds since the epoch when this attempt was made
    X-Leadline-Signature: "sha256=" + hex HMAC-SHA256, keyed with the endpoint's secret, of
                          the timestamp, a full stop, and the raw body: b"<timestamp>.<body>"

A receiver recomputes the signature over the raw body it received (before parsing the JSON),
compares in constant time, and refuses timestamps too far from its own clock, so a recorded
request cannot be replayed later. Answer 2xx to accept; anything else is retried.
"""

from __future__ import annotations

import hashlib
import hmac

from leadline.core import clock

SIGNATURE_PREFIX = "sha256="


def webhook_signature(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-Leadline-Signature header value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def webhook_signature_verify(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    *,
    max_age_s: int | None = None,
) -> bool:
    """True when `header` is the signature of `body` at `timestamp` made with `secret`.

    With `max_age_s`, a timestamp further than that from now (either way) is refused too.
    """
    expected = webhook_signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, header.strip().encode("utf-8", "replace")):
        return False
    if max_age_s is not None:
        try:
            sent_at = int(str(timestamp))
        except ValueError:
            return False
        return abs(clock.now().timestamp() - sent_at) <= max_age_s
    return True
