"""Privacy over the API: a person's export, erasure, consent per purpose, the access log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.core.models import Person
from leadline.core.permissions import (
    access_people,
    access_person_edit,
    access_privacy_erase,
    access_privacy_export,
)
from leadline.privacy import selectors, services

router = Router(tags=["privacy"])


class ConsentIn(Schema):
    purpose: str
    granted: bool
    text: str = ""
    method: str
    source: str = ""


class ConsentRow(Schema):
    granted: bool
    text: str
    method: str
    form_version: str
    source: str
    ip: str | None
    captured_at: dt.datetime


class PurposeOut(Schema):
    purpose: str
    name: str
    state: str
    history: list[ConsentRow]


class EraseIn(Schema):
    reason: str


class EraseOut(Schema):
    person_id: int
    erased_at: dt.datetime
    cleared: dict[str, int]


class AccessOut(Schema):
    at: dt.datetime
    user: str | None
    person_id: int
    action: str
    via: str


def _purposes(person: Person) -> list[dict[str, Any]]:
    return [
        {
            "purpose": item.code,
            "name": item.name,
            "state": item.state,
            "history": [
                {
                    "granted": c.granted,
                    "text": c.text,
                    "method": c.method,
                    "form_version": c.form_version,
                    "source": c.source,
                    "ip": c.ip,
                    "captured_at": c.captured_at,
                }
                for c in item.history
            ],
        }
        for item in selectors.person_consents(person=person)
    ]


@router.get(
    "/people/{person_id}/export",
    response={200: dict[str, Any], 404: ErrorOut, **REFUSALS},
    summary="Export everything about a person",
    url_name="privacy_person_export",
)
@rule(access_privacy_export)
def person_export(request: HttpRequest, person_id: int) -> dict[str, Any]:
    """Every row of every table that points at the person (and at records merged into them),
    table by table, as the data subject's access request needs it. Recorded in the access log."""
    user = require(request, access_privacy_export)
    person = get_object_or_404(Person, pk=person_id)
    return services.person_export(person=person, actor=user, via="api")


@router.post(
    "/people/{person_id}/erase",
    response={200: EraseOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Erase a person",
    url_name="privacy_person_erase",
)
@rule(access_privacy_erase)
def person_erase(request: HttpRequest, person_id: int, payload: EraseIn) -> dict[str, Any]:
    """Clear everything that identifies the person; the rows stay, de-identified, so reports
    keep their totals. A reason is required. Admins only."""
    user = require(request, access_privacy_erase)
    person = get_object_or_404(Person, pk=person_id)
    if selectors.person_erasure(person=person) is not None:
        raise HttpError(409, "This person was erased already.")
    try:
        erasure = services.person_erase(person=person, actor=user, reason=payload.reason, via="api")
    except DjangoValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return {"person_id": person.pk, "erased_at": erasure.erased_at, "cleared": erasure.cleared}


@router.get(
    "/people/{person_id}/consents",
    response={200: list[PurposeOut], 404: ErrorOut, **REFUSALS},
    summary="A person's consent, purpose by purpose",
    url_name="privacy_person_consents",
)
@rule(access_people)
def person_consents(request: HttpRequest, person_id: int) -> list[dict[str, Any]]:
    require(request, access_people)
    person = get_object_or_404(Person, pk=person_id)
    return _purposes(person)


@router.post(
    "/people/{person_id}/consents",
    response={201: list[PurposeOut], 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Record a consent or its withdrawal",
    url_name="privacy_person_consent_add",
)
@rule(access_person_edit)
def person_consent_add(
    request: HttpRequest, person_id: int, payload: ConsentIn
) -> tuple[int, list[dict[str, Any]]]:
    """A new row, with its proof (the words, how, where, the caller's IP); a withdrawal is a row
    with `granted: false`, so the history stays."""
    user = require(request, access_person_edit)
    person = get_object_or_404(Person, pk=person_id)
    try:
        services.consent_record(
            person=person,
            purpose=payload.purpose,
            granted=payload.granted,
            text=payload.text,
            method=payload.method,
            source=payload.source or "api",
            ip=request.META.get("REMOTE_ADDR"),
            actor=user,
            via="api",
        )
    except DjangoValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return 201, _purposes(person)


@router.get(
    "/access-log",
    response={200: list[AccessOut], **REFUSALS},
    summary="Who saw or changed personal data",
    url_name="privacy_access_log",
)
@rule(access_privacy_erase)
def access_log(
    request: HttpRequest, person_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    require(request, access_privacy_erase)
    entries = selectors.access_log(person_id=person_id)[: max(1, min(limit, 500))]
    return [
        {
            "at": e.at,
            "user": e.user.username if e.user else None,
            "person_id": e.person_id,
            "action": e.action,
            "via": e.via,
        }
        for e in entries
    ]
