"""Writes for the prospect's view: ask for a rating after a held meeting or a connected call,
record the answer, and record a stop (unsubscribe, do-not-contact) as a signal.

`rating_ask` is reached through settings handlers (booking's BOOKING_MEETING_HELD_HANDLERS,
calls' CALLS_OUTCOME_HANDLERS) in the caller's transaction; the mail goes on commit
(notify.mail_send). At most one ask per person per calendar month (UTC); the outreach gate
(contact_reserve, purpose marketing: any unsubscribe, a withdrawn consent, do-not-contact, no
address, the weekly cap, quiet hours) decides whether it may go. An ask that may not go is kept
as skipped with its reason, so the report can say how many were not asked and why. Quiet hours
where they are hold the ask back instead: it is reserved for the moment they end (when that is
within RATING_HOLD_HOURS), waits, and `rating_asks_send_due` (a worker sweep) sends it then.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from leadline.booking.models import Meeting
from leadline.calls.models import CallTask, Outcome
from leadline.core import clock
from leadline.core.models import Person, User
from leadline.core.selectors import person_email
from leadline.core.services import audit_record, timeline_record
from leadline.feedback.links import rating_url
from leadline.feedback.models import AskStatus, RatingAsk, RatingChannel, SkipReason, StopSignal
from leadline.feedback.selectors import last_touch
from leadline.notify.services import mail_send
from leadline.outreach.models import ContactPurpose
from leadline.outreach.selectors import Verdict, contact_check
from leadline.outreach.services import (
    contact_release,
    contact_reserve,
    mail_unsubscribe_headers,
    unsubscribe_url,
)

__all__ = [
    "call_task_logged",
    "meeting_held",
    "rating_answer",
    "rating_ask",
    "rating_asks_send_due",
    "stop_signal_record",
]

MAIL_REASON = "feedback.rating"
CALL_OUTCOMES_ASKED = (Outcome.CONNECTED, Outcome.APPOINTMENT_SET)
# Clicks on different scores closer together than this look like a mail scanner following
# every link (decision 0024): the answer waits for a click that comes later.
SCAN_WINDOW = dt.timedelta(seconds=20)
# The gate's refusals that no waiting makes right: a waiting ask they reach is not sent.
NEVER = (
    SkipReason.DO_NOT_CONTACT,
    SkipReason.NO_ADDRESS,
    SkipReason.UNSUBSCRIBED,
    SkipReason.NO_CONSENT,
)


def _month_start(at: dt.datetime) -> dt.datetime:
    utc = at.astimezone(dt.UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _rep_name(user: User | None) -> str:
    if user is None:
        return "us"
    return user.first_name or user.get_full_name() or user.username


def _mail(ask: RatingAsk, to: str) -> None:
    person = ask.person
    rep = _rep_name(ask.user)
    kind = "meeting" if ask.channel == RatingChannel.MEETING else "call"
    question = f"Was this conversation with {rep} useful to you?"
    urls = [(n, rating_url(ask.pk, n)) for n in range(1, 6)]
    unsubscribe = unsubscribe_url(person=person, purpose=ContactPurpose.MARKETING)
    hello = f"Hello {person.first_name}," if person.first_name else "Hello,"
    text = (
        f"{hello}\n\nThank you for your time on the {kind} with {rep}.\n\n{question}\n"
        "One click is enough (1 = not at all, 5 = very useful):\n\n"
        + "".join(f"  {n}: {url}\n" for n, url in urls)
        + "\nYou may add a comment on the page that opens. Thank you.\n"
        f"\n--\nYou get this email because you are in touch with us.\n"
        f"Unsubscribe (one click, no questions asked): {unsubscribe}\n"
    )
    buttons = "".join(
        f'<a href="{html_lib.escape(url)}" style="display:inline-block;min-width:2.5em;'
        "padding:.6em .8em;margin:0 .25em;border:1px solid #cbd5e1;border-radius:6px;"
        f'text-align:center;text-decoration:none;color:#0f172a;font-weight:600">{n}</a>'
        for n, url in urls
    )
    html = (
        f"<p>{html_lib.escape(hello)}</p>"
        f"<p>Thank you for your time on the {kind} with {html_lib.escape(rep)}.</p>"
        f'<p style="font-size:18px"><strong>{html_lib.escape(question)}</strong></p>'
        f"<p>{buttons}</p>"
        '<p style="color:#475569">1 = not at all, 5 = very useful. One click is enough; you may '
        "add a comment on the page that opens.</p>"
        '<p style="margin-top:2em;font-size:12px;color:#6b7280">You get this email because you '
        f'are in touch with us. <a href="{html_lib.escape(unsubscribe)}">Unsubscribe</a></p>'
    )
    mail = mail_send(
        to=[to],
        subject=question,
        text=text,
        html=html,
        headers=mail_unsubscribe_headers(person=person, purpose=ContactPurpose.MARKETING),
        reason=MAIL_REASON,
        person=person,
        subject_ref=f"rating_ask:{ask.pk}",
    )
    RatingAsk.objects.filter(pk=ask.pk).update(mail_id=mail.pk)
    ask.mail_id = mail.pk


def _reserve(
    *, person: Person, source_ref: str, now: dt.datetime
) -> tuple[str, dt.datetime | None]:
    """Through the outreach gate: ("", None) to send now; ("", when) to send when quiet hours
    end (reserved for then); (reason, None) not to ask."""

    def reserve(at: dt.datetime) -> Verdict:
        return contact_reserve(
            person=person,
            channel="email",
            purpose=ContactPurpose.MARKETING,
            source="rating_ask",
            ref=source_ref,
            at=at,
        )

    verdict = reserve(now)
    if verdict.allowed:
        return "", None
    hold = dt.timedelta(hours=settings.RATING_HOLD_HOURS)
    later = verdict.next_allowed_at
    if verdict.code == SkipReason.QUIET_HOURS and later is not None and later - now <= hold:
        verdict = reserve(later)
        if verdict.allowed:
            return "", later
    return (verdict.code if verdict.code in SkipReason.values else SkipReason.CAP), None


def _asked_on_timeline(ask: RatingAsk, *, at: dt.datetime) -> None:
    timeline_record(
        kind="feedback.asked",
        summary=f"Asked how the {ask.channel} with {_rep_name(ask.user)} was (one question, 1–5)",
        person=ask.person,
        occurred_at=at,
        data={"ask_id": ask.pk, "source_ref": ask.source_ref, "mail_id": ask.mail_id},
    )


def rating_ask(
    *, channel: str, source_ref: str, person: Person, user: User | None
) -> RatingAsk | None:
    """Ask `person` how the conversation (`source_ref`) with `user` was: one mail, on commit; in
    their quiet hours an ask that waits until they end; or a skipped ask with its reason. None
    when this channel is not asked after (settings.RATING_AFTER). Asking twice for the same
    conversation returns the first ask. A waiting ask counts as this month's ask."""
    if channel not in RatingChannel.values:
        raise ValidationError({"channel": f"Unknown channel: {channel}"})
    if channel not in settings.RATING_AFTER:
        return None
    existing = RatingAsk.objects.filter(source_ref=source_ref).first()
    if existing is not None:
        return existing
    now = clock.now()
    team = user.team if user is not None and user.team_id else None
    with transaction.atomic():
        skip = ""
        send_at: dt.datetime | None = None
        asked = RatingAsk.objects.filter(
            Q(status=AskStatus.WAITING) | Q(status=AskStatus.SENT, asked_at__gte=_month_start(now)),
            person=person,
        ).exists()
        to = person_email(person)
        if asked:
            skip = SkipReason.ASKED_THIS_MONTH
        elif not to:
            skip = SkipReason.NO_ADDRESS
        else:
            skip, send_at = _reserve(person=person, source_ref=source_ref, now=now)
        status = AskStatus.SKIPPED if skip else AskStatus.WAITING if send_at else AskStatus.SENT
        try:
            with transaction.atomic():
                ask = RatingAsk.objects.create(
                    person=person,
                    user=user,
                    team=team,
                    channel=channel,
                    source_ref=source_ref,
                    asked_at=now,
                    status=status,
                    skip_reason=skip,
                    send_at=send_at,
                )
        except IntegrityError:  # the same conversation asked a moment ago
            return RatingAsk.objects.get(source_ref=source_ref)
        if skip:
            audit_record(
                actor=None,
                action="feedback.rating_skipped",
                obj=ask,
                data={"reason": skip, "source_ref": source_ref},
            )
            return ask
        if send_at is not None:
            audit_record(
                actor=None,
                action="feedback.rating_waiting",
                obj=ask,
                data={"send_at": send_at.isoformat(), "source_ref": source_ref},
            )
            return ask
        _mail(ask, to)
        _asked_on_timeline(ask, at=now)
    return ask


