"""The one gate every touch passes, do-not-contact, unsubscribe, and marketing emails.

The gate (`contact_reserve`, read-only twin `selectors.contact_check`) answers a Verdict for one
touch of a person on a channel ("email", "phone", "manual") for a purpose ("marketing",
"sales"), and when it allows the touch records a ContactAttempt so that it counts. The checks,
in order, and what each means:

1. Do-not-contact on that channel: refuses every purpose, for good (`next_allowed_at` None).
   A hard bounce, the person asking on the unsubscribe page ("stop all email"), or staff set it.
2. No address on that channel (no email address / no phone number): refused for good.
3. Consent and unsubscribes, which depend on the purpose:
   - marketing: refused when the person's latest marketing-email consent (capture.Consent,
     purpose "marketing_email") says no, or when they unsubscribed (from any mail of ours).
     This applies to every channel: someone who said no to marketing gets no marketing call
     either. Marketing does not need a recorded yes: the gate only refuses a withdrawal; the
     newsletter audience "everyone who agreed" is the one that asks for a recorded yes.
   - sales (a rep's own cadence or call to someone who asked to be contacted): a marketing
     unsubscribe does not stop it — unsubscribing from the newsletter is not "don't answer my
     demo request". An unsubscribe from a *sales* mail (its link carries the scope) does stop
     sales email; phone stays open unless do-not-contact says otherwise. A withdrawn
     marketing consent does not stop sales either: it was consent to marketing.
4. The weekly cap: at most `weekly_cap` touches (default 3) in any 7 days, all channels and
   purposes together; a touch that would make a window hold more is refused with the time the
   oldest touch leaves the window (and outside quiet hours) as `next_allowed_at`.
5. Quiet hours (default 20:00-08:00, weekends quiet) in the person's time zone (their own; else
   their country's main zone; else their company's country's; else the policy's default).

Race safety: `contact_reserve` locks the person's ContactState row (made on first need), so two
reservations at once for the same person are taken one after the other and the second sees the
first's attempt. PostgreSQL: SELECT … FOR UPDATE. SQLite: every transaction begins IMMEDIATE
(settings: transaction_mode), so writers are serialised by the database's write lock.

Unsubscribe links are signed (django.core.signing, a salt of their own, no expiry: a link in an
old mail must keep working) and carry the person and the scope (marketing or sales).

When a person unsubscribes or is marked do-not-contact, each of
settings.OUTREACH_STOP_HANDLERS is called in the same transaction with person=, reason=
("unsubscribed" | "do_not_contact") and channel= (outreach imports no app further down the
lead's flow; cadences registers there to stop enrolments).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.urls import reverse
from django.utils.module_loading import import_string

from leadline.capture.models import Consent
from leadline.core import clock
from leadline.core.models import Person, TimelineEvent, User
from leadline.core.selectors import person_account, person_email
from leadline.core.services import audit_record, timeline_record
from leadline.journeys.models import JourneyPosition
from leadline.notify.merge import merge_fields_unknown, merge_render
from leadline.notify.services import mail_send
from leadline.outreach.models import (
    Audience,
    ContactAttempt,
    ContactChannel,
    ContactPolicy,
    ContactPurpose,
    ContactState,
    DoNotContact,
    Newsletter,
    NewsletterRecipient,
    NewsletterStatus,
    RecipientStatus,
)
from leadline.outreach.selectors import (
    MARKETING_CONSENT,
    Verdict,
    arguments_check,
    contact_verdict,
)

__all__ = [
    "Verdict",
    "contact_release",
    "contact_reserve",
    "do_not_contact_set",
    "mail_unsubscribe_headers",
    "unsubscribe_url",
]

UNSUBSCRIBE_SALT = "leadline.outreach.unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
SCOPES = {"m": ContactPurpose.MARKETING, "s": ContactPurpose.SALES}
NEWSLETTER_REASON = "newsletter"
# How many recipients one round of a send takes (each is its own transaction).
NEWSLETTER_BATCH = 200


# The gate ---------------------------------------------------------------------------------------


def _state_locked(person: Person) -> ContactState:
    """The person's contact row, made if missing, locked until the transaction ends."""
    ContactState.objects.get_or_create(person=person)
    return ContactState.objects.select_for_update().get(person=person)


