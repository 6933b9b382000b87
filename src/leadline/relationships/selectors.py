"""Reads about relationships: which are active, each seller's load against their cap."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from leadline.booking.models import Meeting, MeetingStatus
from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.models import Role, User
from leadline.engagement.models import Opportunity, OpportunityStatus
from leadline.journeys.models import Conversation
from leadline.relationships.models import (
    RELATIONSHIP_KINDS,
    HandoverItem,
    HandoverPlan,
    ItemKind,
    PlanStatus,
)
from leadline.routing.models import Absence, Ownership, Touch
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
            # A conversation with someone who works there now, logged without the account.
            | Exists(
                Conversation.objects.filter(
                    people__memberships__account=account,
                    people__memberships__is_current=True,
                    occurred_at__gte=since,
                )
            )
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


# Handover plans (helper A) ---------------------------------------------------------------------

# A commitment still to keep: open, or broken and not kept since.
COMMITMENT_TO_DO = ("open", "broken")


def handover_candidates(*, plan: HandoverPlan) -> list[User]:
    """Who may take over from `plan.user`: the active sales reps of their team who are not
    handing over themselves, accept new leads and are not away on the plan's day."""
    team_id = plan.user.team_id
    if team_id is None:
        return []
    away = Absence.objects.filter(
        user=OuterRef("pk"), starts_at__lte=plan.effective_at, ends_at__gt=plan.effective_at
    )
    return list(
        User.objects.filter(
            team=team_id,
            role=Role.SALES_REP,
            is_active=True,
            accepts_new_leads=True,
            departs_at__isnull=True,
        )
        .exclude(pk=plan.user_id)
        .exclude(Exists(away))
        .select_related("team")
        .order_by("pk")
    )


@dataclasses.dataclass(frozen=True)
class OwnerLoad:
    user: User
    load_now: int
    adding: int  # active relationships the plan gives them
    cap: int

    @property
    def after(self) -> int:
        return self.load_now + self.adding

    @property
    def over(self) -> bool:
        return self.adding > 0 and self.after > self.cap


def plan_loads(*, plan: HandoverPlan) -> list[OwnerLoad]:
    """Each possible new owner's active relationships now, what the plan adds, and their cap:
    everyone the plan gives something to, and the other candidates (adding 0)."""
    adding: dict[int, int] = defaultdict(int)
    owners: dict[int, User] = {}
    for item in plan.items.filter(new_owner__isnull=False, applied_at__isnull=True).select_related(
        "new_owner"
    ):
        assert item.new_owner is not None
        owners[item.new_owner.pk] = item.new_owner
        if item.kind in RELATIONSHIP_KINDS and item.is_active_relationship:
            adding[item.new_owner.pk] += 1
    if plan.status == PlanStatus.DRAFT:
        for user in handover_candidates(plan=plan):
            owners.setdefault(user.pk, user)
    loads = relationship_loads(user_ids=owners)
    return sorted(
        (
            OwnerLoad(
                user=user,
                load_now=loads.get(pk, 0),
                adding=adding[pk],
                cap=relationship_cap(user),
            )
            for pk, user in owners.items()
        ),
        key=lambda load: (str(load.user).lower(), load.user.pk),
    )


def plan_problems(
    *, plan: HandoverPlan, claimed: bool = False, loads: list[OwnerLoad] | None = None
) -> list[str]:
    """What stops the plan from being applied, in plain words (empty: it can be applied).
    `claimed`: the apply service asks after marking the plan applied, inside its transaction.
    `loads`: the plan's `plan_loads`, when the caller has just read them."""
    if plan.status != PlanStatus.DRAFT and not claimed:
        return []
    problems: list[str] = []
    items = list(plan.items.select_related("new_owner").order_by("id"))
    for item in items:
        owner = item.new_owner
        if owner is None:
            problems.append(f"{item.label}: {item.proposed_why or 'nobody chosen'}")
        elif owner.pk == plan.user_id:
            problems.append(f"{item.label}: {owner} is the one handing over")
        elif not owner.is_active:
            problems.append(f"{item.label}: {owner} is deactivated")
        elif owner.departs_at is not None:
            problems.append(f"{item.label}: {owner} is handing over on {owner.departs_at:%d %b}")
    for load in plan_loads(plan=plan) if loads is None else loads:
        if load.over:
            problems.append(
                f"{load.user} would hold {load.after} active relationships, "
                f"over their cap of {load.cap}: give some to someone else"
            )
    meetings = {i.object_id: i for i in items if i.kind == ItemKind.MEETING and i.new_owner}
    if meetings:
        for meeting in Meeting.objects.filter(pk__in=meetings):
            item = meetings[meeting.pk]
            clash = Meeting.objects.filter(
                host=item.new_owner_id, starts_at=meeting.starts_at, status=MeetingStatus.BOOKED
            ).exclude(pk=meeting.pk)
            if clash.exists():
                problems.append(f"{item.label}: {item.new_owner} has another meeting then")
    return problems


@dataclasses.dataclass
class PlanGroup:
    """A relationship's item and the items that follow it. When the leaver holds things about
    someone they do not own (a request for a colleague's contact), `item` is the first of
    those and `relationship` is None."""

    item: HandoverItem
    dependents: list[HandoverItem]

    @property
    def relationship(self) -> HandoverItem | None:
        return self.item if self.item.kind in RELATIONSHIP_KINDS else None

    @property
    def label(self) -> str:
        if self.relationship is not None:
            return self.item.label
        return str(self.item.person or self.item.account)

    @property
    def items(self) -> list[HandoverItem]:
        return [self.item, *self.dependents]


def plan_groups(*, plan: HandoverPlan) -> list[PlanGroup]:
    """The plan's items grouped by relationship: accounts first, then people, by name; each
    followed by its dependent items; then the items whose relationship is not in the plan."""
    items = list(
        plan.items.select_related("person", "account", "proposed_owner", "new_owner").order_by("id")
    )
    groups: dict[tuple[str, int], PlanGroup] = {}
    for item in sorted(
        (i for i in items if i.kind in RELATIONSHIP_KINDS),
        key=lambda i: (i.kind != ItemKind.ACCOUNT, i.label.lower(), i.pk),
    ):
        groups[(item.kind, item.object_id)] = PlanGroup(item=item, dependents=[])
    loose: dict[tuple[str, int], PlanGroup] = {}
    for item in items:
        if item.kind in RELATIONSHIP_KINDS:
            continue
        key = (
            (ItemKind.PERSON, item.person_id)
            if item.person_id is not None
            else (ItemKind.ACCOUNT, item.account_id or 0)
        )
        group = groups.get(key) or loose.get(key)
        if group is None:
            loose[key] = PlanGroup(item=item, dependents=[])
        else:
            group.dependents.append(item)
    return [*groups.values(), *loose.values()]


def plans_query() -> QuerySet[HandoverPlan]:
    """Every handover plan, newest first, with its user and how many items it has."""
    return HandoverPlan.objects.select_related(
        "user", "user__team", "to_team", "created_by", "applied_by"
    ).annotate(item_count=Count("items"))
