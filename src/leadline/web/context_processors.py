"""Template context every staff page gets."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest

from leadline.core.models import User
from leadline.core.permissions import access_inbox
from leadline.notify.selectors import inbox_unread_count


def inbox(request: HttpRequest) -> dict[str, Callable[[], int]]:
    """`inbox_unread`: the nav badge's count of unread notifications, for those who have an
    inbox. Asked only when a template shows it (fragments do not), and then once per render."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not access_inbox(user):
        return {}
    # Templates call a callable value; the cache makes a second mention free.
    return {"inbox_unread": functools.cache(lambda: inbox_unread_count(user=user))}
