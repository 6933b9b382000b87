"""Writes for capture: turning a stored raw submission into a person, an account and a request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.module_loading import import_string

from leadline.capture.models import (
    Asset,
    AssetDownload,
    Consent,
    Form,
    Request,
    RequestKind,
    Submission,
    SubmissionStatus,
)
from leadline.capture.tasks import LINGER_SECONDS
from leadline.capture.validation import TRACKING_FIELDS
from leadline.core import clock
from leadline.core.drain import Drain, failure_note
from leadline.core.freemail import is_free_mail
from leadline.core.models import (
    Account,
    AccountDomain,
    Channel,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    TimelineEvent,
    User,
)
from leadline.core.selectors import merge_survivor
from leadline.core.services import (
    audit_record,
    people_search_refresh,
    timeline_event,
    timeline_record,
)

logger = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(minutes=2)


def email_normalise(email: str) -> str:
    return email.strip().lower()


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def person_for_email(*, email: str, defaults: dict[str, Any]) -> tuple[Person, bool]:
    """The person who owns this address, made if nobody does. Returns (person, created)."""
    email = email_normalise(email)
    existing = PersonEmail.objects.select_related("person").filter(email=email).first()
    if existing is not None:
        # The address may still point at a record folded into another.
        return merge_survivor(existing.person), False
    try:
        with transaction.atomic():
            person = Person.objects.create(**defaults)
            PersonEmail.objects.create(person=person, email=email, is_primary=True)
            people_search_refresh(person_ids=[person.pk])
    except IntegrityError:
        # Another worker made this person a moment ago.
        return PersonEmail.objects.select_related("person").get(email=email).person, False
    return person, True


def person_create(
    *, email: str, fields: dict[str, Any], actor: User | None, source: str
) -> tuple[Person, bool]:
    """Add a person by hand or through the API; an address we know returns its owner unchanged."""
    with transaction.atomic():
        person, created = person_for_email(email=email, defaults=fields)
        if created:
            timeline_record(
                kind="person.created",
                summary=f"Added by {actor} through the {source}"
                if actor
                else f"Added via {source}",
                person=person,
                actor=actor,
                data={"source": source},
            )
    return person, created


def _name_from_domain(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def _person_update(person: Person, clean: dict[str, Any], *, save: bool = True) -> list[str]:
    """Fill what we did not know; take their latest self-description. Returns changed fields."""
    changed = []
    for field in ("first_name", "last_name", "country"):
        if clean.get(field) and not getattr(person, field):
            setattr(person, field, clean[field])
            changed.append(field)
    for field in ("role_own_words", "title"):
        if clean.get(field) and clean[field] != getattr(person, field):
            setattr(person, field, clean[field])
            changed.append(field)
    channel = clean.get("preferred_channel")
    if channel in Channel.values and channel != person.preferred_channel:
        person.preferred_channel = channel
        changed.append("preferred_channel")
    if changed and save:
        person.updated_at = clock.now()
        person.save(update_fields=[*changed, "updated_at"])
    return changed


def _request_summary(form: Form, clean: dict[str, Any]) -> str:
    what = f"“{form.asset.title}”" if form.asset else RequestKind(form.request_kind).label.lower()
    summary = f"Filled in “{form.title}” for {what}"
    if clean.get("contact_me"):
        summary += " and asked to be contacted"
    return summary


def process_batch() -> int:
    """At most this many submissions share one transaction. On SQLite the batch holds the one
    write lock, which a submission being stored must not wait for long (bench/capture.py at
    100/s: capture p99 53 to 59 ms with 10, 35 to 63 ms with 6). PostgreSQL has no such lock
    but pays a flush per commit: with 6 its worker fell behind (96 routed a second)."""
    return 6 if connection.vendor == "sqlite" else 20


@dataclasses.dataclass(eq=False)
class _Incoming:
    """One submission on its way through `submissions_process`."""

    submission: Submission
    clean: dict[str, Any]
    email: str
    person: Person | None = None
    person_created: bool = False
    changed: list[str] = dataclasses.field(default_factory=list)
    account: Account | None = None
    request: Request | None = None


def submission_process(*, submission_id: int) -> Submission:
    """Turn a raw submission into person, account, membership, consent and request. Idempotent."""
    submissions_process(submission_ids=[submission_id])
    return Submission.objects.select_related("person").get(pk=submission_id)


def submissions_process(*, submission_ids: Sequence[int]) -> dict[int, int]:
    """Process the submissions not processed yet among `submission_ids`, all in one transaction
    with a fixed number of queries however many there are. Returns {submission id: request id}
    for those this call processed. Idempotent: a processed submission is skipped.

    The batch is all or nothing. When two workers make the same new person or account at once,
    the loser's batch fails on the unique address or domain; it is then done again one
    submission at a time, and by then the other worker's rows are there to be found.
    """
    try:
        return _submissions_process(submission_ids)
    except IntegrityError:
        if len(submission_ids) == 1:
            return _submissions_process(submission_ids)
        done: dict[int, int] = {}
        for submission_id in submission_ids:
            done.update(submissions_process(submission_ids=[submission_id]))
        return done


def submissions_process_pending(*, limit: int | None = None) -> dict[int, int]:
    """Process the oldest `limit` (default `process_batch()`) submissions that wait for it
    (received, not failed), skipping any another worker holds. Returns {submission id: request
    id}; empty when none waits."""
    limit = limit or process_batch()
    try:
        return _submissions_process(None, limit=limit)
    except Exception:
        # Two workers made one new person at once, or one submission cannot be processed:
        # one at a time then, so that only a bad one fails (and waits for the sweep's retry).
        logger.warning("a batch of submissions failed; taking them one at a time", exc_info=True)
    waiting = Submission.objects.filter(status=SubmissionStatus.RECEIVED).order_by("pk")
    done: dict[int, int] = {}
    for submission_id in waiting.values_list("pk", flat=True)[:limit]:
        try:
            done.update(submissions_process_or_record_failure(submission_ids=[submission_id]))
        except Exception:  # noqa: S112 - recorded on the submission and logged
            continue
    return done


def _submissions_process(submission_ids: Sequence[int] | None, *, limit: int = 0) -> dict[int, int]:
    """`submission_ids`, or (None) the oldest waiting ones."""
    now = clock.now()
    with transaction.atomic():
        # of=self: PostgreSQL cannot lock the nullable side (the asset) of an outer join.
        rows = Submission.objects.select_for_update(
            of=("self",), skip_locked=submission_ids is None
        ).select_related("form", "form__asset")
        if submission_ids is None:
            rows = rows.filter(status=SubmissionStatus.RECEIVED).order_by("pk")[:limit]
        else:
            rows = (
                rows.filter(pk__in=list(submission_ids))
                .exclude(status=SubmissionStatus.PROCESSED)
                .order_by("pk")
            )
        batch = [
            _Incoming(submission, submission.payload, email_normalise(submission.payload["email"]))
            for submission in rows
        ]
        if not batch:
            return {}
        _people_find_or_make(batch)
        _accounts_find_or_make(batch)
        _memberships_make(batch)
        people_search_refresh(person_ids=[item.person.pk for item in batch if item.person])
        for item in batch:
            if item.clean.get("phone"):
                assert item.person is not None
                PersonPhone.objects.get_or_create(person=item.person, e164=item.clean["phone"])
        Consent.objects.bulk_create(consent for item in batch for consent in _consents(item))
        requests = Request.objects.bulk_create(_request_new(item, now=now) for item in batch)
        for item, request in zip(batch, requests, strict=True):
            item.request = request
        TimelineEvent.objects.bulk_create(
            event for item in batch for event in _timeline_events(item)
        )
        # Downloads made before the worker got here are attached to the person now.
        for download in AssetDownload.objects.filter(
            submission__in=[item.submission for item in batch], person__isnull=True
        ):
            download.person = next(
                item.person for item in batch if item.submission.pk == download.submission_id
            )
            download.save(update_fields=["person"])
        for item in batch:
            item.submission.person = item.person
        Submission.objects.bulk_update([item.submission for item in batch], ["person"])
        Submission.objects.filter(pk__in=[item.submission.pk for item in batch]).update(
            status=SubmissionStatus.PROCESSED,
            processed_at=now,
            last_error="",
            attempts=F("attempts") + 1,
        )
    return {item.submission.pk: item.request.pk for item in batch if item.request is not None}


def _people_find_or_make(batch: list[_Incoming]) -> None:
    """Each submission's person: the owner of its address (after merges), else a new person.
    Two submissions in the batch with one new address make one person."""
    # An address may still point at a record folded into another.
    known = {
        found.email: merge_survivor(found.person)
        for found in PersonEmail.objects.select_related("person").filter(
            email__in={item.email for item in batch}
        )
    }
    new: dict[str, Person] = {}
    for item in batch:
        if item.email in known:
            item.person = known[item.email]
            item.changed = _person_update(item.person, item.clean)
        elif item.email in new:
            item.person = new[item.email]  # made by an earlier submission of this batch
            item.changed = _person_update(item.person, item.clean, save=False)
        else:
            item.person = new[item.email] = Person(**_person_fields(item.clean))
            item.person_created = True
    Person.objects.bulk_create(new.values())
    PersonEmail.objects.bulk_create(
        PersonEmail(person=person, email=email, is_primary=True) for email, person in new.items()
    )


def _person_fields(clean: dict[str, Any]) -> dict[str, Any]:
    channel = clean.get("preferred_channel", "")
    return {
        "first_name": clean.get("first_name", ""),
        "last_name": clean.get("last_name", ""),
        "role_own_words": clean.get("role_own_words", ""),
        "title": clean.get("title", ""),
        "country": clean.get("country", ""),
        "preferred_channel": channel if channel in Channel.values else "",
    }


def _accounts_find_or_make(batch: list[_Incoming]) -> None:
    """Each submission's company: by mail domain (free mail excluded), else by company name."""
    domains: dict[_Incoming, str] = {
        item: domain
        for item in batch
        if (domain := email_domain(item.email)) and not is_free_mail(domain)
    }
    known = {
        found.domain: merge_survivor(found.account)
        for found in AccountDomain.objects.select_related("account").filter(
            domain__in=set(domains.values())
        )
    }
    new: dict[str, Account] = {}
    for item in batch:
        domain = domains.get(item, "")
        if not domain:
            item.account = _account_by_name(item.clean.get("company", ""))
        elif domain in known:
            item.account = known[domain]
        else:
            if domain not in new:
                new[domain] = Account(name=item.clean.get("company") or _name_from_domain(domain))
            item.account = new[domain]
    Account.objects.bulk_create(new.values())
    AccountDomain.objects.bulk_create(
        AccountDomain(account=account, domain=domain) for domain, account in new.items()
    )


