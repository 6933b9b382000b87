"""Record visibility: which people, accounts and requests a staff user may see (decision 19).

With `settings.RECORD_VISIBILITY = "team"` (the default), like an org-wide default of
"Private" with a role hierarchy:

- a sales rep sees a person when the person's current owner (the active routing `Ownership` of
  the person: the product's one notion of who holds a relationship, which routing a request
  sets) is the rep or someone on the rep's team; when the person works now at an account the
  rep's team owns (the account's people follow it, like contacts under an account); or when the
  rep has open work with them: an open request routed to them, a handoff to decide, an open
  deal, a booked meeting they host, an open call or manual task, a commitment to keep, an
  active cadence they enrolled them in, or a draft handover plan giving the person to them;
- a sales manager sees the same for every team they manage or belong to, plus every person
  nobody owns (to route them);
- an account is seen when the user's team (a manager: their teams; nobody, for a manager) owns
  it, when the user has open work on it, or when they see at least one person who is or was in
  it;
- a request is seen with its person;
- admins and marketing see everything; outside callers nothing here (they work their call
  queue); `"all"` shows every record to every staff user.

A record out of view answers 404 on its page and in the API, never 403: that would tell a
stranger it exists.

The cost at a million people: a rep's view is read once per request as id lists (two queries,
each a UNION of index reads by user: the team's ownerships, their accounts' current members,
the rep's open work) and applied as one array parameter (`ids_in`), so a list is a bitmap read
of a few thousand ids sorted, not a join of a million rows. A manager sees most records: their
filter stays an anti-join on the one-active-owner-per-person index, which the newest-first list
probes row by row until its page is full.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from leadline.booking.models import Meeting, MeetingStatus
from leadline.cadences.models import Enrolment, EnrolmentStatus, ManualTask
from leadline.cadences.models import TaskStatus as ManualStatus
from leadline.calls.models import CallTask
from leadline.calls.models import TaskStatus as CallStatus
from leadline.capture.models import Request, RequestStatus
from leadline.commitments.models import Commitment
from leadline.core.models import Account, Membership, Person, Role, Team, User
from leadline.core.permissions import access_people
from leadline.core.selectors import ids_in, merge_survivor
from leadline.engagement.models import UNDECIDED, Handoff, Opportunity, OpportunityStatus
from leadline.relationships.models import HandoverItem, PlanStatus
from leadline.routing.models import Ownership, RequestRouting

SEES_EVERYTHING = frozenset({Role.ADMIN, Role.MARKETING})
COMMITMENT_TO_DO = ("open", "broken")  # as relationships.selectors: still to keep


@dataclasses.dataclass(frozen=True)
class View:
    """What one user sees. `everything`: no filter. `nothing`: no record. Otherwise a rep's view
    is `person_ids`/`account_ids` (read beforehand); a manager's (`manager`) is a condition on
    each row: not owned outside `team_users`, at an account they own, or open work of theirs."""

    everything: bool = False
    nothing: bool = False
    manager: bool = False
    team_users: tuple[int, ...] = ()
    person_ids: tuple[int, ...] = ()
    account_ids: tuple[int, ...] = ()


def _team_users(user: User) -> list[int]:
    """The user and everyone on their team; for a manager also everyone on the teams they
    manage (inactive ones too: what a leaver still owns stays with the team)."""
    teams = {user.team_id} if user.team_id is not None else set()
    if user.role == Role.SALES_MANAGER:
        teams |= set(Team.objects.filter(manager=user).values_list("pk", flat=True))
    if not teams:
        return [user.pk]
    members = set(User.objects.filter(team__in=teams).values_list("pk", flat=True))
    return sorted(members | {user.pk})


def _union_ids(parts: list[QuerySet[Any]]) -> list[int]:
    """The ids the one-column querysets `parts` find, read in one UNION query."""
    first, *rest = [part.order_by() for part in parts]
    return sorted({pk for (pk,) in first.union(*rest) if pk is not None})


def _work_people(user: User) -> list[QuerySet[Any]]:
    """The ids of the people this user has open work with (one-column querysets)."""
    return [
        RequestRouting.objects.filter(owner=user, request__status=RequestStatus.OPEN).values_list(
            "request__person_id"
        ),
        Handoff.objects.filter(owner=user, status__in=UNDECIDED).values_list("person_id"),
        Opportunity.objects.filter(
            owner=user, status=OpportunityStatus.OPEN, person__isnull=False
        ).values_list("person_id"),
        Meeting.objects.filter(host=user, status=MeetingStatus.BOOKED).values_list("person_id"),
        CallTask.objects.filter(assignee=user, status=CallStatus.OPEN).values_list("person_id"),
        ManualTask.objects.filter(assignee=user, status=ManualStatus.OPEN).values_list("person_id"),
        Commitment.objects.filter(promised_by=user, status__in=COMMITMENT_TO_DO).values_list(
            "person_id"
        ),
        Enrolment.objects.filter(
            owner_at_enrolment=user, status=EnrolmentStatus.ACTIVE
        ).values_list("person_id"),
        HandoverItem.objects.filter(
            new_owner=user, plan__status=PlanStatus.DRAFT, person__isnull=False
        ).values_list("person_id"),
    ]


def _work_accounts(user: User) -> list[QuerySet[Any]]:
    return [
        Opportunity.objects.filter(
            owner=user, status=OpportunityStatus.OPEN, account__isnull=False
        ).values_list("account_id"),
        HandoverItem.objects.filter(
            new_owner=user, plan__status=PlanStatus.DRAFT, account__isnull=False
        ).values_list("account_id"),
    ]


def _team_owned(team_users: list[int]) -> QuerySet[Ownership]:
    return Ownership.objects.filter(ended_at__isnull=True, owner_id__in=team_users).order_by()


def _rep_view(user: User, team_users: list[int]) -> View:
    owned = _team_owned(team_users)
    owned_accounts = owned.filter(account__isnull=False).values("account_id")
    person_ids = _union_ids(
        [
            owned.filter(person__isnull=False).values_list("person_id"),
            Membership.objects.filter(is_current=True, account_id__in=owned_accounts).values_list(
                "person_id"
            ),
            *_work_people(user),
        ]
    )
    account_ids = _union_ids(
        [
            owned.filter(account__isnull=False).values_list("account_id"),
            Membership.objects.filter(ids_in("person_id", person_ids)).values_list("account_id"),
            *_work_accounts(user),
        ]
    )
    return View(
        team_users=tuple(team_users), person_ids=tuple(person_ids), account_ids=tuple(account_ids)
    )


def _manager_view(user: User, team_users: list[int]) -> View:
    person_ids = _union_ids(_work_people(user))
    account_ids = _union_ids(_work_accounts(user))
    return View(
        manager=True,
        team_users=tuple(team_users),
        person_ids=tuple(person_ids),
        account_ids=tuple(account_ids),
    )


def view_of(user: Any) -> View:
    """What `user` sees, read once per user object (one HTTP request's user) and kept on it."""
    cached: View | None = getattr(user, "_leadline_view", None)
    if cached is not None:
        return cached
    if not access_people(user):
        view = View(nothing=True)
    elif settings.RECORD_VISIBILITY == "all" or user.role in SEES_EVERYTHING:
        view = View(everything=True)
    elif user.role == Role.SALES_MANAGER:
        view = _manager_view(user, _team_users(user))
    else:
        view = _rep_view(user, _team_users(user))
    if user is not None:
        user._leadline_view = view
    return view


def _manager_sees_person(view: View, field: str) -> Q:
    """The condition on `field` (a person's id on the outer row) for a manager's view."""
    team = list(view.team_users)
    owned_elsewhere = Ownership.objects.filter(
        ended_at__isnull=True, person_id=OuterRef(field)
    ).exclude(owner_id__in=team)
    team_accounts = _team_owned(team).filter(account__isnull=False).values("account_id")
    at_team_account = Membership.objects.filter(
        person_id=OuterRef(field), is_current=True, account_id__in=team_accounts
    )
    return ~Exists(owned_elsewhere) | Exists(at_team_account) | ids_in(field, view.person_ids)


def people_condition(*, user: Any, field: str = "pk") -> Q:
    """A filter: `field` (a person's id) is someone `user` may see."""
    view = view_of(user)
    if view.everything:
        return Q()
    if view.nothing:
        return Q(pk__in=[])
    if view.manager:
        return _manager_sees_person(view, field)
    return ids_in(field, view.person_ids)


def people_visible(*, user: Any, people: QuerySet[Person]) -> QuerySet[Person]:
    """The people of `people` this user may see. Filter before slicing and counting."""
    view = view_of(user)
    return people if view.everything else people.filter(people_condition(user=user))


def accounts_visible(*, user: Any, accounts: QuerySet[Account]) -> QuerySet[Account]:
    """The accounts of `accounts` this user may see."""
    view = view_of(user)
    if view.everything:
        return accounts
    if view.nothing:
        return accounts.none()
    if not view.manager:
        return accounts.filter(ids_in("pk", view.account_ids))
    owned_elsewhere = Ownership.objects.filter(
        ended_at__isnull=True, account_id=OuterRef("pk")
    ).exclude(owner_id__in=list(view.team_users))
    members_seen = Membership.objects.filter(account_id=OuterRef("pk")).filter(
        _manager_sees_person(view, "person_id")
    )
    return accounts.filter(
        ~Exists(owned_elsewhere) | Exists(members_seen) | ids_in("pk", view.account_ids)
    )


def requests_visible(*, user: Any, requests: QuerySet[Request]) -> QuerySet[Request]:
    """The requests of `requests` this user may see: those of the people they may see."""
    view = view_of(user)
    if view.everything:
        return requests
    return requests.filter(people_condition(user=user, field="person_id"))


def may_see_person(*, user: Any, person: Person) -> bool:
    """Whether `user` may see this person (a merged record: as the one it was merged into)."""
    if view_of(user).everything:
        return True
    survivor = merge_survivor(person)
    return people_visible(user=user, people=Person.objects.filter(pk=survivor.pk)).exists()


def may_see_account(*, user: Any, account: Account) -> bool:
    """Whether `user` may see this account (a merged one: as the one it was merged into)."""
    if view_of(user).everything:
        return True
    survivor = merge_survivor(account)
    return accounts_visible(user=user, accounts=Account.objects.filter(pk=survivor.pk)).exists()