def contact_reserve(
    *,
    person: Person,
    channel: str,
    purpose: str,
    source: str,
    ref: str,
    at: dt.datetime | None = None,
) -> Verdict:
    """channel: "email" | "phone" | "manual"; purpose: "marketing" | "sales"; source: "cadence" |
    "newsletter" | "call_task" | ...; ref: e.g. "enrolment:12". Locks the person's contact row,
    checks do-not-contact, consent/unsubscribe, quiet hours (person's time zone) and the weekly
    cap, and when allowed records a ContactAttempt (so it counts) — all in one transaction; call
    it inside your own transaction right before you send / create the call task."""
    arguments_check(channel=channel, purpose=purpose)
    at = at or clock.now()
    with transaction.atomic():
        state = _state_locked(person)
        verdict = contact_verdict(
            person=person, channel=channel, purpose=purpose, at=at, state=state
        )
        if verdict.allowed:
            ContactAttempt.objects.create(
                person=person,
                channel=channel,
                purpose=purpose,
                source=source[:40],
                ref=ref[:80],
                at=at,
            )
    return verdict


def contact_release(*, ref: str, at: dt.datetime | None = None) -> int:
    """Undo reservations with this ref that did not happen (e.g. the send was abandoned): they
    stop counting against the cap. `at`: when they were released (default now). Returns how
    many were released."""
    if not ref:
        return 0
    return ContactAttempt.objects.filter(ref=ref, released_at__isnull=True).update(
        released_at=at or clock.now()
    )


def _stop_handlers(*, person: Person, reason: str, channel: str) -> None:
    for path in getattr(settings, "OUTREACH_STOP_HANDLERS", []):
        import_string(path)(person=person, reason=reason, channel=channel)


def do_not_contact_set(
    *, person: Person, channel: str, reason: str, source: str, actor: User | None
) -> None:
    """Never reach the person on `channel` again (until someone lifts it). Idempotent; the
    timeline shows "contact.do_not_contact" with the channel."""
    arguments_check(channel=channel, purpose=ContactPurpose.SALES)
    with transaction.atomic():
        _state_locked(person)
        _row, created = DoNotContact.objects.get_or_create(
            person=person,
            channel=channel,
            defaults={"reason": reason[:300], "source": source[:40], "created_by": actor},
        )
        if not created:
            return
        label = ContactChannel(channel).label.lower()
        timeline_record(
            kind="contact.do_not_contact",
            summary=f"Do not contact by {label}" + (f": {reason}" if reason else ""),
            person=person,
            actor=actor,
            data={"channel": channel, "reason": reason, "source": source},
        )
        _stop_handlers(person=person, reason="do_not_contact", channel=channel)


def do_not_contact_lift(*, person: Person, channel: str, actor: User | None) -> bool:
    """Allow contact on `channel` again. False when it was not blocked."""
    arguments_check(channel=channel, purpose=ContactPurpose.SALES)
    with transaction.atomic():
        _state_locked(person)
        deleted, _ = DoNotContact.objects.filter(person=person, channel=channel).delete()
        if not deleted:
            return False
        label = ContactChannel(channel).label.lower()
        timeline_record(
            kind="contact.do_not_contact_lifted",
            summary=f"Contact by {label} allowed again",
            person=person,
            actor=actor,
            data={"channel": channel},
        )
    return True


# Unsubscribe ------------------------------------------------------------------------------------


def unsubscribe_token(*, person: Person, purpose: str = ContactPurpose.MARKETING) -> str:
    scope = "s" if purpose == ContactPurpose.SALES else "m"
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(f"{person.pk}.{scope}")


