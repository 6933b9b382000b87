"""Conversations (calls, meetings, emails, notes) and the pain points they name: log one, read a
person's, keep the pain-point catalogue, confirm or reject what a conversation suggested."""

import datetime as dt
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AfterValidator

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Patch, Strict, field_error, field_errors, moment_past
from leadline.core.models import Account, Person, User
from leadline.core.permissions import (
    access_pain_point_edit,
    access_pain_points,
    access_people,
    access_person_edit,
)
from leadline.core.selectors import merge_survivor
from leadline.journeys.conversations import (
    conversation_log,
    pain_point_create,
    pain_point_decide,
    pain_point_update,
)
from leadline.journeys.models import (
    Conversation,
    ConversationKind,
    ConversationPainPoint,
    PainPoint,
    PainStatus,
    Visibility,
)
from leadline.journeys.selectors import (
    PainPointTally,
    pain_point_tallies,
    quote_lines,
)
from leadline.relationships.memory import conversations_query_visible, may_read
from leadline.relationships.visibility import may_see_person

conversations_router = Router(tags=["conversations"])
people_router = Router(tags=["conversations"])
pain_points_router = Router(tags=["pain points"])
suggestions_router = Router(tags=["pain points"])

TEXT_MAX = 5000
MAX_PEOPLE = 50


def _said(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("say what was talked about")
    return value


def _phrases(value: list[str]) -> list[str]:
    for phrase in value:
        if "\n" in phrase or "\r" in phrase:
            raise ValueError("one phrase per item, without line breaks")
    return value


def _phrases_or_none(value: list[str] | None) -> list[str] | None:
    return None if value is None else _phrases(value)


# Schemas ----------------------------------------------------------------------------------------


class PersonRef(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj: Person) -> str:
        return str(obj)


class SellerRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return str(obj)


class SuggestionOut(Schema):
    id: int
    pain_point_id: int
    pain_point: str = Field(description="The pain point's name")
    status: PainStatus = Field(description="suggested, confirmed or rejected")
    evidence: str = Field(description="The sentence it was heard in: their words when it was")
    decided_by: str | None = Field(None, description="Username of who confirmed or rejected it")
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_pain_point(obj: ConversationPainPoint) -> str:
        return obj.pain_point.name

    @staticmethod
    def resolve_decided_by(obj: ConversationPainPoint) -> str | None:
        return obj.decided_by.username if obj.decided_by is not None else None


class ConversationOut(Schema):
    id: int
    kind: ConversationKind
    occurred_at: dt.datetime
    summary: str
    quotes: list[str] = Field(description="What the prospect said, in their words")
    people: list[PersonRef]
    sellers: list[SellerRef]
    account_id: int | None
    logged_by: str | None = Field(None, description="Username of who logged it")
    created_at: dt.datetime
    visibility: Visibility = Field(
        description="Who may read it: company (everyone), team (personal context: the owner's "
        "team, its author and the managers) or author (only its author and the managers)"
    )
    pain_points: list[SuggestionOut] = Field(
        description="Pain points from the catalogue this conversation names"
    )

    @staticmethod
    def resolve_quotes(obj: Conversation) -> list[str]:
        return quote_lines(obj.quotes)

    @staticmethod
    def resolve_people(obj: Conversation) -> list[Person]:
        return list(obj.people.all())

    @staticmethod
    def resolve_sellers(obj: Conversation) -> list[User]:
        return list(obj.sellers.all())

    @staticmethod
    def resolve_logged_by(obj: Conversation) -> str | None:
        return obj.logged_by.username if obj.logged_by is not None else None

    @staticmethod
    def resolve_pain_points(obj: Conversation) -> list[ConversationPainPoint]:
        return list(obj.pain_points.all())


class ConversationIn(Strict):
    kind: ConversationKind = Field(description="call, meeting, email or note")
    summary: Annotated[str, AfterValidator(_said)] = Field(
        max_length=TEXT_MAX, description="What was talked about"
    )
    quotes: str = Field(
        "",
        max_length=TEXT_MAX,
        description="What the prospect said, in their words: one quote per line",
    )
    person_ids: list[int] = Field(
        min_length=1, max_length=MAX_PEOPLE, description="The people who took part (404: unknown)"
    )
    seller_ids: list[int] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        description="Users from our side who took part (404: unknown)",
    )
    account_id: int | None = Field(None, description="The account it was with (404: unknown)")
    occurred_at: Annotated[dt.datetime | None, AfterValidator(moment_past)] = Field(
        None, description="When it happened (default: now); with a time zone"
    )
    visibility: Visibility = Field(
        Visibility.COMPANY,
        description="Who may read it: company (default: everyone; calls, meetings and emails "
        "are company memory), team (a note of personal context: the team of whoever owns the "
        "person or account, its author and the managers), author (only you and the managers)",
    )


