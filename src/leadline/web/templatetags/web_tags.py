"""Small template helpers: role checks for navigation, and readable event kinds."""

from __future__ import annotations

from typing import Any

from django import template

from leadline.core import permissions

register = template.Library()


@register.simple_tag
def can(user: Any, thing: str) -> bool:
    """{% can user "forms" as may_edit_forms %}: asks core.permissions.access_<thing>."""
    check = getattr(permissions, f"access_{thing}")
    return bool(check(user))


@register.filter
def words(code: str) -> str:
    """A code as words: "request.created" → "Request created", "marketing_email" → …"""
    return code.replace(".", " ").replace("_", " ").capitalize()


@register.filter
def event_group(kind: str) -> str:
    """The part before the dot, for styling: request, person, asset, account…"""
    return kind.split(".", 1)[0]
