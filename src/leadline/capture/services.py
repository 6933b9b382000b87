"""Writes for capture: turning a stored raw submission into a person, an account and a request."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
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
from leadline.capture.validation import TRACKING_FIELDS
from leadline.core import clock
from leadline.core.freemail import is_free_mail
from leadline.core.models import (
    Account,
    AccountDomain,
    Channel,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    User,
)
from leadline.core.services import audit_record, timeline_record

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
        person = existing.person
        # Follow merges: the address may still point at a record folded into another.
        while person.merged_into_id is not None:
            person = Person.objects.get(pk=person.merged_into_id)
        return person, False
    try:
        with transaction.atomic():
            person = Person.objects.create(**defaults)
            PersonEmail.objects.create(person=person, email=email, is_primary=True)
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


def account_for_person(*, email: str, company: str) -> Account | None:
    """The company a person belongs to, found by mail domain (free mail excluded) or name."""
    domain = email_domain(email)
    if domain and not is_free_mail(domain):
        found = AccountDomain.objects.select_related("account").filter(domain=domain).first()
        if found is not None:
            account = found.account
            while account.merged_into_id is not None:
                account = Account.objects.get(pk=account.merged_into_id)
            return account
        try:
            with transaction.atomic():
                account = Account.objects.create(name=company or _name_from_domain(domain))
                AccountDomain.objects.create(account=account, domain=domain)
        except IntegrityError:
            return AccountDomain.objects.select_related("account").get(domain=domain).account
        return account
    if company:
        by_name = (
            Account.objects.filter(name__iexact=company, merged_into__isnull=True)
            .order_by("pk")
            .first()
        )
        return by_name or Account.objects.create(name=company)
    return None


def _name_from_domain(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def _person_update(person: Person, clean: dict[str, Any]) -> list[str]:
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
    if changed:
        person.updated_at = clock.now()
        person.save(update_fields=[*changed, "updated_at"])
    return changed


def _request_summary(form: Form, clean: dict[str, Any]) -> str:
    what = f"“{form.asset.title}”" if form.asset else RequestKind(form.request_kind).label.lower()
    summary = f"Filled in “{form.title}” for {what}"
    if clean.get("contact_me"):
        summary += " and asked to be contacted"
    return summary


def submission_process(*, submission_id: int) -> Submission:
    """Turn a raw submission into person, account, membership, consent and request. Idempotent."""
    with transaction.atomic():
        submission = (
            # of=self: PostgreSQL cannot lock the nullable side (the asset) of an outer join.
            Submission.objects.select_for_update(of=("self",))
            .select_related("form", "form__asset")
            .get(pk=submission_id)
        )
        if submission.status == SubmissionStatus.PROCESSED:
            return submission
        form = submission.form
        clean: dict[str, Any] = submission.payload
        email = clean["email"]
        person, created = person_for_email(
            email=email,
            defaults={
                "first_name": clean.get("first_name", ""),
                "last_name": clean.get("last_name", ""),
                "role_own_words": clean.get("role_own_words", ""),
                "title": clean.get("title", ""),
                "country": clean.get("country", ""),
                "preferred_channel": clean.get("preferred_channel", "")
                if clean.get("preferred_channel") in Channel.values
                else "",
            },
        )
        changed = [] if created else _person_update(person, clean)
        if clean.get("phone"):
            PersonPhone.objects.get_or_create(person=person, e164=clean["phone"])

        account = account_for_person(email=email, company=clean.get("company", ""))
        if account is not None:
            membership, _ = Membership.objects.get_or_create(
                person=person, account=account, defaults={"title": clean.get("title", "")}
            )
            if clean.get("role_own_words") and not membership.role_in_company:
                membership.role_in_company = clean["role_own_words"]
                membership.save(update_fields=["role_in_company"])

        if "consent" in clean:
            Consent.objects.create(
                person=person,
                purpose="marketing_email",
                granted=bool(clean["consent"]),
                text=form.consent_text,
                form=form,
                submission=submission,
                captured_at=submission.received_at,
            )
        wants_contact = bool(clean.get("contact_me")) or form.request_kind in (
            RequestKind.CONTACT,
            RequestKind.DEMO,
            RequestKind.PRICING,
        )
        if clean.get("contact_me"):
            Consent.objects.create(
                person=person,
                purpose="contact",
                granted=True,
                text=form.contact_box_label,
                form=form,
                submission=submission,
                captured_at=submission.received_at,
            )
        tracking = {k: clean[k] for k in TRACKING_FIELDS if k in clean}
        answers = {
            f["name"]: clean[f["name"]]
            for f in form.fields
            if f["name"] in clean and f["name"] not in ("email",)
        }
        request = Request.objects.create(
            person=person,
            account=account,
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
            updated_at=clock.now(),
        )
        if created:
            timeline_record(
                kind="person.created",
                summary=f"First heard from {person} through “{form.title}”",
                person=person,
                occurred_at=submission.received_at,
                data={"form": form.slug},
            )
        timeline_record(
            kind="request.created",
            summary=_request_summary(form, clean),
            person=person,
            account=account,
            occurred_at=submission.received_at,
            data={
                "request_id": request.pk,
                "submission_id": submission.pk,
                "form": form.slug,
                "kind": form.request_kind,
                "wants_contact": wants_contact,
                "message": clean.get("message", ""),
                "answers": answers,
                "updated_fields": changed,
                **tracking,
            },
        )
        # Downloads made before the worker got here are attached to the person now.
        AssetDownload.objects.filter(submission=submission, person__isnull=True).update(
            person=person
        )
        submission.status = SubmissionStatus.PROCESSED
        submission.person = person
        submission.processed_at = clock.now()
        submission.last_error = ""
        submission.save(update_fields=["status", "person", "processed_at", "last_error"])
    return submission


def submission_process_or_record_failure(*, submission_id: int) -> int | None:
    """Process; on failure keep the raw submission, note the error and raise so the task fails.
    Returns the request the submission made.

    A failed submission is retried by `submissions_requeue_stale`; nothing is half-written,
    because processing is one transaction.
    """
    try:
        submission = submission_process(submission_id=submission_id)
    except Exception as exc:
        Submission.objects.filter(pk=submission_id).update(
            status=SubmissionStatus.FAILED,
            attempts=F("attempts") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.exception("submission %s failed; it will be retried", submission_id)
        raise
    Submission.objects.filter(pk=submission_id).update(attempts=F("attempts") + 1)
    return Request.objects.filter(submission=submission).values_list("pk", flat=True).first()


def request_handlers_run(*, request_id: int) -> None:
    """Hand a new request to the rest of the lead's flow (settings.CAPTURE_REQUEST_HANDLERS).

    Each step is its own transaction and idempotent; one that fails is logged and left to the
    worker's sweeps, so a later step still runs and the request itself is never lost.
    """
    for path in settings.CAPTURE_REQUEST_HANDLERS:
        try:
            import_string(path)(request_id=request_id)
        except Exception:
            logger.exception("%s failed for request %s; the sweep will retry", path, request_id)


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
