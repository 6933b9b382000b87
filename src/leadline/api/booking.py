"""The API for bookable hours and meetings: booking pages, their free slots, and meetings (list,
book one for a person, cancel)."""

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging, Strict, field_errors
from leadline.booking.models import BookingPage, Meeting, MeetingStatus
from leadline.booking.selectors import free_slots, may_record_outcome
from leadline.booking.services import (
    SlotUnavailable,
    meeting_book,
    meeting_cancel,
    meeting_outcome_record,
)
from leadline.core import clock
from leadline.core.models import Person, Role
from leadline.core.permissions import access_booking_settings, access_people

router = Router(tags=["Bookable hours"])

LONGEST_RANGE = dt.timedelta(days=62)
NOTE_MAX = 2000


class PageOut(Schema):
    slug: str
    title: str
    intro: str
    user_id: int | None = Field(description="The seller it books with (a seller's page)")
    team_id: int | None = Field(description="The team whose sellers take turns (a team page)")
    length_minutes: int
    buffer_minutes: int
    notice_minutes: int
    horizon_days: int
    location: str
    active: bool


class SlotOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime
    hosts: list[int] = Field(description="Ids of the sellers free then")


class SlotsQuery(Schema):
    start: dt.datetime | None = Field(None, description="From (default: now)")
    end: dt.datetime | None = Field(None, description="Until (default: 7 days after start)")


class MeetingOut(Schema):
    id: int
    page: str | None
    host_id: int
    person_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    time_zone: str
    title: str
    location: str
    note: str
    source: str
    sequence: int
    uid: str
    booked_by_id: int | None
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    outcome: str = Field(description='"" (not recorded) | "held" | "no_show"')
    outcome_at: dt.datetime | None

    @staticmethod
    def resolve_page(obj: Meeting) -> str | None:
        return obj.page.slug if obj.page else None


class MeetingsQuery(Schema):
    status: MeetingStatus | None = None
    person_id: int | None = None
    upcoming: bool = Field(False, description="Only meetings that have not ended")


class MeetingIn(Strict):
    page: str = Field(description="The booking page's slug")
    starts_at: dt.datetime = Field(description="One of the page's free slots")
    person_id: int
    time_zone: str = Field("", description="The person's IANA time zone, if known")
    note: str = Field("", max_length=NOTE_MAX)


class OutcomeIn(Strict):
    outcome: Literal["held", "no_show"]


class CancelIn(Strict):
    reason: str = Field("", max_length=NOTE_MAX)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise HttpError(422, "times must say their time zone, e.g. 2026-11-24T09:00:00Z")
    return moment


@router.get("/booking/pages", response={200: list[PageOut], **REFUSALS}, summary="Booking pages")
@paginate(Paging)
@rule(access_people)
def pages_list(request: HttpRequest) -> QuerySet[BookingPage]:
    require(request, access_people)
    return BookingPage.objects.order_by("slug")


@router.get(
    "/booking/pages/{slug}/slots",
    response={200: list[SlotOut], 404: ErrorOut, 422: ErrorOut, **REFUSALS},
    summary="Free slots of a page",
)
@rule(access_people)
def page_slots(request: HttpRequest, slug: str, query: Query[SlotsQuery]) -> list[SlotOut]:
    """The times a meeting could start, within the page's notice and horizon: the seller's
    bookable hours minus their meetings (with the buffer) and absences; for a team page, every
    member's, with who is free."""
    require(request, access_people)
    page = get_object_or_404(BookingPage, slug=slug)
    start = _aware(query.start) if query.start else clock.now()
    end = _aware(query.end) if query.end else start + dt.timedelta(days=7)
    if end - start > LONGEST_RANGE:
        raise HttpError(422, f"ask for at most {LONGEST_RANGE.days} days at a time")
    return [
        SlotOut(starts_at=s.starts_at, ends_at=s.ends_at, hosts=list(s.hosts))
        for s in free_slots(page=page, start=start, end=end)
    ]


@router.get("/booking/meetings", response={200: list[MeetingOut], **REFUSALS}, summary="Meetings")
@paginate(Paging)
@rule(access_booking_settings)
def meetings_list(request: HttpRequest, query: Query[MeetingsQuery]) -> QuerySet[Meeting]:
    """A rep's own meetings (as host); a manager's or admin's, everyone's."""
    user = require(request, access_booking_settings)
    rows = Meeting.objects.select_related("page").order_by("starts_at", "id")
    if user.role == Role.SALES_REP:
        rows = rows.filter(host=user)
    if query.status:
        rows = rows.filter(status=query.status)
    if query.person_id is not None:
        rows = rows.filter(person_id=query.person_id)
    if query.upcoming:
        rows = rows.filter(ends_at__gt=clock.now())
    return rows


@router.post(
    "/booking/meetings",
    response={201: MeetingOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Book a meeting for a person",
)
@rule(access_booking_settings)
def meeting_create(request: HttpRequest, payload: MeetingIn) -> Status[Meeting]:
    """Books one of the page's free slots for the person, as the calling seller: the invitation
    goes out, it counts as a first touch and a handoff, their cadences stop. 409 when the time
    is not free (any more)."""
    user = require(request, access_booking_settings)
    page = get_object_or_404(BookingPage, slug=payload.page)
    person = get_object_or_404(Person, pk=payload.person_id)
    try:
        meeting = meeting_book(
            page=page,
            starts_at=_aware(payload.starts_at),
            person=person,
            time_zone=payload.time_zone,
            note=payload.note,
            booked_by=user,
        )
    except SlotUnavailable as exc:
        raise HttpError(409, str(exc)) from None
    except DjangoValidationError as exc:
        raise field_errors(exc) from None
    return Status(201, meeting)


@router.post(
    "/booking/meetings/{meeting_id}/cancel",
    response={200: MeetingOut, 404: ErrorOut, **REFUSALS},
    summary="Cancel a meeting",
)
@rule(access_booking_settings)
def meeting_cancel_endpoint(request: HttpRequest, meeting_id: int, payload: CancelIn) -> Meeting:
    """The prospect gets the cancellation (METHOD:CANCEL). A rep cancels their own meetings;
    managers and admins any. Cancelling twice changes nothing."""
    user = require(request, access_booking_settings)
    meeting = get_object_or_404(Meeting.objects.select_related("page"), pk=meeting_id)
    if user.role == Role.SALES_REP and meeting.host_id != user.pk:
        raise HttpError(404, "no such meeting of yours")
    return meeting_cancel(meeting=meeting, actor=user, reason=payload.reason)


@router.post(
    "/booking/meetings/{meeting_id}/outcome",
    response={200: MeetingOut, 404: ErrorOut, **REFUSALS},
    summary="Say a meeting was held or a no-show",
)
@rule(access_booking_settings)
def meeting_outcome_endpoint(request: HttpRequest, meeting_id: int, payload: OutcomeIn) -> Meeting:
    """Its host, the host's team manager or an admin; not before it starts; a cancelled meeting
    refuses (422). "held" asks the prospect for a rating (feedback). The same outcome again
    changes nothing."""
    user = require(request, access_booking_settings)
    meeting = get_object_or_404(Meeting.objects.select_related("page", "host__team"), pk=meeting_id)
    if not may_record_outcome(user, meeting):
        raise HttpError(404, "no such meeting of yours")
    try:
        return meeting_outcome_record(meeting=meeting, outcome=payload.outcome, actor=user)
    except DjangoValidationError as exc:
        raise field_errors(exc) from None