def _account_by_name(company: str) -> Account | None:
    if not company:
        return None
    by_name = (
        Account.objects.filter(name__iexact=company, merged_into__isnull=True)
        .order_by("pk")
        .first()
    )
    return by_name or Account.objects.create(name=company)


def _memberships_make(batch: list[_Incoming]) -> None:
    """The person works at the account; their own words about their role are kept there."""
    pairs = [item for item in batch if item.account is not None and item.person is not None]
    existing = {
        (m.person_id, m.account_id): m
        for m in Membership.objects.filter(
            person__in={item.person for item in pairs if not item.person_created},
            account__in={item.account for item in pairs},
        )
    }
    new: dict[tuple[int, int], Membership] = {}
    for item in pairs:
        assert item.person is not None
        assert item.account is not None
        key = (item.person.pk, item.account.pk)
        role = item.clean.get("role_own_words", "")
        membership = existing.get(key)
        if membership is None:
            membership = new.setdefault(
                key,
                Membership(
                    person=item.person, account=item.account, title=item.clean.get("title", "")
                ),
            )
        if role and not membership.role_in_company:
            membership.role_in_company = role
            if membership.pk is not None:
                membership.save(update_fields=["role_in_company"])
    Membership.objects.bulk_create(new.values())


def _consents(item: _Incoming) -> list[Consent]:
    submission, clean, form = item.submission, item.clean, item.submission.form
    meta = submission.meta if isinstance(submission.meta, dict) else {}
    # The proof each row keeps: the form's version, the page (or the embedding site) and the
    # address the submission came from.
    proof = {
        "form_version": form.version(),
        "source": str(clean.get("page_url") or meta.get("origin") or "")[:1000],
        "ip": meta.get("ip") or None,
    }
    consents = []
    if "consent" in clean:
        consents.append(
            Consent(
                person=item.person,
                purpose="marketing_email",
                granted=bool(clean["consent"]),
                text=form.consent_text,
                form=form,
                submission=submission,
                captured_at=submission.received_at,
                **proof,
            )
        )
    if clean.get("contact_me"):
        consents.append(
            Consent(
                person=item.person,
                purpose="contact",
                granted=True,
                text=form.contact_box_label,
                form=form,
                submission=submission,
                captured_at=submission.received_at,
                **proof,
            )
        )
    return consents


