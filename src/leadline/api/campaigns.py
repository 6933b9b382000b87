"""The API for campaigns: what marketing ran, through which channel, when, and what it cost.
Names match touches (utm_campaign, a form's campaign) in any case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Patch, Strict, field_errors
from leadline.campaigns.models import CHANNELS, Campaign
from leadline.campaigns.selectors import campaigns_query
from leadline.campaigns.services import NOTES_MAX, campaign_save
from leadline.core.permissions import access_campaigns

router = Router(tags=["Campaigns"])
CHANNEL_WORDS = "One of " + ", ".join(CHANNELS) + ", or your own word"


class CampaignOut(Schema):
    id: int
    name: str
    channel: str
    cost: Decimal | None
    currency: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Q4 finance push"])
    channel: str = Field("", max_length=60, description=CHANNEL_WORDS)
    cost: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str = Field("", max_length=3, description="Three letters; default: the setting")
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    notes: str = Field("", max_length=NOTES_MAX)


class CampaignPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"cost", "starts_on", "ends_on"})

    name: str | None = Field(None, min_length=1, max_length=200)
    channel: str | None = Field(None, max_length=60, description=CHANNEL_WORDS)
    cost: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(None, min_length=3, max_length=3)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    notes: str | None = Field(None, max_length=NOTES_MAX)


def _campaign(pk: int) -> Campaign:
    found = Campaign.objects.filter(pk=pk).first()
    if found is None:
        raise HttpError(404, f"no campaign {pk}")
    return found


@router.get("", response={200: list[CampaignOut], **REFUSALS}, summary="List campaigns")
@paginate(Paging)
@rule(access_campaigns)
def campaigns_list(request: HttpRequest) -> QuerySet[Campaign]:
    """Every campaign entered, by name."""
    require(request, access_campaigns)
    return campaigns_query()


@router.post("", response={201: CampaignOut, **REFUSALS}, summary="Make a campaign")
@rule(access_campaigns)
def campaign_post(request: HttpRequest, payload: CampaignIn) -> Status[Campaign]:
    """A name already used (in any case), an end before the start: 422 naming the field."""
    user = require(request, access_campaigns)
    values = payload.model_dump()
    if not values["currency"]:
        values.pop("currency")
    try:
        made = campaign_save(campaign=Campaign(**values), actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return Status(201, made)


@router.get(
    "/{campaign_id}",
    response={200: CampaignOut, 404: ErrorOut, **REFUSALS},
    summary="Get a campaign",
)
@rule(access_campaigns)
def campaign_get(request: HttpRequest, campaign_id: int) -> Campaign:
    require(request, access_campaigns)
    return _campaign(campaign_id)


@router.patch(
    "/{campaign_id}",
    response={200: CampaignOut, 404: ErrorOut, **REFUSALS},
    summary="Change a campaign",
)
@rule(access_campaigns)
def campaign_patch(request: HttpRequest, campaign_id: int, payload: CampaignPatch) -> Campaign:
    """Only the fields sent change; `cost`, `starts_on` and `ends_on` may be null (unknown)."""
    user = require(request, access_campaigns)
    campaign = _campaign(campaign_id)
    for name in payload.model_fields_set:
        setattr(campaign, name, getattr(payload, name))
    try:
        campaign_save(campaign=campaign, actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _campaign(campaign_id)
