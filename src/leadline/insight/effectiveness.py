"""What each channel and each team achieves in a period (issue 10, point 2; decision
docs/decisions/0026-effectiveness-measures.md says why it is counted this way).

In the managers' words, for a period [start, end):

Channels: email, call, meeting, event, chat.
- Attempts — email: a mail that left for a person (routing's email touch); call: a call
  attempt, whatever came of it (routing's call touch, which logging a call task records);
  meeting: a meeting due to take place in the period (booked, not cancelled, started before
  now); event: a visit to an event of ours (an imported or sent "event_attended" event, or one
  whose channel is "events", e.g. a badge scan); chat: a message through the manual channel
  (LinkedIn, post: outreach's contact attempts, those not released).
- Connects (we reached them) — email: a reply from the person; call: a call logged as
  connected (spoke to them, appointment set, call back, not interested); meeting: a meeting
  held (booking's outcome "held"); event and chat: each person in a talk at an event or a chat
  logged as a conversation.
- Conversations: conversations logged in the period, of that kind (notes are not one). A
  conversation with two people counts once.
- Appointments set: meetings booked in the period (later cancelled or not). Appointments held:
  meetings held whose start is in the period.
- Accepted by sales: handoffs accepted in the period. Won: deals (with a person) won in the
  period.

Which channel a result is credited to: a meeting set on a call is the call's (and the team of
whoever set it). Every other result — an appointment set or held, an acceptance, a win — goes
to the channel and team of the person's last connect before it (for a held meeting: before it
was booked), at any time, not only in the period. A result with no connect before it is shown
as "No connect before".

Teams: an attempt, connect or conversation belongs to the team of the user who made it (their
team now): the caller, the meeting's host, the conversation's first seller (else who logged
it). A reply belongs to the team of whoever sent the person's last mail before it; a mail sent
by the system (no user), an event visit and a manual message have no team. A team with an
outside caller in it is an outside calling team.

Time to first touch: requests received in the period, in business hours of the owning team,
exactly as the response-times board counts it (insight.sla); median and 90th percentile per
team (the team the request is routed to). Ratings: the prospects' answers (feedback's rating
asks) answered in the period, by the channel and team they were asked about.

Filters: a campaign keeps the people who met it (attribution's touches) before the period's
end; a journey step keeps the people who reached that step before the period's end (they are
at it, or moved through it). Everything is read in a fixed number of queries and counted in
pandas.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.apps import apps
from django.db.models import Q, QuerySet

from leadline.booking.models import Meeting, MeetingOutcome, MeetingSource, MeetingStatus
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.engagement.models import Handoff, HandoffStatus, Opportunity, OpportunityStatus
from leadline.inbound.models import InboundMessage
from leadline.inbound.models import Kind as InboundKind
from leadline.journeys.models import (
    Conversation,
    ConversationKind,
    Event,
    JourneyPosition,
    JourneyTransition,
)
from leadline.outreach.models import ContactAttempt, ContactChannel
from leadline.routing.models import CallOutcome, RequestRouting, Touch, TouchKind

CHANNELS = ("email", "call", "meeting", "event", "chat")
NO_CHANNEL = "none"
CHANNEL_NAMES = {
    "email": "Email",
    "call": "Phone calls",
    "meeting": "Meetings",
    "event": "Events",
    "chat": "Chats and messages",
    NO_CHANNEL: "No connect before",
}
NO_TEAM = "No team (automatic, or nobody's)"

COUNTS = (
    "attempts",
    "connects",
    "conversations",
    "appointments_set",
    "appointments_held",
    "accepted",
    "won",
)
RATES = ("connect_rate", "set_to_held", "held_to_accepted", "accepted_to_won")
# Every measure `effectiveness_measure` gives: name → (label, unit).
MEASURES: dict[str, tuple[str, str]] = {
    "attempts": ("Attempts", "count"),
    "connects": ("Connects", "count"),
    "conversations": ("Conversations", "count"),
    "appointments_set": ("Appointments set", "count"),
    "appointments_held": ("Appointments held", "count"),
    "accepted": ("Accepted by sales", "count"),
    "won": ("Won", "count"),
    "connect_rate": ("Connect rate (connects per attempt)", "percent"),
    "set_to_held": ("Appointments held per appointment set", "percent"),
    "held_to_accepted": ("Accepted per appointment held", "percent"),
    "accepted_to_won": ("Won per accepted", "percent"),
    "first_touch_median_hours": ("Median time to first touch", "business hours"),
    "first_touch_p90_hours": ("90th percentile time to first touch", "business hours"),
    "first_touches": ("Requests touched", "count"),
    "rating_average": ("Average prospect rating", "score 1–5"),
    "ratings": ("Prospect ratings", "count"),
}
_RATE_PARTS = {
    "connect_rate": ("connects", "attempts"),
    "set_to_held": ("appointments_held", "appointments_set"),
    "held_to_accepted": ("accepted", "appointments_held"),
    "accepted_to_won": ("won", "accepted"),
}
_FACT_COLUMNS = ["measure", "channel", "team_id", "person_id"]
_HISTORY_COLUMNS = ["person_id", "at", "channel", "team_id"]


@dataclasses.dataclass(frozen=True)
class Row:
    """One channel's or one team's line. Rates are percentages, None when nothing to divide."""

    key: str
    name: str
    attempts: int = 0
    connects: int = 0
    conversations: int = 0
    appointments_set: int = 0
    appointments_held: int = 0
    accepted: int = 0
    won: int = 0
    outside: bool = False  # an outside calling team
    first_touches: int = 0
    first_touch_median_hours: float | None = None
    first_touch_p90_hours: float | None = None
    ratings: int = 0
    rating_average: float | None = None

    def rate(self, name: str) -> float | None:
        top, bottom = _RATE_PARTS[name]
        below = getattr(self, bottom)
        return None if not below else 100.0 * getattr(self, top) / below

    @property
    def connect_rate(self) -> float | None:
        return self.rate("connect_rate")

    @property
    def set_to_held(self) -> float | None:
        return self.rate("set_to_held")

    @property
    def held_to_accepted(self) -> float | None:
        return self.rate("held_to_accepted")

    @property
    def accepted_to_won(self) -> float | None:
        return self.rate("accepted_to_won")

    def value(self, name: str) -> float | None:
        if name in _RATE_PARTS:
            return self.rate(name)
        value = getattr(self, name)
        return None if value is None else float(value)


@dataclasses.dataclass(frozen=True)
class Effectiveness:
    start: dt.datetime
    end: dt.datetime
    campaign_id: int | None
    step_id: int | None
    people: int | None  # how many people the filters keep; None: no filter
    channels: list[Row]  # CHANNELS in order, then "No connect before" when it has results
    teams: list[Row]  # every team, outside calling teams marked; "No team" last when used
    total: Row


def effectiveness(
    *,
    start: dt.datetime,
    end: dt.datetime,
    campaign_id: int | None = None,
    step_id: int | None = None,
) -> Effectiveness:
    """The report for [start, end): rows by channel and by team, and the totals (see the
    module for what each number counts)."""
    people = _people(end=end, campaign_id=campaign_id, step_id=step_id)
    users = _users()
    facts = _facts(start=start, end=end, people=people, users=users)
    first = _first_touches(start=start, end=end, people=people)
    ratings = _ratings(start=start, end=end, people=people)
    outside = {team for team, role in users.values() if role == Role.OUTSIDE_CALLER and team}

    channels = [
        _row(
            key,
            CHANNEL_NAMES[key],
            facts[facts["channel"] == key],
            ratings=ratings[ratings["channel"] == key],
        )
        for key in CHANNELS
    ]
    uncredited = facts[facts["channel"] == NO_CHANNEL]
    if not uncredited.empty:
        channels.append(_row(NO_CHANNEL, CHANNEL_NAMES[NO_CHANNEL], uncredited, ratings=None))

    teams = []
    for team_id, name in Team.objects.order_by("name").values_list("pk", "name"):
        teams.append(
            _row(
                str(team_id),
                name,
                facts[facts["team_id"] == team_id],
                ratings=ratings[ratings["team_id"] == team_id],
                first=first[first["team_id"] == team_id],
                outside=team_id in outside,
            )
        )
    nobody = facts[facts["team_id"].isna()]
    first_nobody = first[first["team_id"].isna()]
    ratings_nobody = ratings[ratings["team_id"].isna()]
    if not (nobody.empty and first_nobody.empty and ratings_nobody.empty):
        teams.append(_row("none", NO_TEAM, nobody, ratings=ratings_nobody, first=first_nobody))
    return Effectiveness(
        start=start,
        end=end,
        campaign_id=campaign_id,
        step_id=step_id,
        people=None if people is None else len(people),
        channels=channels,
        teams=teams,
        total=_row("total", "All channels", facts, ratings=ratings, first=first),
    )


def effectiveness_measure(
    *,
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    channel: str | None = None,
    team_id: int | None = None,
) -> float:
    """One measure (a key of MEASURES) for [start, end), for one channel, one team, both or
    all. Counts are whole numbers; rates are percentages; NaN when there is nothing to measure
    (no attempts for a rate, no touched request for a time, no rating for an average)."""
    if name not in MEASURES:
        raise ValueError(f"Unknown measure {name!r}; one of {', '.join(MEASURES)}")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    users = _users()
    facts = _facts(start=start, end=end, people=None, users=users)
    first = _first_touches(start=start, end=end, people=None)
    ratings = _ratings(start=start, end=end, people=None)
    if channel is not None:
        facts = facts[facts["channel"] == channel]
        ratings = ratings[ratings["channel"] == channel]
        # Time to first touch is per team: a request's first touch has no channel of its own.
        first = first.iloc[0:0] if name.startswith("first_touch") else first
    if team_id is not None:
        facts = facts[facts["team_id"] == team_id]
        ratings = ratings[ratings["team_id"] == team_id]
        first = first[first["team_id"] == team_id]
    value = _row("measure", name, facts, ratings=ratings, first=first).value(name)
    return math.nan if value is None else value


# Reading ---------------------------------------------------------------------------------------


def _users() -> dict[int, tuple[int | None, str]]:
    """user id → (their team id, their role)."""
    return {
        pk: (team, role) for pk, team, role in User.objects.values_list("pk", "team_id", "role")
    }


def _people(*, end: dt.datetime, campaign_id: int | None, step_id: int | None) -> set[int] | None:
    kept: set[int] | None = None
    if campaign_id is not None:
        from leadline.campaigns.models import Campaign
        from leadline.insight.attribution import campaign_key
        from leadline.insight.touches import touches_frame

        campaign = Campaign.objects.filter(pk=campaign_id).first()
        met: set[int] = set()
        if campaign is not None:
            touches = touches_frame(until=end)
            key = campaign_key(campaign.name)
            keys = touches["campaign"].map(campaign_key)
            met = {int(p) for p in touches.loc[keys == key, "person_id"]}
        kept = met
    if step_id is not None:
        reached = set(
            JourneyTransition.objects.filter(
                to_step_id=step_id, at__lt=end, person__isnull=False
            ).values_list("person_id", flat=True)
        ) | set(
            JourneyPosition.objects.filter(
                step_id=step_id, since__lt=end, person__isnull=False
            ).values_list("person_id", flat=True)
        )
        reached_ids = {int(p) for p in reached if p is not None}
        kept = reached_ids if kept is None else kept & reached_ids
    return kept


def _frame(records: Iterable[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(records), columns=columns)
    if "at" in frame:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _keep(frame: pd.DataFrame, people: set[int] | None) -> pd.DataFrame:
    if people is None:
        return frame
    return frame[frame["person_id"].isin(people)]


def _person_times(rows: QuerySet[Any], at: str, people: set[int] | None) -> pd.DataFrame:
    """person_id and at (from the field `at`) of each row, of the people kept."""
    return _keep(_frame(rows.values_list("person_id", at), ["person_id", "at"]), people)


def _team_of(users: dict[int, tuple[int | None, str]], user_id: Any) -> int | None:
    if user_id is None or (isinstance(user_id, float) and math.isnan(user_id)):
        return None
    return users.get(int(user_id), (None, ""))[0]


def _facts(
    *,
    start: dt.datetime,
    end: dt.datetime,
    people: set[int] | None,
    users: dict[int, tuple[int | None, str]],
) -> pd.DataFrame:
    """One row per thing counted: measure, channel (NO_CHANNEL for an uncredited result),
    team_id (None: no team), person_id."""
    now = clock.now()
    ts_start, ts_end = pd.Timestamp(start), pd.Timestamp(end)

    def within(frame: pd.DataFrame, column: str = "at") -> pd.DataFrame:
        return frame[(frame[column] >= ts_start) & (frame[column] < ts_end)]

    def teams(user_ids: pd.Series) -> pd.Series:
        return pd.Series([_team_of(users, u) for u in user_ids], index=user_ids.index, dtype=object)

    touches = _frame(
        Touch.objects.filter(at__lt=end, kind__in=[TouchKind.EMAIL, TouchKind.CALL]).values_list(
            "person_id", "user_id", "kind", "outcome", "at"
        ),
        ["person_id", "user_id", "kind", "outcome", "at"],
    )
    touches = _keep(touches, people).assign(team_id=lambda f: teams(f["user_id"]))
    replies = _person_times(
        InboundMessage.objects.filter(
            kind=InboundKind.REPLY, person__isnull=False, received_at__lt=end
        ),
        "received_at",
        people,
    )
    meetings = _keep(
        _frame(
            Meeting.objects.filter(created_at__lt=end).values_list(
                "pk",
                "person_id",
                "host_id",
                "booked_by_id",
                "source",
                "status",
                "outcome",
                "starts_at",
                "created_at",
            ),
            [
                "meeting_id",
                "person_id",
                "host_id",
                "booked_by_id",
                "source",
                "status",
                "outcome",
                "starts_at",
                "at",
            ],
        ),
        people,
    )
    meetings["starts_at"] = pd.to_datetime(meetings["starts_at"], utc=True)
    meetings["team_id"] = teams(meetings["host_id"])
    visits = _person_times(
        Event.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, person__isnull=False
        ).filter(Q(name="event_attended") | Q(properties__channel="events")),
        "occurred_at",
        people,
    )
    messages = _person_times(
        ContactAttempt.objects.filter(
            channel=ContactChannel.MANUAL, at__gte=start, at__lt=end, released_at__isnull=True
        ),
        "at",
        people,
    )
    talks = _conversations(end=end, people=people, users=users)
    handoffs = _person_times(
        Handoff.objects.filter(
            status=HandoffStatus.ACCEPTED, decided_at__gte=start, decided_at__lt=end
        ),
        "decided_at",
        people,
    )
    wins = _person_times(
        Opportunity.objects.filter(
            status=OpportunityStatus.WON,
            closed_at__gte=start,
            closed_at__lt=end,
            person__isnull=False,
        ),
        "closed_at",
        people,
    )

    parts: list[pd.DataFrame] = []

    def add(frame: pd.DataFrame, measure: str, channel: Any) -> None:
        if frame.empty:
            return
        parts.append(
            pd.DataFrame(
                {
                    "measure": measure,
                    "channel": channel,
                    "team_id": frame["team_id"].astype(object).to_numpy(),
                    "person_id": frame["person_id"].astype("int64").to_numpy(),
                }
            )
        )

    # Attempts and connects, channel by channel.
    period_touches = within(touches)
    for kind in (TouchKind.EMAIL, TouchKind.CALL):
        add(period_touches[period_touches["kind"] == kind], "attempts", str(kind))
    calls_connected = touches[
        (touches["kind"] == TouchKind.CALL) & (touches["outcome"] == CallOutcome.CONNECTED)
    ]
    add(within(calls_connected), "connects", "call")
    emails = touches[touches["kind"] == TouchKind.EMAIL]
    replies = _last_before(replies, emails[["person_id", "at", "team_id"]])
    add(within(replies), "connects", "email")
    live = meetings[meetings["status"] == MeetingStatus.BOOKED]
    due = within(live, "starts_at")
    add(due[due["starts_at"] < pd.Timestamp(now)], "attempts", "meeting")
    held = meetings[meetings["outcome"] == MeetingOutcome.HELD]
    add(within(held, "starts_at"), "connects", "meeting")
    add(visits.assign(team_id=None), "attempts", "event")
    add(messages.assign(team_id=None), "attempts", "chat")
    one_each = within(talks).drop_duplicates("conversation_id")
    add(one_each, "conversations", one_each["kind"].astype(str).to_numpy())
    two_way = within(talks[talks["kind"].isin([ConversationKind.EVENT, ConversationKind.CHAT])])
    add(two_way, "connects", two_way["kind"].astype(str).to_numpy())

    # Every connect, before the period too: what results are credited to.
    history = pd.concat(
        [
            calls_connected.assign(channel="call")[_HISTORY_COLUMNS],
            replies.assign(channel="email")[_HISTORY_COLUMNS],
            held.assign(at=held["starts_at"], channel="meeting")[_HISTORY_COLUMNS],
            talks[talks["kind"].isin([ConversationKind.EVENT, ConversationKind.CHAT])].assign(
                channel=lambda f: f["kind"].astype(str)
            )[_HISTORY_COLUMNS],
        ],
        ignore_index=True,
    )

    # Results: appointments set and held, accepted, won.
    booked = _credit(meetings, history)
    on_call = (booked["source"] == MeetingSource.CALL).to_numpy()
    setters = [
        h if _clean_id(b) is None else _team_of(users, b)
        for b, h in zip(booked["booked_by_id"], booked["host_team"], strict=True)
    ]
    booked["channel"] = np.where(on_call, "call", booked["channel"].to_numpy(dtype=object))
    booked["team_id"] = [
        s if call else t for s, t, call in zip(setters, booked["team_id"], on_call, strict=True)
    ]
    set_in_period = within(booked)
    add(set_in_period, "appointments_set", set_in_period["channel"].to_numpy())
    held_in_period = within(booked[booked["outcome"] == MeetingOutcome.HELD], "starts_at")
    add(held_in_period, "appointments_held", held_in_period["channel"].to_numpy())
    for frame, measure in ((handoffs, "accepted"), (wins, "won")):
        credited = _credit(frame, history)
        add(credited, measure, credited["channel"].to_numpy())

    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _FACT_COLUMNS})
    facts = pd.concat(parts, ignore_index=True)
    facts["team_id"] = facts["team_id"].map(_clean_id).astype(object)
    return facts


def _clean_id(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _conversations(
    *, end: dt.datetime, people: set[int] | None, users: dict[int, tuple[int | None, str]]
) -> pd.DataFrame:
    """One row per conversation and person taking part (those the filters keep): kind, at,
    team_id (of the first seller, else of who logged it)."""
    kinds = [k for k in CHANNELS if k in ConversationKind.values]
    rows = Conversation.objects.filter(occurred_at__lt=end, kind__in=kinds)
    talks = _frame(
        rows.values_list("pk", "kind", "occurred_at", "logged_by_id"),
        ["conversation_id", "kind", "at", "logged_by_id"],
    )
    through = Conversation.people.through.objects.filter(conversation__in=rows)
    taking_part = _frame(
        through.values_list("conversation_id", "person_id"), ["conversation_id", "person_id"]
    )
    sellers_through = Conversation.sellers.through.objects.filter(conversation__in=rows)
    first_seller: dict[int, int] = {}
    for conversation_id, user_id in sellers_through.order_by("user_id").values_list(
        "conversation_id", "user_id"
    ):
        first_seller.setdefault(conversation_id, user_id)
    talks["team_id"] = [
        _team_of(users, first_seller.get(pk, logged))
        for pk, logged in zip(talks["conversation_id"], talks["logged_by_id"], strict=True)
    ]
    merged = talks.merge(taking_part, on="conversation_id", how="inner")
    return _keep(merged, people)


def _last_before(results: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Each result with the columns of the same person's last history row at or before it."""
    if results.empty:
        extra = [c for c in history.columns if c not in ("person_id", "at")]
        return results.assign(**{c: pd.Series(dtype=object) for c in extra})
    left = results.assign(person_id=results["person_id"].astype("int64")).sort_values("at")
    right = history.assign(person_id=history["person_id"].astype("int64")).sort_values("at")
    right = right.assign(at=right["at"].astype(left["at"].dtype))
    if right.empty:
        extra = [c for c in history.columns if c not in ("person_id", "at")]
        return left.assign(**{c: None for c in extra})
    return pd.merge_asof(left, right, on="at", by="person_id", direction="backward")


