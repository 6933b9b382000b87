"""Reads on people, accounts and the timeline."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.apps import apps as installed_apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Lookup, Q, QuerySet
from django.utils import timezone

from leadline.core import clock
from leadline.core.models import (
    Account,
    Membership,
    Person,
    PersonEmail,
    PersonSearch,
    TimelineEvent,
    User,
)

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
    """People not merged into another, each word of `query` found in a name, title, their own
    words, an email address or the name of a company they are or were a member of; at
    `account_id` if given.

    Every word is looked up in the person's one search text (`PersonSearch`), on PostgreSQL
    through its trigram index. The candidates stay a subquery: the page of the newest walks
    people newest first and checks each against it, and a rare word's few candidates are
    looked up one by one; the planner chooses by how many the index finds."""
    people = Person.objects.filter(merged_into__isnull=True)
    words = dict.fromkeys(word.lower() for word in query.split())
    if words:
        found = PersonSearch.objects.all()
        for word in words:
            found = found.filter(text__contains=word)
        people = people.filter(pk__in=found.values("person_id"))
    if account_id is not None:
        people = people.filter(
            pk__in=Membership.objects.filter(account_id=account_id).values("person_id")
        )
    return people


SEARCH_CHUNK = 2_000
# The person's own fields in their search text (with their addresses and companies' names).
SEARCHED_FIELDS = ("first_name", "last_name", "title", "role_own_words")


def search_text(parts: Iterable[str]) -> str:
    """A person's search text: the non-empty parts, lower case, one space apart."""
    return " ".join(" ".join(part.split()) for part in parts if part and part.strip()).lower()


def people_search_texts(person_ids: Iterable[int], *, apps: Any = None) -> dict[int, str]:
    """Each person's search text from what is stored now: first and last name, title, own
    words, every address, the name of every company they are or were a member of. `apps` is
    a migration's app registry when a migration fills the texts."""
    registry = apps or installed_apps
    people = registry.get_model("core", "Person")._default_manager
    emails = registry.get_model("core", "PersonEmail")._default_manager
    memberships = registry.get_model("core", "Membership")._default_manager
    ids = list(person_ids)
    parts: dict[int, list[str]] = defaultdict(list)
    for pk, *own in people.filter(pk__in=ids).values_list("pk", *SEARCHED_FIELDS):
        parts[pk].extend(own)
    for person_id, email in (
        emails.filter(person_id__in=ids).order_by("pk").values_list("person_id", "email")
    ):
        parts[person_id].append(email)
    for person_id, name in (
        memberships.filter(person_id__in=ids)
        .order_by("pk")
        .values_list("person_id", "account__name")
    ):
        parts[person_id].append(name)
    return {pk: search_text(texts) for pk, texts in parts.items()}


def people_search_stale(*, person_ids: Iterable[int] | None = None) -> list[int]:
    """The people (of `person_ids`, else everyone) whose stored search text is missing or not
    what their rows say now: a write that forgot `people_search_refresh`. Empty when in step."""
    ids = (
        list(Person.objects.order_by("pk").values_list("pk", flat=True))
        if person_ids is None
        else list(person_ids)
    )
    stale: list[int] = []
    for start in range(0, len(ids), SEARCH_CHUNK):
        chunk = ids[start : start + SEARCH_CHUNK]
        stored = dict(
            PersonSearch.objects.filter(person_id__in=chunk).values_list("person_id", "text")
        )
        now = people_search_texts(chunk)
        stale.extend(pk for pk in chunk if stored.get(pk) != now.get(pk))
    return stale


