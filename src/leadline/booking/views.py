"""The public booking pages (no login): pick a time on /book/<slug>/, see the meeting, move it or
cancel it through the signed links in the invitation. Thin: reads through booking.selectors,
writes through booking.services."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from typing import Any, Literal

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from leadline.booking.links import (
    Action,
    StaleLink,
    invite_read,
    meeting_path,
    meeting_token_read,
)
from leadline.booking.models import BookingPage, Meeting, MeetingStatus
from leadline.booking.selectors import free_slots, host_zone, page_for_slug, zone_name
from leadline.booking.services import (
    SlotUnavailable,
    meeting_book,
    meeting_cancel,
    meeting_reschedule,
)
from leadline.booking.slots import Slot
from leadline.capture.validation import HONEYPOT_FIELD
from leadline.core import clock
from leadline.core.models import Person
from leadline.core.permissions import public
from leadline.core.ratelimit import client_ip, rate_limited
from leadline.core.selectors import person_email

NAME_MAX = 200
EMAIL_MAX = 254
NOTE_MAX = 2000


@functools.cache
def time_zones() -> list[str]:
    """The zones a prospect can choose from: the IANA area/city names, and UTC."""
    names = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name
        and not name.startswith(
            ("Etc/", "SystemV/", "US/", "Canada/", "Brazil/", "Mexico/", "Chile/")
        )
    }
    return ["UTC", *sorted(names)]


def _viewer_zone(request: HttpRequest, fallback: str = "UTC") -> str:
    return zone_name(request.POST.get("tz", "") or request.GET.get("tz", "")) or fallback


def _link_base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def slot_days(slots: list[Slot], zone: str) -> list[dict[str, Any]]:
    """The slots grouped by day as the prospect reads them (their zone, their dates)."""
    tz = zoneinfo.ZoneInfo(zone)
    days: list[dict[str, Any]] = []
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        if not days or days[-1]["date"] != local.date():
            days.append(
                {"date": local.date(), "label": f"{local:%A} {local.day} {local:%B}", "slots": []}
            )
        days[-1]["slots"].append(
            {"value": slot.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "label": f"{local:%H:%M}"}
        )
    return days


def _when(moment: dt.datetime, zone: str) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"


def _parse_start(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(dt.UTC)


def _slots_context(
    page: BookingPage, zone: str, *, meeting: Meeting | None = None
) -> dict[str, Any]:
    now = clock.now()
    slots = free_slots(
        page=page,
        start=now,
        end=now + dt.timedelta(days=page.horizon_days),
        hosts=[meeting.host] if meeting is not None else None,
        exclude_meeting=meeting,
    )
    return {
        "page": page,
        "zone": zone,
        "zones": time_zones(),
        "days": slot_days(slots, zone),
        "honeypot": HONEYPOT_FIELD,
    }


def _rate_limited(request: HttpRequest) -> HttpResponse | None:
    wait = rate_limited(scope="booking", key=client_ip(request), rate=settings.BOOKING_RATE_LIMIT)
    if wait is None:
        return None
    response = _message(
        request,
        title="Too many tries",
        text=f"Please wait {wait} seconds and try again.",
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _message(request: HttpRequest, *, title: str, text: str, status: int = 200) -> HttpResponse:
    return render(request, "booking/message.html", {"title": title, "text": text}, status=status)


@public("the public booking page: anyone may book a free slot (rate-limited)")
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def booking_page(request: HttpRequest, slug: str) -> HttpResponse:
    page = page_for_slug(slug)
    if page is None:
        raise Http404("no such booking page")
    zone = _viewer_zone(request)
    invited = _invited(request, page)
    if invited is False:
        return _message(
            request,
            title="This booking link is not valid",
            text="It may have been cut short or changed. Ask for a new link, or book here: "
            + request.build_absolute_uri(request.path),
            status=400,
        )
    invitation = {"for": request.GET.get("for", "")} if invited else {}
    if request.method == "GET":
        values = {"name": invited.full_name, "email": person_email(invited)} if invited else {}
        context = {**_slots_context(page, zone), "values": values, **invitation}
        return render(request, "booking/page.html", context)
    limited = _rate_limited(request)
    if limited is not None:
        return limited
    values = {
        "name": request.POST.get("name", "").strip()[:NAME_MAX],
        "email": request.POST.get("email", "").strip()[:EMAIL_MAX],
        "company": request.POST.get("company", "").strip()[:NAME_MAX],
        "note": request.POST.get("note", "").strip()[:NOTE_MAX],
        "start": request.POST.get("start", ""),
    }
    errors: dict[str, str] = {}
    if request.POST.get(HONEYPOT_FIELD):
        return _message(
            request, title="Not booked", text="This form was not filled in by a person.", status=400
        )
    starts_at = _parse_start(values["start"])
    if starts_at is None:
        errors["start"] = "Pick a time."
    if not values["name"]:
        errors["name"] = "Enter your name."
    if not values["email"]:
        errors["email"] = "Enter your email address."
    status = 400
    if not errors and starts_at is not None:
        try:
            meeting = meeting_book(
                page=page,
                starts_at=starts_at,
                person=invited or None,
                name=values["name"],
                email=values["email"],
                company=values["company"],
                note=values["note"],
                time_zone=zone,
                link_base=_link_base(request),
            )
        except SlotUnavailable as exc:
            errors["start"] = str(exc)
            status = 409
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[field if field in values else "start"] = " ".join(messages)
        else:
            return redirect(meeting_path(meeting, "view"), permanent=False)
    context = {**_slots_context(page, zone), "values": values, "errors": errors, **invitation}
    return render(request, "booking/page.html", context, status=status)


def _invited(request: HttpRequest, page: BookingPage) -> Person | Literal[False] | None:
    """The person a signed `?for=` link books for; None without one; False for a link that is not
    genuine (or whose person is gone), which books nothing."""
    token = request.GET.get("for", "")
    if not token:
        return None
    try:
        person_id = invite_read(token, page)
    except signing.BadSignature:
        return False
    person = Person.objects.filter(pk=person_id, merged_into__isnull=True).first()
    return person if person is not None else False


def _meeting_view(
    action: Action,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Reads the signed link: a forged or altered one is 404; one from an older invitation (the
    meeting changed since) or for a cancelled meeting says so (410) and changes nothing."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, token: str) -> HttpResponse:
            try:
                meeting_id, sequence = meeting_token_read(token, action)
            except signing.BadSignature:
                raise Http404("unknown link") from None
            meeting = (
                Meeting.objects.select_related("host", "person", "page")
                .filter(pk=meeting_id)
                .first()
            )
            if meeting is None:
                raise Http404("unknown meeting")
            current = meeting.sequence == sequence
            if action != "view":
                if meeting.status == MeetingStatus.CANCELLED:
                    return _message(
                        request,
                        title="This meeting was cancelled",
                        text="There is nothing more to change. To meet after all, book a new time.",
                        status=410,
                    )
                if not current:
                    return _stale(request)
            return view(request, meeting, token=token, current=current)

        return wrapped

    return decorate


def _stale(request: HttpRequest) -> HttpResponse:
    return _message(
        request,
        title="This link is out of date",
        text="The meeting was changed after this link was sent. Please use the links in the "
        "latest invitation.",
        status=410,
    )


@public("a booked meeting, reached by the signed link in its confirmation mail")
@require_http_methods(["GET"])
@_meeting_view("view")
def meeting_detail(
    request: HttpRequest, meeting: Meeting, *, token: str, current: bool
) -> HttpResponse:
    zone = zone_name(meeting.time_zone) or host_zone(meeting.host)
    return render(
        request,
        "booking/meeting.html",
        {
            "meeting": meeting,
            "when": _when(meeting.starts_at, zone),
            "zone": zone,
            "cancelled": meeting.status == MeetingStatus.CANCELLED,
            "current": current,
            "reschedule_url": meeting_path(meeting, "reschedule"),
            "cancel_url": meeting_path(meeting, "cancel"),
        },
    )


@public("rescheduling a meeting, by the signed link in its confirmation mail")
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
@_meeting_view("reschedule")
def meeting_reschedule_view(
    request: HttpRequest, meeting: Meeting, *, token: str, current: bool
) -> HttpResponse:
    if meeting.page is None or not meeting.page.active:
        return _message(
            request,
            title="This meeting cannot be moved here",
            text="Its booking page is closed. Please reply to the invitation to find another time.",
            status=410,
        )
    zone = _viewer_zone(request, zone_name(meeting.time_zone) or "UTC")
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        limited = _rate_limited(request)
        if limited is not None:
            return limited
        starts_at = _parse_start(request.POST.get("start", ""))
        if starts_at is None:
            errors["start"] = "Pick a time."
            status = 400
        else:
            try:
                moved = meeting_reschedule(
                    meeting=meeting,
                    starts_at=starts_at,
                    expected_sequence=meeting.sequence,
                    link_base=_link_base(request),
                )
            except StaleLink:
                return _stale(request)
            except SlotUnavailable as exc:
                errors["start"] = str(exc)
                status = 409
            else:
                return redirect(meeting_path(moved, "view"), permanent=False)
    context = {
        **_slots_context(meeting.page, zone, meeting=meeting),
        "meeting": meeting,
        "when": _when(meeting.starts_at, zone),
        "errors": errors,
        "values": {},
    }
    return render(request, "booking/reschedule.html", context, status=status)


@public("cancelling a meeting, by the signed link in its confirmation mail")
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
@_meeting_view("cancel")
def meeting_cancel_view(
    request: HttpRequest, meeting: Meeting, *, token: str, current: bool
) -> HttpResponse:
    zone = zone_name(meeting.time_zone) or host_zone(meeting.host)
    if request.method == "POST":
        limited = _rate_limited(request)
        if limited is not None:
            return limited
        try:
            cancelled = meeting_cancel(
                meeting=meeting,
                reason=request.POST.get("reason", "").strip()[:NOTE_MAX],
                expected_sequence=meeting.sequence,
                link_base=_link_base(request),
            )
        except StaleLink:
            return _stale(request)
        return redirect(meeting_path(cancelled, "view"), permanent=False)
    return render(
        request,
        "booking/cancel.html",
        {"meeting": meeting, "when": _when(meeting.starts_at, zone), "zone": zone},
    )