class DecisionIn(Strict):
    confirmed: bool = Field(description="true: it is what they said hurts; false: it is not")


class PainPointOut(Schema):
    id: int
    product: str = Field(description="Empty: any product")
    name: str
    description: str
    phrases: list[str] = Field(description="Words buyers use for it, matched in conversations")
    is_active: bool = Field(description="false: no longer suggested in new conversations")
    confirmed: int = Field(description="How many suggestions of it reps confirmed")
    rejected: int = Field(description="How many suggestions of it reps rejected")
    waiting: int = Field(description="How many suggestions of it wait for a rep")


class PainPointIn(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Slow month-end close"])
    product: str = Field("", max_length=120, description="Empty: any product")
    description: str = ""
    phrases: Annotated[list[str], AfterValidator(_phrases)] = Field(
        default_factory=list, examples=[["month-end", "closing the books"]]
    )


class PainPointPatch(Patch):
    name: str | None = Field(None, min_length=1, max_length=200)
    product: str | None = Field(None, max_length=120)
    description: str | None = None
    phrases: Annotated[list[str] | None, AfterValidator(_phrases_or_none)] = Field(
        None, description="Replaces the whole list"
    )
    is_active: bool | None = None


class PainPointFilter(Schema):
    product: str | None = Field(None, description="Only this product's (empty: any product's)")
    active: bool | None = Field(None, description="Only active (true) or turned-off (false) ones")


# Conversations ------------------------------------------------------------------------------------


def _found(model: type[Any], ids: list[int], noun: str) -> list[Any]:
    rows = {row.pk: row for row in model.objects.filter(pk__in=ids)}
    missing = [i for i in dict.fromkeys(ids) if i not in rows]
    if missing:
        raise HttpError(404, f"no {noun} {', '.join(str(i) for i in missing)}")
    return [rows[i] for i in dict.fromkeys(ids)]


def _conversation(pk: int) -> Conversation:
    found = (
        Conversation.objects.filter(pk=pk)
        .select_related("logged_by")
        .prefetch_related("people", "sellers", "pain_points__pain_point", "pain_points__decided_by")
        .first()
    )
    if found is None:
        raise HttpError(404, f"no conversation {pk}")
    return found


@conversations_router.post(
    "",
    response={201: ConversationOut, 404: ErrorOut, **REFUSALS},
    summary="Log a conversation",
)
@rule(access_person_edit)
def conversation_post(request: HttpRequest, payload: ConversationIn) -> Status[Conversation]:
    """Log a call, meeting, email or note: who took part, what was said, their words. It goes
    on each person's timeline, may move their buyer's journey (e.g. "finance joined a call"),
    and the pain points of the catalogue it names come back as suggestions for a rep to
    confirm or reject. A person id merged into another counts as the survivor."""
    user = require(request, access_person_edit)
    people = list(
        dict.fromkeys(merge_survivor(p) for p in _found(Person, payload.person_ids, "person"))
    )
    sellers = _found(User, payload.seller_ids, "user")
    account = None
    if payload.account_id is not None:
        (account,) = _found(Account, [payload.account_id], "account")
        account = merge_survivor(account)
    try:
        conversation = conversation_log(
            kind=payload.kind,
            summary=payload.summary,
            quotes=payload.quotes,
            people=people,
            sellers=sellers,
            account=account,
            occurred_at=payload.occurred_at,
            logged_by=user,
            visibility=payload.visibility,
        )
    except ValueError as exc:
        name, _, message = str(exc).partition(": ")
        raise field_error(name, message) from exc
    return Status(201, _conversation(conversation.pk))


@people_router.get(
    "/{person_id}/conversations",
    response={200: list[ConversationOut], 404: ErrorOut, **REFUSALS},
    summary="A person's conversations",
)
@paginate(Paging)
@rule(access_people)
def person_conversations(request: HttpRequest, person_id: int) -> QuerySet[Conversation]:
    """The conversations this person took part in that you may read (notes of personal
    context: the owner's team; private notes: their author and the managers), newest first,
    each with the pain points it named and whether a rep confirmed them."""
    user = require(request, access_people)
    person = Person.objects.filter(pk=person_id).first()
    if person is None or not may_see_person(user=user, person=person):
        raise HttpError(404, f"no person {person_id}")  # out of view too: 404, not 403
    return conversations_query_visible(user=user, person=person)


# Pain points --------------------------------------------------------------------------------------


def _tally(pk: int) -> PainPointTally:
    found = pain_point_tallies(pk=pk)
    if not found:
        raise HttpError(404, f"no pain point {pk}")
    return found[0]


def _pain_point_out(tally: PainPointTally) -> dict[str, Any]:
    pain = tally.pain_point
    return {
        "id": pain.pk,
        "product": pain.product,
        "name": pain.name,
        "description": pain.description,
        "phrases": pain.phrase_list(),
        "is_active": pain.is_active,
        "confirmed": tally.confirmed,
        "rejected": tally.rejected,
        "waiting": tally.waiting,
    }


@pain_points_router.get(
    "", response={200: list[PainPointOut], **REFUSALS}, summary="List the pain-point catalogue"
)
@paginate(Paging)
@rule(access_pain_points)
def pain_points_list(request: HttpRequest, filters: Query[PainPointFilter]) -> list[dict[str, Any]]:
    """The catalogue by product then name, each pain point with how often reps confirmed or
    rejected it when a conversation suggested it."""
    require(request, access_pain_points)
    return [
        _pain_point_out(t)
        for t in pain_point_tallies(product=filters.product, active=filters.active)
    ]


@pain_points_router.get(
    "/{pain_point_id}",
    response={200: PainPointOut, 404: ErrorOut, **REFUSALS},
    summary="Get a pain point",
)
@rule(access_pain_points)
def pain_point_get(request: HttpRequest, pain_point_id: int) -> dict[str, Any]:
    require(request, access_pain_points)
    return _pain_point_out(_tally(pain_point_id))


@pain_points_router.post(
    "", response={201: PainPointOut, **REFUSALS}, summary="Add a pain point to the catalogue"
)
@rule(access_pain_point_edit)
def pain_point_post(request: HttpRequest, payload: PainPointIn) -> Status[dict[str, Any]]:
    """Add a pain point. Its phrases are matched (any case, whole words) in conversations
    logged from now on. A name already used for the same product: 422."""
    user = require(request, access_pain_point_edit)
    try:
        made = pain_point_create(
            name=payload.name,
            product=payload.product,
            description=payload.description,
            phrases="\n".join(payload.phrases),
            created_by=user,
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return Status(201, _pain_point_out(_tally(made.pk)))


@pain_points_router.patch(
    "/{pain_point_id}",
    response={200: PainPointOut, 404: ErrorOut, **REFUSALS},
    summary="Change a pain point",
)
@rule(access_pain_point_edit)
def pain_point_patch(
    request: HttpRequest, pain_point_id: int, payload: PainPointPatch
) -> dict[str, Any]:
    """Change only the fields sent; `phrases` replaces the whole list. `is_active: false`
    stops suggesting it; what was suggested and confirmed before stays."""
    user = require(request, access_pain_point_edit)
    pain = PainPoint.objects.filter(pk=pain_point_id).first()
    if pain is None:
        raise HttpError(404, f"no pain point {pain_point_id}")
    changes = payload.changes()
    if "phrases" in changes:
        changes["phrases"] = "\n".join(changes["phrases"])
    try:
        pain_point_update(pain_point=pain, changes=changes, changed_by=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _pain_point_out(_tally(pain.pk))


@suggestions_router.post(
    "/{suggestion_id}/decision",
    response={200: SuggestionOut, 404: ErrorOut, **REFUSALS},
    summary="Confirm or reject a suggested pain point",
)
@rule(access_person_edit)
def suggestion_decision(
    request: HttpRequest, suggestion_id: int, payload: DecisionIn
) -> ConversationPainPoint:
    """Confirm (it is what they said hurts: it shows on their page, in their words) or reject
    a pain point a conversation suggested. A decision can be changed by deciding again."""
    user = require(request, access_person_edit)
    suggestion = (
        ConversationPainPoint.objects.select_related("pain_point", "conversation")
        .filter(pk=suggestion_id)
        .first()
    )
    if suggestion is None or not may_read(user=user, conversation=suggestion.conversation):
        raise HttpError(404, f"no pain-point suggestion {suggestion_id}")
    return pain_point_decide(suggestion=suggestion, confirmed=payload.confirmed, decided_by=user)
