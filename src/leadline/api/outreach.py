"""The API for contact pressure, do-not-contact, marketing emails.

The contact policy (one weekly cap across every channel, quiet hours), the gate's verdict for a
person, the do-not-contact list, and marketing emails: write one, preview it for a person, send
it, read how the send went.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Patch, Strict, field_errors
from leadline.core.models import Person
from leadline.core.permissions import (
    access_newsletters,
    access_outreach_settings,
    access_people,
    access_person_edit,
)
from leadline.core.selectors import merge_survivor
from leadline.outreach import selectors, services
from leadline.outreach.models import (
    Audience,
    ContactChannel,
    ContactPurpose,
    DoNotContact,
    Newsletter,
    NewsletterStatus,
)

router = Router(tags=["Contact pressure"])


def _person(pk: int) -> Person:
    person = Person.objects.filter(pk=pk).first()
    if person is None:
        raise HttpError(404, f"no person {pk}")
    return merge_survivor(person)


# The policy -------------------------------------------------------------------------------------


# A wall-clock time without an offset ("20:00:00"): JSON Schema's "time" format demands one.
LOCAL_TIME: dict[str, Any] = {"format": "partial-time", "example": "20:00:00"}


class PolicyOut(Schema):
    weekly_cap: int = Field(description="Most touches per person in any 7 days, all channels")
    quiet_start: dt.time = Field(
        description="Quiet from, in the person's local time", json_schema_extra=LOCAL_TIME
    )
    quiet_end: dt.time = Field(
        description="Quiet until, in the person's local time", json_schema_extra=LOCAL_TIME
    )
    weekends_quiet: bool
    default_time_zone: str = Field(description="For people whose zone and country are unknown")


class PolicyPatch(Patch):
    weekly_cap: int | None = Field(None, ge=1, le=50)
    quiet_start: dt.time | None = Field(None, json_schema_extra=LOCAL_TIME)
    quiet_end: dt.time | None = Field(None, json_schema_extra=LOCAL_TIME)
    weekends_quiet: bool | None = None
    default_time_zone: str | None = Field(None, max_length=64)


@router.get("/contact-policy", response={200: PolicyOut, **REFUSALS}, summary="The contact policy")
@rule(access_people)
def policy_get(request: HttpRequest) -> Any:
    require(request, access_people)
    return selectors.contact_policy()


@router.patch(
    "/contact-policy", response={200: PolicyOut, **REFUSALS}, summary="Change the contact policy"
)
@rule(access_outreach_settings)
def policy_patch(request: HttpRequest, payload: PolicyPatch) -> Any:
    user = require(request, access_outreach_settings)
    try:
        return services.contact_policy_update(changes=payload.changes(), actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc


# A person's contact state -----------------------------------------------------------------------


class VerdictOut(Schema):
    allowed: bool
    reason: str = Field(description="Why not, in plain words; empty when allowed")
    code: str = Field(
        description='"" | do_not_contact | unsubscribed | no_consent | cap | quiet_hours '
        "| no_address"
    )
    next_allowed_at: dt.datetime | None = Field(
        description="When it could go (the cap frees, quiet hours end); null: not by waiting"
    )


class VerdictQuery(Schema):
    channel: ContactChannel = ContactChannel.EMAIL
    purpose: ContactPurpose = ContactPurpose.MARKETING
    at: dt.datetime | None = Field(None, description="Default: now")


class DoNotContactOut(Schema):
    id: int
    person_id: int
    channel: ContactChannel
    reason: str
    source: str
    created_at: dt.datetime


class PersonContactOut(Schema):
    person_id: int
    touches_this_week: int
    weekly_cap: int
    time_zone: str = Field(description="The zone quiet hours are counted in for them")
    marketing_unsubscribed_at: dt.datetime | None
    sales_unsubscribed_at: dt.datetime | None
    do_not_contact: list[DoNotContactOut]


@router.get(
    "/people/{person_id}/contact",
    response={200: PersonContactOut, 404: ErrorOut, **REFUSALS},
    summary="A person's contact state",
)
@rule(access_people)
def person_contact(request: HttpRequest, person_id: int) -> Any:
    require(request, access_people)
    person = _person(person_id)
    card = selectors.person_contact(person=person)
    state = card["contact_state"]
    return {
        "person_id": person.pk,
        "touches_this_week": card["contact_touches_week"],
        "weekly_cap": card["contact_policy"].weekly_cap,
        "time_zone": card["contact_zone"],
        "marketing_unsubscribed_at": state.marketing_unsubscribed_at if state else None,
        "sales_unsubscribed_at": state.sales_unsubscribed_at if state else None,
        "do_not_contact": list(DoNotContact.objects.filter(person=person)),
    }


@router.get(
    "/people/{person_id}/contact-check",
    response={200: VerdictOut, 404: ErrorOut, **REFUSALS},
    summary="May this person be touched now?",
)
@rule(access_people)
def person_contact_check(request: HttpRequest, person_id: int, query: Query[VerdictQuery]) -> Any:
    """The gate's verdict, read only: nothing is reserved."""
    require(request, access_people)
    return selectors.contact_check(
        person=_person(person_id), channel=query.channel, purpose=query.purpose, at=query.at
    )


