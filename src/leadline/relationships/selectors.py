"""Reads about relationships: which are active, each seller's load against their cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.models import User
from leadline.engagement.models import Opportunity, OpportunityStatus
from leadline.journeys.models import Conversation
from leadline.routing.models import Ownership, Touch
from leadline.routing.services import relationship_cap


def active_since(at: dt.datetime | None = None) -> dt.datetime:
    """A touch or a conversation after this keeps a relationship active."""
    return (at or clock.now()) - dt.timedelta(days=settings.RELATIONSHIP_ACTIVE_DAYS)


def ownerships_current(*, at: dt.datetime | None = None) -> QuerySet[Ownership]:
    """Every current ownership of a person or an account, annotated `is_active`: it has an open
    request, an open opportunity, or a touch or conversation since `active_since` (for an account:
    with anyone who works there now)."""
    since = active_since(at)
    person, account = OuterRef("person"), OuterRef("account")
    open_request = Request.objects.filter(status=RequestStatus.OPEN)
    open_deal = Opportunity.objects.filter(status=OpportunityStatus.OPEN)
    active = (
        Q(person__isnull=False)
        & (
            Exists(open_request.filter(person=person))
            | Exists(open_deal.filter(person=person))
            | Exists(Touch.objects.filter(person=person, at__gte=since))
            | Exists(Conversation.objects.filter(people=person, occurred_at__gte=since))
        )
    ) | (
        Q(account__isnull=False)
        & (
            Exists(open_request.filter(account=account))
            | Exists(open_deal.filter(account=account))
            | Exists(
                Touch.objects.filter(
                    person__memberships__account=account,
                    person__memberships__is_current=True,
                    at__gte=since,
                )
            )
            | Exists(Conversation.objects.filter(account=account, occurred_at__gte=since))
        )
    )
    return Ownership.objects.filter(ended_at__isnull=True).annotate(is_active=active)


def relationship_loads(*, user_ids: Iterable[int], at: dt.datetime | None = None) -> dict[int, int]:
    """{user id: active relationships} for these users, in one query (settings.ROUTING_LOADS)."""
    return dict(
        ownerships_current(at=at)
        .filter(Q(is_active=True), owner__in=list(user_ids))
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )


def active_relationships(*, user: User, at: dt.datetime | None = None) -> int:
    return relationship_loads(user_ids=[user.pk], at=at).get(user.pk, 0)


__all__ = ["active_relationships", "ownerships_current", "relationship_cap", "relationship_loads"]
