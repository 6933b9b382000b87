"""People: the humans we talk to, described first in their own words."""

import datetime as dt
import zoneinfo
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django_countries import countries
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AfterValidator

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import (
    TIMELINE_DEPTH,
    MergeIn,
    Paging,
    Patch,
    Strict,
    TimelineEventOut,
    email_checked,
    field_error,
    field_errors,
    max_length,
)
from leadline.capture import services as capture_services
from leadline.capture.models import Consent
from leadline.core import clock
from leadline.core.models import Channel, Membership, Person
from leadline.core.permissions import access_merge, access_people, access_person_edit
from leadline.core.selectors import people_search
from leadline.core.services import person_merge, person_update
from leadline.insight.labels import person_labels
from leadline.relationships.memory import person_timeline_visible
from leadline.relationships.visibility import may_see_person, people_visible

router = Router(tags=["people"])


def _time_zone(value: str) -> str:
    if value and value not in zoneinfo.available_timezones():
        raise ValueError("unknown time zone; use an IANA name such as Europe/Berlin")
    return value


def _country(value: str) -> str:
    if value and value.upper() not in countries:
        raise ValueError("use a two-letter ISO country code such as DE")
    return value.upper()


def _text(name: str) -> Any:
    return Field(max_length=max_length(Person, name))