def _waiting_send(*, pk: int, now: dt.datetime) -> bool:
    """Send one waiting ask that is due (True), or skip it when a stop came meanwhile; False
    when there was nothing to do (another sweep took it, or it is not due)."""
    with transaction.atomic():
        # The claim: only one sweep moves it on from waiting.
        claimed = RatingAsk.objects.filter(
            pk=pk, status=AskStatus.WAITING, send_at__lte=now
        ).update(status=AskStatus.SENT, asked_at=now)
        if not claimed:
            return False
        ask = RatingAsk.objects.select_related("person", "user").get(pk=pk)
        verdict = contact_check(
            person=ask.person, channel="email", purpose=ContactPurpose.MARKETING, at=now
        )
        to = person_email(ask.person)
        reason = verdict.code if verdict.code in NEVER else "" if to else SkipReason.NO_ADDRESS
        if reason:
            RatingAsk.objects.filter(pk=pk).update(status=AskStatus.SKIPPED, skip_reason=reason)
            contact_release(ref=ask.source_ref, at=now)
            audit_record(
                actor=None,
                action="feedback.rating_skipped",
                obj=ask,
                data={"reason": reason, "source_ref": ask.source_ref, "was": "waiting"},
            )
            return False
        _mail(ask, to)
        _asked_on_timeline(ask, at=now)
    return True


