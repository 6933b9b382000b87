"""Writes for commitments: make a promise, keep it (on time or late), cancel it, and the worker's
side: remind the one who promised, and break what was not kept by its due time.

Each write is one transaction with its timeline row; reminders and breaks are `CommitmentTimer`
rows the worker fires when the project clock reaches them (`commitment_timers_fire_due`, called
by `leadline worker` beside routing's timers). Mail and inbox items go out through notify, which
queues the sending on commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leadline.commitments.models import (
    Commitment,
    CommitmentStatus,
    CommitmentStep,
    CommitmentTimer,
)
from leadline.core import clock
from leadline.core.deadlines import due_ids, due_row_locked
from leadline.core.models import Person, User
from leadline.core.selectors import assignable_check
from leadline.core.services import timeline_record
from leadline.journeys.conversations import conversation_log
from leadline.journeys.models import Conversation
from leadline.notify.services import Note, notify_users
from leadline.routing.business_hours import WorkingHours
from leadline.routing.services import team_hours, team_manager

WHAT_MAX_CHARS = 300
REASON_MAX_CHARS = 300
# "End of the day" a promise is due by, in the promiser's time zone.
END_OF_DAY = dt.time(23, 59, 59)
# How far back to look for "the business day before" (a long closure skips the reminder).
DAY_BEFORE_SEARCH = 21


@dataclasses.dataclass(frozen=True)
class Promise:
    """A promise as a form or the API gives it: what, and a due date (end of that day in the
    promiser's time zone) or a due moment."""

    what: str
    due_on: dt.date | None = None
    due_at: dt.datetime | None = None


# Time -------------------------------------------------------------------------------------------


def user_zone(user: User) -> zoneinfo.ZoneInfo:
    """The user's own time zone, else their team's, else UTC (a name typed wrong is skipped)."""
    for name in (user.time_zone, user.team.time_zone if user.team else ""):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def due_at_for(*, promised_by: User, due_on: dt.date) -> dt.datetime:
    """A due date as a moment: the end of that day where the one who promised works."""
    zone = user_zone(promised_by)
    return dt.datetime.combine(due_on, END_OF_DAY, tzinfo=zone).astimezone(dt.UTC)


def promiser_hours(user: User) -> WorkingHours:
    """When the promiser works: their team's business hours, else an office week in their zone."""
    if user.team is not None:
        try:
            return team_hours(user.team)
        except ValueError:  # hours typed wrong: fall back rather than lose the reminders
            pass
    return WorkingHours(time_zone=str(user_zone(user)))


def _opening_on(hours: WorkingHours, day: dt.date) -> dt.datetime | None:
    """When the team opens on `day` (its local date), or None when it is closed that day."""
    zone = zoneinfo.ZoneInfo(hours.time_zone)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    opening = hours.next_open(midnight)
    return opening if opening.astimezone(zone).date() == day else None


def reminder_times(
    *, hours: WorkingHours, due_at: dt.datetime, made_at: dt.datetime
) -> list[tuple[str, dt.datetime]]:
    """The reminders of a promise due at `due_at`: at the opening of the business day before
    the due date, and at the opening of the due date when that is a business day and opens
    before the due time. Only those still to come after `made_at`."""
    zone = zoneinfo.ZoneInfo(hours.time_zone)
    due_day = due_at.astimezone(zone).date()
    found: list[tuple[str, dt.datetime]] = []
    for back in range(1, DAY_BEFORE_SEARCH + 1):
        opening = _opening_on(hours, due_day - dt.timedelta(days=back))
        if opening is not None:
            if opening > made_at:
                found.append((CommitmentStep.REMIND_DAY_BEFORE, opening))
            break
    morning = _opening_on(hours, due_day)
    if morning is not None and made_at < morning < due_at:
        found.append((CommitmentStep.REMIND_MORNING, morning))
    return found


def local_words(moment: dt.datetime, user: User | None) -> str:
    """A moment as `user` reads it ("Fri 27 Nov 23:59 CET"); in UTC without a user."""
    zone = user_zone(user) if user is not None else dt.UTC
    local = timezone.localtime(moment, zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def due_words(commitment: Commitment, user: User | None = None) -> str:
    """The due time in words, for the promiser unless another reader is named."""
    reader = user or commitment.promised_by
    zone = user_zone(reader)
    local = timezone.localtime(commitment.due_at, zone)
    if local.time() == END_OF_DAY:
        return f"by the end of {local:%a %d %b}"
    return f"by {local:%a %d %b %H:%M} {local.tzname()}"


def _person_link(person_id: int) -> str:
    return reverse("web:person", args=[person_id]) + "#commitments"


def _ref(commitment: Commitment) -> str:
    return f"commitment:{commitment.pk}"


# Making promises ----------------------------------------------------------------------------------


def _checked(*, promised_by: User, promise: Promise, at: dt.datetime) -> tuple[str, dt.datetime]:
    what = " ".join(promise.what.split())
    if not what:
        raise ValidationError({"what": "Say what was promised."})
    if len(what) > WHAT_MAX_CHARS:
        raise ValidationError({"what": f"At most {WHAT_MAX_CHARS} characters."})
    if (promise.due_on is None) == (promise.due_at is None):
        raise ValidationError({"due": "Give a due date or a due time (one of them)."})
    if promise.due_at is not None:
        if timezone.is_naive(promise.due_at):
            raise ValidationError({"due_at": "Give the due time with a time zone."})
        due_at = promise.due_at.astimezone(dt.UTC)
        field = "due_at"
    else:
        assert promise.due_on is not None
        due_at = due_at_for(promised_by=promised_by, due_on=promise.due_on)
        field = "due_on"
    if due_at <= at:
        raise ValidationError({field: "That is already past: a promise is due later."})
    return what, due_at


def _made(
    *,
    person: Person,
    promised_by: User,
    what: str,
    due_at: dt.datetime,
    conversation: Conversation | None,
    note: str,
    actor: User | None,
    at: dt.datetime,
) -> Commitment:
    commitment = Commitment.objects.create(
        person=person,
        conversation=conversation,
        promised_by=promised_by,
        what=what,
        due_at=due_at,
        made_at=at,
        made_by=actor,
        note=note.strip(),
    )
    steps = [
        *reminder_times(hours=promiser_hours(promised_by), due_at=due_at, made_at=at),
        (CommitmentStep.DUE, due_at),
    ]
    CommitmentTimer.objects.bulk_create(
        CommitmentTimer(commitment=commitment, step=step, due_at=when) for step, when in steps
    )
    timeline_record(
        kind="commitment.made",
        summary=f"{promised_by} promised: {what} ({due_words(commitment)})",
        person=person,
        actor=actor,
        occurred_at=at,
        data={
            "commitment_id": commitment.pk,
            "promised_by_id": promised_by.pk,
            "due_at": due_at.isoformat(),
            "conversation_id": conversation.pk if conversation is not None else None,
        },
    )
    return commitment


def commitment_make(
    *,
    person: Person,
    promised_by: User,
    what: str,
    due_on: dt.date | None = None,
    due_at: dt.datetime | None = None,
    conversation: Conversation | None = None,
    note: str = "",
    actor: User | None = None,
) -> Commitment:
    """Record a promise to `person`: what, and by when (a date: the end of that day in the
    promiser's time zone; or a moment). Plans its reminders and its due time for the worker.
    Raises ValidationError naming the field that is wrong."""
    at = clock.now()
    assignable_check(promised_by, field="promised_by", at=at)
    what, due = _checked(
        promised_by=promised_by, promise=Promise(what=what, due_on=due_on, due_at=due_at), at=at
    )
    with transaction.atomic():
        return _made(
            person=person,
            promised_by=promised_by,
            what=what,
            due_at=due,
            conversation=conversation,
            note=note,
            actor=actor or promised_by,
            at=at,
        )


def commitments_record(
    *,
    conversation: Conversation,
    person: Person,
    promised_by: User,
    promises: Sequence[Promise],
    actor: User | None = None,
) -> list[Commitment]:
    """The promises made in a conversation, all or none (ValidationError names the first wrong
    field, as "<n>.<field>" counting from 1)."""
    at = clock.now()
    assignable_check(promised_by, field="promised_by", at=at)
    checked = []
    for n, promise in enumerate(promises, start=1):
        try:
            checked.append(_checked(promised_by=promised_by, promise=promise, at=at))
        except ValidationError as exc:
            raise ValidationError(
                {f"{n}.{name}": problems for name, problems in exc.message_dict.items()}
            ) from exc
    with transaction.atomic():
        return [
            _made(
                person=person,
                promised_by=promised_by,
                what=what,
                due_at=due,
                conversation=conversation,
                note="",
                actor=actor or promised_by,
                at=at,
            )
            for what, due in checked
        ]


def conversation_log_with_commitments(
    *,
    promises: Sequence[Promise],
    promised_to: Person | None = None,
    **conversation: Any,
) -> tuple[Conversation, list[Commitment]]:
    """Log a conversation (journeys.conversations.conversation_log, same arguments) and the
    promises made in it, in one transaction: both or neither. The promises go to `promised_to`
    when they took part, else to the first person named; the one logging it made them.

    Without promises it is conversation_log alone (whose slow matching then runs outside the
    write transaction)."""
    if not promises:
        return conversation_log(**conversation), []
    promised_by = conversation.get("logged_by")
    if promised_by is None:
        raise ValidationError({"promises": "Say who made the promises (log it as a user)."})
    people = list(conversation.get("people") or ())
    person = promised_to if promised_to in people else (people[0] if people else None)
    with transaction.atomic():
        logged = conversation_log(**conversation)
        if person is None:  # conversation_log refuses a conversation without people first
            raise ValidationError({"promises": "A promise is made to someone who took part."})
        made = commitments_record(
            conversation=logged,
            person=person,
            promised_by=promised_by,
            promises=promises,
            actor=promised_by,
        )
    return logged, made


# Keeping and cancelling ---------------------------------------------------------------------------


def _locked(commitment: Commitment) -> Commitment:
    return (
        Commitment.objects.select_for_update(of=("self",))
        .select_related("person", "promised_by__team")
        .get(pk=commitment.pk)
    )


def _timers_close(commitment: Commitment, *, at: dt.datetime, outcome: str) -> None:
    CommitmentTimer.objects.filter(commitment=commitment, done_at__isnull=True).update(
        done_at=at, outcome=outcome
    )


def _copy(target: Commitment, source: Commitment) -> Commitment:
    for field in target._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    return target


def commitment_keep(
    *, commitment: Commitment, actor: User | None, note: str = "", at: dt.datetime | None = None
) -> Commitment:
    """Mark a promise kept: on time when kept by its due time, late after it (a broken promise
    can still be kept, late). Its waiting reminders are dropped. Keeping it again changes
    nothing; a cancelled one cannot be kept (ValidationError)."""
    at = at or clock.now()
    with transaction.atomic():
        row = _locked(commitment)
        if row.status == CommitmentStatus.KEPT:
            return _copy(commitment, row)
        if row.status == CommitmentStatus.CANCELLED:
            raise ValidationError({"status": "It was cancelled: a cancelled promise is not kept."})
        row.status, row.kept_at = CommitmentStatus.KEPT, at
        late = at > row.due_at
        if late and row.broken_at is None:
            row.broken_at = row.due_at  # it passed its due time unkept, whoever noticed first
        if note.strip():
            row.note = "\n".join(part for part in (row.note, note.strip()) if part)
        row.save(update_fields=["status", "kept_at", "broken_at", "note"])
        _timers_close(row, at=at, outcome="not needed: kept")
        how = f"late (it was due {due_words(row)})" if late else "on time"
        timeline_record(
            kind="commitment.kept",
            summary=f"Promise kept {how}: {row.what}",
            person=row.person,
            actor=actor,
            occurred_at=at,
            data={
                "commitment_id": row.pk,
                "on_time": not late,
                "promised_by_id": row.promised_by_id,
            },
        )
    return _copy(commitment, row)


def commitment_cancel(
    *, commitment: Commitment, actor: User | None, reason: str, at: dt.datetime | None = None
) -> Commitment:
    """Cancel a promise that no longer stands ("they bought elsewhere"), with the reason. A kept
    one cannot be cancelled (ValidationError); cancelling again changes nothing. A broken one
    stays counted as broken in the report."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why it no longer stands."})
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationError({"reason": f"At most {REASON_MAX_CHARS} characters."})
    at = at or clock.now()
    with transaction.atomic():
        row = _locked(commitment)
        if row.status == CommitmentStatus.CANCELLED:
            return _copy(commitment, row)
        if row.status == CommitmentStatus.KEPT:
            raise ValidationError({"status": "It was kept already: there is nothing to cancel."})
        row.status, row.cancelled_at, row.cancel_reason = CommitmentStatus.CANCELLED, at, reason
        row.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        _timers_close(row, at=at, outcome="not needed: cancelled")
        timeline_record(
            kind="commitment.cancelled",
            summary=f"Promise cancelled: {row.what} — {reason}",
            person=row.person,
            actor=actor,
            occurred_at=at,
            data={"commitment_id": row.pk, "reason": reason},
        )
    return _copy(commitment, row)


# The worker's side --------------------------------------------------------------------------------


def _remind(*, commitment: Commitment, step: str, at: dt.datetime) -> str:
    promiser = commitment.promised_by
    if not promiser.is_active:
        return "skipped: the one who promised is no longer active"
    when = "tomorrow" if step == CommitmentStep.REMIND_DAY_BEFORE else "today"
    if step == CommitmentStep.REMIND_DAY_BEFORE:
        zone = user_zone(promiser)
        days = (commitment.due_at.astimezone(zone).date() - at.astimezone(zone).date()).days
        when = "tomorrow" if days == 1 else "on the next working day"
    notify_users(
        notes=[
            Note(
                user=promiser,
                kind="commitment.reminder",
                title=f"Due {when}: {commitment.what} for {commitment.person}",
                body=(
                    f"You promised {commitment.person}: {commitment.what}, "
                    f"{due_words(commitment)}. Mark it kept on their page once it is done."
                ),
                link=_person_link(commitment.person_id),
                person=commitment.person,
                subject_ref=_ref(commitment),
            )
        ]
    )
    return f"reminded {promiser}"


def _break(*, commitment: Commitment, at: dt.datetime) -> str:
    promiser = commitment.promised_by
    commitment.status, commitment.broken_at = CommitmentStatus.BROKEN, commitment.due_at
    commitment.save(update_fields=["status", "broken_at"])
    manager = team_manager(promiser.team)
    told = [u for u in dict.fromkeys((promiser, manager)) if u is not None and u.is_active]
    due = due_words(commitment)
    notes = []
    for user in told:
        mine = user == promiser
        notes.append(
            Note(
                user=user,
                kind="commitment.broken",
                title=(
                    f"Promise not kept: {commitment.what} for {commitment.person}"
                    if mine
                    else f"{promiser} did not keep a promise to {commitment.person}"
                ),
                body=(
                    f"{'You' if mine else promiser} promised {commitment.person}: "
                    f"{commitment.what}, {due_words(commitment, user)}. It was not marked kept "
                    "in time. If it was done, mark it kept (late); if it no longer stands, "
                    "cancel it with the reason."
                ),
                link=_person_link(commitment.person_id),
                person=commitment.person,
                subject_ref=_ref(commitment),
            )
        )
    if notes:
        notify_users(notes=notes)
    names = " and ".join(str(u) for u in told) or "nobody (no active manager)"
    timeline_record(
        kind="commitment.broken",
        summary=f"Promise not kept {due}: {commitment.what} ({promiser}); told {names}",
        person=commitment.person,
        occurred_at=at,
        data={
            "commitment_id": commitment.pk,
            "promised_by_id": promiser.pk,
            "told": [u.pk for u in told],
        },
    )
    return "broken; told " + ", ".join(str(u) for u in told)


def commitment_timer_fire(*, timer_id: int) -> CommitmentTimer | None:
    """Do one due reminder or break, once: the timer row is locked and marked done in the same
    transaction as its effects. None when there was nothing to do (not due, done, or another
    worker holds it)."""
    at = clock.now()
    with transaction.atomic():
        timer = due_row_locked(CommitmentTimer.objects.all(), pk=timer_id, at=at)
        if timer is None:
            return None
        commitment = (
            Commitment.objects.select_for_update(of=("self",))
            .select_related("person", "promised_by__team")
            .get(pk=timer.commitment_id)
        )
        if commitment.status != CommitmentStatus.OPEN:
            outcome = f"not needed: {commitment.get_status_display().lower()}"
        elif timer.step == CommitmentStep.DUE:
            outcome = _break(commitment=commitment, at=at)
        elif at >= commitment.due_at:
            outcome = "skipped: the due time has passed (the clock jumped)"
        else:
            outcome = _remind(commitment=commitment, step=timer.step, at=at)
        timer.done_at, timer.outcome = at, outcome[:300]
        timer.save(update_fields=["done_at", "outcome"])
    return timer


def commitment_timers_fire_due(*, limit: int = 200) -> int:
    """Do every reminder and break that is due now, oldest first, at most `limit`; how many."""
    ids = due_ids(CommitmentTimer.objects.filter(done_at__isnull=True), limit=limit)
    return sum(commitment_timer_fire(timer_id=pk) is not None for pk in ids)
