"""The buyer's journey, outside in, and the signals that show where a buyer is on it.

A journey is the buyer's steps in the buyer's words; each step has exit signals (rules over
events) and the seller's supporting activities. Positions are kept per person and per account
(the buying group), and every move is a transition row with its cause: the history later
analysis learns from.

Web tracking stores raw batches first (`EventBatch`, written by the hot path in ingest.py);
the worker turns them into `WebEvent` rows, per visitor, joined to a person once the visitor is
known (a form submit or an email click).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Account, Person, User


class Journey(models.Model):
    """A buyer's journey: for a product or a segment, or the default one."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    audience = models.CharField(
        max_length=200,
        blank=True,
        help_text="The product or segment it is for (“Payroll — firms of 50 to 500”)",
    )
    is_default = models.BooleanField(
        default=False, help_text="The journey new people and accounts start on"
    )
    # Rules in the exit-signal format (journeys.signals): any one that holds puts a person who
    # is not on this journey at its first step. None: only the default journey starts people
    # by itself; another is entered by hand.
    start_signals: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="journey_one_default"
            )
        ]

    def __str__(self) -> str:
        return self.name


class JourneyStep(models.Model):
    """One of the buyer's steps, in the buyer's words ("Comparing vendors").

    `exit_signals` is a list of rules; any one that holds shows the buyer has left this step
    for the next. Each rule: {"name": "Visited pricing twice", "event": "page_view",
    "path_contains": "/pricing", "count": 2, "within_days": 30} (see journeys.signals).
    `activities` is what the seller does to support this step: content to offer and who
    should talk to them.
    """

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    buyer_words = models.TextField(
        blank=True, help_text="What the buyer is doing or thinking here, in their words"
    )
    exit_signals: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    content_to_offer = models.TextField(blank=True)
    who_should_talk = models.TextField(blank=True)

    class Meta:
        ordering = ["journey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.journey}: {self.position}. {self.name}"


class JourneyPosition(models.Model):
    """Where a person, or an account's buying group, is on a journey now."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="positions")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="journey_positions"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="journey_positions"
    )
    step = models.ForeignKey(JourneyStep, on_delete=models.PROTECT, related_name="positions")
    since = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, account__isnull=True)
                | Q(person__isnull=True, account__isnull=False),
                name="position_person_or_account",
            ),
            models.UniqueConstraint(
                fields=["journey", "person"],
                condition=Q(person__isnull=False),
                name="position_person",
            ),
            models.UniqueConstraint(
                fields=["journey", "account"],
                condition=Q(account__isnull=False),
                name="position_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person or self.account} at {self.step}"


class JourneyRemoval(models.Model):
    """Someone took a person (or an account's buying group) off a journey, by hand. Never
    changed. Events before it no longer start them on that journey again, nor move them on it.
    """

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="removals")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="journey_removals"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="journey_removals"
    )
    step_name = models.CharField(max_length=120, help_text="The step they were at")
    at = models.DateTimeField(default=clock.now)
    removed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "journey"], name="removal_person")]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, account__isnull=True)
                | Q(person__isnull=True, account__isnull=False),
                name="removal_person_or_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person or self.account} off {self.journey}"


class TransitionCause(models.TextChoices):
    SIGNAL = "signal", "An exit signal"
    USER = "user", "Moved by someone"
    START = "start", "Started on the journey"
    IMPORT = "import", "Imported"


class JourneyTransition(models.Model):
    """A move from one step to another (backwards too), with when and why. Never changed."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="transitions")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="journey_transitions"
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="journey_transitions",
    )
    from_step = models.ForeignKey(
        JourneyStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_step = models.ForeignKey(JourneyStep, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=clock.now)
    cause = models.CharField(max_length=20, choices=TransitionCause.choices)
    signal_name = models.CharField(max_length=200, blank=True)
    moved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    # The events behind a signal: {"web_events": [ids], "events": [ids]}.
    evidence: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["person", "-at"], name="transition_person"),
            models.Index(fields=["account", "-at"], name="transition_account"),
            models.Index(fields=["journey", "at"], name="transition_journey"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, account__isnull=True)
                | Q(person__isnull=True, account__isnull=False),
                name="transition_person_or_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person or self.account}: {self.from_step} → {self.to_step}"


class TrackingSite(models.Model):
    """A website that embeds /t.js. Its public key goes with every batch of events."""

    name = models.CharField(max_length=120)
    key = models.CharField(max_length=40, unique=True)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line (https://www.example.com); empty: no site may send events",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.name

    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()
        ]


class BatchStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will retry)"


