"""What a handover plan proposes: everything the leaver holds, and who should take each over.

Relationships (people and accounts) are decided first, in this order:
1. an account the leaver owns goes, with the people of it they own, to one new owner (its
   buying group stays together), the one with the most free room in the leaver's team;
2. a person whose current account has an active owner goes to that owner ("owns Acme"),
   when they have room;
3. everyone else goes by capacity, like routing: the seller with most free room per item.
Nobody is pushed over their cap by active relationships: with no room anywhere, the item has
no proposed owner and says so. Everything else (requests, deals, meetings, tasks...) follows
its relationship's new owner.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from leadline.booking.models import Meeting, MeetingStatus
from leadline.cadences.models import Enrolment, EnrolmentStatus, ManualTask
from leadline.cadences.models import TaskStatus as ManualStatus
from leadline.calls.models import CallTask
from leadline.calls.models import TaskStatus as CallStatus
from leadline.capture.models import RequestStatus
from leadline.commitments.models import Commitment
from leadline.core import clock
from leadline.core.models import Account, Membership, Person, User
from leadline.engagement.models import UNDECIDED, Handoff, Opportunity, OpportunityStatus
from leadline.relationships.models import HandoverPlan, ItemKind
from leadline.relationships.selectors import (
    COMMITMENT_TO_DO,
    ownerships_current,
    relationship_cap,
    relationship_loads,
)
from leadline.routing.models import Ownership, RequestRouting


@dataclasses.dataclass
class ItemDraft:
    """One thing the leaver holds, before it is stored as a HandoverItem."""

    kind: str
    object_id: int
    label: str
    person: Person | None = None
    account: Account | None = None
    is_active: bool = False
    # For a person: the company they are at now (the account owner rule, the buying group).
    current_account: Account | None = None
    proposed_owner: User | None = None
    proposed_why: str = ""

    @property
    def relationship(self) -> tuple[str, int]:
        if self.person is not None:
            return (ItemKind.PERSON, self.person.pk)
        assert self.account is not None
        return (ItemKind.ACCOUNT, self.account.pk)


def _current_accounts(person_ids: Iterable[int]) -> dict[int, Account]:
    found: dict[int, Account] = {}
    for membership in (
        Membership.objects.filter(
            person__in=list(person_ids), is_current=True, account__merged_into__isnull=True
        )
        .select_related("account")
        .order_by("-created_at", "-pk")
    ):
        found.setdefault(membership.person_id, membership.account)
    return found


def holdings_collect(*, plan: HandoverPlan) -> list[ItemDraft]:
    """Everything `plan.user` holds now, relationships first."""
    user, now = plan.user, clock.now()
    drafts: list[ItemDraft] = []
    owned = list(ownerships_current(at=now).filter(owner=user).select_related("person", "account"))
    owned_people = {o.person_id for o in owned if o.person_id is not None}
    owned_accounts = {o.account_id for o in owned if o.account_id is not None}
    accounts = _current_accounts(owned_people)
    for ownership in owned:
        active = bool(getattr(ownership, "is_active", False))
        if ownership.account is not None:
            drafts.append(
                ItemDraft(
                    kind=ItemKind.ACCOUNT,
                    object_id=ownership.account.pk,
                    label=str(ownership.account),
                    account=ownership.account,
                    is_active=active,
                )
            )
        elif ownership.person is not None:
            company = accounts.get(ownership.person.pk)
            drafts.append(
                ItemDraft(
                    kind=ItemKind.PERSON,
                    object_id=ownership.person.pk,
                    label=f"{ownership.person}" + (f" ({company})" if company else ""),
                    person=ownership.person,
                    is_active=active,
                    current_account=company,
                )
            )
    drafts.sort(key=lambda d: (d.kind != ItemKind.ACCOUNT, d.label.lower(), d.object_id))

    def add(kind: str, pk: int, label: str, person: Person | None, account: Account | None) -> None:
        drafts.append(
            ItemDraft(kind=kind, object_id=pk, label=label, person=person, account=account)
        )

    for routing in RequestRouting.objects.filter(
        owner=user, request__status=RequestStatus.OPEN
    ).select_related("request__person"):
        request = routing.request
        add(
            ItemKind.REQUEST,
            request.pk,
            f"{request.get_kind_display()} from {request.person}",
            request.person,
            None,
        )
    for deal in Opportunity.objects.filter(
        owner=user, status=OpportunityStatus.OPEN
    ).select_related("person", "account"):
        by_account = deal.account is not None and (
            deal.person is None or deal.account.pk in owned_accounts
        )
        add(
            ItemKind.OPPORTUNITY,
            deal.pk,
            f"Deal {deal.name or ''} with {deal.person or deal.account}".replace("  ", " "),
            None if by_account else deal.person,
            deal.account if by_account else None,
        )
    for handoff in Handoff.objects.filter(owner=user, status__in=UNDECIDED).select_related(
        "person"
    ):
        add(ItemKind.HANDOFF, handoff.pk, f"Handoff of {handoff.person}", handoff.person, None)
    for enrolment in (
        Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE)
        .filter(Q(owner_at_enrolment=user) | Q(person__in=owned_people))
        .select_related("person", "cadence")
    ):
        add(
            ItemKind.ENROLMENT,
            enrolment.pk,
            f"{enrolment.person} in “{enrolment.cadence}”",
            enrolment.person,
            None,
        )
    for promise in Commitment.objects.filter(
        promised_by=user, status__in=COMMITMENT_TO_DO
    ).select_related("person"):
        add(
            ItemKind.COMMITMENT,
            promise.pk,
            f"“{promise.what}” to {promise.person}, due {promise.due_at:%d %b}",
            promise.person,
            None,
        )
    for meeting in Meeting.objects.filter(
        host=user, status=MeetingStatus.BOOKED, starts_at__gt=now
    ).select_related("person"):
        add(
            ItemKind.MEETING,
            meeting.pk,
            f"“{meeting.title}” with {meeting.person}, {meeting.starts_at:%d %b %H:%M} UTC",
            meeting.person,
            None,
        )
    for call in CallTask.objects.filter(assignee=user, status=CallStatus.OPEN).select_related(
        "person"
    ):
        add(ItemKind.CALL_TASK, call.pk, f"{call.title}: call {call.person}", call.person, None)
    for task in ManualTask.objects.filter(assignee=user, status=ManualStatus.OPEN).select_related(
        "person"
    ):
        add(ItemKind.MANUAL_TASK, task.pk, f"{task.title} ({task.person})", task.person, None)
    return drafts


@dataclasses.dataclass
class _Room:
    """Each possible owner's free room, kept current as the proposal hands things out."""

    loads: dict[int, int]
    adding: dict[int, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    given: dict[int, int] = dataclasses.field(default_factory=lambda: defaultdict(int))

    def free(self, user: User) -> int:
        return relationship_cap(user) - self.loads.get(user.pk, 0) - self.adding[user.pk]

    def fits(self, user: User, active: int) -> bool:
        return active == 0 or self.free(user) >= active

    def give(self, user: User, *, active: int, items: int = 1) -> None:
        self.adding[user.pk] += active
        self.given[user.pk] += items

    def fairest(self, candidates: list[User], *, active: int) -> User | None:
        """Like routing's fairest: the fewest items given per free place wins; only among
        those with room for `active` more active relationships."""
        fitting = [u for u in candidates if self.fits(u, active)]
        if not fitting:
            return None
        return min(fitting, key=lambda u: ((self.given[u.pk] + 1) / max(self.free(u), 1), u.pk))


def _available(user: User | None, leaver: User) -> bool:
    return user is not None and user.pk != leaver.pk and user.is_active and user.departs_at is None


def proposals_make(
    *,
    plan: HandoverPlan,
    drafts: list[ItemDraft],
    candidates: list[User],
    edits: dict[tuple[str, int], User | None],
) -> None:
    """Fill in each draft's proposed owner and why (see the module's docstring). `edits`:
    the manager's choices kept from before, {(kind, object id): new owner}; they take room."""
    leaver = plan.user
    team = leaver.team.name if leaver.team else "their team"
    account_ids = {d.current_account.pk for d in drafts if d.current_account is not None}
    account_owners = {
        o.account_id: o.owner
        for o in Ownership.objects.filter(
            account__in=account_ids, ended_at__isnull=True
        ).select_related("owner")
        if o.account_id is not None
    }
    judged = {u.pk for u in candidates} | {u.pk for u in account_owners.values()}
    judged |= {u.pk for u in edits.values() if u is not None}
    room = _Room(loads=relationship_loads(user_ids=judged))
    nobody = f"nobody in {team} has room: choose someone"
    decided: dict[tuple[str, int], User | None] = {}
    relationships = [d for d in drafts if d.kind in (ItemKind.PERSON, ItemKind.ACCOUNT)]
    by_key = {(d.kind, d.object_id): d for d in relationships}
    for key, owner in edits.items():
        if key in by_key and owner is not None:
            room.give(owner, active=int(by_key[key].is_active))

    def most_room(draft: ItemDraft, *, prefix: str = "") -> None:
        owner = room.fairest(candidates, active=int(draft.is_active))
        draft.proposed_owner = owner
        if owner is None:
            draft.proposed_why = prefix + nobody
        else:
            room.give(owner, active=int(draft.is_active))
            draft.proposed_why = (
                f"{prefix}most room in {team}"
                f" ({room.free(owner)} of {relationship_cap(owner)} places free after this)"
            )
        decided[(draft.kind, draft.object_id)] = owner

    # 1. An account and the people of it the leaver owns go together.
    for account_draft in (d for d in relationships if d.kind == ItemKind.ACCOUNT):
        assert account_draft.account is not None
        group = [
            d
            for d in relationships
            if d.kind == ItemKind.PERSON
            and d.current_account is not None
            and d.current_account.pk == account_draft.account.pk
            and (d.kind, d.object_id) not in edits
        ]
        together = [account_draft, *group]
        need = sum(d.is_active for d in together if (d.kind, d.object_id) not in edits)
        owner = edits.get((account_draft.kind, account_draft.object_id))
        if owner is not None and room.fits(owner, need):
            why = f"goes with {account_draft.label}, as you chose (keeps the buying group together)"
        else:
            owner = room.fairest(candidates, active=need)
            why = f"keeps {account_draft.label}'s buying group together; most room in {team}"
        if owner is None:
            continue  # nobody can take them all: each is decided on its own below
        room.give(owner, active=need, items=len(together))
        for draft in together:
            draft.proposed_owner, draft.proposed_why = owner, why
            decided[(draft.kind, draft.object_id)] = owner

    # 2. Account owner rules, then 3. capacity.
    for draft in relationships:
        key = (draft.kind, draft.object_id)
        if key in decided:
            continue
        prefix = ""
        company = draft.current_account
        holder = account_owners.get(company.pk) if company is not None else None
        if company is not None and _available(holder, leaver):
            assert holder is not None
            if room.fits(holder, int(draft.is_active)):
                room.give(holder, active=int(draft.is_active))
                draft.proposed_owner, draft.proposed_why = holder, f"owns {company}"
                decided[key] = holder
                continue
            prefix = f"{holder} owns {company} but is at their cap; "
        most_room(draft, prefix=prefix)

    # Everything else follows its relationship.
    current_people = _current_owners(
        [d.person.pk for d in drafts if d.person is not None and d.relationship not in by_key]
    )
    for draft in drafts:
        if draft.kind in (ItemKind.PERSON, ItemKind.ACCOUNT):
            continue
        key = draft.relationship
        if key in by_key:
            owner = edits.get(key, decided.get(key))
            draft.proposed_owner = owner
            draft.proposed_why = (
                f"follows {by_key[key].label}" if owner else f"{by_key[key].label} has nobody yet"
            )
            continue
        holder = current_people.get(key[1]) if key[0] == ItemKind.PERSON else None
        if _available(holder, leaver):
            draft.proposed_owner, draft.proposed_why = holder, f"owns {draft.person}"
            continue
        owner = room.fairest(candidates, active=0)
        draft.proposed_owner = owner
        draft.proposed_why = f"most room in {team}" if owner else nobody
        if owner is not None:
            room.give(owner, active=0)


def _current_owners(person_ids: list[int]) -> dict[int, User]:
    return {
        o.person_id: o.owner
        for o in Ownership.objects.filter(
            person__in=person_ids, ended_at__isnull=True
        ).select_related("owner")
        if o.person_id is not None
    }
