"""Reads that only the pages need: list annotations, filters and merge previews."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from leadline.capture.models import Form, Request, Submission
from leadline.core import clock, selectors
from leadline.core.models import Account, Membership, Person
from leadline.core.selectors import accounts_search
from leadline.core.services import inbound_relations
from leadline.relationships.visibility import accounts_visible, people_visible

# A list counts its rows up to here and then says "10,000+": counting a million people exactly
# on every page costs more than the page itself and tells a reader nothing more.
COUNT_CAP = 10_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator whose count stops at `COUNT_CAP` + 1 rows (`capped` says it did), so the
    last page offered is the one holding row 10,001."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        # Only the ids, in no order: not the page's columns and annotations for 10,001 rows.
        rows = self.object_list.order_by().values("pk")  # type: ignore[attr-defined]
        return int(rows[: self.cap + 1].count())

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def cap_text(self) -> str:
        return f"{self.cap:,}"


@dataclass(frozen=True)
class PeopleFilters:
    query: str = ""
    kind: str = ""
    wants_contact: bool = False
    days: int | None = None
    account_id: int | None = None


def people_list(filters: PeopleFilters, *, user: Any = None) -> QuerySet[Person]:
    """People matching the search and filters, newest first, with company and latest request;
    with `user`, only those they may see (relationships.visibility)."""
    people = selectors.people_search(query=filters.query, account_id=filters.account_id)
    if user is not None:
        people = people_visible(user=user, people=people)
    requests = Request.objects.all()
    if filters.kind:
        requests = requests.filter(kind=filters.kind)
    if filters.wants_contact:
        requests = requests.filter(wants_contact=True)
    if filters.kind or filters.wants_contact:
        # One request must match every request filter, so they filter the same rows together.
        people = people.filter(pk__in=requests.values("person_id"))
    if filters.days:
        people = people.filter(created_at__gte=clock.now() - dt.timedelta(days=filters.days))
    latest = Request.objects.filter(person=OuterRef("pk")).order_by("-created_at", "-pk")
    company = (
        Membership.objects.filter(person=OuterRef("pk"))
        .order_by("-is_current", "-created_at")
        .values("account__name")[:1]
    )
    return (
        people.annotate(
            company=Subquery(company),
            latest_request_kind=Subquery(latest.values("kind")[:1]),
            latest_request_at=Subquery(latest.values("created_at")[:1]),
        )
        .prefetch_related("emails")
        .order_by("-created_at", "-pk")
    )


def accounts_list(query: str = "", *, user: Any = None) -> QuerySet[Account]:
    """Accounts matching `query`, by name; with `user`, only those they may see."""
    found = accounts_search(query=query)
    if user is not None:
        found = accounts_visible(user=user, accounts=found)
    return (
        found.annotate(
            people_count=Count(
                "memberships",
                filter=Q(memberships__person__merged_into__isnull=True),
                distinct=True,
            ),
        )
        .prefetch_related("domains")
        .order_by(models.functions.Lower("name"), "pk")
    )


def people_merge_candidates(*, survivor: Person, query: str) -> list[Person]:
    """Whom the merge tool offers: an id (#12 or 12), else a search by email or name."""
    query = query.strip()
    if not query:
        return []
    candidates = Person.objects.filter(merged_into__isnull=True).exclude(pk=survivor.pk)
    number = query.lstrip("#")
    if number.isdigit():
        return list(candidates.filter(pk=int(number)))
    found = selectors.people_search(query=query).exclude(pk=survivor.pk)
    return list(found.prefetch_related("emails").order_by("-created_at")[:10])


def account_merge_candidates(*, survivor: Account, query: str) -> list[Account]:
    """Which companies the merge tool offers: an id (#12 or 12), else a name or domain search."""
    query = query.strip()
    if not query:
        return []
    number = query.lstrip("#")
    if number.isdigit():
        return list(
            Account.objects.filter(pk=int(number), merged_into__isnull=True).exclude(pk=survivor.pk)
        )
    return list(accounts_list(query).exclude(pk=survivor.pk)[:10])


@dataclass(frozen=True)
class MergeLine:
    what: str
    count: int


def merge_preview(record: models.Model) -> list[MergeLine]:
    """What a merge would move off `record`: every kind of row that points at it, counted.

    Walks the same relations the merge moves (`core.services.inbound_relations`), so the preview
    names rows of every app, including ones added after this page was written.
    """
    lines = []
    for related, field_name in inbound_relations(record):
        count = related._default_manager.filter(**{field_name: record}).count()
        if count:
            meta = related._meta
            what = meta.verbose_name if count == 1 else meta.verbose_name_plural
            lines.append(MergeLine(what=str(what), count=count))
    return sorted(lines, key=lambda line: line.what)


def forms_list() -> QuerySet[Form]:
    return Form.objects.annotate(submissions_count=Count("submissions")).order_by(
        "-is_active", models.functions.Lower("name")
    )


def form_recent_submissions(form: Form, limit: int = 25) -> QuerySet[Submission]:
    return (
        Submission.objects.filter(form=form)
        .select_related("person")
        .order_by("-received_at", "-pk")[:limit]
    )
