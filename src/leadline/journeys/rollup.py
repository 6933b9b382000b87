"""Raw tracking events rolled up into days (`EventDay`), so old ones can go (decision 0025).

`events_roll_up` takes raw events recorded before a moment, batch by batch, and in one
transaction per batch adds their counts to the roll-up and deletes them. An event is therefore
either raw or counted in a roll-up row, never both: rolling up twice counts nothing twice, and
the readers (insight.history's events frame, insight.touches' attribution touches) add the
roll-up rows to the raw events they read, for any period, without a cut-off date to agree on.

What a roll-up row keeps is what those readers group by: the day, the person, the event's name,
its page, and the campaign keys of its properties and of its address's utm_* parameters. The
moment becomes the day's first and last one: a reader counting "events before a moment" gets the
same answer unless that moment falls inside a rolled-up day, between its first and last event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from django.db import transaction

from leadline.journeys.models import Event, EventDay

BATCH = 5000
log = logging.getLogger("leadline.journeys.rollup")

# The properties a roll-up row keeps: column -> (property, else this property).
PROPERTY_COLUMNS = (
    ("campaign", "campaign", "utm_campaign"),
    ("channel", "channel", "utm_medium"),
    ("content", "content", "utm_content"),
    ("source", "utm_source", "utm_source"),
)
LINK_COLUMNS = ("campaign", "medium", "source", "content")
KEY_FIELDS = (
    "day",
    "person_id",
    "name",
    "path",
    *(column for column, _, _ in PROPERTY_COLUMNS),
    *(f"link_{key}" for key in LINK_COLUMNS),
)


def link_utm(url: str) -> dict[str, str]:
    """The utm_* parameters of a page address, without the prefix ({"campaign": …})."""
    if "utm_" not in url:
        return {}
    query = url.split("?", 1)[1].split("#", 1)[0] if "?" in url else ""
    found = {}
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key.startswith("utm_") and value:
            found[key[4:]] = unquote_plus(value)
    return found


def _key(
    person_id: int | None, name: str, path: str, at: dt.datetime, properties: Any, url: str
) -> tuple[Any, ...]:
    properties = properties if isinstance(properties, dict) else {}
    link = link_utm(url or "")
    return (
        at.astimezone(dt.UTC).date(),
        person_id,
        name,
        path,
        *(str(properties.get(first) or properties.get(second) or "") for _, first, second in
          PROPERTY_COLUMNS),
        *(link.get(key, "") for key in LINK_COLUMNS),
    )  # fmt: skip


def _one_batch(*, before: dt.datetime, stop_id: int | None, batch: int) -> int | None:
    """Roll up and delete one batch. Returns how many events, 0 when none are left, None when
    another worker took some of these events first (nothing done: the next sweep goes on)."""
    with transaction.atomic():
        events = Event.objects.filter(recorded_at__lt=before)
        if stop_id is not None:
            events = events.filter(pk__lt=stop_id)
        rows = list(
            events.order_by("pk").values_list(
                "pk", "person_id", "name", "path", "occurred_at", "properties", "url"
            )[:batch]
        )
        if not rows:
            return 0
        ids = [row[0] for row in rows]
        deleted = Event.objects.filter(pk__in=ids).delete()[1].get(Event._meta.label, 0)
        if deleted != len(ids):  # counted by someone else meanwhile (PostgreSQL; SQLite locks)
            transaction.set_rollback(True)
            return None
        days: dict[tuple[Any, ...], list[Any]] = {}
        for _, person_id, name, path, at, properties, url in rows:
            key = _key(person_id, name, path, at, properties, url)
            found = days.get(key)
            if found is None:
                days[key] = [1, at, at]
            else:
                found[0] += 1
                found[1] = min(found[1], at)
                found[2] = max(found[2], at)
        EventDay.objects.bulk_create(
            EventDay(
                **dict(zip(KEY_FIELDS, key, strict=True)),
                count=count,
                first_at=first,
                last_at=last,
            )
            for key, (count, first, last) in days.items()
        )
        return len(rows)


def events_roll_up(
    *,
    before: dt.datetime,
    batch: int = BATCH,
    batches: int | None = None,
    stop_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Roll up (and delete) the raw events recorded before `before`, oldest first, `batch` at a
    time, at most `batches` batches (None: until none are left). `stop_id`: no event with this
    id or a later one is looked at (the caller's bound on the scan). `progress` hears the
    running total after each batch. Returns how many events were rolled up."""
    total, done = 0, 0
    while batches is None or done < batches:
        count = _one_batch(before=before, stop_id=stop_id, batch=batch)
        done += 1
        if not count:
            break
        total += count
        if progress is not None:
            progress(total)
        log.info("rolled up %s events recorded before %s", total, before.isoformat())
        if count < batch:
            break
    return total