class UnsubscribeIn(Strict):
    purpose: ContactPurpose = Field(
        ContactPurpose.MARKETING, description="sales: stop automated sales email too"
    )


@router.post(
    "/people/{person_id}/unsubscribe",
    response={200: PersonContactOut, 404: ErrorOut, **REFUSALS},
    summary="Record an unsubscribe the person asked for",
)
@rule(access_person_edit)
def person_unsubscribe(request: HttpRequest, person_id: int, payload: UnsubscribeIn) -> Any:
    user = require(request, access_person_edit)
    person = _person(person_id)
    services.contact_unsubscribe(person=person, purpose=payload.purpose, method="api", actor=user)
    return person_contact(request, person_id)


# Do not contact ---------------------------------------------------------------------------------


class DoNotContactIn(Strict):
    person_id: int
    channel: ContactChannel
    reason: str = Field("", max_length=300)


@router.get(
    "/do-not-contact",
    response={200: list[DoNotContactOut], **REFUSALS},
    summary="The do-not-contact list",
)
@paginate(Paging)
@rule(access_outreach_settings)
def do_not_contact_list(request: HttpRequest) -> QuerySet[DoNotContact]:
    require(request, access_outreach_settings)
    return selectors.do_not_contact_list()


@router.post(
    "/do-not-contact",
    response={201: DoNotContactOut, 404: ErrorOut, **REFUSALS},
    summary="Never contact a person on a channel",
)
@rule(access_person_edit)
def do_not_contact_post(request: HttpRequest, payload: DoNotContactIn) -> Status[DoNotContact]:
    """Idempotent: the row that is already there is returned."""
    user = require(request, access_person_edit)
    person = _person(payload.person_id)
    services.do_not_contact_set(
        person=person, channel=payload.channel, reason=payload.reason, source="api", actor=user
    )
    return Status(201, DoNotContact.objects.get(person=person, channel=payload.channel))


@router.delete(
    "/do-not-contact/{person_id}/{channel}",
    response={204: None, 404: ErrorOut, **REFUSALS},
    summary="Allow contact on a channel again",
)
@rule(access_person_edit)
def do_not_contact_delete(
    request: HttpRequest, person_id: int, channel: ContactChannel
) -> Status[None]:
    user = require(request, access_person_edit)
    if not services.do_not_contact_lift(person=_person(person_id), channel=channel, actor=user):
        raise HttpError(404, f"person {person_id} is not blocked on {channel}")
    return Status(204, None)


# Marketing emails -------------------------------------------------------------------------------


class ReportLineOut(Schema):
    key: str = Field(description="sent, waiting, or the gate's code for those held back")
    label: str
    count: int


class NewsletterOut(Schema):
    id: int
    name: str
    subject: str
    text: str
    html: str
    audience: Audience
    audience_value: str
    audience_ids: list[int]
    status: NewsletterStatus
    created_at: dt.datetime
    queued_at: dt.datetime | None
    finished_at: dt.datetime | None
    report: list[ReportLineOut] = Field(description="How the send went so far")

    @staticmethod
    def resolve_report(obj: Newsletter) -> list[selectors.ReportLine]:
        return selectors.newsletter_report(newsletter=obj)