def _request_new(item: _Incoming, *, now: dt.datetime) -> Request:
    submission, clean, form = item.submission, item.clean, item.submission.form
    wants_contact = bool(clean.get("contact_me")) or form.request_kind in (
        RequestKind.CONTACT,
        RequestKind.DEMO,
        RequestKind.PRICING,
    )
    tracking = {k: clean[k] for k in TRACKING_FIELDS if k in clean}
    return Request(
        person=item.person,
        account=item.account,
        kind=form.request_kind,
        wants_contact=wants_contact,
        message=clean.get("message", ""),
        form=form,
        submission=submission,
        asset=form.asset,
        source="form",
        page_url=tracking.get("page_url", "")[:1000],
        referrer=tracking.get("referrer", "")[:1000],
        utm_source=tracking.get("utm_source", "")[:200],
        utm_medium=tracking.get("utm_medium", "")[:200],
        utm_campaign=tracking.get("utm_campaign", "")[:200],
        utm_term=tracking.get("utm_term", "")[:200],
        utm_content=tracking.get("utm_content", "")[:200],
        campaign=form.campaign,
        created_at=submission.received_at,
        updated_at=now,
    )


def _timeline_events(item: _Incoming) -> list[TimelineEvent]:
    submission, clean, form, request = (
        item.submission,
        item.clean,
        item.submission.form,
        item.request,
    )
    assert request is not None
    events = []
    if item.person_created:
        events.append(
            timeline_event(
                kind="person.created",
                summary=f"First heard from {item.person} through “{form.title}”",
                person=item.person,
                occurred_at=submission.received_at,
                data={"form": form.slug},
            )
        )
    answers = {
        f["name"]: clean[f["name"]]
        for f in form.fields
        if f["name"] in clean and f["name"] not in ("email",)
    }
    events.append(
        timeline_event(
            kind="request.created",
            summary=_request_summary(form, clean),
            person=item.person,
            account=item.account,
            occurred_at=submission.received_at,
            data={
                "request_id": request.pk,
                "submission_id": submission.pk,
                "form": form.slug,
                "kind": form.request_kind,
                "wants_contact": request.wants_contact,
                "message": clean.get("message", ""),
                "answers": answers,
                "updated_fields": item.changed,
                **{k: clean[k] for k in TRACKING_FIELDS if k in clean},
            },
        )
    )
    return events