def _credit(results: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Results with channel and team_id of the person's last connect before each (a meeting's
    host team kept as host_team): NO_CHANNEL and no team when there was none."""
    if "team_id" in results:
        results = results.rename(columns={"team_id": "host_team"})
    credited = _last_before(results, history)
    credited["channel"] = credited["channel"].where(credited["channel"].notna(), NO_CHANNEL)
    credited["team_id"] = credited["team_id"].astype(object)
    return credited


def _first_touches(
    *, start: dt.datetime, end: dt.datetime, people: set[int] | None
) -> pd.DataFrame:
    """Requests received in the period: team_id, hours (business hours to first touch, NaN
    when not touched yet), counted by insight.sla's own function."""
    from leadline.insight.sla import _hours_to_first_touch

    frame = _frame(
        RequestRouting.objects.filter(
            request__created_at__gte=start, request__created_at__lt=end
        ).values_list("team_id", "request__person_id", "request__created_at", "first_touched_at"),
        ["team_id", "person_id", "created_at", "touched_at"],
    )
    frame = _keep(frame, people)
    for column in ("created_at", "touched_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame = frame.assign(touched=frame["touched_at"].notna())
    hours = _hours_to_first_touch(frame) if not frame.empty else pd.Series(dtype=float)
    return pd.DataFrame(
        {
            "team_id": frame["team_id"].map(_clean_id).astype(object),
            "hours": hours.astype(float),
        }
    )


def _ratings(*, start: dt.datetime, end: dt.datetime, people: set[int] | None) -> pd.DataFrame:
    """The prospects' answers in the period: channel, team_id, score."""
    columns = ["person_id", "channel", "team_id", "score"]
    try:
        rating_ask = apps.get_model("feedback", "RatingAsk")
    except LookupError:  # the feedback app is not installed
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = _frame(
        rating_ask.objects.filter(
            answered_at__gte=start, answered_at__lt=end, score__isnull=False
        ).values_list(*columns),
        columns,
    )
    frame = _keep(frame, people)
    frame["team_id"] = frame["team_id"].map(_clean_id).astype(object)
    return frame


# Counting --------------------------------------------------------------------------------------


def _quantile(values: pd.Series, q: float) -> float | None:
    clean = values.dropna()
    if clean.empty:
        return None
    return float(np.percentile(clean.to_numpy(dtype=float), q * 100))


def _row(
    key: str,
    name: str,
    facts: pd.DataFrame,
    *,
    ratings: pd.DataFrame | None,
    first: pd.DataFrame | None = None,
    outside: bool = False,
) -> Row:
    counts = facts["measure"].value_counts()
    hours = first["hours"] if first is not None else pd.Series(dtype=float)
    scores = (
        pd.to_numeric(ratings["score"]).dropna() if ratings is not None else pd.Series(dtype=float)
    )
    return Row(
        key=key,
        name=name,
        outside=outside,
        **{measure: int(counts.get(measure, 0)) for measure in COUNTS},
        first_touches=int(hours.notna().sum()),
        first_touch_median_hours=_quantile(hours, 0.5),
        first_touch_p90_hours=_quantile(hours, 0.9),
        ratings=int(scores.size),
        rating_average=float(scores.mean()) if scores.size else None,
    )


def report_csv(report: Effectiveness) -> str:
    """The tables as CSV: one line per channel, then per team, then the totals."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["section", "name", "outside_calling_team", *COUNTS, *RATES, "first_touches",
         "first_touch_median_hours", "first_touch_p90_hours", "ratings", "rating_average"]
    )  # fmt: skip

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    for section, rows in (("channel", report.channels), ("team", report.teams),
                          ("total", [report.total])):  # fmt: skip
        for row in rows:
            writer.writerow(
                [section, row.name, "yes" if row.outside else "",
                 *(getattr(row, c) for c in COUNTS), *(number(row.rate(r)) for r in RATES),
                 row.first_touches, number(row.first_touch_median_hours),
                 number(row.first_touch_p90_hours), row.ratings,
                 "" if row.rating_average is None else f"{row.rating_average:.2f}"]
            )  # fmt: skip
    return buffer.getvalue()