class EventBatch(models.Model):
    """A batch of tracking events as the hot path stored it: only the events that passed its
    checks, before anything else happens to them."""

    site = models.ForeignKey(
        TrackingSite, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    visitor_id = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=clock.now)
    events: models.JSONField[Any] = models.JSONField()
    meta: models.JSONField[Any] = models.JSONField(default=dict)
    status = models.CharField(
        max_length=20, choices=BatchStatus.choices, default=BatchStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "received_at"], name="event_batch_status")]

    def __str__(self) -> str:
        return f"Event batch {self.pk} from {self.visitor_id}"


class Visitor(models.Model):
    """A browser, known by the anonymous id in its first-party cookie; joined to a person once
    they identify themselves."""

    visitor_id = models.CharField(max_length=64, unique=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors"
    )
    first_seen_at = models.DateTimeField(default=clock.now)
    last_seen_at = models.DateTimeField(default=clock.now)
    identified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.visitor_id


class EventSource(models.TextChoices):
    WEB = "web", "Website"
    API = "api", "Events API"
    MAIL = "mail", "Email"
    IMPORT = "import", "Imported"


class Event(models.Model):
    """A signal from the buyer: a page view, a custom web event, or an event another system sent
    (webinar attended, trial started, email clicked). Exit signals are rules over these."""

    occurred_at = models.DateTimeField(default=clock.now)
    recorded_at = models.DateTimeField(default=clock.now)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    name = models.CharField(max_length=80, help_text='"page_view" or the event\'s own name')
    visitor = models.ForeignKey(
        Visitor, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    url = models.TextField(blank=True)
    path = models.CharField(max_length=500, blank=True)
    title = models.CharField(max_length=300, blank=True)
    referrer = models.TextField(blank=True)
    properties: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    # Where it came from, so a batch processed twice adds nothing: "<batch id>:<index>" for web
    # events, the sender's id for API events.
    dedupe_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["person", "name", "-occurred_at"], name="event_person"),
            models.Index(fields=["visitor", "-occurred_at"], name="event_visitor"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.name} {self.path}"