def submissions_process_or_record_failure(*, submission_ids: Sequence[int]) -> dict[int, int]:
    """Process; on failure keep the raw submissions, note the error and raise so the task fails.
    Returns {submission id: request id} for those processed.

    A failed submission is retried by `submissions_requeue_stale`; nothing is half-written,
    because processing is one transaction.
    """
    try:
        return submissions_process(submission_ids=submission_ids)
    except Exception as exc:
        waiting = Submission.objects.filter(pk__in=list(submission_ids))
        failure_note(
            waiting.exclude(status=SubmissionStatus.PROCESSED), exc, failed=SubmissionStatus.FAILED
        )
        logger.exception("submissions %s failed; they will be retried", list(submission_ids))
        raise


def request_handlers_run(*, request_ids: Sequence[int]) -> None:
    """Hand new requests to the rest of the lead's flow (settings.CAPTURE_REQUEST_HANDLERS),
    all of them to each step at once.

    Each step is its own transaction and idempotent; one that fails is logged and left to the
    worker's sweeps, so a later step still runs and the requests themselves are never lost.
    """
    if not request_ids:
        return
    for path in settings.CAPTURE_REQUEST_HANDLERS:
        try:
            import_string(path)(request_ids=list(request_ids))
        except Exception:
            logger.exception("%s failed for requests %s; the sweep will retry", path, request_ids)


