"""Bookable hours, free slots, meetings: data and invariants, no workflows."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Person, Team, User


class BookingPage(models.Model):
    """A public page (/book/<slug>/) where prospects pick a time: with one seller (`user`), or
    with whichever member of `team` is free, taken in turn (round robin)."""

    slug = models.SlugField(max_length=80, unique=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="booking_pages"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="booking_pages"
    )
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True, help_text="A line or two on what the meeting is for")
    length_minutes = models.PositiveSmallIntegerField(default=30)
    buffer_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Kept free before and after every meeting of the host"
    )
    notice_minutes = models.PositiveIntegerField(
        default=240, help_text="The soonest a meeting may start, from now"
    )
    horizon_days = models.PositiveSmallIntegerField(
        default=21, help_text="How far ahead slots are offered"
    )
    location = models.CharField(
        max_length=300, blank=True, help_text="Where: an address, a phone number or a video link"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) ^ Q(team__isnull=False),
                name="booking_page_of_user_xor_team",
            ),
            models.CheckConstraint(
                condition=Q(length_minutes__gte=5) & Q(length_minutes__lte=480),
                name="booking_page_length_sensible",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_team_page(self) -> bool:
        return self.team_id is not None


class BookableHours(models.Model):
    """When a seller takes meetings: weekly windows in their own time zone, written like a team's
    working hours ("Mon-Thu 10:00-12:00, 14:00-16:30"). Without a row, their team's hours."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="bookable_hours")
    hours = models.CharField(max_length=300, default="Mon-Fri 09:00-17:00")
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name_plural = "bookable hours"

    def __str__(self) -> str:
        return f"{self.user}: {self.hours}"


class MeetingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class MeetingOutcome(models.TextChoices):
    """Whether a past meeting took place; "" until the host (or their manager) says."""

    NONE = "", "Not recorded"
    HELD = "held", "Held"
    NO_SHOW = "no_show", "No-show"


class MeetingSource(models.TextChoices):
    BOOKING_PAGE = "booking_page", "Booking page"
    CALL = "call", "Set on a call"


class Meeting(models.Model):
    """A meeting a prospect (or a seller for them) booked with `host`. Rescheduling moves it and
    raises `sequence`, so calendars take the newest invitation; cancelling keeps the row."""

    host = models.ForeignKey(User, on_delete=models.PROTECT, related_name="meetings")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="meetings")
    page = models.ForeignKey(
        BookingPage, null=True, blank=True, on_delete=models.SET_NULL, related_name="meetings"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.BOOKED
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="The prospect's")
    title = models.CharField(max_length=200)
    location = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True, help_text="What the prospect wrote when booking")
    company = models.CharField(max_length=200, blank=True, help_text="As the prospect gave it")
    booked_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the prospect booked it themselves",
    )
    source = models.CharField(
        max_length=20, choices=MeetingSource.choices, default=MeetingSource.BOOKING_PAGE
    )
    source_ref = models.CharField(max_length=80, blank=True, help_text='e.g. "call_task:12"')
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE")
    uid = models.CharField(max_length=255, unique=True, help_text="iCalendar UID")
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=MeetingOutcome.choices, default=MeetingOutcome.NONE, blank=True
    )
    outcome_at = models.DateTimeField(null=True, blank=True)
    outcome_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="meeting_ends_after_start"
            ),
            # The last guard against a double booking: the service locks the host first.
            models.UniqueConstraint(
                fields=["host", "starts_at"],
                condition=Q(status="booked"),
                name="meeting_one_per_host_start",
            ),
        ]
        indexes = [
            models.Index(fields=["host", "starts_at"], name="meeting_host_start"),
            models.Index(fields=["page", "created_at"], name="meeting_page_created"),
        ]

    def __str__(self) -> str:
        return f"{self.title} with {self.person} at {self.starts_at:%Y-%m-%d %H:%M}"