def unsubscribe_token_read(token: str) -> tuple[int, str] | None:
    """(person id, purpose) from a signed token; None when tampered or malformed."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    pk, _, scope = value.partition(".")
    if not pk.isdigit() or scope not in SCOPES:
        return None
    return int(pk), SCOPES[scope]


def _public_base() -> str:
    return settings.PUBLIC_URL or "http://localhost:8000"


def unsubscribe_url(*, person: Person, purpose: str = ContactPurpose.MARKETING) -> str:
    """Absolute and signed; put it in the mail body too. `purpose`: which kind of mail it is in
    (an unsubscribe from a sales mail stops sales email as well)."""
    token = unsubscribe_token(person=person, purpose=purpose)
    return _public_base() + reverse("outreach:unsubscribe", args=[token])


def mail_unsubscribe_headers(
    *, person: Person, purpose: str = ContactPurpose.MARKETING
) -> dict[str, str]:
    """{"List-Unsubscribe": "<https://…signed…>", "List-Unsubscribe-Post":
    "List-Unsubscribe=One-Click"} (RFC 8058: the mail program POSTs the second to the first)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(person=person, purpose=purpose)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }


UNSUBSCRIBE_METHODS = {
    "one_click": "with one click in their mail program",
    "link": "on the unsubscribe page",
    "by_hand": "by hand",
    "api": "through the API",
    "reply": "by replying that they want no more",
}


def contact_unsubscribe(
    *,
    person: Person,
    purpose: str = ContactPurpose.MARKETING,
    method: str,
    actor: User | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """The person unsubscribes from marketing email (or, from a sales mail, from sales email
    too). Records "contact.unsubscribed". False when they already had."""
    at = at or clock.now()
    field = (
        "sales_unsubscribed_at" if purpose == ContactPurpose.SALES else "marketing_unsubscribed_at"
    )
    with transaction.atomic():
        state = _state_locked(person)
        if getattr(state, field) is not None:
            return False
        setattr(state, field, at)
        state.unsubscribe_method = method[:40]
        state.save(update_fields=[field, "unsubscribe_method"])
        what = "sales and marketing email" if purpose == ContactPurpose.SALES else "marketing email"
        how = UNSUBSCRIBE_METHODS.get(method, method)
        timeline_record(
            kind="contact.unsubscribed",
            summary=f"Unsubscribed from {what} {how}",
            person=person,
            actor=actor,
            data={"purpose": purpose, "method": method},
            occurred_at=at,
        )
        _stop_handlers(person=person, reason="unsubscribed", channel=ContactChannel.EMAIL)
    return True


def contact_resubscribe(*, person: Person, method: str, actor: User | None = None) -> bool:
    """Undo an unsubscribe (the person changed their mind). False when not unsubscribed."""
    with transaction.atomic():
        state = _state_locked(person)
        if not state.unsubscribed:
            return False
        state.marketing_unsubscribed_at = None
        state.sales_unsubscribed_at = None
        state.unsubscribe_method = method[:40]
        state.save()
        timeline_record(
            kind="contact.resubscribed",
            summary=f"Subscribed again {UNSUBSCRIBE_METHODS.get(method, method)}",
            person=person,
            actor=actor,
            data={"method": method},
        )
    return True


# The policy -------------------------------------------------------------------------------------

POLICY_FIELDS = ("weekly_cap", "quiet_start", "quiet_end", "weekends_quiet", "default_time_zone")


def contact_policy_update(*, changes: dict[str, Any], actor: User | None) -> ContactPolicy:
    """Change the contact-pressure policy. Raises ValidationError naming the field."""
    if unknown := set(changes) - set(POLICY_FIELDS):
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        policy, _ = ContactPolicy.objects.select_for_update().get_or_create(pk=1)
        before = {name: str(getattr(policy, name)) for name in changes}
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.updated_at = clock.now()
        policy.updated_by = actor
        policy.save()
        audit_record(
            actor=actor,
            action="contact_policy.update",
            obj=policy,
            data={n: {"from": before[n], "to": str(getattr(policy, n))} for n in changes},
        )
    return policy


# Merge fields -----------------------------------------------------------------------------------

MERGE_FIELDS = {
    "first_name": "there",
    "last_name": "",
    "full_name": "there",
    "company": "your company",
}


def merge_values(person: Person) -> dict[str, str]:
    """A person's merge fields (a blank one gets a friendly default: "Hi there")."""
    account = person_account(person)
    values = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "full_name": person.full_name,
        "company": account.name if account is not None else "",
    }
    return {name: values[name] or default for name, default in MERGE_FIELDS.items()}