SUBMISSIONS_DRAIN = Drain(
    "leadline.capture.tasks.submissions_process_pending_task", linger=LINGER_SECONDS
)


def submissions_process_queue() -> None:
    """Make sure a task that processes the waiting submissions is queued and not yet started.

    Called after each submission is stored. One queued task serves every submission stored
    before it starts, so under load the worker takes them in batches instead of paying a task
    apiece.
    """
    SUBMISSIONS_DRAIN.ensure_queued()


def submissions_requeue_stale(*, older_than: dt.timedelta = STALE_AFTER) -> int:
    """Queue again every submission not processed after `older_than`; returns how many."""
    from leadline.capture.tasks import submission_process_task

    cutoff = clock.now() - older_than
    ids = list(
        Submission.objects.filter(
            status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.FAILED],
            received_at__lt=cutoff,
        ).values_list("pk", flat=True)[:1000]
    )
    # One task each: a submission that fails again fails alone.
    for submission_id in ids:
        submission_process_task.enqueue(submission_id)
    return len(ids)


def asset_download_record(*, submission_id: int, asset: Asset, ip: str | None) -> AssetDownload:
    """Record a download of a gated asset, and put it on the person's timeline."""
    submission = Submission.objects.get(pk=submission_id)
    if submission.status != SubmissionStatus.PROCESSED:
        # Downloaded before the worker got to it: process it now (that takes the row lock).
        submission = submission_process(submission_id=submission_id)
    with transaction.atomic():
        download = AssetDownload.objects.create(
            asset=asset, submission=submission, person=submission.person, ip=ip or None
        )
        timeline_record(
            kind="asset.downloaded",
            summary=f"Downloaded “{asset.title}”",
            person=submission.person,
            data={"asset_id": asset.pk, "submission_id": submission.pk},
        )
    return download


def asset_create(*, title: str, upload: File[Any], actor: User | None) -> Asset:
    """Store an uploaded gated asset, with an audit row."""
    with transaction.atomic():
        asset = Asset(title=title)
        asset.file.save(upload.name or "asset.pdf", upload, save=True)
        audit_record(actor=actor, action="asset.create", obj=asset)
    return asset


def form_save(*, form: Form, actor: User | None, created: bool) -> Form:
    """Save a form a marketer built, with an audit row. Validation happens in the caller's form."""
    from leadline.capture.ingest import form_spec_forget

    with transaction.atomic():
        form.updated_at = clock.now()
        if created:
            form.created_by = actor
        form.full_clean()
        form.save()
        audit_record(actor=actor, action="form.create" if created else "form.update", obj=form)
        transaction.on_commit(lambda: form_spec_forget(form.slug))
    return form
