"""Capture: forms, the raw submissions they receive, and the requests people made through them."""

import datetime as dt
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import slug_re
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from ninja import Body, Field, FilterLookup, FilterSchema, Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import BODY, Paging, Patch, Strict, field_errors
from leadline.capture.ingest import (
    form_spec,
    idempotency_key,
    submission_store,
    thanks_token,
)
from leadline.capture.models import (
    FIELD_TYPES,
    Form,
    Request,
    RequestKind,
    RequestStatus,
    Submission,
    SubmissionStatus,
)
from leadline.capture.services import form_save
from leadline.capture.validation import submission_clean
from leadline.capture.views import embed_snippet, field_specs
from leadline.core.links import public_url
from leadline.core.models import TokenScope
from leadline.core.permissions import access_forms, access_people, access_submissions
from leadline.core.ratelimit import client_ip
from leadline.relationships.visibility import requests_visible

requests_router = Router(tags=["requests"])
submissions_router = Router(tags=["submissions"])
forms_router = Router(tags=["forms"])


# Requests ---------------------------------------------------------------------------------------


class RequestOut(Schema):
    id: int
    person_id: int
    account_id: int | None
    kind: RequestKind
    wants_contact: bool = Field(description='They ticked "please have someone contact me"')
    message: str = Field(description="What they wrote, in their words")
    status: RequestStatus
    form: str | None = Field(None, description="Slug of the form they used")
    submission_id: int | None
    asset_id: int | None
    source: str
    page_url: str
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    campaign: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_form(obj: Request) -> str | None:
        return obj.form.slug if obj.form is not None else None


class RequestsFilter(FilterSchema):
    kind: RequestKind | None = None
    status: RequestStatus | None = None
    wants_contact: bool | None = None
    person_id: int | None = None
    account_id: int | None = None
    campaign: Annotated[
        str | None,
        FilterLookup(["campaign", "utm_campaign"]),
        Field(description="The form's campaign or the utm_campaign, exactly"),
    ] = None
    created_after: Annotated[dt.datetime | None, FilterLookup("created_at__gte")] = None


@requests_router.get("", response={200: list[RequestOut], **REFUSALS}, summary="List requests")
@paginate(Paging)
@rule(access_people)
def requests_list(request: HttpRequest, filters: Query[RequestsFilter]) -> QuerySet[Request]:
    """What people asked for, newest first."""
    require(request, access_people)
    seen = requests_visible(user=getattr(request, "auth", None), requests=Request.objects.all())
    return filters.filter(seen.select_related("form")).order_by("-created_at", "-id")


@requests_router.get(
    "/{request_id}",
    response={200: RequestOut, 404: ErrorOut, **REFUSALS},
    summary="Get a request",
)
@rule(access_people)
def request_get(request: HttpRequest, request_id: int) -> Request:
    require(request, access_people)
    seen = requests_visible(user=getattr(request, "auth", None), requests=Request.objects.all())
    found = seen.select_related("form").filter(pk=request_id).first()
    if found is None:  # also out of view: 404, not 403, which would confirm it exists
        raise HttpError(404, f"no request {request_id}")
    return found


# Submissions ------------------------------------------------------------------------------------


class SubmissionOut(Schema):
    id: int
    form: str = Field(description="Slug of the form it was posted to")
    idempotency_key: str
    received_at: dt.datetime
    payload: dict[str, Any] = Field(description="The cleaned fields, stored before processing")
    meta: dict[str, Any] = Field(description="Where it came from: ip, user agent, origin")
    status: SubmissionStatus
    attempts: int = Field(description="How many times the worker has tried to process it")
    last_error: str
    processed_at: dt.datetime | None
    person_id: int | None
    request_id: int | None

    @staticmethod
    def resolve_form(obj: Submission) -> str:
        return obj.form.slug

    @staticmethod
    def resolve_request_id(obj: Submission) -> int | None:
        try:
            return obj.request.pk
        except Request.DoesNotExist:
            return None


class SubmissionsFilter(FilterSchema):
    form: Annotated[
        str | None, FilterLookup("form__slug"), Field(description="The form's slug")
    ] = None
    status: SubmissionStatus | None = None


def _submissions() -> QuerySet[Submission]:
    return Submission.objects.select_related("form", "request")