def _text_footer(url: str) -> str:
    return (
        "\n\n--\nYou get this email because you are in touch with us.\n"
        f"Unsubscribe (one click, no questions asked): {url}\n"
    )


def _html_footer(url: str) -> str:
    return (
        '<p style="margin-top:2em;font-size:12px;color:#6b7280">You get this email because you '
        f'are in touch with us. <a href="{html_lib.escape(url)}">Unsubscribe</a></p>'
    )


def newsletter_render(*, newsletter: Newsletter, person: Person) -> tuple[str, str, str]:
    """(subject, text, html) for one person, with the unsubscribe link in text and html."""
    values = merge_values(person)
    url = unsubscribe_url(person=person)
    subject = merge_render(newsletter.subject, values).replace("\n", " ")
    text = merge_render(newsletter.text, values).rstrip() + _text_footer(url)
    body = ""
    if newsletter.html.strip():
        body = merge_render(newsletter.html, values, html=True)
        footer = _html_footer(url)
        body = (
            body.replace("</body>", footer + "</body>", 1) if "</body>" in body else body + footer
        )
    return subject, text, body


# Marketing emails -------------------------------------------------------------------------------

NEWSLETTER_FIELDS = (
    "name",
    "subject",
    "text",
    "html",
    "audience",
    "audience_value",
    "audience_ids",
)


def _newsletter_clean(newsletter: Newsletter) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("subject", "text", "html"):
        if unknown := merge_fields_unknown(getattr(newsletter, name), MERGE_FIELDS):
            known = ", ".join("{{ " + f + " }}" for f in MERGE_FIELDS)
            errors.setdefault(name, []).append(
                f"Unknown merge field {', '.join(unknown)}; use {known}"
            )
    if "\n" in newsletter.subject or "\r" in newsletter.subject:
        errors.setdefault("subject", []).append("One line only.")
    if newsletter.audience in (Audience.LIFECYCLE, Audience.JOURNEY_STEP):
        if not newsletter.audience_value.strip():
            errors["audience_value"] = ["Say which stage or step."]
        elif newsletter.audience == Audience.JOURNEY_STEP and not (
            newsletter.audience_value.isdigit()
        ):
            errors["audience_value"] = ["A journey step's id."]
    if newsletter.audience == Audience.PEOPLE:
        ids = newsletter.audience_ids
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            errors["audience_ids"] = ["A list of people's ids."]
    if errors:
        raise ValidationError(errors)
    newsletter.full_clean()


def newsletter_create(
    *,
    name: str,
    subject: str,
    text: str,
    html: str = "",
    audience: str = Audience.CONSENTED,
    audience_value: str = "",
    audience_ids: list[int] | None = None,
    actor: User | None,
) -> Newsletter:
    newsletter = Newsletter(
        name=name.strip() or subject.strip(),
        subject=subject.strip(),
        text=text,
        html=html,
        audience=audience,
        audience_value=audience_value.strip(),
        audience_ids=list(audience_ids or []),
        created_by=actor,
    )
    _newsletter_clean(newsletter)
    with transaction.atomic():
        newsletter.save()
        audit_record(actor=actor, action="newsletter.create", obj=newsletter)
    return newsletter


def newsletter_update(
    *, newsletter: Newsletter, changes: dict[str, Any], actor: User | None
) -> Newsletter:
    """Change a draft; a queued or sent one is as it was sent."""
    if unknown := set(changes) - set(NEWSLETTER_FIELDS):
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        newsletter = Newsletter.objects.select_for_update().get(pk=newsletter.pk)
        if newsletter.status != NewsletterStatus.DRAFT:
            raise ValidationError("This email has been sent; make a copy to change it.")
        for name, value in changes.items():
            setattr(newsletter, name, value.strip() if name == "subject" else value)
        _newsletter_clean(newsletter)
        newsletter.updated_at = clock.now()
        newsletter.save()
        audit_record(
            actor=actor, action="newsletter.update", obj=newsletter, data={"fields": [*changes]}
        )
    return newsletter


