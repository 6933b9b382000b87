"""Writes for web tracking: stored batches of events become visitors, events and timeline rows.

The hot path (journeys/ingest.py) stores each checked batch raw (`EventBatch`) and makes sure
one drain task is queued (`event_batches_process_queue`, the pattern of decision 6). The worker
takes the waiting batches a group at a time (`event_batches_process`), then moves the people who
got new events along their journeys (`signals_evaluate`). A visitor is anonymous (the id in the
`ll_vid` cookie on the customer's site) until `visitor_identify` joins it to a person; from then
on its events are that person's, earlier ones included, and show on their timeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.db import connection, transaction
from django.db.models import F

from leadline.core import clock
from leadline.core.drain import Drain, failure_note
from leadline.core.models import Person, TimelineEvent
from leadline.core.selectors import merge_survivor
from leadline.core.services import timeline_event
from leadline.journeys.models import (
    BatchStatus,
    Event,
    EventBatch,
    EventSource,
    TrackingSite,
    Visitor,
)
from leadline.journeys.services import signals_evaluate
from leadline.journeys.tasks import LINGER_SECONDS

logger = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(minutes=2)
# A batch that failed this often is left to an operator (status "failed", with its last error)
# instead of being queued again by every sweep.
MAX_ATTEMPTS = 10
# What t.js puts in its cookie: a UUID; anything of this shape is taken.
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PAGE_VIEW = "page_view"
# Links in the mail a seller sends a prospect carry ?ll_t=<token> (`links_tag`); t.js on the
# site sends the token with its batch, and the worker joins the visitor to that person.
IDENTIFY_PARAM = "ll_t"
IDENTIFY_TOKEN = re.compile(r"[A-Za-z0-9_:.-]{1,200}")
IDENTIFY_SALT = "leadline.journeys.identify"
IDENTIFY_MAX_AGE = dt.timedelta(days=180)  # mail is read, and its links clicked, months later
EMAIL_CLICKED = "email_clicked"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def identify_token(*, person_id: int) -> str:
    """A signed token naming a person, for the links in a mail to them (no personal data in it:
    the person's id, a time and a signature)."""
    return signing.dumps(person_id, salt=IDENTIFY_SALT, compress=False)


def identify_token_read(token: str) -> int | None:
    """The person a token names, or None when it is forged, altered or over IDENTIFY_MAX_AGE."""
    try:
        value = signing.loads(token, salt=IDENTIFY_SALT, max_age=IDENTIFY_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def links_tag(text: str, *, person_id: int) -> str:
    """The text with each link to a tracked site (an active site's allowed origins) carrying
    the person's token, so that a click joins the browser's visits to them."""
    origins = {
        origin for site in TrackingSite.objects.filter(is_active=True) for origin in site.origins()
    }
    if not origins:
        return text
    token = identify_token(person_id=person_id)

    def tag(match: re.Match[str]) -> str:
        url = match.group(0)
        # A full stop or comma after a link ends the sentence, not the link.
        stripped = url.rstrip(".,;:!?")
        parts = urlsplit(stripped)
        if f"{parts.scheme}://{parts.netloc}" not in origins:
            return url
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != IDENTIFY_PARAM
        ]
        query.append((IDENTIFY_PARAM, token))
        return urlunsplit(parts._replace(query=urlencode(query, safe=":"))) + url[len(stripped) :]

    return _URL.sub(tag, text)


def process_batch() -> int:
    """At most this many stored batches share one transaction (see `process_events`)."""
    return 10 if connection.vendor == "sqlite" else 50


def process_events() -> int:
    """And about this many events: more batches are taken only while they fit (one always is).
    On SQLite the transaction holds the one write lock, which a batch or a form submission
    being stored must not wait for long: 100 events take 10 to 15 ms, 1,000 took 75 to 130 ms."""
    return 100 if connection.vendor == "sqlite" else 1000


@dataclasses.dataclass
class Processed:
    """What one pass did: how many batches it took (failed ones too), whether more may be
    waiting (it took as many as a pass may), and the people whose events are new."""

    batches: int = 0
    people: set[int] = dataclasses.field(default_factory=set)
    full: bool = False


def event_batches_process(*, batch_ids: Sequence[int] | None = None, limit: int = 0) -> set[int]:
    """Turn stored batches into visitors and events, in one transaction: `batch_ids` (those not
    processed yet), or, without them, the oldest waiting ones that no other worker holds: at
    most `limit` (default `process_batch()`) and, beyond the first, only while their events fit
    `process_events()`. Returns the ids of the people who got new events.

    Idempotent: each event's dedupe key is "<batch id>:<index>", so a batch done again adds
    nothing. An event of a visitor already joined to a person is that person's, and goes on
    their timeline.
    """
    return _event_batches_process(batch_ids, limit=limit or process_batch()).people


def event_batches_process_pending(*, limit: int = 0) -> Processed:
    """The drain task's pass: the oldest waiting batches. When the group fails, they are done
    one at a time, so that only a bad one fails (and waits for the sweep's retry)."""
    limit = limit or process_batch()
    try:
        return _event_batches_process(None, limit=limit)
    except Exception:
        logger.warning("a group of event batches failed; taking them one at a time", exc_info=True)
    waiting = EventBatch.objects.filter(status=BatchStatus.RECEIVED).order_by("pk")
    done = Processed(full=True)  # whatever waits beyond these goes next
    for batch_id in waiting.values_list("pk", flat=True)[:limit]:
        done.batches += 1  # taken, whether it went through or failed
        try:
            done.people |= event_batches_process_or_record_failure(batch_ids=[batch_id])
        except Exception:  # noqa: S112 - recorded on the batch and logged
            continue
    return done


def event_batches_process_or_record_failure(*, batch_ids: Sequence[int]) -> set[int]:
    """Process; on failure note the error on the batches and raise, so the task fails. Nothing
    is half-written (one transaction); the sweep queues the batches again."""
    try:
        return event_batches_process(batch_ids=batch_ids)
    except Exception as exc:
        waiting = EventBatch.objects.filter(pk__in=list(batch_ids))
        failure_note(waiting.exclude(status=BatchStatus.PROCESSED), exc, failed=BatchStatus.FAILED)
        logger.exception("event batches %s failed; they will be retried", list(batch_ids))
        raise


def _event_batches_process(batch_ids: Sequence[int] | None, *, limit: int) -> Processed:
    now = clock.now()
    with transaction.atomic():
        rows = EventBatch.objects.select_for_update(skip_locked=batch_ids is None)
        if batch_ids is None:
            rows = rows.filter(status=BatchStatus.RECEIVED).order_by("pk")[:limit]
        else:
            rows = (
                rows.filter(pk__in=list(batch_ids))
                .exclude(status=BatchStatus.PROCESSED)
                .order_by("pk")
            )
        batches = list(rows)
        full = False
        if batch_ids is None:
            batches, full = _fitting(batches, limit=limit)
        if not batches:
            return Processed()
        times = {
            batch.pk: [dt.datetime.fromisoformat(e["occurred_at"]) for e in batch.events]
            for batch in batches
        }
        clicked = _email_clicks(batches)
        for batch in batches:
            if batch.pk in clicked:
                at = times[batch.pk][0]
                visitor_identify(visitor_id=batch.visitor_id, person_id=clicked[batch.pk], at=at)
        visitors = _visitors_seen(batches, times)
        keys = [f"{batch.pk}:{i}" for batch in batches for i in range(len(batch.events))]
        keys += [f"{pk}:{EMAIL_CLICKED}" for pk in clicked]
        done = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        new: list[Event] = []
        for batch in batches:
            visitor = visitors[batch.visitor_id]
            key = f"{batch.pk}:{EMAIL_CLICKED}"
            if batch.pk in clicked and key not in done:
                first = batch.events[0]
                new.append(
                    Event(
                        occurred_at=times[batch.pk][0],
                        recorded_at=now,
                        source=EventSource.MAIL,
                        name=EMAIL_CLICKED,
                        visitor=visitor,
                        person_id=visitor.person_id,
                        url=first.get("url", ""),
                        path=first.get("path", ""),
                        title=first.get("title", ""),
                        dedupe_key=key,
                    )
                )
            for index, raw in enumerate(batch.events):
                key = f"{batch.pk}:{index}"
                if key in done:
                    continue
                new.append(
                    Event(
                        occurred_at=times[batch.pk][index],
                        recorded_at=now,
                        source=EventSource.WEB,
                        name=raw["name"],
                        visitor=visitor,
                        person_id=visitor.person_id,
                        url=raw.get("url", ""),
                        path=raw.get("path", ""),
                        title=raw.get("title", ""),
                        referrer=raw.get("referrer", ""),
                        properties=raw.get("properties") or {},
                        dedupe_key=key,
                    )
                )
        Event.objects.bulk_create(new)
        TimelineEvent.objects.bulk_create(_timeline_events(e for e in new if e.person_id))
        EventBatch.objects.filter(pk__in=[batch.pk for batch in batches]).update(
            status=BatchStatus.PROCESSED,
            processed_at=now,
            last_error="",
            attempts=F("attempts") + 1,
        )
    return Processed(
        batches=len(batches),
        people={e.person_id for e in new if e.person_id is not None},
        full=full,
    )


def _email_clicks(batches: list[EventBatch]) -> dict[int, int]:
    """{batch id: person id} for the batches whose page was opened from a link in a mail to the
    person (a valid token in the batch's meta); a merged person's survivor."""
    found = {}
    for batch in batches:
        token = (batch.meta or {}).get("identify")
        person_id = identify_token_read(token) if isinstance(token, str) else None
        person = Person.objects.filter(pk=person_id).first() if person_id is not None else None
        if person is not None:
            found[batch.pk] = merge_survivor(person).pk
    return found


def _fitting(batches: list[EventBatch], *, limit: int) -> tuple[list[EventBatch], bool]:
    """The first batches whose events fit `process_events()` (the first one always), and
    whether more may be waiting."""
    budget = process_events()
    taken: list[EventBatch] = []
    events = 0
    for batch in batches:
        if taken and events + len(batch.events) > budget:
            return taken, True
        taken.append(batch)
        events += len(batch.events)
    return taken, len(batches) >= limit


def _visitors_seen(
    batches: list[EventBatch], times: dict[int, list[dt.datetime]]
) -> dict[str, Visitor]:
    """The batches' visitors, made when new, locked, with first and last seen widened to their
    events. A visitor joined to a person who was merged since follows the merge."""
    first: dict[str, dt.datetime] = {}
    last: dict[str, dt.datetime] = {}
    for batch in batches:
        vid = batch.visitor_id
        first[vid] = min([*times[batch.pk], *([first[vid]] if vid in first else [])])
        last[vid] = max([*times[batch.pk], *([last[vid]] if vid in last else [])])
    # One insert that skips the known ones, then one locked read of all: a visitor being
    # identified meanwhile (visitor_identify locks it too) is either before or after this.
    # Always in the same order, so two workers never wait for each other's locks in a circle.
    ids = sorted(first)
    Visitor.objects.bulk_create(
        [Visitor(visitor_id=v, first_seen_at=first[v], last_seen_at=last[v]) for v in ids],
        ignore_conflicts=True,
    )
    visitors = {
        v.visitor_id: v
        for v in Visitor.objects.select_for_update(of=("self",))
        .select_related("person")
        .filter(visitor_id__in=ids)
        .order_by("visitor_id")
    }
    changed = []
    for vid, visitor in visitors.items():
        before = (visitor.first_seen_at, visitor.last_seen_at, visitor.person_id)
        visitor.first_seen_at = min(visitor.first_seen_at, first[vid])
        visitor.last_seen_at = max(visitor.last_seen_at, last[vid])
        if visitor.person is not None and visitor.person.merged_into_id is not None:
            visitor.person = merge_survivor(visitor.person)
        if (visitor.first_seen_at, visitor.last_seen_at, visitor.person_id) != before:
            changed.append(visitor)
    Visitor.objects.bulk_update(changed, ["first_seen_at", "last_seen_at", "person"])
    return visitors


def event_summary(event: Event) -> str:
    """How the timeline says it: "Viewed Pricing (/pricing)", "Web event “demo_clicked” on
    /pricing"."""
    where = event.path or event.url
    if event.name == EMAIL_CLICKED:
        return f"Clicked a link in an email, to {where}" if where else "Clicked a link in an email"
    if event.name == PAGE_VIEW:
        title = event.title.strip()
        if title and where:
            return f"Viewed {title} ({where})"
        return f"Viewed {title or where or 'a page'}"
    return f"Web event “{event.name}” on {where}" if where else f"Web event “{event.name}”"


def _timeline_events(events: Iterable[Event]) -> list[TimelineEvent]:
    """A timeline row per event, on its person's timeline, at the time it happened."""
    rows = []
    for event in events:
        row = timeline_event(
            kind={PAGE_VIEW: "web.page_view", EMAIL_CLICKED: "mail.clicked"}.get(
                event.name, "web.event"
            ),
            summary=event_summary(event),
            occurred_at=event.occurred_at,
            data={"event_id": event.pk, "name": event.name, "path": event.path},
        )
        row.person_id = event.person_id
        rows.append(row)
    return rows


def visitor_identify(*, visitor_id: str, person_id: int, at: dt.datetime) -> None:
    """Join a visitor (the id from t.js's cookie) to a person: made if unknown; their earlier
    anonymous events become the person's and go on the person's timeline, at the time each
    happened. Idempotent: a second call finds nothing left to join.

    A browser shared by two people goes to the latest one who identified themselves; the events
    already joined to the first stay theirs. An id t.js could not have made is ignored.
    """
    if not isinstance(visitor_id, str) or not VISITOR_ID.fullmatch(visitor_id):
        logger.info("not a visitor id (person %s): %r", person_id, str(visitor_id)[:80])
        return
    with transaction.atomic():
        visitor, created = Visitor.objects.select_for_update().get_or_create(
            visitor_id=visitor_id,
            defaults={
                "person_id": person_id,
                "first_seen_at": at,
                "last_seen_at": at,
                "identified_at": at,
            },
        )
        if not created and (visitor.person_id != person_id or visitor.identified_at is None):
            visitor.person_id = person_id
            visitor.identified_at = at
            visitor.save(update_fields=["person", "identified_at"])
        earlier = list(
            Event.objects.filter(visitor=visitor, person__isnull=True).order_by("occurred_at", "pk")
        )
        if not earlier:
            return
        for event in earlier:
            event.person_id = person_id
        Event.objects.bulk_update(earlier, ["person"])
        TimelineEvent.objects.bulk_create(_timeline_events(earlier))
        # Their journey may move on what they did before we knew them.
        transaction.on_commit(lambda: people_signals_evaluate(person_ids=[person_id]))


def people_signals_evaluate(*, person_ids: Iterable[int]) -> None:
    """Move these people along their journeys (journeys.services.signals_evaluate). Their
    events are stored already, so a failure here is logged and does not undo them."""
    ids = sorted(set(person_ids))
    if not ids:
        return
    try:
        signals_evaluate(person_ids=ids)
    except Exception:
        logger.exception("journey signals failed for people %s", ids)


EVENTS_DRAIN = Drain(
    "leadline.journeys.tasks.event_batch_process_pending_task", linger=LINGER_SECONDS
)


def event_batches_process_queue() -> None:
    """Make sure a task that processes the waiting batches is queued and not yet started.

    Called after each batch is stored. One queued task serves every batch stored before it
    starts.
    """
    EVENTS_DRAIN.ensure_queued()


def event_batches_requeue_stale(*, older_than: dt.timedelta = STALE_AFTER) -> int:
    """Queue again every batch not processed after `older_than` (one task each, so a bad one
    fails alone), unless it failed MAX_ATTEMPTS times; returns how many."""
    from leadline.journeys.tasks import event_batch_process_task

    cutoff = clock.now() - older_than
    ids = list(
        EventBatch.objects.filter(
            status__in=[BatchStatus.RECEIVED, BatchStatus.FAILED],
            received_at__lt=cutoff,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for batch_id in ids:
        event_batch_process_task.enqueue(batch_id)
    return len(ids)
