"""Reads for the prospect's view: who touched a person last, and the ratings report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from leadline.booking.models import Meeting, MeetingStatus
from leadline.calls.models import CallTask, TaskStatus
from leadline.core.models import Person, Role, Team, User
from leadline.feedback.models import AskStatus, RatingAsk, RatingChannel, StopSignal
from leadline.journeys.models import Conversation
from leadline.outreach.models import ContactAttempt
from leadline.routing.models import Touch

BY = ("user", "team", "channel")


@dataclass(frozen=True)
class LastTouch:
    at: dt.datetime
    user: User | None
    channel: str
    ref: str


def last_touch(*, person: Person, before: dt.datetime) -> LastTouch | None:
    """The person's most recent touch or conversation at or before `before`: a logged call, a
    meeting that started, a conversation, a first touch, or an outreach contact (a cadence
    email, a newsletter: no user; not a rating ask, which is about the conversation before
    it)."""
    found: list[LastTouch] = []
    task = (
        CallTask.objects.filter(person=person, status=TaskStatus.DONE, done_at__lte=before)
        .select_related("done_by__team", "assignee__team")
        .order_by("-done_at", "-id")
        .first()
    )
    if task is not None and task.done_at is not None:
        found.append(
            LastTouch(task.done_at, task.done_by or task.assignee, "call", f"call_task:{task.pk}")
        )
    meeting = (
        Meeting.objects.filter(person=person, status=MeetingStatus.BOOKED, starts_at__lte=before)
        .exclude(outcome="no_show")
        .select_related("host__team")
        .order_by("-starts_at", "-id")
        .first()
    )
    if meeting is not None:
        found.append(LastTouch(meeting.starts_at, meeting.host, "meeting", f"meeting:{meeting.pk}"))
    conversation = (
        Conversation.objects.filter(people=person, occurred_at__lte=before)
        .order_by("-occurred_at", "-id")
        .first()
    )
    if conversation is not None:
        seller = conversation.sellers.select_related("team").order_by("pk").first()
        found.append(
            LastTouch(
                conversation.occurred_at,
                seller or conversation.logged_by,
                conversation.kind,
                f"conversation:{conversation.pk}",
            )
        )
    touch = (
        Touch.objects.filter(person=person, at__lte=before)
        .select_related("user__team")
        .order_by("-at", "-id")
        .first()
    )
    if touch is not None:
        found.append(LastTouch(touch.at, touch.user, touch.kind, f"touch:{touch.pk}"))
    # A rating ask is about the conversation before it, which stands for itself here.
    attempt = (
        ContactAttempt.objects.filter(person=person, released_at__isnull=True, at__lte=before)
        .exclude(source="rating_ask")
        .order_by("-at", "-id")
        .first()
    )
    if attempt is not None:
        found.append(
            LastTouch(attempt.at, None, attempt.channel, f"{attempt.source}:{attempt.ref}")
        )
    if not found:
        return None
    # The latest; on a tie, the one that names a user.
    return max(found, key=lambda t: (t.at, t.user is not None))


@dataclass
class Row:
    key: str
    label: str
    outside_callers: bool = False
    asked: int = 0
    waiting: int = 0
    skipped: int = 0
    answered: int = 0
    stops: int = 0
    scores: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    skip_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None

    @property
    def average(self) -> float | None:
        total = sum(self.scores)
        if not total:
            return None
        return sum((n + 1) * c for n, c in enumerate(self.scores)) / total

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "outside_callers": self.outside_callers,
            "asked": self.asked,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "answered": self.answered,
            "response_rate": self.response_rate,
            "average": self.average,
            "scores": {str(n + 1): c for n, c in enumerate(self.scores)},
            "skip_reasons": dict(self.skip_reasons),
            "stops": self.stops,
        }


def outside_caller_team_ids() -> set[int]:
    """Teams whose members are outside callers (an outsourced calling team)."""
    return set(
        User.objects.filter(role=Role.OUTSIDE_CALLER, team__isnull=False)
        .values_list("team_id", flat=True)
        .distinct()
    )


def _key(by: str, user_id: int | None, team_id: int | None, channel: str) -> str:
    if by == "user":
        return str(user_id or "")
    if by == "team":
        return str(team_id or "")
    return channel or ""


def ratings_summary(
    *,
    start: dt.datetime,
    end: dt.datetime,
    by: str,
    user: User | None = None,
    team: Team | None = None,
) -> list[Row]:
    """Per user, team or channel, for asks made (and stops) in [start, end): asked (mails sent),
    waiting (held back by quiet hours where they are, to go when those end), skipped (not
    asked, with the reasons), answered, response rate, average score, counts of
    each score 1..5, stops. `user`/`team`: only their asks and stops (a rep's own view)."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    scope = Q()
    if user is not None:
        scope &= Q(user=user)
    if team is not None:
        scope &= Q(team=team)
    rows: dict[str, Row] = {}
    asks = RatingAsk.objects.filter(scope, asked_at__gte=start, asked_at__lt=end).values_list(
        "user_id", "team_id", "channel", "status", "skip_reason", "score"
    )
    for user_id, team_id, channel, status, skip_reason, score in asks:
        row = rows.setdefault(_key(by, user_id, team_id, channel), Row("", ""))
        if status == AskStatus.SKIPPED:
            row.skipped += 1
            row.skip_reasons[skip_reason] = row.skip_reasons.get(skip_reason, 0) + 1
            continue
        if status == AskStatus.WAITING:
            row.waiting += 1
            continue
        row.asked += 1
        if score is not None:
            row.answered += 1
            row.scores[score - 1] += 1
    stops = StopSignal.objects.filter(scope, at__gte=start, at__lt=end).values_list(
        "user_id", "team_id", "channel"
    )
    for user_id, team_id, channel in stops:
        rows.setdefault(_key(by, user_id, team_id, channel), Row("", "")).stops += 1
    _label(rows, by)
    return sorted(rows.values(), key=lambda r: (r.key == "", r.label.lower()))


def _label(rows: dict[str, Row], by: str) -> None:
    ids = [int(k) for k in rows if k.isdigit()]
    names: dict[str, str] = {}
    outside: set[str] = set()
    if by == "user":
        for u in User.objects.filter(pk__in=ids):
            names[str(u.pk)] = u.get_full_name() or u.username
            if u.role == Role.OUTSIDE_CALLER:
                outside.add(str(u.pk))
    elif by == "team":
        callers = outside_caller_team_ids()
        for t in Team.objects.filter(pk__in=ids):
            names[str(t.pk)] = t.name
            if t.pk in callers:
                outside.add(str(t.pk))
    else:
        names = {
            c: label
            for c, label in [*RatingChannel.choices, ("email", "Email"), ("phone", "Phone")]
        }
    empty = {"user": "No one named", "team": "No team", "channel": "No earlier touch"}[by]
    for key, row in rows.items():
        row.key = key
        row.label = names.get(key, key) if key else empty
        row.outside_callers = key in outside


def recent_comments(
    *,
    start: dt.datetime,
    end: dt.datetime,
    user: User | None = None,
    team: Team | None = None,
    limit: int = 20,
) -> list[RatingAsk]:
    rows = RatingAsk.objects.filter(
        answered_at__gte=start, answered_at__lt=end, score__isnull=False
    ).exclude(comment="")
    if user is not None:
        rows = rows.filter(user=user)
    if team is not None:
        rows = rows.filter(team=team)
    return list(
        rows.select_related("person", "user", "team").order_by("-answered_at", "-id")[:limit]
    )
