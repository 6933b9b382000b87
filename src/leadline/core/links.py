"""Absolute links that leave the product: in embed snippets, API answers and mail."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_url(request: HttpRequest, path: str) -> str:
    """Links other sites use must name the public address, not the one we were reached by."""
    return settings.PUBLIC_URL + path if settings.PUBLIC_URL else request.build_absolute_uri(path)