class NewsletterIn(Strict):
    name: str = Field("", max_length=200)
    subject: str = Field(min_length=1, max_length=200, examples=["News for {{ first_name }}"])
    text: str = Field(min_length=1, description="Merge fields: {{ first_name }}, {{ company }}…")
    html: str = ""
    audience: Audience = Audience.CONSENTED
    audience_value: str = Field(
        "", max_length=120, description="lifecycle: the stage; journey_step: the step's id"
    )
    audience_ids: list[int] = Field(
        default_factory=list, max_length=10_000, description="people: their ids"
    )


class NewsletterPatch(Patch):
    name: str | None = Field(None, max_length=200)
    subject: str | None = Field(None, min_length=1, max_length=200)
    text: str | None = Field(None, min_length=1)
    html: str | None = None
    audience: Audience | None = None
    audience_value: str | None = Field(None, max_length=120)
    audience_ids: list[int] | None = Field(None, max_length=10_000)


class PreviewOut(Schema):
    person_id: int
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def _newsletter(pk: int) -> Newsletter:
    found = Newsletter.objects.filter(pk=pk).first()
    if found is None:
        raise HttpError(404, f"no marketing email {pk}")
    return found


@router.get(
    "/newsletters", response={200: list[NewsletterOut], **REFUSALS}, summary="Marketing emails"
)
@paginate(Paging)
@rule(access_newsletters)
def newsletters_get(request: HttpRequest) -> QuerySet[Newsletter]:
    require(request, access_newsletters)
    return Newsletter.objects.order_by("-created_at", "-pk")


@router.post(
    "/newsletters",
    response={201: NewsletterOut, **REFUSALS},
    summary="Write a marketing email (a draft)",
)
@rule(access_newsletters)
def newsletter_post(request: HttpRequest, payload: NewsletterIn) -> Status[Newsletter]:
    user = require(request, access_newsletters)
    try:
        newsletter = services.newsletter_create(**payload.model_dump(), actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return Status(201, newsletter)


@router.get(
    "/newsletters/{newsletter_id}",
    response={200: NewsletterOut, 404: ErrorOut, **REFUSALS},
    summary="A marketing email and how its send went",
)
@rule(access_newsletters)
def newsletter_get(request: HttpRequest, newsletter_id: int) -> Newsletter:
    require(request, access_newsletters)
    return _newsletter(newsletter_id)


@router.patch(
    "/newsletters/{newsletter_id}",
    response={200: NewsletterOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Change a draft",
)
@rule(access_newsletters)
def newsletter_patch(request: HttpRequest, newsletter_id: int, payload: NewsletterPatch) -> Any:
    user = require(request, access_newsletters)
    newsletter = _newsletter(newsletter_id)
    if newsletter.status != NewsletterStatus.DRAFT:
        raise HttpError(409, "this email has been sent; make a new one to change it")
    try:
        return services.newsletter_update(
            newsletter=newsletter, changes=payload.changes(), actor=user
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc


@router.get(
    "/newsletters/{newsletter_id}/preview",
    response={200: PreviewOut, 404: ErrorOut, **REFUSALS},
    summary="The mail one person would get",
)
@rule(access_newsletters)
def newsletter_preview(request: HttpRequest, newsletter_id: int, person_id: int) -> Any:
    require(request, access_newsletters)
    newsletter, person = _newsletter(newsletter_id), _person(person_id)
    subject, text, html = services.newsletter_render(newsletter=newsletter, person=person)
    return {
        "person_id": person.pk,
        "subject": subject,
        "text": text,
        "html": html,
        "headers": services.mail_unsubscribe_headers(person=person),
    }


@router.post(
    "/newsletters/{newsletter_id}/send",
    response={202: NewsletterOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Send a marketing email",
)
@rule(access_newsletters)
def newsletter_send(request: HttpRequest, newsletter_id: int) -> Status[Newsletter]:
    """Queues the send; the worker sends to each person in the audience when the contact gate
    allows (purpose marketing). Follow it with GET /newsletters/{id}: `report`."""
    user = require(request, access_newsletters)
    newsletter = _newsletter(newsletter_id)
    if newsletter.status != NewsletterStatus.DRAFT:
        raise HttpError(409, "this email is already sent or on its way")
    try:
        return Status(202, services.newsletter_send(newsletter=newsletter, actor=user))
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