def rating_asks_send_due(*, limit: int = 500) -> int:
    """The worker's sweep: send the waiting asks whose quiet hours have ended; how many went.
    Idempotent: an ask is sent once however many sweeps run (each claims it from waiting)."""
    now = clock.now()
    due = list(
        RatingAsk.objects.filter(status=AskStatus.WAITING, send_at__lte=now)
        .order_by("send_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(_waiting_send(pk=pk, now=now) for pk in due)


def meeting_held(*, meeting: Meeting) -> None:
    """settings.BOOKING_MEETING_HELD_HANDLERS: a held meeting is a conversation to ask about."""
    rating_ask(
        channel=RatingChannel.MEETING,
        source_ref=f"meeting:{meeting.pk}",
        person=meeting.person,
        user=meeting.host,
    )


def call_task_logged(*, task: CallTask) -> None:
    """settings.CALLS_OUTCOME_HANDLERS: a call that reached them is a conversation to ask about."""
    if task.outcome not in CALL_OUTCOMES_ASKED:
        return
    user = task.done_by or task.assignee
    rating_ask(
        channel=RatingChannel.CALL,
        source_ref=f"call_task:{task.pk}",
        person=task.person,
        user=user,
    )


def rating_answer(
    *, ask: RatingAsk, score: int, comment: str | None = None, at: dt.datetime | None = None
) -> RatingAsk:
    """The prospect's answer (a click on a rating link; a comment from the thank-you page). A
    later click changes the score; the same score again changes nothing. `comment` None leaves
    the comment as it is. Clicks on different scores within SCAN_WINDOW of each other are taken
    for a mail scanner: the score is cleared until a later click (decision 0024)."""
    if not 1 <= score <= 5:
        raise ValidationError({"score": "A score is 1 to 5."})
    now = at or clock.now()
    with transaction.atomic():
        ask = (
            RatingAsk.objects.select_for_update(of=("self",))
            .select_related("person", "user")
            .get(pk=ask.pk)
        )
        if ask.status != AskStatus.SENT:
            raise ValidationError("This ask was not sent.")
        new_comment = ask.comment if comment is None else comment.strip()[:4000]
        if comment is None:
            burst = ask.clicked_at is not None and now - ask.clicked_at < SCAN_WINDOW
            different = ask.score != score
            ask.clicked_at = now
            if burst and (different or ask.scan_suspected):
                ask.scan_suspected = True
                ask.score = None
                ask.answered_at = None
                ask.save(update_fields=["clicked_at", "scan_suspected", "score", "answered_at"])
                return ask
            ask.scan_suspected = False
        if ask.score == score and ask.comment == new_comment:
            ask.save(update_fields=["clicked_at", "scan_suspected"])
            return ask
        before = ask.score
        ask.score = score
        ask.comment = new_comment
        ask.answered_at = now
        ask.save(update_fields=["score", "comment", "answered_at", "clicked_at", "scan_suspected"])
        what = "meeting" if ask.channel == RatingChannel.MEETING else "call"
        quote = f": ‘{ask.comment}’" if ask.comment else ""
        timeline_record(
            kind="feedback.rated",
            summary=f"Rated the {what} with {_rep_name(ask.user)} {score}/5{quote}",
            person=ask.person,
            occurred_at=now,
            data={"ask_id": ask.pk, "score": score, "before": before},
        )
        audit_record(
            actor=None,
            action="feedback.rating_answer",
            obj=ask,
            data={"score": score, "before": before, "comment": bool(ask.comment)},
        )
    return ask


def stop_signal_record(*, person: Person, reason: str, channel: str) -> StopSignal:
    """settings.OUTREACH_STOP_HANDLERS: the person unsubscribed or was marked do-not-contact; put
    it against the user, team and channel of their last touch or conversation before it."""
    now = clock.now()
    touch = last_touch(person=person, before=now)
    user = touch.user if touch is not None else None
    return StopSignal.objects.create(
        person=person,
        reason=reason[:20],
        stop_channel=channel[:10],
        at=now,
        user=user,
        team=user.team if user is not None and user.team_id else None,
        channel=touch.channel if touch is not None else "",
        last_touch_ref=touch.ref if touch is not None else "",
    )