@submissions_router.get(
    "", response={200: list[SubmissionOut], **REFUSALS}, summary="List raw submissions"
)
@paginate(Paging)
@rule(access_submissions)
def submissions_list(
    request: HttpRequest, filters: Query[SubmissionsFilter]
) -> QuerySet[Submission]:
    """Raw submissions, newest first. Submit one with `POST /forms/{slug}/submissions`."""
    require(request, access_submissions)
    return filters.filter(_submissions()).order_by("-received_at", "-id")


@submissions_router.get(
    "/{submission_id}",
    response={200: SubmissionOut, 404: ErrorOut, **REFUSALS},
    summary="Get a raw submission",
)
@rule(access_submissions)
def submission_get(request: HttpRequest, submission_id: int) -> Submission:
    require(request, access_submissions)
    found = _submissions().filter(pk=submission_id).first()
    if found is None:
        raise HttpError(404, f"no submission {submission_id}")
    return found


# Forms ------------------------------------------------------------------------------------------


class FieldSpecIn(Strict):
    """A question on the form. Known person fields (email, first_name, phone, company, ...)
    bring their own label and type; any other name is kept as an answer."""

    name: str
    label: str | None = None
    type: str | None = Field(None, description=f"One of: {', '.join(FIELD_TYPES)}")
    required: bool | None = None
    options: list[str] | None = Field(None, description="The choices of a select")
    help: str | None = None


class FieldSpecOut(Schema):
    name: str
    label: str
    type: str
    required: bool
    options: list[str]
    help: str


class FormSettings(Patch):
    name: str | None = Field(None, description="Internal name")
    title: str | None = Field(None, description="Heading the visitor sees")
    intro: str | None = None
    fields: list[FieldSpecIn] | None = Field(None, description="Must include `email`")
    request_kind: RequestKind | None = None
    asset_id: int | None = Field(None, description="The gated asset delivered after submit")
    contact_box: bool | None = Field(None, description='Offer "please have someone contact me"')
    contact_box_label: str | None = None
    consent_text: str | None = None
    consent_required: bool | None = None
    submit_label: str | None = None
    thank_you_title: str | None = None
    thank_you_message: str | None = None
    thank_you_url: str | None = Field(None, description="Send visitors here instead")
    campaign: str | None = None
    journey: str | None = None
    allowed_origins: list[str] | None = Field(
        None, description="Sites that may embed the form; empty: none but Leadline's own page"
    )
    is_active: bool | None = None

    nullable = frozenset({"asset_id"})

    def changes(self) -> dict[str, Any]:
        changes = super().changes()
        if "allowed_origins" in changes:
            changes["allowed_origins"] = "\n".join(changes["allowed_origins"])
        return changes


class FormIn(FormSettings):
    """A new form; what is left out takes the same defaults as in the web UI."""

    slug: str = Field(description="The form's public address: /f/<slug>/")
    name: str = Field(description="Internal name")
    title: str = Field(description="Heading the visitor sees")
    fields: list[FieldSpecIn] = Field(description="Must include `email`")


class FormSummary(Schema):
    id: int
    slug: str
    name: str
    title: str
    request_kind: RequestKind
    campaign: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class FormOut(FormSummary):
    intro: str
    fields: list[FieldSpecOut] = Field(description="With labels and types filled in")
    asset_id: int | None
    contact_box: bool
    contact_box_label: str
    consent_text: str
    consent_required: bool
    submit_label: str
    thank_you_title: str
    thank_you_message: str
    thank_you_url: str
    journey: str
    allowed_origins: list[str]
    hosted_url: str = Field(description="The hosted form page; POST JSON here to submit")
    embed_snippet: str = Field(description="Paste into any page to show the form there")

    @staticmethod
    def resolve_fields(obj: Form) -> list[dict[str, Any]]:
        return field_specs(obj)

    @staticmethod
    def resolve_allowed_origins(obj: Form) -> list[str]:
        return obj.allowed_origins.split()

    @staticmethod
    def resolve_hosted_url(obj: Form, context: dict[str, Any]) -> str:
        return public_url(context["request"], reverse("capture:form", args=[obj.slug]))

    @staticmethod
    def resolve_embed_snippet(obj: Form, context: dict[str, Any]) -> str:
        return embed_snippet(context["request"], obj)


def _form(slug: str) -> Form:
    form = Form.objects.filter(slug=slug).first()
    if form is None:
        raise HttpError(404, f"no form {slug!r}")
    return form