def newsletter_copy(*, newsletter: Newsletter, actor: User | None) -> Newsletter:
    return newsletter_create(
        name=f"{newsletter.name} (copy)",
        subject=newsletter.subject,
        text=newsletter.text,
        html=newsletter.html,
        audience=newsletter.audience,
        audience_value=newsletter.audience_value,
        audience_ids=list(newsletter.audience_ids),
        actor=actor,
    )


def _queue_deliver(newsletter_id: int, *, run_after: dt.datetime | None = None) -> None:
    from leadline.outreach.tasks import newsletter_deliver_task

    def enqueue() -> None:
        task = (
            newsletter_deliver_task.using(run_after=run_after)
            if run_after
            else (newsletter_deliver_task)
        )
        task.enqueue(newsletter_id)

    transaction.on_commit(enqueue, robust=True)


def newsletter_send(*, newsletter: Newsletter, actor: User | None) -> Newsletter:
    """Queue a draft for sending. The worker (`newsletter_deliver`) picks the audience and sends
    to each person through the contact gate (purpose marketing)."""
    with transaction.atomic():
        newsletter = Newsletter.objects.select_for_update().get(pk=newsletter.pk)
        if newsletter.status != NewsletterStatus.DRAFT:
            raise ValidationError("This email is already sent or on its way.")
        _newsletter_clean(newsletter)
        newsletter.status = NewsletterStatus.QUEUED
        newsletter.queued_at = clock.now()
        newsletter.queued_by = actor
        newsletter.save(update_fields=["status", "queued_at", "queued_by"])
        audit_record(actor=actor, action="newsletter.send", obj=newsletter)
        _queue_deliver(newsletter.pk)
    return newsletter


def _marketing_consented() -> QuerySet[Person]:
    latest = Consent.objects.filter(person=OuterRef("pk"), purpose=MARKETING_CONSENT).order_by(
        "-captured_at", "-pk"
    )
    return Person.objects.annotate(consent=Subquery(latest.values("granted")[:1])).filter(
        consent=True
    )


def newsletter_audience(*, newsletter: Newsletter) -> QuerySet[Person]:
    """Who the email is for, as it stands now. Lifecycle stages are read from the timeline
    ("lifecycle.changed", written by engagement, which outreach must not import)."""
    people = Person.objects.filter(merged_into__isnull=True)
    if newsletter.audience == Audience.CONSENTED:
        people = people.filter(pk__in=_marketing_consented().values("pk"))
    elif newsletter.audience == Audience.LIFECYCLE:
        latest = TimelineEvent.objects.filter(
            person=OuterRef("pk"), kind="lifecycle.changed"
        ).order_by("-occurred_at", "-pk")
        people = people.annotate(
            stage=Subquery(latest.annotate(to=KT("data__to")).values("to")[:1])
        ).filter(stage=newsletter.audience_value)
    elif newsletter.audience == Audience.JOURNEY_STEP:
        step = int(newsletter.audience_value) if newsletter.audience_value.isdigit() else 0
        people = people.filter(
            Exists(JourneyPosition.objects.filter(person=OuterRef("pk"), step_id=step))
        )
    else:
        people = people.filter(pk__in=[int(i) for i in newsletter.audience_ids])
    return people.order_by("pk")


def _recipients_make(newsletter: Newsletter) -> int:
    ids = list(newsletter_audience(newsletter=newsletter).values_list("pk", flat=True))
    for start in range(0, len(ids), 1000):
        NewsletterRecipient.objects.bulk_create(
            [
                NewsletterRecipient(newsletter=newsletter, person_id=pk)
                for pk in ids[start : start + 1000]
            ],
            ignore_conflicts=True,
        )
    return len(ids)