Email = Annotated[str, AfterValidator(email_checked)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Country = Annotated[str, AfterValidator(_country)]
ChannelOrBlank = Channel | None


class EmailOut(Schema):
    email: str
    is_primary: bool


class PhoneOut(Schema):
    e164: str
    label: str


class AccountRef(Schema):
    id: int
    name: str


class MembershipOut(Schema):
    account: AccountRef
    title: str
    role_in_company: str = Field(description="Their place in the company, in their words")
    is_current: bool


class ConsentOut(Schema):
    purpose: str
    granted: bool
    text: str = Field(description="The words they agreed to")
    method: str
    form: str | None = Field(None, description="Slug of the form it was given on")
    captured_at: dt.datetime

    @staticmethod
    def resolve_form(obj: Consent) -> str | None:
        return obj.form.slug if obj.form is not None else None


class PersonSummary(Schema):
    id: int
    first_name: str
    last_name: str
    email: str | None = Field(None, description="Primary email address")
    role_own_words: str = Field(description='Their role as they put it: "I run the finance team"')
    title: str
    accounts: list[AccountRef]
    created_at: dt.datetime
    merged_into: int | None = Field(
        None, description="Set when this record was merged into another: the survivor's id"
    )

    @staticmethod
    def resolve_email(obj: Person) -> str | None:
        emails = list(obj.emails.all())
        primary = [e for e in emails if e.is_primary] or emails
        return primary[0].email if primary else None

    @staticmethod
    def resolve_accounts(obj: Person) -> list[AccountRef]:
        return [AccountRef(id=m.account.pk, name=m.account.name) for m in obj.memberships.all()]

    @staticmethod
    def resolve_merged_into(obj: Person) -> int | None:
        return obj.merged_into_id


class PersonOut(PersonSummary):
    emails: list[EmailOut]
    phones: list[PhoneOut]
    cares_about: str = Field(description="What they said hurts or matters to them")
    personal_context: str
    preferred_channel: str
    preferred_hours: str
    time_zone: str
    country: str
    updated_at: dt.datetime
    memberships: list[MembershipOut]
    consents: list[ConsentOut]


class LabelOut(Schema):
    name: str = Field(description='"Journey step", "Fit", "Interest" or "Lifecycle"')
    value: str = Field(description='In a few words: "Strong fit", "Sales-ready lead"')
    tone: str = Field(description="good, neutral or low")
    why: list[str] = Field(description="The signals behind it, one sentence each")


class PersonWithLabels(PersonOut):
    labels: list[LabelOut] = Field(description="Journey step, fit, interest, lifecycle, with why")

    @staticmethod
    def resolve_labels(obj: Person) -> list[LabelOut]:
        return [
            LabelOut(name=label.name, value=label.value, tone=label.tone, why=list(label.why))
            for label in person_labels(person=obj, now=clock.now())
        ]


class PersonCreated(Schema):
    created: bool = Field(
        description="false: a person with this email already existed and is returned unchanged"
    )
    person: PersonOut


class PersonFields(Strict):
    first_name: Annotated[str, _text("first_name")] = ""
    last_name: Annotated[str, _text("last_name")] = ""
    role_own_words: str = ""
    title: Annotated[str, _text("title")] = ""
    cares_about: str = ""
    personal_context: str = ""
    preferred_channel: ChannelOrBlank = None
    preferred_hours: Annotated[str, _text("preferred_hours")] = ""
    time_zone: TimeZone = ""
    country: Country = ""


class PersonIn(PersonFields):
    email: Email


class PersonPatch(Patch):
    first_name: Annotated[str | None, _text("first_name")] = None
    last_name: Annotated[str | None, _text("last_name")] = None
    role_own_words: str | None = None
    title: Annotated[str | None, _text("title")] = None
    cares_about: str | None = None
    personal_context: str | None = None
    preferred_channel: ChannelOrBlank = Field(None, description="null: no preference")
    preferred_hours: Annotated[str | None, _text("preferred_hours")] = None
    time_zone: TimeZone | None = None
    country: Country | None = None

    nullable = frozenset({"preferred_channel"})

    def changes(self) -> dict[str, Any]:
        changes = super().changes()
        if "preferred_channel" in changes:
            changes["preferred_channel"] = changes["preferred_channel"] or ""
        return changes


class PeopleFilter(Schema):
    q: str = Field("", description="Words to find in names, emails, roles and companies")
    account_id: int | None = None
    created_after: dt.datetime | None = None


def _summarised(people: QuerySet[Person]) -> QuerySet[Person]:
    """What PersonSummary reads, fetched in two queries rather than two per person."""
    return people.prefetch_related(
        "emails", Prefetch("memberships", queryset=Membership.objects.select_related("account"))
    )


def _person(person_id: int, *, request: HttpRequest | None = None) -> Person:
    """The person, with what the schemas read; with `request`, only if its caller may see them
    (else 404, as if there were none: a 403 would confirm they exist)."""
    person = (
        _summarised(Person.objects.all())
        .prefetch_related("phones", Prefetch("consents", Consent.objects.select_related("form")))
        .filter(pk=person_id)
        .first()
    )
    viewer = getattr(request, "auth", None)
    if person is None or (request is not None and not may_see_person(user=viewer, person=person)):
        raise HttpError(404, f"no person {person_id}")
    return person


@router.get("", response={200: list[PersonSummary], **REFUSALS}, summary="List people")
@paginate(Paging)
@rule(access_people)
def people_list(request: HttpRequest, filters: Query[PeopleFilter]) -> QuerySet[Person]:
    """People who were not merged into someone else, newest first."""
    require(request, access_people)
    people = people_search(query=filters.q, account_id=filters.account_id)
    people = people_visible(user=getattr(request, "auth", None), people=people)
    if filters.created_after is not None:
        people = people.filter(created_at__gte=filters.created_after)
    return _summarised(people).order_by("-created_at", "-id")


@router.post(
    "",
    response={201: PersonCreated, 200: PersonCreated, **REFUSALS},
    summary="Add a person (or find them by email)",
)
@rule(access_person_edit)
def person_create(request: HttpRequest, payload: PersonIn) -> Status[dict[str, Any]]:
    """Add a person by email. Email is how we know people apart: if someone already has this
    address (after lower-casing) they are returned with `created: false` and status 200, and the
    fields sent are NOT applied to them (PATCH them if you mean to). A new person: 201."""
    user = require(request, access_person_edit)
    fields = payload.model_dump(mode="json", exclude={"email"})
    fields["preferred_channel"] = fields["preferred_channel"] or ""
    person, created = capture_services.person_create(
        email=payload.email, fields=fields, actor=user, source="API"
    )
    return Status(201 if created else 200, {"created": created, "person": _person(person.pk)})


@router.get(
    "/{person_id}",
    response={200: PersonWithLabels, 404: ErrorOut, **REFUSALS},
    summary="Get a person",
)
@rule(access_people)
def person_get(request: HttpRequest, person_id: int) -> Person:
    """One person, with their labels (journey step, fit, interest, lifecycle) and why. A record
    merged into another still answers 200, with `merged_into` set to the survivor's id: fetch
    that one for the person's current picture."""
    require(request, access_people)
    return _person(person_id, request=request)


@router.patch(
    "/{person_id}",
    response={200: PersonOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Change a person",
)
@rule(access_person_edit)
def person_patch(request: HttpRequest, person_id: int, payload: PersonPatch) -> Person:
    """Change only the fields sent. The person's timeline records who changed what."""
    user = require(request, access_person_edit)
    person = _person(person_id, request=request)
    try:
        person_update(person=person, changes=payload.changes(), actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    except ValueError as exc:
        raise HttpError(409, str(exc)) from exc
    return _person(person_id)


@router.get(
    "/{person_id}/timeline",
    response={200: list[TimelineEventOut], 404: ErrorOut, **REFUSALS},
    summary="A person's timeline",
)
@paginate(Paging)
@rule(access_people)
def person_timeline_list(request: HttpRequest, person_id: int) -> Any:
    """Everything that happened with this person, newest first (the latest 10,000); the
    events of conversations you may not read (another team's personal context, someone
    else's private note) left out."""
    user = require(request, access_people)
    person = _person(person_id, request=request)
    return person_timeline_visible(person=person, user=user, limit=TIMELINE_DEPTH)


@router.post(
    "/{person_id}/merge",
    response={200: PersonOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Merge a duplicate into this person",
)
@rule(access_merge)
def person_merge_into(request: HttpRequest, person_id: int, payload: MergeIn) -> Person:
    """Fold the person `loser_id` into this one. Every email, request, consent and timeline
    event of both is kept; the loser stays, with `merged_into` pointing here."""
    user = require(request, access_merge)
    survivor = _person(person_id, request=request)
    if survivor.merged_into_id is not None:
        raise HttpError(
            409, f"person {person_id} was merged into {survivor.merged_into_id}; merge into that"
        )
    loser = Person.objects.filter(pk=payload.loser_id).first()
    if loser is None:
        raise field_error("loser_id", f"no person {payload.loser_id}")
    try:
        person_merge(survivor=survivor, loser=loser, actor=user)
    except ValueError as exc:
        raise field_error("loser_id", str(exc)) from exc
    return _person(person_id)