# Model errors say `asset`; the API calls it `asset_id`.
FORM_FIELD_NAMES = {"asset": "asset_id"}


@forms_router.get("", response={200: list[FormSummary], **REFUSALS}, summary="List forms")
@paginate(Paging)
@rule(access_forms)
def forms_list(request: HttpRequest) -> QuerySet[Form]:
    require(request, access_forms)
    return Form.objects.order_by("name", "id")


@forms_router.post(
    "", response={201: FormOut, **REFUSALS}, summary="Create a form", operation_id="form_create"
)
@rule(access_forms)
def form_create(request: HttpRequest, payload: FormIn) -> Status[Form]:
    user = require(request, access_forms)
    form = Form(**payload.changes())
    try:
        form_save(form=form, actor=user, created=True)
    except DjangoValidationError as exc:
        raise field_errors(exc, rename=FORM_FIELD_NAMES) from exc
    return Status(201, form)


@forms_router.get(
    "/{slug}", response={200: FormOut, 404: ErrorOut, **REFUSALS}, summary="Get a form"
)
@rule(access_forms)
def form_get(request: HttpRequest, slug: str) -> Form:
    """A form with its fields and the snippet that embeds it on another site."""
    require(request, access_forms)
    return _form(slug)


@forms_router.patch(
    "/{slug}", response={200: FormOut, 404: ErrorOut, **REFUSALS}, summary="Change a form"
)
@rule(access_forms)
def form_patch(request: HttpRequest, slug: str, payload: FormSettings) -> Form:
    """Change only the fields sent. The slug stays: pages that embed the form use it."""
    user = require(request, access_forms)
    form = _form(slug)
    for name, value in payload.changes().items():
        setattr(form, name, value)
    try:
        form_save(form=form, actor=user, created=False)
    except DjangoValidationError as exc:
        raise field_errors(exc, rename=FORM_FIELD_NAMES) from exc
    return form


class SubmissionReceived(Schema):
    id: int
    duplicate: bool = Field(description="true: this Idempotency-Key was seen; nothing new stored")
    download_url: str | None = Field(
        None, description="The gated asset's link for this submission, when the form has one"
    )


IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Send the same key again and the first submission is returned, not stored "
    "twice. Without one, the same fields to the same form on the same day count as one.",
}


@forms_router.post(
    "/{slug}/submissions",
    response={201: SubmissionReceived, 200: SubmissionReceived, 404: ErrorOut, **REFUSALS},
    summary="Submit to a form",
    openapi_extra={"parameters": [IDEMPOTENCY_HEADER]},
)
@rule(access_submissions, scopes={TokenScope.WRITE, TokenScope.CAPTURE})
def form_submission_create(
    request: HttpRequest, slug: str, payload: Body[dict[str, Any]]
) -> Status[SubmissionReceived]:
    """Capture a submission as the hosted form and the embed do: the same checks of the form's
    fields, stored raw first and processed by the worker (person, account, request, timeline).
    The body is the form's fields by name, plus `contact_me`, `consent` and tracking fields
    (utm_source, page_url, ...) as the form allows. The public `POST /f/<slug>/` takes the same
    body without a token, behind a per-address rate limit."""
    user = require(request, access_submissions)
    spec = form_spec(slug) if slug_re.fullmatch(slug) else None  # no cache key for non-slugs
    if spec is None:
        raise HttpError(404, f"no active form {slug!r}")
    clean, errors = submission_clean(spec, payload)
    if errors:
        raise ValidationError(
            [{"type": "invalid", "loc": [*BODY, name], "msg": msg} for name, msg in errors.items()]
        )
    key = idempotency_key(request, spec, payload)
    if len(key) > 200:
        raise ValidationError(
            [{"type": "invalid", "loc": ["header", "Idempotency-Key"], "msg": "at most 200"}]
        )
    meta = {
        "ip": client_ip(request),
        "user_agent": request.headers.get("User-Agent", "")[:500],
        "origin": "",
        "channel": "api",
        "api_user": user.username,
    }
    submission_id, duplicate = submission_store(
        form_id=spec.id, idempotency_key=key, payload=clean, meta=meta
    )
    download_url = None
    if spec.has_asset:
        path = reverse("capture:download", args=[thanks_token(submission_id)])
        download_url = public_url(request, path)
    received = SubmissionReceived(id=submission_id, duplicate=duplicate, download_url=download_url)
    return Status(200 if duplicate else 201, received)
