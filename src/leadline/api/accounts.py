"""Accounts: the companies people belong to."""

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import TIMELINE_DEPTH, MergeIn, Paging, TimelineEventOut, field_error
from leadline.core.models import Account, Membership
from leadline.core.permissions import access_merge, access_people
from leadline.core.selectors import accounts_search
from leadline.core.services import account_merge
from leadline.relationships.memory import account_timeline_all
from leadline.relationships.visibility import accounts_visible, may_see_account

router = Router(tags=["accounts"])


class AccountSummary(Schema):
    id: int
    name: str
    industry: str
    employees: int | None
    country: str
    website: str
    domains: list[str]
    created_at: dt.datetime
    merged_into: int | None = Field(
        None, description="Set when this account was merged into another: the survivor's id"
    )

    @staticmethod
    def resolve_domains(obj: Account) -> list[str]:
        return [d.domain for d in obj.domains.all()]

    @staticmethod
    def resolve_merged_into(obj: Account) -> int | None:
        return obj.merged_into_id


class MemberOut(Schema):
    person_id: int
    name: str
    title: str
    role_in_company: str = Field(description="Their place in the company, in their words")
    is_current: bool

    @staticmethod
    def resolve_name(obj: Membership) -> str:
        return str(obj.person)


class AccountOut(AccountSummary):
    description: str
    culture_notes: str = Field(description="How this company decides: who really signs")
    updated_at: dt.datetime
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj: Account) -> list[Membership]:
        return list(obj.memberships.all())


class AccountsFilter(Schema):
    q: str = Field("", description="Words to find in the name or a domain")


def _account(account_id: int, *, request: HttpRequest | None = None) -> Account:
    """The account with its domains and members; with `request`, only if its caller may see it
    (else 404, as if there were none)."""
    account = (
        Account.objects.prefetch_related(
            "domains",
            Prefetch("memberships", queryset=Membership.objects.select_related("person")),
        )
        .filter(pk=account_id)
        .first()
    )
    viewer = getattr(request, "auth", None)
    if account is None or (
        request is not None and not may_see_account(user=viewer, account=account)
    ):
        raise HttpError(404, f"no account {account_id}")
    return account


@router.get("", response={200: list[AccountSummary], **REFUSALS}, summary="List accounts")
@paginate(Paging)
@rule(access_people)
def accounts_list(request: HttpRequest, filters: Query[AccountsFilter]) -> QuerySet[Account]:
    """Accounts that were not merged into another, by name."""
    require(request, access_people)
    accounts = accounts_search(query=filters.q)
    accounts = accounts_visible(user=getattr(request, "auth", None), accounts=accounts)
    return accounts.prefetch_related("domains").order_by("name", "id")


@router.get(
    "/{account_id}",
    response={200: AccountOut, 404: ErrorOut, **REFUSALS},
    summary="Get an account",
)
@rule(access_people)
def account_get(request: HttpRequest, account_id: int) -> Account:
    """One account with its domains and the people in it. A merged account still answers 200,
    with `merged_into` set to the survivor's id."""
    require(request, access_people)
    return _account(account_id, request=request)


@router.get(
    "/{account_id}/timeline",
    response={200: list[TimelineEventOut], 404: ErrorOut, **REFUSALS},
    summary="An account's timeline",
)
@paginate(Paging)
@rule(access_people)
def account_timeline_list(request: HttpRequest, account_id: int) -> Any:
    """Events about the account and about everyone who is or was in it, by anyone in the
    company, newest first (the latest 10,000); the events of conversations you may not read
    left out."""
    user = require(request, access_people)
    account = _account(account_id, request=request)
    return account_timeline_all(account=account, user=user, limit=TIMELINE_DEPTH)


@router.post(
    "/{account_id}/merge",
    response={200: AccountOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Merge a duplicate into this account",
)
@rule(access_merge)
def account_merge_into(request: HttpRequest, account_id: int, payload: MergeIn) -> Account:
    """Fold the account `loser_id` into this one, keeping every domain, membership and event
    of both; the loser stays, with `merged_into` pointing here."""
    user = require(request, access_merge)
    survivor = _account(account_id, request=request)
    if survivor.merged_into_id is not None:
        raise HttpError(
            409, f"account {account_id} was merged into {survivor.merged_into_id}; merge into that"
        )
    loser = Account.objects.filter(pk=payload.loser_id).first()
    if loser is None:
        raise field_error("loser_id", f"no account {payload.loser_id}")
    try:
        account_merge(survivor=survivor, loser=loser, actor=user)
    except ValueError as exc:
        raise field_error("loser_id", str(exc)) from exc
    return _account(account_id)
