"""The prospect's view: one-question rating asks after a conversation, their answers, and the
stops (unsubscribes, do-not-contact) put against the rep, team and channel that came before."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Person, Team, User


class RatingChannel(models.TextChoices):
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"


class AskStatus(models.TextChoices):
    SENT = "sent", "Sent"
    WAITING = "waiting", "Waiting (quiet hours)"
    SKIPPED = "skipped", "Not asked"


class SkipReason(models.TextChoices):
    NONE = "", "—"
    ASKED_THIS_MONTH = "asked_this_month", "Already asked this month"
    NO_ADDRESS = "no_address", "No email address"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact by email"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    NO_CONSENT = "no_consent", "Said no to our email"
    CAP = "cap", "Contact limit reached"
    QUIET_HOURS = "quiet_hours", "Quiet hours where they are"


class RatingAsk(models.Model):
    """One ask after one conversation (`source_ref`: "meeting:<id>" | "call_task:<id>"): sent;
    waiting until `send_at` (quiet hours where they are: it goes when those end); or skipped
    with the reason (then no mail went). `asked_at`: when the mail went (for a waiting or
    skipped ask, when it was decided). `user`/`team`: who held the conversation and their team
    at the time, so the report can put the answer against them."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="rating_asks")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="rating_asks"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="rating_asks"
    )
    channel = models.CharField(max_length=10, choices=RatingChannel.choices)
    source_ref = models.CharField(max_length=80, unique=True)
    asked_at = models.DateTimeField(default=clock.now)
    status = models.CharField(max_length=10, choices=AskStatus.choices, default=AskStatus.SENT)
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="When a waiting ask goes (quiet hours end)"
    )
    skip_reason = models.CharField(
        max_length=20, choices=SkipReason.choices, blank=True, default=SkipReason.NONE
    )
    mail_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="notify.OutgoingMail id of the ask"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    # The last click on a rating link, and whether a burst of different clicks looked like a
    # mail scanner following every link (decision 0024): the answer waits for a real click.
    clicked_at = models.DateTimeField(null=True, blank=True)
    scan_suspected = models.BooleanField(default=False)

    class Meta:
        ordering = ["-asked_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=1) & Q(score__lte=5)),
                name="rating_ask_score_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["sent", "waiting"], skip_reason="")
                | (Q(status="skipped") & ~Q(skip_reason="")),
                name="rating_ask_skip_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["person", "asked_at"], name="rating_ask_person_asked"),
            models.Index(
                fields=["send_at"], condition=Q(status="waiting"), name="rating_ask_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"Rating ask {self.source_ref} to {self.person}"


class StopSignal(models.Model):
    """A person unsubscribed or was marked do-not-contact; with the user, team and channel of
    their most recent touch or conversation before it (None when there was none)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="stop_signals")
    reason = models.CharField(max_length=20, help_text='"unsubscribed" | "do_not_contact"')
    stop_channel = models.CharField(max_length=10, help_text="The channel they stopped")
    at = models.DateTimeField(default=clock.now)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="stop_signals"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="stop_signals"
    )
    channel = models.CharField(
        max_length=20, blank=True, help_text="The channel of the last touch before the stop"
    )
    last_touch_ref = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="stop_signal_at")]

    def __str__(self) -> str:
        return f"{self.person} {self.reason} ({self.stop_channel})"