class EventDay(models.Model):
    """Raw events rolled up, once they are older than the tracking retention: one row per day and
    per what the reports group by (person, event name, page, campaign keys), with how many and
    the first and last moment. The roll-up deletes the raw events it counted in the same
    transaction (journeys.rollup), so the readers add these rows to the raw ones they read and
    never count an event twice. A key may have several rows (one per roll-up batch): readers
    sum them. Decision 0025."""

    day = models.DateField()
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="event_days"
    )
    name = models.CharField(max_length=80)
    path = models.CharField(max_length=500, blank=True)
    # From the event's properties, as insight.history reads them: campaign (else utm_campaign),
    # channel (else utm_medium), content (else utm_content), utm_source.
    campaign = models.TextField(blank=True)
    channel = models.TextField(blank=True)
    content = models.TextField(blank=True)
    source = models.TextField(blank=True)
    # From the page address's utm_* parameters (attribution's fallbacks for web visits).
    link_campaign = models.TextField(blank=True)
    link_medium = models.TextField(blank=True)
    link_source = models.TextField(blank=True)
    link_content = models.TextField(blank=True)
    count = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["person", "day"], name="event_day_person"),
            models.Index(fields=["day"], name="event_day_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.name} {self.path} × {self.count}"


class ConversationKind(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat or message"
    EVENT = "event", "At an event"
    NOTE = "note", "Note"


class Visibility(models.TextChoices):
    """Who may read a conversation or note. Calls, meetings and emails are company memory; a
    note of personal context is for the team of the person's owner; a private note for its
    author and the managers."""

    COMPANY = "company", "Everyone in the company"
    TEAM = "team", "The owner's team (personal context)"
    AUTHOR = "author", "Only me and the managers"


class Conversation(models.Model):
    """A call, meeting, email, chat, talk at an event or note: who took part, what was said, the
    prospect's words."""

    kind = models.CharField(max_length=10, choices=ConversationKind.choices)
    occurred_at = models.DateTimeField(default=clock.now)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    people = models.ManyToManyField(Person, related_name="conversations", blank=True)
    sellers = models.ManyToManyField(User, related_name="conversations", blank=True)
    summary = models.TextField()
    quotes = models.TextField(
        blank=True, help_text="What the prospect said, in their words (one quote per line)"
    )
    logged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    private = models.BooleanField(
        default=False, help_text="For staff only: outside callers never see it"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.COMPANY
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "-occurred_at"], name="conversation_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}: {self.summary[:40]}"


class PainPoint(models.Model):
    """A problem buyers name, in a catalogue per product; `phrases` are how they put it."""

    product = models.CharField(max_length=120, blank=True, help_text="Empty: any product")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    phrases = models.TextField(
        blank=True, help_text="One per line: words buyers use for it (matched in conversations)"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product", "name"]
        constraints = [
            models.UniqueConstraint(fields=["product", "name"], name="pain_point_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def phrase_list(self) -> list[str]:
        return [line.strip() for line in self.phrases.splitlines() if line.strip()]


class PainStatus(models.TextChoices):
    SUGGESTED = "suggested", "Suggested"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


class ConversationPainPoint(models.Model):
    """A pain point found in a conversation: suggested by matching, then confirmed or rejected
    by a rep. Confirmed ones are what the person said hurts."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="pain_points"
    )
    pain_point = models.ForeignKey(PainPoint, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=PainStatus.choices, default=PainStatus.SUGGESTED
    )
    evidence = models.TextField(blank=True, help_text="The words in the conversation that matched")
    score = models.FloatField(default=1.0)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "pain_point"], name="conversation_pain_point"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pain_point} ({self.status}) in {self.conversation_id}"


class Part(models.TextChoices):
    DECIDES = "decides", "Decides"
    SIGNS = "signs", "Signs"
    CHAMPIONS = "champions", "Champions"
    INFLUENCES = "influences", "Influences"
    USES = "uses", "Uses"
    GATEKEEPS = "gatekeeps", "Gatekeeps"
    BLOCKS = "blocks", "Blocks"


class Stance(models.TextChoices):
    SUPPORTIVE = "supportive", "Supportive"
    NEUTRAL = "neutral", "Neutral"
    OPPOSED = "opposed", "Opposed"
    UNKNOWN = "unknown", "Unknown"


class Influence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Stakeholder(models.Model):
    """Someone in an account's buying committee, for one decision (`decision` names it; empty:
    the account's committee in general)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stakeholders")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="stakeholdings")
    decision = models.CharField(max_length=200, blank=True)
    part = models.CharField(max_length=12, choices=Part.choices)
    stance = models.CharField(max_length=12, choices=Stance.choices, default=Stance.UNKNOWN)
    influence = models.CharField(max_length=8, choices=Influence.choices, default=Influence.MEDIUM)
    notes = models.TextField(blank=True)
    added_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["account", "decision", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "decision", "person"], name="stakeholder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_part_display()})"


class LinkKind(models.TextChoices):
    REPORTS_TO = "reports_to", "reports to"
    TRUSTS = "trusts", "trusts"
    RIVALS = "rivals", "rivals"


class StakeholderLink(models.Model):
    """How two people in a committee stand to each other: "Ann reports to Bo"."""

    source = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=12, choices=LinkKind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="stakeholder_link"),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="stakeholder_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source.person} {self.get_kind_display()} {self.target.person}"
