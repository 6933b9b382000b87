"""Signed rating links: /r/<token>/<score>/ where the token carries the ask's id (salted). A link
expires RATING_LINK_DAYS after the ask (`link_expired`, on the product's clock, not the
signer's timestamp, so tests can move time)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from leadline.core import clock

SALT = "leadline.feedback.rating"


def rating_token(ask_id: int) -> str:
    return signing.Signer(salt=SALT).sign(str(ask_id))


def rating_token_read(token: str) -> int | None:
    """The ask id, or None when tampered or malformed."""
    try:
        value = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def link_expired(asked_at: dt.datetime) -> bool:
    return clock.now() > asked_at + dt.timedelta(days=settings.RATING_LINK_DAYS)


def rating_url(ask_id: int, score: int) -> str:
    base = settings.PUBLIC_URL or "http://localhost:8000"
    return base + reverse("web:rating_answer", args=[rating_token(ask_id), score])
