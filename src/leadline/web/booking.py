"""Bookable hours and meetings (the staff side; the public page is in booking.views): a seller sets
when they take meetings, makes their booking page and sees their coming meetings; managers make
their team's round-robin pages. Thin: reads through booking.selectors, writes through
booking.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from leadline.booking.models import BookingPage, Meeting, MeetingStatus
from leadline.booking.selectors import host_hours_text, host_zone, meetings_upcoming, pages_visible
from leadline.booking.services import (
    bookable_hours_set,
    booking_page_create,
    booking_page_update,
    meeting_cancel,
)
from leadline.core.links import public_url
from leadline.core.models import Role, Team, User
from leadline.core.permissions import access_booking_settings, access_booking_team_pages
from leadline.web.access import page


class HoursForm(forms.Form):
    hours = forms.CharField(
        label="When I take meetings",
        max_length=300,
        help_text='Days and hours in your own time zone, e.g. "Mon-Thu 10:00-12:00, 14:00-16:30; '
        'Fri 09:00-12:00". Days not listed are closed.',
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PageForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title", help_text="What prospects see first")
    slug = forms.SlugField(
        max_length=80,
        label="Address",
        help_text="The page is at /book/<this>/ (letters, digits, -)",
    )
    intro = forms.CharField(
        required=False, label="Introduction", widget=forms.Textarea(attrs={"rows": 2})
    )
    length_minutes = forms.IntegerField(
        min_value=5, max_value=480, initial=30, label="Meeting length (minutes)"
    )
    buffer_minutes = forms.IntegerField(
        min_value=0,
        max_value=240,
        initial=10,
        label="Buffer (minutes)",
        help_text="Kept free before and after every meeting",
    )
    notice_minutes = forms.IntegerField(
        min_value=0, max_value=60 * 24 * 14, initial=240, label="Minimum notice (minutes)"
    )
    horizon_days = forms.IntegerField(
        min_value=1, max_value=180, initial=21, label="How far ahead (days)"
    )
    location = forms.CharField(
        max_length=300,
        required=False,
        label="Where",
        help_text="An address, a phone number or a video link",
    )
    active = forms.BooleanField(required=False, initial=True, label="Open for booking")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label="Team")

    def __init__(self, *args: Any, teams: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams  # type: ignore[attr-defined]
            self.fields["team"].required = True


def _teams_managed(user: User) -> Any:
    if user.role == Role.ADMIN:
        return Team.objects.order_by("name")
    return Team.objects.filter(Q(manager=user)).order_by("name")


def _may_change(user: User, booking_page: BookingPage) -> bool:
    if booking_page.user_id is not None:
        return booking_page.user_id == user.pk or user.role == Role.ADMIN
    return (
        access_booking_team_pages(user)
        and _teams_managed(user).filter(pk=booking_page.team_id).exists()
    )


def _page_fields(form: PageForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data.pop("team", None)
    return data


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@page(access_booking_settings)
@require_http_methods(["GET", "POST"])
def booking_home(request: HttpRequest) -> HttpResponse:
    """My bookable hours, my booking pages and my coming meetings."""
    user: User = request.user  # type: ignore[assignment]
    hours_form = HoursForm(request.POST or None, initial={"hours": host_hours_text(user)})
    if request.method == "POST" and hours_form.is_valid():
        try:
            bookable_hours_set(user=user, hours=hours_form.cleaned_data["hours"], actor=user)
        except ValidationError as exc:
            _form_errors(hours_form, exc)
        else:
            messages.success(request, "Your bookable hours are saved.")
            return redirect("web:booking")
    pages: list[dict[str, Any]] = [
        {
            "page": p,
            "url": public_url(request, reverse("booking:page", args=[p.slug])),
            "may_change": _may_change(user, p),
        }
        for p in pages_visible(user)
    ]
    context = {
        "nav": "booking",
        "hours_form": hours_form,
        "zone": host_zone(user),
        "pages": pages,
        "has_own_page": any(p["page"].user_id == user.pk for p in pages),
        "may_team_pages": access_booking_team_pages(user),
        "meetings": meetings_upcoming(user=user),
        "team_meetings": meetings_upcoming()
        if user.role in (Role.ADMIN, Role.SALES_MANAGER)
        else None,
    }
    status = 400 if hours_form.errors else 200
    return render(request, "web/booking_home.html", context, status=status)


@page(access_booking_settings)
@require_http_methods(["GET", "POST"])
def booking_page_new(request: HttpRequest) -> HttpResponse:
    """A new booking page: my own, or (`?team=1`, managers) a team's round-robin page."""
    user: User = request.user  # type: ignore[assignment]
    for_team = request.GET.get("team") == "1"
    if for_team and not access_booking_team_pages(user):
        raise PermissionDenied
    teams = _teams_managed(user) if for_team else None
    initial = (
        {"title": "Talk to our team", "slug": ""}
        if for_team
        else {"title": f"Meet {user}", "slug": slugify(user.get_full_name() or user.username)}
    )
    form = PageForm(request.POST or None, teams=teams, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            created = booking_page_create(
                actor=user,
                user=None if for_team else user,
                team=form.cleaned_data.get("team") if for_team else None,
                **_page_fields(form),
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Your booking page “{created.title}” is ready.")
            return redirect("web:booking")
    status = 400 if form.errors else 200
    return render(
        request,
        "web/booking_page_form.html",
        {"nav": "booking", "form": form, "for_team": for_team, "booking_page": None},
        status=status,
    )


@page(access_booking_settings)
@require_http_methods(["GET", "POST"])
def booking_page_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    booking_page = get_object_or_404(BookingPage.objects.select_related("user", "team"), pk=pk)
    if not _may_change(user, booking_page):
        raise PermissionDenied
    initial = {name: getattr(booking_page, name) for name in PageForm.base_fields if name != "team"}
    form = PageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            booking_page_update(page=booking_page, actor=user, changes=_page_fields(form))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"“{booking_page.title}” is saved.")
            return redirect("web:booking")
    status = 400 if form.errors else 200
    return render(
        request,
        "web/booking_page_form.html",
        {
            "nav": "booking",
            "form": form,
            "for_team": booking_page.team_id is not None,
            "booking_page": booking_page,
        },
        status=status,
    )


@page(access_booking_settings)
@require_POST
def booking_meeting_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """The host (or a manager) calls a meeting off; the prospect gets the cancellation."""
    user: User = request.user  # type: ignore[assignment]
    meeting = get_object_or_404(Meeting, pk=pk)
    if meeting.host_id != user.pk and user.role not in (Role.ADMIN, Role.SALES_MANAGER):
        raise PermissionDenied
    if meeting.status == MeetingStatus.BOOKED:
        meeting_cancel(
            meeting=meeting, actor=user, reason=request.POST.get("reason", "").strip()[:2000]
        )
        messages.success(
            request, f"The meeting with {meeting.person} is cancelled; they were told."
        )
    return redirect("web:booking")


urlpatterns: list[URLPattern] = [
    path("booking/", booking_home, name="booking"),
    path("booking/pages/new/", booking_page_new, name="booking_page_new"),
    path("booking/pages/<int:pk>/", booking_page_edit, name="booking_page_edit"),
    path(
        "booking/meetings/<int:pk>/cancel/", booking_meeting_cancel, name="booking_meeting_cancel"
    ),
]