def _recipient_send(recipient_id: int) -> None:
    now = clock.now()
    with transaction.atomic():
        recipient = (
            NewsletterRecipient.objects.select_for_update()
            .select_related("person", "newsletter")
            .get(pk=recipient_id)
        )
        if recipient.status != RecipientStatus.WAITING:
            return
        newsletter, person = recipient.newsletter, recipient.person
        address = person_email(person)
        try:
            with transaction.atomic():
                verdict = contact_reserve(
                    person=person,
                    channel=ContactChannel.EMAIL,
                    purpose=ContactPurpose.MARKETING,
                    source="newsletter",
                    ref=f"newsletter:{newsletter.pk}:{person.pk}",
                    at=now,
                )
                if verdict.allowed and address:
                    subject, text, body = newsletter_render(newsletter=newsletter, person=person)
                    recipient.mail = mail_send(
                        to=[address],
                        subject=subject,
                        text=text,
                        html=body or None,
                        headers=mail_unsubscribe_headers(person=person),
                        reason=NEWSLETTER_REASON,
                        person=person,
                        subject_ref=f"newsletter:{newsletter.pk}",
                    )
        except ValidationError:
            verdict = Verdict(
                allowed=False,
                reason=f"Not an email address we can send to: {address}",
                code="no_address",
                next_allowed_at=None,
            )
        recipient.decided_at = now
        recipient.code, recipient.reason = verdict.code, verdict.reason[:300]
        if verdict.allowed:
            recipient.status = RecipientStatus.SENT
            timeline_record(
                kind="newsletter.sent",
                summary=f"Sent the marketing email “{newsletter.subject}”",
                person=person,
                data={"newsletter_id": newsletter.pk, "mail_id": recipient.mail_id},
            )
        elif verdict.code == "quiet_hours" and verdict.next_allowed_at is not None:
            recipient.next_try_at = verdict.next_allowed_at  # stays waiting
        else:
            recipient.status = RecipientStatus.HELD
        recipient.save()


def newsletter_deliver(*, newsletter_id: int) -> Newsletter | None:
    """The worker's side of a send: pick the audience (once), then send to every waiting
    recipient that is due, each in its own transaction through the contact gate. Those in
    their quiet hours wait: the task is queued again for when the first of them may get it."""
    with transaction.atomic():
        newsletter = Newsletter.objects.select_for_update().filter(pk=newsletter_id).first()
        if newsletter is None or newsletter.status in (
            NewsletterStatus.DRAFT,
            NewsletterStatus.SENT,
        ):
            return newsletter
        if newsletter.status == NewsletterStatus.QUEUED:
            _recipients_make(newsletter)
            newsletter.status = NewsletterStatus.SENDING
            newsletter.save(update_fields=["status"])
    waiting = NewsletterRecipient.objects.filter(
        newsletter_id=newsletter_id, status=RecipientStatus.WAITING
    )
    while True:
        now = clock.now()
        due = list(
            waiting.filter(next_try_at__isnull=True).values_list("pk", flat=True)[:NEWSLETTER_BATCH]
        ) or list(
            waiting.filter(next_try_at__lte=now).values_list("pk", flat=True)[:NEWSLETTER_BATCH]
        )
        if not due:
            break
        for pk in due:
            _recipient_send(pk)
    with transaction.atomic():
        newsletter = Newsletter.objects.select_for_update().get(pk=newsletter_id)
        later = waiting.order_by("next_try_at").values_list("next_try_at", flat=True).first()
        if later is not None:
            _queue_deliver(newsletter_id, run_after=later)
        elif newsletter.status != NewsletterStatus.SENT:
            newsletter.status = NewsletterStatus.SENT
            newsletter.finished_at = clock.now()
            newsletter.save(update_fields=["status", "finished_at"])
    return newsletter


def newsletters_resume() -> int:
    """The sweep's safety net: a send whose task was lost (queueing failed, the worker died)
    is queued again when it has waiting recipients that are due, or has not started. Two tasks
    on one send are harmless: each recipient is taken under a lock."""
    now = clock.now()
    old = now - dt.timedelta(minutes=5)
    stuck = Newsletter.objects.filter(status=NewsletterStatus.QUEUED, queued_at__lt=old)
    due = NewsletterRecipient.objects.filter(
        Q(next_try_at__isnull=True, newsletter__queued_at__lt=old) | Q(next_try_at__lt=old),
        newsletter__status=NewsletterStatus.SENDING,
        status=RecipientStatus.WAITING,
    )
    ids = sorted(
        {*stuck.values_list("pk", flat=True), *due.values_list("newsletter_id", flat=True)}
    )
    with transaction.atomic():
        for pk in ids:
            _queue_deliver(pk)
    return len(ids)
