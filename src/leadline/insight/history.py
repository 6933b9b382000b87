"""The history insight learns from, as pandas frames: who the people, accounts and
opportunities are (their fields, and when each became known), what they did (events), where
they went on a journey (step visits) and how their deals ended.

Every analysis (transitions, prediction, attribution) starts from these frames, so each reads
the database the same way, in a fixed number of queries, streamed in chunks. Nothing here
writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pandas as pd
from django.db import connections
from django.db.models import BigIntegerField, BooleanField, CharField, QuerySet
from django.db.models.expressions import RawSQL

from leadline.capture.models import Request
from leadline.core.models import Account, Membership, Person
from leadline.engagement.models import Handoff, HandoffStatus, Opportunity
from leadline.journeys.models import (
    Event,
    EventDay,
    JourneyRemoval,
    JourneyStep,
    JourneyTransition,
)

Kind = Literal["person", "account", "opportunity"]
CHUNK = 20_000

# The fields every person has without an import, by the names people see. Imported custom
# fields keep their own names beside these.
PERSON_FIELDS = ("Country", "Preferred channel", "Lead source", "First campaign", "First form")
ACCOUNT_FIELDS = ("Industry", "Employees", "Account country")
# The latest handoff's result: sales' verdict on the lead, fed back as a field (the lead
# quality loop). Known only when sales decided, which its time stamp says.
HANDOFF_FIELD = "Sales verdict"


def _rows(queryset: QuerySet[Any, Any], fields: Sequence[str]) -> Iterable[tuple[Any, ...]]:
    return queryset.values_list(*fields).iterator(chunk_size=CHUNK)


def _frame(queryset: QuerySet[Any, Any], fields: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(_rows(queryset, fields)), columns=list(fields))


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def subjects_frame(
    kind: Kind, *, ids: Sequence[int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`(values, known_at)` for people, accounts or opportunities: index = the object's id, one
    column per field (custom attributes and the standard fields above), values as stored (str,
    int, float, bool; None where missing). `known_at` has the same shape: when each value became
    known (UTC; NaT where nobody recorded it)."""
    model = {"person": Person, "account": Account, "opportunity": Opportunity}[kind]
    queryset = model.objects.all()  # type: ignore[attr-defined]
    if kind != "opportunity":
        queryset = queryset.filter(merged_into__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    standard: tuple[str, ...] = ()
    created = "opened_at" if kind == "opportunity" else "created_at"
    columns = ["id", "attributes", "attributes_at", created]
    if kind == "person":
        columns += ["country", "preferred_channel"]
    elif kind == "account":
        columns += ["industry", "employees", "country"]
        standard = ACCOUNT_FIELDS
    values: dict[int, dict[str, Any]] = {}
    known: dict[int, dict[str, Any]] = {}
    for row in _rows(queryset.order_by("pk"), columns):
        pk, attributes, attributes_at, created_at, *rest = row
        values[pk] = dict(attributes or {})
        known[pk] = dict(attributes_at or {})
        if kind == "person":
            country, channel = rest
            fields = {"Country": country, "Preferred channel": channel}
            _standard(values[pk], known[pk], created_at, **fields)
        elif kind == "account":
            _standard(values[pk], known[pk], created_at, **dict(zip(standard, rest, strict=True)))
    if kind == "person":
        _person_requests(values, known, ids)
        _person_verdicts(values, known, ids)
    frame = pd.DataFrame.from_dict(values, orient="index")
    times = pd.DataFrame.from_dict(known, orient="index").reindex(
        index=frame.index, columns=frame.columns
    )
    times = times.apply(lambda column: _utc(column)) if len(times.columns) else times
    frame.index.name = times.index.name = "id"
    return frame, times


def _standard(
    values: dict[str, Any], known: dict[str, Any], created_at: Any, **fields: Any
) -> None:
    """Add the standard fields; a custom field of the same name (an import's own "Country")
    keeps its value."""
    for name, value in fields.items():
        if name not in values:
            values[name] = value if value not in ("", None) else None
            known[name] = created_at


def _person_requests(
    values: dict[int, dict[str, Any]], known: dict[int, dict[str, Any]], ids: Sequence[int] | None
) -> None:
    """The first request's source, campaign and form: how the person first raised a hand."""
    requests = Request.objects.order_by("person_id", "created_at", "pk")
    if ids is not None:
        requests = requests.filter(person_id__in=list(ids))
    seen: set[int] = set()
    fields = ("person_id", "source", "campaign", "utm_campaign", "form__name", "created_at")
    for person_id, source, campaign, utm_campaign, form, at in _rows(requests, fields):
        if person_id in seen or person_id not in values:
            continue
        seen.add(person_id)
        values[person_id].update(
            {
                "Lead source": source or None,
                "First campaign": campaign or utm_campaign or None,
                "First form": form or None,
            }
        )
        for name in ("Lead source", "First campaign", "First form"):
            known[person_id][name] = at


def _person_verdicts(
    values: dict[int, dict[str, Any]], known: dict[int, dict[str, Any]], ids: Sequence[int] | None
) -> None:
    handoffs = Handoff.objects.exclude(status=HandoffStatus.OPEN)
    handoffs = handoffs.order_by("person_id", "created_at")
    if ids is not None:
        handoffs = handoffs.filter(person_id__in=list(ids))
    fields = ("person_id", "status", "reason__name", "decided_at")
    for person_id, status, reason, decided_at in _rows(handoffs, fields):
        if person_id in values:  # the latest wins: rows come oldest first
            values[person_id][HANDOFF_FIELD] = f"{status}: {reason}" if reason else status
            known[person_id][HANDOFF_FIELD] = decided_at


# Each column of events_frame: the property it reads, else this one.
_EVENT_PROPERTIES = (
    ("campaign", "campaign", "utm_campaign"),
    ("channel", "channel", "utm_medium"),
    ("content", "content", "utm_content"),
)
EVENT_COLUMNS = ["person_id", "name", "at", "campaign", "channel", "content"]


def _event_property(properties: Any, first: str, second: str) -> str:
    properties = properties or {}
    return str(properties.get(first) or properties.get(second) or "")


def events_frame(
    *, person_ids: Sequence[int] | None = None, until: dt.datetime | None = None
) -> pd.DataFrame:
    """Every event joined to a person: columns person_id (int), name (category), at (UTC),
    campaign, channel, content (from the event's properties, "" where absent) — oldest first.
    Events past the tracking retention come from their roll-up (journeys.rollup): a rolled-up
    day's events at its first and last moment."""
    raw = _raw_events_frame(person_ids=person_ids, until=until)
    rolled = event_days_frame(person_ids=person_ids, until=until)
    if rolled.empty:
        return raw
    frame = pd.concat([rolled, raw], ignore_index=True)
    frame = frame.sort_values("at", kind="stable").reset_index(drop=True)
    frame["name"] = frame["name"].astype(str).astype("category")
    frame["person_id"] = frame["person_id"].astype("int64")
    return frame


def event_days_frame(
    *, person_ids: Sequence[int] | None = None, until: dt.datetime | None = None
) -> pd.DataFrame:
    """The rolled-up events of known people as events_frame's rows: each day's row once at its
    first moment and `count - 1` times at its last (exact for days of one or two events)."""
    days = EventDay.objects.filter(person__isnull=False)
    if person_ids is not None:
        days = days.filter(person_id__in=list(person_ids))
    if until is not None:
        days = days.filter(first_at__lt=until)
    fields = ("person_id", "name", "first_at", "last_at", "count", "campaign", "channel", "content")
    records = []
    for person_id, name, first, last, count, campaign, channel, content in _rows(
        days.order_by("first_at", "pk"), fields
    ):
        records.append((person_id, name, first, campaign, channel, content))
        if count > 1 and (until is None or last < until):
            records.extend([(person_id, name, last, campaign, channel, content)] * (count - 1))
    frame = pd.DataFrame.from_records(records, columns=EVENT_COLUMNS)
    frame["at"] = _utc(frame["at"])
    return frame


def _raw_events_frame(
    *, person_ids: Sequence[int] | None, until: dt.datetime | None
) -> pd.DataFrame:
    events = Event.objects.filter(person__isnull=False).order_by("occurred_at", "pk")
    if person_ids is not None:
        events = events.filter(person_id__in=list(person_ids))
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if connections[events.db].vendor == "postgresql":
        return _events_frame_postgresql(events)
    records = [
        (
            person_id,
            name,
            at,
            *(_event_property(properties, first, second) for _, first, second in _EVENT_PROPERTIES),
        )
        for person_id, name, at, properties in _rows(
            events, ("person_id", "name", "occurred_at", "properties")
        )
    ]
    frame = pd.DataFrame.from_records(records, columns=EVENT_COLUMNS)
    frame["name"] = frame["name"].astype("category")
    frame["at"] = _utc(frame["at"])
    return frame


def _events_frame_postgresql(events: QuerySet[Event]) -> pd.DataFrame:
    """The same frame with PostgreSQL doing the per-row work (decision 15): the moment as
    whole microseconds since the epoch, and each property's text when the properties read are
    strings or absent. Rows where one of them is another kind of value (a number, true, a
    list: rare) are read whole and converted as above, so the result is the same."""
    # Only the table's name is put in the text; the property names go as parameters.
    table = Event._meta.db_table
    props = f'"{table}"."properties"'
    keys = sorted({key for _, first, second in _EVENT_PROPERTIES for key in (first, second)})
    odd = " OR ".join([f"jsonb_typeof({props} -> %s) NOT IN ('string', 'null')"] * len(keys))
    annotations: dict[str, Any] = {
        "us": RawSQL(  # noqa: S611 - no outside text in it
            f'(extract(epoch from "{table}"."occurred_at") * 1000000)::bigint',
            (),
            output_field=BigIntegerField(),
        ),
        "odd": RawSQL(  # noqa: S611 - the keys are parameters
            f"coalesce({odd}, false)", tuple(keys), output_field=BooleanField()
        ),
    }
    for column, first, second in _EVENT_PROPERTIES:
        annotations[f"p_{column}"] = RawSQL(  # noqa: S611 - the keys are parameters
            f"coalesce(nullif({props} ->> %s, ''), nullif({props} ->> %s, ''), '')",
            (first, second),
            output_field=CharField(),
        )
    fields = ("pk", "person_id", "name", "us", "odd", *(f"p_{c}" for c, _, _ in _EVENT_PROPERTIES))
    rows = list(_rows(events.annotate(**annotations), fields))
    frame = pd.DataFrame.from_records(rows, columns=["pk", *EVENT_COLUMNS[:2], "us", "odd",
                                                     *EVENT_COLUMNS[3:]])  # fmt: skip
    del rows
    odd_pks = frame.loc[frame["odd"], "pk"].tolist()
    if odd_pks:
        whole = dict(Event.objects.filter(pk__in=odd_pks).values_list("pk", "properties"))
        where = frame["odd"].to_numpy()
        for column, first, second in _EVENT_PROPERTIES:
            frame.loc[where, column] = [_event_property(whole[pk], first, second) for pk in odd_pks]
    frame["at"] = pd.to_datetime(frame["us"].astype("int64"), unit="us", utc=True)
    frame["name"] = frame["name"].astype("category")
    frame["person_id"] = frame["person_id"].astype("int64")
    return frame[EVENT_COLUMNS].reset_index(drop=True)


def opportunities_frame() -> pd.DataFrame:
    """Columns id, person_id, account_id (nullable Int64), name, status (open/won/lost), amount
    (float, NaN when unknown), opened_at, closed_at (UTC; NaT while open)."""
    fields = (
        "id", "person_id", "account_id", "name", "status", "amount", "opened_at", "closed_at"
    )  # fmt: skip
    frame = _frame(Opportunity.objects.order_by("pk"), fields)
    for column in ("person_id", "account_id"):
        frame[column] = frame[column].astype("Int64")
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce").astype(float)
    frame["opened_at"] = _utc(frame["opened_at"])
    frame["closed_at"] = _utc(frame["closed_at"])
    return frame


def memberships_frame() -> pd.DataFrame:
    """Current memberships: columns person_id, account_id (a person may have several)."""
    return _frame(
        Membership.objects.filter(is_current=True).order_by("pk"), ("person_id", "account_id")
    )


def step_visits_frame(journey_id: int) -> pd.DataFrame:
    """Each stay of a person or an account at a step of one journey, from its transitions.

    Columns: subject ("person"/"account"), subject_id, step_id, position, step_name,
    entered_at, left_at (NaT while they are still there), next_step_id and next_position (NA
    when they have not moved, or were taken off the journey), removed (True when a removal by
    hand ended the stay: they did not move on, and are no longer waiting either)."""
    steps = {
        pk: (position, name)
        for pk, position, name in JourneyStep.objects.filter(journey_id=journey_id).values_list(
            "pk", "position", "name"
        )
    }
    transitions = _frame(
        JourneyTransition.objects.filter(journey_id=journey_id).order_by("at", "pk"),
        ("person_id", "account_id", "to_step_id", "at"),
    )
    removals = _frame(
        JourneyRemoval.objects.filter(journey_id=journey_id).order_by("at", "pk"),
        ("person_id", "account_id", "at"),
    )
    columns = [
        "subject", "subject_id", "step_id", "position", "step_name", "entered_at", "left_at",
        "next_step_id", "next_position", "removed",
    ]  # fmt: skip
    moves: dict[tuple[str, int], list[tuple[Any, Any]]] = {}
    for person_id, account_id, to_step_id, at in transitions.itertuples(index=False):
        key = ("person", int(person_id)) if pd.notna(person_id) else ("account", int(account_id))
        moves.setdefault(key, []).append((at, to_step_id))
    for person_id, account_id, at in removals.itertuples(index=False):
        key = ("person", int(person_id)) if pd.notna(person_id) else ("account", int(account_id))
        moves.setdefault(key, []).append((at, None))
    records: list[tuple[Any, ...]] = []
    for (subject, subject_id), path in moves.items():
        path.sort(key=lambda move: move[0])
        for (entered_at, step_id), following in zip(path, [*path[1:], None], strict=True):
            if step_id is None:
                continue  # a removal is the end of a stay, not a stay
            position, name = steps[step_id]
            left_at, next_step_id, next_position, removed = None, None, None, False
            if following is not None:
                left_at, next_step_id = following
                removed = next_step_id is None
                next_position = None if removed else steps[next_step_id][0]
            stay = (subject, subject_id, step_id, position, name, entered_at)
            records.append((*stay, left_at, next_step_id, next_position, removed))
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["entered_at"] = _utc(frame["entered_at"])
    frame["left_at"] = _utc(frame["left_at"])
    for column in ("next_step_id", "next_position"):
        frame[column] = frame[column].astype("Int64")
    frame["removed"] = frame["removed"].astype(bool)
    return frame