class AnyOf(Lookup[bool]):
    """`column = ANY('{1,2,3}'::bigint[])`: the ids (whole numbers) as one array parameter, in
    its text form (PostgreSQL). One placeholder, where `IN` has one per id; and the text, where
    a Python list is quoted id by id (about 20 µs an id)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = "{" + ",".join(str(int(value)) for value in self.rhs) + "}"
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, ids)


def account_people(field: str, *, account: Account, plus: Sequence[int] = ()) -> Q:
    """A filter: `field` (a person's id) is someone who is or was a member of `account`, or one
    of `plus`.

    On PostgreSQL the members' ids are read first and given as one array: with a subquery (or
    a join) the planner may read every person, or every event, of a million to find the few
    thousand of the largest company; with the ids it looks each up in its index, also inside an
    OR. Elsewhere (SQLite, small data) a subquery. The ids are read once per `account`
    object (`member_ids`): a page asks for them several times."""
    if connection.vendor == "postgresql":
        found = Q(AnyOf(F(field), member_ids(account)))
    else:
        members = Membership.objects.filter(account=account).values_list("person_id", flat=True)
        found = Q(**{f"{field}__in": members})
    return found | Q(**{f"{field}__in": list(plus)}) if plus else found


def member_ids(account: Account) -> list[int]:
    """The ids of the people who are or were members of `account`: read once per `account`
    object and kept on it (for one request's reads: the account page asks five times)."""
    cached: list[int] | None = getattr(account, "_leadline_member_ids", None)
    if cached is None:
        members = Membership.objects.filter(account=account)
        cached = list(members.values_list("person_id", flat=True))
        account._leadline_member_ids = cached  # type: ignore[attr-defined]
    return cached


def ids_in(field: str, ids: Sequence[int]) -> Q:
    """A filter: `field` is one of these ids (read beforehand), as one array parameter on
    PostgreSQL (`AnyOf`), else `IN`."""
    if connection.vendor == "postgresql":
        return Q(AnyOf(F(field), ids))
    return Q(**{f"{field}__in": ids})


class Roster:
    """Everyone who is or was a member of an account, by name (last, first, id): `by_name`;
    which of them were merged into another (`merged`), and which are members no longer
    (`former`, read when first asked for)."""

    def __init__(self, *, account: Account, by_name: list[int], merged: set[int]) -> None:
        self.account = account
        self.by_name = by_name
        self.merged = merged
        self._former: set[int] | None = None

    def live(self) -> list[int]:
        """The ones not merged away, by name."""
        return [pk for pk in self.by_name if pk not in self.merged]

    @property
    def former(self) -> set[int]:
        if self._former is None:  # few, from a partial index of former memberships
            self._former = set(
                Membership.objects.filter(account=self.account, is_current=False).values_list(
                    "person_id", flat=True
                )
            )
        return self._former


def account_roster(account: Account) -> Roster:
    """The account's `Roster`, read once per `account` object (two queries) and kept on it:
    the account page asks for its members' count and first names several times (its list, the
    timeline's filter, the committee and conversation forms); at a company of thousands each
    ask costs a read of every member. Read-only uses (what is shown, how many); checks that
    decide (validation) keep their own queries."""
    cached: Roster | None = getattr(account, "_leadline_roster", None)
    if cached is not None:
        return cached
    people = Person.objects.filter(account_people("pk", account=account))
    found = list(
        people.order_by("last_name", "first_name", "pk").values_list("pk", "merged_into_id")
    )
    roster = Roster(
        account=account,
        by_name=[pk for pk, _ in found],
        merged={pk for pk, merged_into in found if merged_into is not None},
    )
    account._leadline_roster = roster  # type: ignore[attr-defined]
    return roster


def account_members(*, account: Account, limit: int) -> tuple[list[Membership], int]:
    """The first `limit` members of `account` not merged away, current ones first, then by
    name, each with its person; and how many there are in all.

    From the account's `Roster` (read once per request), then the shown memberships by their
    people's ids: never a join of memberships and people that PostgreSQL may answer by reading
    every person."""
    roster = account_roster(account)
    live, former = roster.live(), roster.former
    first = [pk for pk in live if pk not in former][:limit]
    if len(first) < limit:
        first += [pk for pk in live if pk in former][: limit - len(first)]
    place = {pk: n for n, pk in enumerate(first)}
    shown = sorted(
        Membership.objects.filter(account=account, person_id__in=first).select_related("person"),
        key=lambda m: place[m.person_id],
    )
    return shown, len(live)


def account_people_first(
    *, account: Account, limit: int, live: bool = True, leave_out: Sequence[int] = ()
) -> tuple[list[Person], int]:
    """The first `limit` people of `account` by name (the ones not merged away when `live`,
    without `leave_out`), and how many there are in all: for what a page shows, from the
    account's `Roster`."""
    roster = account_roster(account)
    out = set(leave_out)
    ids = [pk for pk in (roster.live() if live else roster.by_name) if pk not in out]
    place = {pk: n for n, pk in enumerate(ids[:limit])}
    people = sorted(Person.objects.filter(pk__in=list(place)), key=lambda p: place[p.pk])
    return people, len(ids)


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
