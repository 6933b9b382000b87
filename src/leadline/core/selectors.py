"""Reads on people, accounts and the timeline."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from leadline.core import clock
from leadline.core.models import Account, Membership, Person, PersonEmail, TimelineEvent, User

Merged = TypeVar("Merged", Person, Account)


def merge_survivor(record: Merged) -> Merged:
    """The record that `record` was folded into, after any chain of merges; itself if none.
    A link already followed ends the walk, so bad data cannot loop it."""
    seen = {record.pk}
    while record.merged_into_id is not None and record.merged_into_id not in seen:
        seen.add(record.merged_into_id)
        record = type(record).objects.get(pk=record.merged_into_id)
    return record


def people_search(*, query: str = "", account_id: int | None = None) -> QuerySet[Person]:
    people = Person.objects.filter(merged_into__isnull=True)
    if query:
        words = query.split()
        for word in words:
            people = people.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(emails__email__icontains=word)
                | Q(role_own_words__icontains=word)
                | Q(title__icontains=word)
                | Q(memberships__account__name__icontains=word)
            )
        people = people.distinct()
    if account_id is not None:
        people = people.filter(memberships__account_id=account_id)
    return people


def accounts_search(*, query: str = "") -> QuerySet[Account]:
    """Accounts not merged into another, each word matching the name or a domain."""
    accounts = Account.objects.filter(merged_into__isnull=True)
    for word in query.split():
        accounts = accounts.filter(Q(name__icontains=word) | Q(domains__domain__icontains=word))
    return accounts.distinct()


def person_timeline(*, person: Person, limit: int = 200) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(person=person).select_related("actor")[:limit]


def account_timeline(*, account: Account, limit: int = 200) -> QuerySet[TimelineEvent]:
    people = Person.objects.filter(memberships__account=account)
    return (
        TimelineEvent.objects.filter(Q(account=account) | Q(person__in=people))
        .select_related("actor", "person")
        .distinct()[:limit]
    )


def person_email(person: Person) -> str:
    """The address to write to: their primary one, else the first they gave ("" when none)."""
    found: str | None = (
        PersonEmail.objects.filter(person=person)
        .order_by("-is_primary", "pk")
        .values_list("email", flat=True)
        .first()
    )
    return found or ""


def person_account(person: Person) -> Account | None:
    """The company they are at now (their latest current membership), if any."""
    membership = (
        Membership.objects.filter(person=person, account__merged_into__isnull=True)
        .select_related("account")
        .order_by("-is_current", "-created_at")
        .first()
    )
    return membership.account if membership is not None else None


def unassignable_because(user: User, *, at: dt.datetime | None = None) -> str | None:
    """Why nothing may be given to `user` any more, or None when it may: "deactivated", or
    "left on 12 Dec" once the day their handover plan named (`departs_at`) has come."""
    if not user.is_active:
        return "deactivated"
    departs_at = user.departs_at
    if departs_at is not None and departs_at <= (at or clock.now()):
        return f"left on {timezone.localtime(departs_at):%-d %b}"
    return None


def assignable_check(user: User | None, *, field: str, at: dt.datetime | None = None) -> None:
    """Refuse to give `user` something once they may not take it (`unassignable_because`):
    ValidationError on `field`. No one (None) is no one to refuse."""
    gone = unassignable_because(user, at=at) if user is not None else None
    if gone is not None:
        raise ValidationError({field: f"{user} cannot take this ({gone})."})
