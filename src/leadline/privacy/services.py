"""Privacy's writes: consent with its proof, a person's export, erasure, retention, access rows.

Erasure keeps every row and clears what names or describes the person (ERASE_FIELDS, table by
table, field by field), deletes the rows that are nothing but an identifier (ERASE_DELETE) and
keeps the tables that hold only codes, dates and links (ERASE_KEEP). Counts, journey
transitions, attribution touches and SLA history therefore still add up afterwards. A table
that points at a person and is in none of the three makes tests/privacy fail until someone
decides what erasure does to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat

from leadline.capture.models import Consent, Form, Submission
from leadline.core import clock
from leadline.core.models import AuditEntry, Person, PersonEmail, User
from leadline.core.services import audit_record
from leadline.journeys.models import Conversation, ConversationPainPoint, EventBatch, Visitor
from leadline.privacy.models import (
    AccessAction,
    AccessEntry,
    Erasure,
    Purpose,
    RetentionCursor,
    Tombstone,
)

ERASED = "[erased]"

# table -> {field: what it becomes}. Fields not named are kept (codes, dates, numbers, links,
# and what the anonymous reports read: UTM and campaign, journey steps, event names and paths).
ERASE_FIELDS: dict[str, dict[str, Any]] = {
    "core.person": {
        "first_name": "",
        "last_name": "",
        "role_own_words": "",
        "title": "",
        "cares_about": "",
        "personal_context": "",
        "preferred_hours": "",
        "attributes": {},
        "attributes_at": {},
    },
    "core.membership": {"title": "", "role_in_company": ""},
    "core.timelineevent": {"summary": ERASED, "data": {}},
    "notify.outgoingmail": {
        "to": "",
        "subject": ERASED,
        "text": "",
        "html": "",
        "headers": {},
        "attachments": [],
        "last_error": "",
    },
    "notify.inboxitem": {"title": ERASED, "body": ""},
    "capture.submission": {"payload": {}, "meta": {}, "last_error": ""},
    "capture.request": {"message": "", "page_url": "", "referrer": ""},
    "capture.consent": {"ip": None, "source": ""},
    "capture.assetdownload": {"ip": None},
    "routing.touch": {"note": ""},
    "journeys.journeyremoval": {"note": ""},
    "journeys.journeytransition": {"note": "", "evidence": {}},
    "journeys.event": {"url": "", "title": "", "referrer": "", "properties": {}},
    # A rolled-up day loses what the event's properties and address said, as the event does.
    "journeys.eventday": {
        "campaign": "",
        "channel": "",
        "content": "",
        "source": "",
        "link_campaign": "",
        "link_medium": "",
        "link_source": "",
        "link_content": "",
    },
    "journeys.stakeholder": {"notes": ""},
    "outreach.donotcontact": {"reason": ""},
    "engagement.personlifecycle": {"reason": ""},
    "engagement.lifecyclechange": {"reason": ""},
    "engagement.handoff": {"note": "", "reason_text": ""},
    "engagement.opportunity": {"close_note": ""},
    "calls.calltask": {"title": ERASED, "script": "", "outcome_note": ""},
    "cadences.enrolment": {"stopped_detail": ""},
    "cadences.manualtask": {"title": ERASED, "instructions": ""},
    "booking.meeting": {"title": ERASED, "location": "", "note": "", "company": ""},
    "inbound.inboundmessage": {
        "from_address": "",
        "to": "",
        "subject": ERASED,
        "details": {},
        "last_error": "",
    },
    "commitments.commitment": {"what": ERASED, "note": "", "cancel_reason": ""},
    "relationships.briefing": {"title": ERASED, "sections": []},
    "relationships.handoveritem": {"label": ERASED},
    "outreach.newsletterrecipient": {"reason": ""},
    "feedback.ratingask": {"comment": ""},  # the score stays: the rep's report counts it
}
# Rows that are nothing but an identifier: deleted.
ERASE_DELETE = frozenset({"core.personemail", "core.personphone", "core.personsearch"})
# Tables with nothing personal in them (codes, dates, counts, links): kept as they are.
ERASE_KEEP = frozenset(
    {
        "routing.ownership",
        "journeys.journeyposition",
        "journeys.visitor",  # unlinked and renamed below
        "outreach.contactstate",
        "outreach.contactattempt",
        "insight.prediction",  # scores and reasons named by feature, not by person
        "privacy.erasure",
        "feedback.stopsignal",  # a reason code and who had last spoken with them
    }
)


def _row(row: models.Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        if isinstance(value, dt.datetime | dt.date | dt.time | uuid.UUID):
            value = DjangoJSONEncoder().default(value)
        elif isinstance(value, bytes | memoryview):
            value = bytes(value).hex()
        elif not isinstance(value, str | int | float | bool | list | dict | type(None)):
            value = str(value)
        out[field.attname] = value
    return out


def person_ids(person: Person) -> list[int]:
    """The person and every record merged into them (the merged rows are theirs too)."""
    ids, frontier = [person.pk], [person.pk]
    while frontier:
        frontier = list(
            Person.objects.filter(merged_into__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def export_tables() -> list[tuple[type[models.Model], str]]:
    """Every (table, field) that points at a person, found by introspection: a table added
    later is exported without anyone editing this module. Like core's inbound_relations, and
    also the foreign keys declared with related_name="+" (hidden from Person's side)."""
    found = []
    for rel in Person._meta.get_fields(include_hidden=True):
        if not isinstance(rel, models.ForeignObjectRel) or rel.many_to_many:
            continue
        if rel.related_model is Person:  # merged_into: the merged records are in person_ids
            continue
        found.append((rel.related_model, rel.field.name))
    return found


def person_export(*, person: Person, actor: User | None, via: str = "web") -> dict[str, Any]:
    """Everything stored about `person` (and the records merged into them), table by table."""
    ids = person_ids(person)
    tables: dict[str, list[dict[str, Any]]] = {}
    for model, field in export_tables():
        label = model._meta.label_lower
        rows = model._default_manager.filter(**{f"{field}__in": ids}).order_by("pk")
        tables.setdefault(label, []).extend(_row(row) for row in rows)
    for rel in Person._meta.related_objects:  # many-to-many: conversations they took part in
        if rel.many_to_many:
            model = rel.related_model
            rows = model._default_manager.filter(**{f"{rel.field.name}__in": ids}).distinct()
            tables[model._meta.label_lower] = [_row(row) for row in rows.order_by("pk")]
    tables["privacy.accessentry"] = [
        _row(row) for row in AccessEntry.objects.filter(person_id__in=ids).order_by("pk")
    ]
    access_record(user=actor, person_id=person.pk, action=AccessAction.EXPORT, via=via)
    if actor is not None:
        audit_record(actor=actor, action="person.export", obj=person)
    return {
        "format": "leadline.person-export/1",
        "exported_at": clock.now().isoformat(),
        "person": _row(person),
        "merged_records": [pk for pk in ids if pk != person.pk],
        "tables": tables,
    }


def address_hash(email: str) -> str:
    return hashlib.sha256(f"leadline-tombstone:{email.strip().lower()}".encode()).hexdigest()


def person_erase(*, person: Person, actor: User, reason: str, via: str = "web") -> Erasure:
    """Clear everything that names or describes `person`; keep the rows, de-identified."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why this person is erased (their request, its date).")
    if person.merged_into_id is not None:
        raise ValidationError("This record was merged: erase the record it was merged into.")
    with transaction.atomic():
        ids = person_ids(person)
        cleared: dict[str, int] = {}
        emails = list(PersonEmail.objects.filter(person__in=ids).values_list("email", flat=True))
        names = [
            name.lower()
            for p in Person.objects.filter(pk__in=ids)
            for name in (p.full_name, p.first_name, p.last_name)
            if len(name) >= 3
        ]
        Tombstone.objects.bulk_create(
            [Tombstone(address_hash=address_hash(email)) for email in emails],
            ignore_conflicts=True,
        )
        for model, field in export_tables():
            label = model._meta.label_lower
            rows = model._default_manager.filter(**{f"{field}__in": ids})
            if label in ERASE_DELETE:
                cleared[label] = rows.delete()[0]
            elif label in ERASE_FIELDS:
                cleared[label] = rows.update(**ERASE_FIELDS[label])
        cleared["core.person"] = Person.objects.filter(pk__in=ids).update(
            **ERASE_FIELDS["core.person"], updated_at=clock.now()
        )
        cleared.update(_erase_beyond_the_person(ids, needles=[*emails, *names]))
        erasure = Erasure.objects.create(
            person=person, erased_by=actor, reason=reason, cleared=cleared
        )
        audit_record(actor=actor, action="person.erase", obj=person, data={"reason": reason})
        access_record(user=actor, person_id=person.pk, action=AccessAction.ERASE, via=via)
    return erasure


def _erase_beyond_the_person(ids: list[int], *, needles: list[str]) -> dict[str, int]:
    """What points at the person's rows rather than at the person: raw tracking batches,
    conversations and what was found in them, the browser links, audit rows about them, and
    their companies' journey moves whose evidence names them."""
    cleared: dict[str, int] = {}
    from leadline.core.models import Membership
    from leadline.journeys.models import Event, JourneyTransition

    accounts = Membership.objects.filter(person__in=ids).values("account")
    naming = [
        t.pk
        for t in JourneyTransition.objects.filter(account__in=accounts).only("note", "evidence")
        if any(n in f"{t.note} {t.evidence}".lower() for n in needles)
    ]
    cleared["journeys.journeytransition.account"] = JourneyTransition.objects.filter(
        pk__in=naming
    ).update(note="", evidence={})

    cleared["journeys.event.dedupe_key"] = Event.objects.filter(person__in=ids).update(
        dedupe_key=Concat(Value("erased:"), Cast("id", CharField()))
    )
    visitors = Visitor.objects.filter(person__in=ids)
    visitor_ids = list(visitors.values_list("visitor_id", flat=True))
    cleared["journeys.eventbatch"] = EventBatch.objects.filter(visitor_id__in=visitor_ids).delete()[
        0
    ]
    for visitor in visitors:  # the cookie no longer leads back to them
        visitor.visitor_id = f"erased-{uuid.uuid4().hex}"
        visitor.person = None
        visitor.save(update_fields=["visitor_id", "person"])
    cleared["journeys.visitor"] = len(visitor_ids)
    conversations = Conversation.objects.filter(people__in=ids).distinct()
    conversation_ids = list(conversations.values_list("pk", flat=True))
    cleared["journeys.conversation"] = Conversation.objects.filter(pk__in=conversation_ids).update(
        summary=ERASED, quotes=""
    )
    cleared["journeys.conversationpainpoint"] = ConversationPainPoint.objects.filter(
        conversation__in=conversation_ids
    ).update(evidence="")
    from leadline.cadences.models import EnrolmentLog

    cleared["cadences.enrolmentlog"] = EnrolmentLog.objects.filter(
        enrolment__person__in=ids
    ).update(text="")
    cleared["core.auditentry"] = AuditEntry.objects.filter(
        object_type="core.person", object_id__in=[str(pk) for pk in ids]
    ).update(data={})
    return cleared


def address_erased(email: str) -> bool:
    """Was this address erased on request? (An import can skip it.)"""
    return Tombstone.objects.filter(address_hash=address_hash(email)).exists()


# Consent ----------------------------------------------------------------------------------------


def consent_record(
    *,
    person: Person,
    purpose: str,
    granted: bool,
    text: str,
    method: str,
    actor: User | None,
    source: str = "",
    ip: str | None = None,
    form: Form | None = None,
    submission: Submission | None = None,
    via: str = "web",
) -> Consent:
    """A new consent row (a withdrawal is a row saying no: the history stays)."""
    if not Purpose.objects.filter(code=purpose, is_active=True).exists():
        raise ValidationError(f"Unknown purpose {purpose!r}.")
    if granted and not text.strip():
        raise ValidationError("Record the exact words the person agreed to.")
    if not method.strip():
        raise ValidationError("Say how it was given (verbal, email, paper form, ...).")
    with transaction.atomic():
        consent = Consent.objects.create(
            person=person,
            purpose=purpose,
            granted=granted,
            text=text.strip(),
            method=method.strip()[:40],
            form=form,
            form_version=form.version() if form is not None else "",
            submission=submission,
            source=source.strip()[:1000],
            ip=ip or None,
            recorded_by=actor,
            captured_at=clock.now(),
        )
        access_record(user=actor, person_id=person.pk, action=AccessAction.CONSENT, via=via)
    return consent


def purpose_create(*, code: str, name: str, description: str, actor: User) -> Purpose:
    with transaction.atomic():
        if Purpose.objects.filter(code=code).exists():
            raise ValidationError(f"A purpose {code!r} exists already.")
        purpose = Purpose.objects.create(code=code, name=name, description=description)
        audit_record(actor=actor, action="purpose.create", obj=purpose)
    return purpose


# Access log -------------------------------------------------------------------------------------


def access_record(
    *, user: User | None, person_id: int, action: str, via: str = "web", path: str = ""
) -> None:
    """One insert, nothing read."""
    AccessEntry.objects.create(
        user=user, person_id=person_id, action=action, via=via, path=path[:300]
    )


# Retention --------------------------------------------------------------------------------------


def _walk(
    *, name: str, queryset: Any, act: Any, batch: int, batches: int, stop_id: int | None
) -> int:
    """Walk `queryset`'s table by id ranges from the saved cursor, `act`ing on each range in its
    own short transaction; stop at `stop_id` (the first id too new to touch)."""
    if stop_id is None:  # an empty table: nothing to do, and the cursor must not run ahead
        return 0
    cursor, _ = RetentionCursor.objects.get_or_create(name=name)
    # Ids need not start near 1 (a restored or long-lived table): begin at the oldest row.
    oldest = queryset.model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    if oldest is not None:
        cursor.last_id = max(cursor.last_id, int(oldest) - 1)
    done = 0
    for _ in range(batches):
        low = cursor.last_id
        high = low + batch
        high = min(high, stop_id - 1)
        if high <= low:
            break
        with transaction.atomic():
            done += act(queryset.filter(pk__gt=low, pk__lte=high))
            cursor.last_id = high
            cursor.updated_at = clock.now()
            cursor.save(update_fields=["last_id", "updated_at"])
    return done


def _first_id_at_or_after(model: type[models.Model], field: str, moment: dt.datetime) -> int | None:
    """The first id whose `field` is at or after `moment`, by bisecting the primary key (ids
    grow with time on these append-only tables): a few index reads, no scan. None: all older."""
    manager = model._default_manager
    last = manager.order_by("-pk").values_list("pk", field).first()
    if last is None:
        return None
    if last[1] < moment:
        return int(last[0]) + 1
    low, high = 0, int(last[0])  # answer in (low, high]
    while high - low > 1:
        mid = (low + high) // 2
        found = manager.filter(pk__gte=mid).order_by("pk").values_list("pk", field).first()
        if found is None or found[1] >= moment:
            high = mid
        else:
            low = int(found[0])
    return high


def retention_prune(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One sweep's share of retention (bounded work; the next sweep goes on):
    - tracking events recorded more than TRACKING_RETENTION_DAYS ago (anonymous ones and those
      of known people): rolled up into days (journeys.EventDay) and deleted in the same
      transaction, so the reports that read them give the same answers (decision 0025).
    - processed raw event batches older than RETENTION_RAW_DAYS: deleted (their events are in
      the events table already).
    - processed submissions older than RETENTION_RAW_DAYS: their raw payload and request
      metadata (IP, browser) cleared; the row stays, and so do the request and consent made
      from it."""
    from leadline.journeys.models import Event
    from leadline.journeys.rollup import events_roll_up

    now = now or clock.now()
    batch, batches = settings.RETENTION_BATCH, settings.RETENTION_BATCHES
    events_cutoff = now - dt.timedelta(days=settings.TRACKING_RETENTION_DAYS)
    raw_cutoff = now - dt.timedelta(days=settings.RETENTION_RAW_DAYS)
    return {
        "events": events_roll_up(
            before=events_cutoff,
            batch=batch,
            batches=batches,
            stop_id=_first_id_at_or_after(Event, "recorded_at", events_cutoff),
        ),
        "event_batches": _walk(
            name="journeys.eventbatch",
            queryset=EventBatch.objects.filter(status="processed", received_at__lt=raw_cutoff),
            act=lambda rows: rows.delete()[0],
            batch=batch,
            batches=batches,
            stop_id=_first_id_at_or_after(EventBatch, "received_at", raw_cutoff),
        ),
        "submission_payloads": _walk(
            name="capture.submission",
            queryset=Submission.objects.filter(status="processed", received_at__lt=raw_cutoff),
            act=lambda rows: rows.update(payload={"_pruned": True}, meta={}),
            batch=batch,
            batches=batches,
            stop_id=_first_id_at_or_after(Submission, "received_at", raw_cutoff),
        ),
    }
