"""Reads for routing: the leak check, inboxes by deadline."""

from __future__ import annotations

import dataclasses

from django.db.models import Q, QuerySet

from leadline.capture.models import Request, RequestStatus
from leadline.core.models import User


@dataclasses.dataclass(frozen=True)
class Leak:
    request: Request
    why: str


def leaks() -> list[Leak]:
    """Every open request that could be dropped: no current owner, or neither a pending
    first-touch deadline nor a recorded first touch. The product's promise is that this is empty."""
    open_requests = Request.objects.filter(status=RequestStatus.OPEN).select_related(
        "person", "routing", "routing__owner"
    )
    found = []
    for request in open_requests.filter(
        Q(routing__isnull=True)
        | Q(routing__owner__isnull=True)
        | Q(routing__owner__is_active=False)
        | Q(routing__first_touch_due__isnull=True, routing__first_touched_at__isnull=True)
    ):
        routing = getattr(request, "routing", None)
        if routing is None:
            why = "never routed"
        elif routing.owner is None:
            why = "no owner"
        elif not routing.owner.is_active:
            why = f"owner {routing.owner} is deactivated"
        else:
            why = "no first-touch deadline and no touch"
        found.append(Leak(request=request, why=why))
    return found


def owner_open_requests(*, user: User) -> QuerySet[Request]:
    """A seller's open requests, the most urgent deadline first."""
    return (
        Request.objects.filter(status=RequestStatus.OPEN, routing__owner=user)
        .select_related("person", "account", "routing", "form")
        .order_by("routing__first_touched_at", "routing__first_touch_due", "created_at")
    )
