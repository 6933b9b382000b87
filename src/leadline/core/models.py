"""People, accounts and the users who work with them: data and invariants, no workflows."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from leadline.core import clock


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETING = "marketing", "Marketing"
    SALES_MANAGER = "sales_manager", "Sales manager"
    SALES_REP = "sales_rep", "Sales rep"
    OUTSIDE_CALLER = "outside_caller", "Outside caller"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    manager = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    country = models.CharField(max_length=2, blank=True, help_text="ISO country for holidays")
    working_hours = models.CharField(
        max_length=200,
        default="Mon-Fri 09:00-17:00",
        help_text='In the team\'s time zone, e.g. "Mon-Fri 09:00-12:30, 13:30-17:30"',
    )

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SALES_REP)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    accepts_new_leads = models.BooleanField(
        default=True, help_text="Off: routing skips this person (a pause, not an absence)"
    )
    relationship_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most active relationships; empty: the default (150)"
    )
    # Set when a handover plan says they leave the company or move to another team on this day:
    # from then routing gives them nothing new. Cleared when a move is done.
    departs_at = models.DateTimeField(
        null=True, blank=True, help_text="Leaving or moving team then: routing skips them"
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class TokenScope(models.TextChoices):
    """What an API token may do. `read`: GET; `write`: every change; `capture`: only send form
    submissions (for a website's server). The role still decides: a scope never adds rights."""

    READ = "read", "Read"
    WRITE = "write", "Change"
    CAPTURE = "capture", "Send form submissions"


def token_scopes_default() -> list[str]:
    return [TokenScope.READ.value, TokenScope.WRITE.value]


class ApiToken(models.Model):
    """A bearer token for the API. Only a hash is kept; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    scopes: models.JSONField[Any] = models.JSONField(default=token_scopes_default)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Account(models.Model):
    """A company, whose buying committee the people belong to."""

    name = models.CharField(max_length=200)
    industry = models.CharField(max_length=120, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    website = models.URLField(blank=True)
    description = models.TextField(blank=True)
    culture_notes = models.TextField(
        blank=True, help_text="How this company decides: politics, culture, who really signs."
    )
    # Custom fields: what an import or a form brought that has no column of its own ("Lead
    # Origin": "API"), and when each was last set, so insight can tell a field filled in after
    # the outcome from one known before it.
    attributes: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    attributes_at: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )

    class Meta:
        indexes = [models.Index(Lower("name"), name="account_name_lower")]

    def __str__(self) -> str:
        return self.name


class AccountDomain(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    def __str__(self) -> str:
        return self.domain


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    VIDEO = "video", "Video call"
    IN_PERSON = "in_person", "In person"
    CHAT = "chat", "Chat / messaging"


class Person(models.Model):
    """A human being, described first in their own words, labels second."""

    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True)
    role_own_words = models.TextField(
        blank=True, help_text='Their role as they describe it: "I run the finance systems team".'
    )
    title = models.CharField(max_length=200, blank=True, help_text="Normalised job title")
    cares_about = models.TextField(blank=True, help_text="What they said hurts or matters to them")
    personal_context = models.TextField(blank=True, help_text="Context they chose to share")
    preferred_channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    preferred_hours = models.CharField(max_length=120, blank=True, help_text='e.g. "mornings"')
    time_zone = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # Custom fields: what an import or a form brought that has no column of its own ("Lead
    # Origin": "API"), and when each was last set, so insight can tell a field filled in after
    # the outcome from one known before it.
    attributes: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    attributes_at: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    updated_at = models.DateTimeField(default=clock.now)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )

    class Meta:
        indexes = [
            models.Index(Lower("last_name"), Lower("first_name"), name="person_name_lower"),
        ]

    def __str__(self) -> str:
        return self.full_name or f"Person {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PersonEmail(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(max_length=254, unique=True, help_text="Normalised (lower case)")
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.email


class PersonSearch(models.Model):
    """What people search reads: a person's names, title, own words, addresses and the names of
    the companies they belong to, in one lower-case text (`people_search_refresh` writes it
    whenever one of those changes). One text with one trigram index (PostgreSQL) answers a
    search of a million people with one index read, where a word looked up in four columns,
    the addresses and the companies took six reads and a union of tens of thousands of ids."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, primary_key=True, related_name="search"
    )
    text = models.TextField()

    def __str__(self) -> str:
        return self.text


class PersonPhone(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    e164 = models.CharField(max_length=20)
    label = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "e164"], name="person_phone_unique"),
        ]

    def __str__(self) -> str:
        return self.e164


class Membership(models.Model):
    """A person's place in a company, in the words they gave."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    title = models.CharField(max_length=200, blank=True)
    role_in_company = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "account"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.account}"


class TimelineEvent(models.Model):
    """One thing that happened to a person or an account; the timeline is these, in time order."""

    occurred_at = models.DateTimeField(default=clock.now)
    recorded_at = models.DateTimeField(default=clock.now)
    kind = models.CharField(max_length=60)
    summary = models.TextField()
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="timeline"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="timeline"
    )
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "-occurred_at"], name="timeline_person"),
            models.Index(fields=["account", "-occurred_at"], name="timeline_account"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind}: {self.summary}"


class AuditEntry(models.Model):
    """Who changed what, for business actions that are not about one person (forms, users)."""

    at = models.DateTimeField(default=clock.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class LoginFailure(models.Model):
    """One failed login (or a wrong API token), counted towards a lockout (core/lockout.py).
    Kept in the database so every web process counts the same failures."""

    class Kind(models.TextChoices):
        USERNAME = "username", "Username"
        IP = "ip", "Address"
        API_IP = "api_ip", "Address (API token)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=200)
    at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["kind", "key", "at"], name="login_failure_key_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} failed at {self.at:%Y-%m-%d %H:%M:%S}"


class LoginLockout(models.Model):
    """Logins for one username, or from one address, refused until `until` (or an unlock)."""

    kind = models.CharField(max_length=16, choices=LoginFailure.Kind.choices)
    key = models.CharField(max_length=200)
    locked_at = models.DateTimeField(default=clock.now)
    until = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        indexes = [models.Index(fields=["kind", "key", "until"], name="login_lockout_key_until")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} locked until {self.until:%Y-%m-%d %H:%M:%S}"


class WorkerHeartbeat(models.Model):
    """One running `leadline worker` process, as it last reported itself (core/heartbeats.py).

    The worker writes its row every few seconds from a thread of its own and deletes it when it
    stops cleanly; a killed or frozen worker leaves its row to go stale, which is what
    `leadline doctor` and the System health page look for. Each of its loops says when it last
    finished a pass, so a worker that runs but whose sweeps or timers are stuck shows too."""

    name = models.CharField(max_length=200, unique=True, help_text='"worker@host:pid"')
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    version = models.CharField(max_length=40, blank=True)
    runs = models.CharField(
        max_length=200, blank=True, help_text='What it runs, e.g. "tasks, sweeps, timers"'
    )
    started_at = models.DateTimeField(default=clock.now)
    beat_at = models.DateTimeField(default=clock.now)
    sweeps_at = models.DateTimeField(
        null=True, blank=True, help_text="When its safety-net sweeps last finished a pass"
    )
    timers_at = models.DateTimeField(
        null=True, blank=True, help_text="When its escalation-timer loop last finished a pass"
    )
    cadences_at = models.DateTimeField(
        null=True, blank=True, help_text="When its cadence-step loop last finished a pass"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (last report {self.beat_at:%Y-%m-%d %H:%M:%S})"
