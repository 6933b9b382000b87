"""Reads for engagement: a person's stage and its history, handoffs to decide, who may decide."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When

from leadline.core.deadlines import next_due
from leadline.core.models import Person, Role, User
from leadline.engagement.models import (
    UNDECIDED,
    Handoff,
    HandoffTimer,
    LifecycleChange,
    Opportunity,
    OpportunityStatus,
    PersonLifecycle,
    RejectionReason,
    Stage,
)


def lifecycle_current(*, person: Person) -> PersonLifecycle | None:
    """The person's stage now, with the last change's reason and who made it (None: nothing
    has moved them; they count as a subscriber)."""
    return PersonLifecycle.objects.filter(person=person).select_related("actor").first()


def lifecycle_history(*, person: Person) -> QuerySet[LifecycleChange]:
    """Every move, oldest first."""
    return (
        LifecycleChange.objects.filter(person=person).select_related("actor").order_by("at", "id")
    )


def people_at_stage(*, stage: str) -> QuerySet[Person]:
    """Everyone at `stage` now (one indexed query); a subscriber nobody has moved has no row."""
    if stage == Stage.SUBSCRIBER:
        return Person.objects.filter(merged_into__isnull=True).exclude(
            lifecycle__stage__in=[s for s in Stage.values if s != Stage.SUBSCRIBER]
        )
    return Person.objects.filter(lifecycle__stage=stage, merged_into__isnull=True)


def handoffs_query() -> QuerySet[Handoff]:
    return Handoff.objects.select_related(
        "person", "owner", "handed_by", "decided_by", "reason", "form", "team"
    )


def handoff_may_decide(user: Any, handoff: Handoff) -> bool:
    """Its owner decides; admins and sales managers may decide any."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role in (Role.ADMIN, Role.SALES_MANAGER):
        return True
    return bool(user.role == Role.SALES_REP and handoff.owner_id == user.pk)


def opportunity_may_close(user: Any, opportunity: Opportunity) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role in (Role.ADMIN, Role.SALES_MANAGER):
        return True
    return bool(user.role == Role.SALES_REP and opportunity.owner_id == user.pk)


@dataclasses.dataclass(frozen=True)
class HandoffLists:
    mine: list[Handoff]  # undecided, handed to the viewer, soonest deadline first
    others: list[Handoff]  # undecided, someone else's
    decided: list[Handoff]  # the latest decisions


def handoffs_for(*, user: User, decided_limit: int = 30) -> HandoffLists:
    """The Handoffs page: the viewer's open ones first (by deadline), then everyone else's
    open ones, then recent decisions."""
    undecided = list(handoffs_query().filter(status__in=UNDECIDED).order_by("due_at", "pk")[:500])
    decided = list(
        handoffs_query()
        .exclude(status__in=UNDECIDED)
        .order_by("-decided_at", "-pk")[:decided_limit]
    )
    return HandoffLists(
        mine=[h for h in undecided if h.owner_id == user.pk],
        others=[h for h in undecided if h.owner_id != user.pk],
        decided=decided,
    )


def rejection_reasons(*, active_only: bool = True) -> QuerySet[RejectionReason]:
    rows = RejectionReason.objects.all()
    if active_only:
        rows = rows.filter(is_active=True)
    return rows.order_by("position", "name")


def handoff_timer_next_due() -> dt.datetime | None:
    """When the next handoff escalation step falls due, if any is waiting."""
    return next_due(HandoffTimer.objects.filter(done_at__isnull=True))


@dataclasses.dataclass(frozen=True)
class PersonEngagement:
    stage: PersonLifecycle | None
    history: list[LifecycleChange]
    open_handoff: Handoff | None
    handoffs: list[Handoff]  # newest first
    opportunities: Sequence[Opportunity]  # open first, then newest first
    open_opportunity: Opportunity | None


def person_engagement(*, person: Person) -> PersonEngagement:
    handoffs = list(handoffs_query().filter(person=person).order_by("-created_at", "-pk"))
    opportunities = list(
        Opportunity.objects.filter(person=person)
        .select_related("owner", "closed_by")
        .annotate(
            open_first=Case(
                When(status=OpportunityStatus.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("open_first", "-opened_at", "-pk")
    )
    return PersonEngagement(
        stage=lifecycle_current(person=person),
        history=list(lifecycle_history(person=person)),
        open_handoff=next((h for h in handoffs if h.is_undecided), None),
        handoffs=handoffs,
        opportunities=opportunities,
        open_opportunity=next(
            (o for o in opportunities if o.status == OpportunityStatus.OPEN), None
        ),
    )
