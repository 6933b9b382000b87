"""Cadences: editing them, enrolling people, running their steps, taking people out.

The engine: an active enrolment's `next_run_at` is a deadline row. The worker's cadence loop
(cli._deadlines_forever → enrolments_run_due) runs each due step in its own transaction: it first
checks whether the person should leave (a reply, a meeting, an unsubscribe, a bounce since they
were enrolled; another owner; another journey step), then waits for the person's business hours,
then asks outreach whether the touch may happen now (contact_reserve) and does it. Waits and
branches are resolved when the step before them is done, so `current_step` is always an email,
call or manual step and the person card can say what comes next and when.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils.html import escape

from leadline.cadences.models import (
    ACTION_KINDS,
    STOP_WORDS,
    Cadence,
    CadenceStep,
    Enrolment,
    EnrolmentLog,
    EnrolmentSource,
    EnrolmentStatus,
    ManualTask,
    Purpose,
    RuleKind,
    StepKind,
    StopReason,
    TaskStatus,
    Waiting,
)
from leadline.cadences.selectors import enrolments_waiting, person_owner, person_zone
from leadline.calls.models import CallTask, Outcome
from leadline.calls.services import call_task_create, call_tasks_cancel
from leadline.capture.models import Request, RequestKind, RequestStatus
from leadline.core import clock
from leadline.core.deadlines import due_ids
from leadline.core.models import Person, PersonPhone, TimelineEvent, User
from leadline.core.selectors import (
    assignable_check,
    person_account,
    person_email,
    unassignable_because,
)
from leadline.core.services import audit_record, timeline_record
from leadline.engagement.models import PersonLifecycle, Stage
from leadline.journeys.models import JourneyPosition, JourneyStep
from leadline.notify.merge import merge_fields_unknown, merge_render
from leadline.notify.services import mail_send
from leadline.outreach.selectors import Verdict, contact_check
from leadline.outreach.services import (
    contact_reserve,
    mail_unsubscribe_headers,
    unsubscribe_url,
)
from leadline.routing.business_hours import WorkingHours

# Timeline kinds (written by other areas) that end every enrolment that began before them.
EXIT_KINDS: dict[str, str] = {
    "mail.replied": StopReason.REPLIED,
    "meeting.booked": StopReason.MEETING_BOOKED,
    "contact.unsubscribed": StopReason.UNSUBSCRIBED,
    "mail.bounced": StopReason.BOUNCED,
}

# What outreach's refusals mean for an enrolment: these end it; any other code postpones.
REFUSAL_STOPS: dict[str, str] = {
    "do_not_contact": StopReason.DO_NOT_CONTACT,
    "unsubscribed": StopReason.UNSUBSCRIBED,
    "no_consent": StopReason.DO_NOT_CONTACT,
    "no_address": StopReason.NO_ADDRESS,
}

MERGE_FIELDS = ("first_name", "company", "owner_name")
MERGE_FALLBACKS = {"first_name": "there", "company": "your company", "owner_name": "The team"}

MAIL_REASON = "cadence.email"
# How long a step waits while the person's owner has left (see _held_for_leaver).
LEAVER_HOLD = dt.timedelta(days=1)


class EnrolmentRefused(ValidationError):
    """The person cannot be enrolled; the message says why, in plain words."""


# Reading what the engine needs --------------------------------------------------------------------


def enrolment_ref(enrolment_id: int) -> str:
    return f"enrolment:{enrolment_id}"


def enrolment_id_from_ref(ref: str) -> int | None:
    prefix, _, number = ref.partition(":")
    if prefix != "enrolment" or not number.isdigit():
        return None
    return int(number)


def journey_snapshot(person: Person) -> dict[str, int]:
    """{journey id: step id} for every journey the person is on."""
    rows = JourneyPosition.objects.filter(person=person).values_list("journey_id", "step_id")
    return {str(journey): step for journey, step in rows}


@functools.lru_cache(maxsize=128)
def office_hours(zone: str) -> WorkingHours:
    """Monday to Friday, 09:00-17:00 in `zone`: when a cadence may touch someone there."""
    return WorkingHours(time_zone=zone)


def person_hours(person: Person, owner: User | None) -> WorkingHours:
    return office_hours(person_zone(person, owner))


# Merge fields -------------------------------------------------------------------------------------


def merge_fields_check(text: str) -> list[str]:
    """What is wrong with the merge fields in `text`, in words (empty: nothing)."""
    problems = []
    if "{%" in text or "%}" in text:
        problems.append("Template tags ({% … %}) are not allowed; use {{ first_name }} and co.")
    allowed = ", ".join("{{ " + f + " }}" for f in MERGE_FIELDS)
    for name in merge_fields_unknown(text, MERGE_FIELDS):
        problems.append(f"Unknown merge field {{{{ {name} }}}}; use {allowed}.")
    return problems


def merge_values(person: Person, owner: User | None) -> dict[str, str]:
    owner_name = (owner.get_full_name() or owner.username) if owner is not None else ""
    account = person_account(person)
    values = {
        "first_name": person.first_name,
        "company": account.name if account is not None else "",
        "owner_name": owner_name,
    }
    return {
        name: " ".join(value.split()) or MERGE_FALLBACKS[name] for name, value in values.items()
    }


# Taking people out --------------------------------------------------------------------------------


def _log(enrolment: Enrolment, step: CadenceStep | None, action: str, text: str) -> None:
    EnrolmentLog.objects.create(
        enrolment=enrolment, step=step, at=clock.now(), action=action, text=text[:2000]
    )


def _exit_summary(cadence: Cadence, reason: str, actor: User | None) -> str:
    why = STOP_WORDS[StopReason(reason)]
    if reason == StopReason.BY_HAND and actor is not None:
        why = f"{actor.get_full_name() or actor.username} took them out"
    return f"Left cadence ‘{cadence.name}’ because {why}"


def _stop(
    enrolment: Enrolment,
    *,
    reason: str,
    detail: str,
    at: dt.datetime,
    actor: User | None,
) -> None:
    """Stop one locked, active enrolment: its open tasks are cancelled, the timeline says why."""
    enrolment.status = EnrolmentStatus.STOPPED
    enrolment.stopped_reason = reason
    enrolment.stopped_detail = detail
    enrolment.ended_at = at
    enrolment.next_run_at = None
    enrolment.waiting_on = Waiting.TIME
    enrolment.save(
        update_fields=[
            "status",
            "stopped_reason",
            "stopped_detail",
            "ended_at",
            "next_run_at",
            "waiting_on",
        ]
    )
    summary = _exit_summary(enrolment.cadence, reason, actor)
    ManualTask.objects.filter(enrolment=enrolment, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED
    )
    call_tasks_cancel(source_ref=enrolment.ref, reason=summary)
    _log(enrolment, enrolment.current_step, "stopped", summary + (f" ({detail})" if detail else ""))
    timeline_record(
        kind="cadence.exited",
        summary=summary + (f": {detail}" if detail else ""),
        person=enrolment.person,
        actor=actor,
        occurred_at=at,
        data={
            "reason": reason,
            "detail": detail,
            "enrolment_id": enrolment.pk,
            "cadence_id": enrolment.cadence_id,
        },
    )


def _reason_checked(reason: str) -> str:
    if reason not in StopReason.values:
        raise ValidationError(
            {"reason": f"Unknown reason {reason!r}; use one of {', '.join(StopReason.values)}."}
        )
    return reason


def enrolments_stop(
    *,
    person: Person,
    reason: str,
    detail: str = "",
    at: dt.datetime | None = None,
    actor: User | None = None,
) -> int:
    """Take the person out of every cadence they are active in. reason: "replied" |
    "meeting_booked" | "unsubscribed" | "bounced" | "owner_changed" | "journey_step_changed" |
    "by_hand" (and "do_not_contact", "no_address"). Cancels their open cadence call and manual
    tasks and records "cadence.exited" for each. Returns how many stopped; 0 when none."""
    reason = _reason_checked(reason)
    at = at or clock.now()
    with transaction.atomic():
        enrolments = list(
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("cadence", "person", "current_step")
            .filter(person=person, status=EnrolmentStatus.ACTIVE)
            .order_by("pk")
        )
        for enrolment in enrolments:
            _stop(enrolment, reason=reason, detail=detail.strip(), at=at, actor=actor)
    return len(enrolments)


def contact_stopped(*, person: Person, reason: str, channel: str) -> None:
    """settings.OUTREACH_STOP_HANDLERS: the person unsubscribed (they leave every cadence) or
    may not be contacted on `channel` (they leave the cadences that use it)."""
    if reason == "unsubscribed":
        enrolments_stop(person=person, reason=StopReason.UNSUBSCRIBED)
        return
    at = clock.now()
    kind = {"email": StepKind.EMAIL, "phone": StepKind.CALL}.get(channel)
    if kind is None:
        return
    enrolments = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("cadence", "person", "current_step")
        .filter(
            person=person,
            status=EnrolmentStatus.ACTIVE,
            cadence__in=CadenceStep.objects.filter(kind=kind).values("cadence_id"),
        )
        .order_by("pk")
    )
    for enrolment in enrolments:
        _stop(
            enrolment,
            reason=StopReason.DO_NOT_CONTACT,
            detail=f"do not contact by {channel}",
            at=at,
            actor=None,
        )


def enrolment_stop(
    *, enrolment: Enrolment, actor: User | None, reason: str = StopReason.BY_HAND, detail: str = ""
) -> bool:
    """Take a person out of one cadence (the stop button). False when it was no longer active."""
    reason = _reason_checked(reason)
    with transaction.atomic():
        locked = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("cadence", "person", "current_step")
            .filter(pk=enrolment.pk, status=EnrolmentStatus.ACTIVE)
            .first()
        )
        if locked is None:
            return False
        _stop(locked, reason=reason, detail=detail.strip(), at=clock.now(), actor=actor)
    return True


# Moving along the steps ---------------------------------------------------------------------------


def _finish(enrolment: Enrolment, *, at: dt.datetime, note: str = "") -> None:
    enrolment.status = EnrolmentStatus.FINISHED
    enrolment.ended_at = at
    enrolment.current_step = None
    enrolment.next_run_at = None
    enrolment.waiting_on = Waiting.TIME
    enrolment.save(
        update_fields=["status", "ended_at", "current_step", "next_run_at", "waiting_on"]
    )
    summary = f"Finished cadence ‘{enrolment.cadence.name}’" + (f" ({note})" if note else "")
    _log(enrolment, None, "finished", summary)
    timeline_record(
        kind="cadence.finished",
        summary=summary,
        person=enrolment.person,
        occurred_at=at,
        data={"enrolment_id": enrolment.pk, "cadence_id": enrolment.cadence_id},
    )


def _advance(
    enrolment: Enrolment, *, after: CadenceStep | None, at: dt.datetime, hours: WorkingHours
) -> None:
    """Move to the next email, call or manual step after `after` (None: the first), counting the
    waits on the way (business days in the person's hours) and following the branches (on the
    last call's outcome). No step left: the enrolment is finished."""
    steps = list(enrolment.cadence.steps.order_by("position", "id"))
    index_of = {step.pk: i for i, step in enumerate(steps)}
    index = index_of[after.pk] + 1 if after is not None and after.pk in index_of else 0
    due = at
    for _ in range(len(steps) + 1):
        if index >= len(steps):
            break
        step = steps[index]
        if step.kind == StepKind.WAIT:
            due = hours.add_business_days(due, step.wait_days)
            index += 1
        elif step.kind == StepKind.BRANCH:
            taken = (
                step.branch_to_id in index_of
                and bool(enrolment.last_call_outcome)
                and enrolment.last_call_outcome in step.branch_outcomes
            )
            index = index_of[step.branch_to_id] if taken and step.branch_to_id else index + 1
        else:
            enrolment.current_step = step
            enrolment.next_run_at = hours.next_open(due)
            enrolment.waiting_on = Waiting.TIME
            enrolment.save(update_fields=["current_step", "next_run_at", "waiting_on"])
            return
    else:
        _finish(enrolment, at=at, note="its branches go round without a step to run")
        return
    _finish(enrolment, at=at)


def _exit_due(enrolment: Enrolment, owner: User | None) -> tuple[str, str] | None:
    """Why the person should leave now, if they should: a reply, meeting, unsubscribe or bounce
    since they were enrolled (in case its area could not tell us), or another owner, or another
    journey step than when they were enrolled."""
    seen = (
        TimelineEvent.objects.filter(
            person=enrolment.person,
            kind__in=list(EXIT_KINDS),
            occurred_at__gte=enrolment.enrolled_at,
        )
        .order_by("occurred_at", "id")
        .first()
    )
    if seen is not None:
        return EXIT_KINDS[seen.kind], seen.summary[:300]
    if (owner.pk if owner else None) != enrolment.owner_at_enrolment_id:
        before = enrolment.owner_at_enrolment
        was = str(before.get_full_name() or before.username) if before else "nobody"
        now = str(owner.get_full_name() or owner.username) if owner else "nobody"
        return StopReason.OWNER_CHANGED, f"owner was {was}, is now {now}"
    snapshot = journey_snapshot(enrolment.person)
    if snapshot != enrolment.journey_at_enrolment:
        return StopReason.JOURNEY_STEP_CHANGED, _journey_change_words(
            enrolment.journey_at_enrolment, snapshot
        )
    return None


def _journey_change_words(before: dict[str, Any], after: dict[str, int]) -> str:
    names = dict(
        JourneyStep.objects.filter(pk__in=[*before.values(), *after.values()]).values_list(
            "pk", "name"
        )
    )
    changes = []
    for journey in sorted(set(before) | set(after)):
        was, now = before.get(journey), after.get(journey)
        if was != now:
            changes.append(
                f"{names.get(was, 'not on it') if was else 'not on it'} → "
                f"{names.get(now, 'not on it') if now else 'not on it'}"
            )
    return "; ".join(changes)


def _postpone(
    enrolment: Enrolment,
    step: CadenceStep,
    *,
    verdict: Verdict,
    at: dt.datetime,
    hours: WorkingHours,
) -> None:
    """The touch may not happen now (the cap, quiet hours): try again when it may, in the
    person's business hours. Never dropped."""
    when = verdict.next_allowed_at
    if when is None or when <= at:
        when = hours.add_business_days(at, 1)
    enrolment.next_run_at = hours.next_open(when)
    enrolment.save(update_fields=["next_run_at"])
    _log(
        enrolment,
        step,
        "postponed",
        f"{step.describe()} postponed to {enrolment.next_run_at:%Y-%m-%d %H:%M} UTC: "
        f"{verdict.reason}",
    )


def _refused(
    enrolment: Enrolment,
    step: CadenceStep,
    *,
    verdict: Verdict,
    at: dt.datetime,
    hours: WorkingHours,
) -> None:
    stop = REFUSAL_STOPS.get(verdict.code)
    if stop is not None:
        _stop(enrolment, reason=stop, detail=verdict.reason, at=at, actor=None)
    else:
        _postpone(enrolment, step, verdict=verdict, at=at, hours=hours)


def _reserve(enrolment: Enrolment, *, channel: str, at: dt.datetime) -> Verdict:
    return contact_reserve(
        person=enrolment.person,
        channel=channel,
        purpose=enrolment.cadence.purpose,
        source="cadence",
        ref=enrolment.ref,
        at=at,
    )


def _from_header(owner: User | None) -> dict[str, str]:
    if owner is None:
        return {}
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = " ".join((owner.get_full_name() or owner.username).split())
    return {"From": formataddr((name, address))} if address else {}


def _email_run(
    enrolment: Enrolment,
    step: CadenceStep,
    *,
    owner: User | None,
    at: dt.datetime,
    hours: WorkingHours,
) -> None:
    person = enrolment.person
    to = person_email(person)
    if not to:
        _stop(
            enrolment,
            reason=StopReason.NO_ADDRESS,
            detail="no email address",
            at=at,
            actor=None,
        )
        return
    verdict = _reserve(enrolment, channel="email", at=at)
    if not verdict.allowed:
        _refused(enrolment, step, verdict=verdict, at=at, hours=hours)
        return
    values = merge_values(person, owner)
    subject = merge_render(step.subject, values)
    purpose = enrolment.cadence.purpose
    unsubscribe = unsubscribe_url(person=person, purpose=purpose)
    text = merge_render(step.text, values).rstrip()
    text += f"\n\n--\nNo more emails like this? Unsubscribe: {unsubscribe}\n"
    html = None
    if step.html.strip():
        html = merge_render(step.html, values, html=True) + (
            f'<p style="font-size:12px;color:#666">No more emails like this? '
            f'<a href="{escape(unsubscribe)}">Unsubscribe</a></p>'
        )
    mail = mail_send(
        to=[to],
        subject=subject,
        text=text,
        html=html,
        headers={**mail_unsubscribe_headers(person=person, purpose=purpose), **_from_header(owner)},
        reason=MAIL_REASON,
        person=person,
        subject_ref=enrolment.ref,
    )
    _log(enrolment, step, "sent", f"Sent “{subject}” to {to}")
    timeline_record(
        kind="cadence.email",
        summary=f"Cadence ‘{enrolment.cadence.name}’ sent “{subject}”",
        person=person,
        occurred_at=at,
        data={"enrolment_id": enrolment.pk, "step_id": step.pk, "mail_id": mail.pk},
    )
    _advance(enrolment, after=step, at=at, hours=hours)


def _call_run(
    enrolment: Enrolment,
    step: CadenceStep,
    *,
    owner: User | None,
    at: dt.datetime,
    hours: WorkingHours,
) -> None:
    person = enrolment.person
    if not PersonPhone.objects.filter(person=person).exists():
        _stop(enrolment, reason=StopReason.NO_ADDRESS, detail="no phone number", at=at, actor=None)
        return
    verdict = _reserve(enrolment, channel="phone", at=at)
    if not verdict.allowed:
        _refused(enrolment, step, verdict=verdict, at=at, hours=hours)
        return
    team = enrolment.cadence.call_team
    assignee = None if team is not None else (owner or enrolment.enrolled_by)
    task = call_task_create(
        person=person,
        title=step.title,
        script=merge_render(step.script, merge_values(person, owner)),
        due_at=at,
        assignee=assignee,
        team=team,
        outcome_options=list(step.outcome_options) or None,
        source="cadence",
        source_ref=enrolment.ref,
    )
    enrolment.waiting_on = Waiting.CALL_TASK
    enrolment.next_run_at = None
    enrolment.save(update_fields=["waiting_on", "next_run_at"])
    _log(enrolment, step, "call_task", f"Call task “{task.title}” for {assignee or team}")
    timeline_record(
        kind="cadence.call_task",
        summary=f"Cadence ‘{enrolment.cadence.name}’ asked for a call: “{task.title}”",
        person=person,
        occurred_at=at,
        data={"enrolment_id": enrolment.pk, "step_id": step.pk, "task_id": task.pk},
    )


def manual_task_create(
    *,
    person: Person,
    assignee: User | None,
    title: str,
    instructions: str = "",
    due_at: dt.datetime | None = None,
    enrolment: Enrolment | None = None,
    step: CadenceStep | None = None,
) -> ManualTask:
    """A task to do by hand for `person`. Nobody who has left (or is deactivated) is given one:
    ValidationError on "assignee"."""
    at = clock.now()
    assignable_check(assignee, field="assignee", at=at)
    return ManualTask.objects.create(
        person=person,
        enrolment=enrolment,
        step=step,
        assignee=assignee,
        title=title[:200],
        instructions=instructions,
        due_at=due_at or at,
        created_at=at,
    )


def _manual_run(
    enrolment: Enrolment, step: CadenceStep, *, owner: User | None, at: dt.datetime
) -> None:
    assignee = owner or enrolment.enrolled_by
    task = manual_task_create(
        person=enrolment.person,
        enrolment=enrolment,
        step=step,
        assignee=assignee,
        title=step.title,
        instructions=merge_render(step.instructions, merge_values(enrolment.person, owner)),
        due_at=at,
    )
    enrolment.waiting_on = Waiting.MANUAL_TASK
    enrolment.next_run_at = None
    enrolment.save(update_fields=["waiting_on", "next_run_at"])
    _log(enrolment, step, "task", f"Task “{task.title}” for {assignee or 'nobody'}")
    timeline_record(
        kind="cadence.task",
        summary=f"Cadence ‘{enrolment.cadence.name}’ made a task: “{task.title}”",
        person=enrolment.person,
        occurred_at=at,
        data={"enrolment_id": enrolment.pk, "step_id": step.pk, "manual_task_id": task.pk},
    )


def _held_for_leaver(
    enrolment: Enrolment, step: CadenceStep | None, *, owner: User | None, at: dt.datetime
) -> bool:
    """Nothing goes out "from" someone who has left, and nobody who has left is given a task:
    while the person's owner (or, without one, whoever enrolled them, for a task) has left, the
    step waits a day, until a handover gives the person a new owner."""
    acting = owner
    if acting is None and step is not None and step.kind != StepKind.EMAIL:
        acting = None if enrolment.cadence.call_team_id else enrolment.enrolled_by
    gone = unassignable_because(acting, at=at) if acting is not None else None
    if gone is None:
        return False
    enrolment.next_run_at = at + LEAVER_HOLD
    enrolment.save(update_fields=["next_run_at"])
    _log(enrolment, step, "held", f"Held: {acting} {gone}; waiting for a new owner")
    return True


def enrolment_step_run(*, enrolment_id: int) -> Enrolment | None:
    """Run the enrolment's due step, once (the row is locked for the whole step). None when
    there was nothing to do: not due, not active, waiting for a task, or another worker has it."""
    at = clock.now()
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("person", "cadence__call_team", "current_step", "owner_at_enrolment")
            .filter(
                pk=enrolment_id,
                status=EnrolmentStatus.ACTIVE,
                waiting_on=Waiting.TIME,
                next_run_at__lte=at,
            )
            .first()
        )
        if enrolment is None:
            return None
        owner = person_owner(enrolment.person)
        leave = _exit_due(enrolment, owner)
        if leave is not None:
            _stop(enrolment, reason=leave[0], detail=leave[1], at=at, actor=None)
            return enrolment
        step = enrolment.current_step
        if _held_for_leaver(enrolment, step, owner=owner, at=at):
            return enrolment
        hours = person_hours(enrolment.person, owner)
        if step is None or step.kind not in ACTION_KINDS:
            # The step was removed (or changed kind) under it: carry on from where it stood.
            _advance(enrolment, after=step, at=at, hours=hours)
            return enrolment
        if not hours.is_open(at):
            enrolment.next_run_at = hours.next_open(at)
            enrolment.save(update_fields=["next_run_at"])
            return enrolment
        if step.kind == StepKind.EMAIL:
            _email_run(enrolment, step, owner=owner, at=at, hours=hours)
        elif step.kind == StepKind.CALL:
            _call_run(enrolment, step, owner=owner, at=at, hours=hours)
        else:
            _manual_run(enrolment, step, owner=owner, at=at)
    return enrolment


def enrolments_run_due(*, limit: int = 200) -> int:
    """Run every step that is due now, oldest first, at most `limit`; how many ran."""
    ids = due_ids(enrolments_waiting(), field="next_run_at", limit=limit)
    return sum(enrolment_step_run(enrolment_id=pk) is not None for pk in ids)


def call_task_logged(*, task: CallTask) -> None:
    """settings.CALLS_OUTCOME_HANDLERS: a cadence's call was logged; the enrolment goes on
    (a branch step after it follows the outcome). Runs in the logging transaction."""
    if task.source != "cadence":
        return
    enrolment_id = enrolment_id_from_ref(task.source_ref)
    if enrolment_id is None:
        return
    enrolment = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("person", "cadence", "current_step")
        .filter(pk=enrolment_id, status=EnrolmentStatus.ACTIVE, waiting_on=Waiting.CALL_TASK)
        .first()
    )
    if enrolment is None:
        return
    at = task.done_at or clock.now()
    enrolment.last_call_outcome = task.outcome
    enrolment.save(update_fields=["last_call_outcome"])
    label = Outcome(task.outcome).label.lower() if task.outcome in Outcome.values else task.outcome
    _log(enrolment, enrolment.current_step, "call_logged", f"Call “{task.title}”: {label}")
    hours = person_hours(enrolment.person, person_owner(enrolment.person))
    _advance(enrolment, after=enrolment.current_step, at=at, hours=hours)


def manual_task_done(*, task: ManualTask, actor: User) -> ManualTask:
    """The task is done; its enrolment moves on."""
    at = clock.now()
    with transaction.atomic():
        task = ManualTask.objects.select_for_update().select_related("person").get(pk=task.pk)
        if task.status != TaskStatus.OPEN:
            raise ValidationError({"task": f"This task is already {task.get_status_display()}."})
        task.status, task.done_at, task.done_by = TaskStatus.DONE, at, actor
        task.save(update_fields=["status", "done_at", "done_by"])
        timeline_record(
            kind="cadence.task_done",
            summary=f"Done: “{task.title}”",
            person=task.person,
            actor=actor,
            occurred_at=at,
            data={"manual_task_id": task.pk},
        )
        enrolment = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("person", "cadence", "current_step")
            .filter(
                pk=task.enrolment_id or 0,
                status=EnrolmentStatus.ACTIVE,
                waiting_on=Waiting.MANUAL_TASK,
            )
            .first()
        )
        if enrolment is not None:
            _log(enrolment, task.step, "task_done", f"Task “{task.title}” done by {actor}")
            hours = person_hours(enrolment.person, person_owner(enrolment.person))
            _advance(enrolment, after=enrolment.current_step, at=at, hours=hours)
    return task


# Enrolling ----------------------------------------------------------------------------------------


def cadence_channels(cadence: Cadence) -> list[str]:
    """The outreach channels the cadence's steps use ("email", "phone")."""
    kinds = set(cadence.steps.values_list("kind", flat=True))
    return [
        channel
        for kind, channel in ((StepKind.EMAIL, "email"), (StepKind.CALL, "phone"))
        if kind in kinds
    ]


def enrol_refusal(*, cadence: Cadence, person: Person, at: dt.datetime | None = None) -> str:
    """Why `person` cannot be enrolled in `cadence` now, in words; "" when they can."""
    at = at or clock.now()
    if not cadence.is_active:
        return f"The cadence ‘{cadence.name}’ is switched off."
    if person.merged_into_id is not None:
        return f"{person} was merged into another record."
    if not cadence.steps.filter(kind__in=list(ACTION_KINDS)).exists():
        return f"The cadence ‘{cadence.name}’ has no email, call or task step yet."
    if Enrolment.objects.filter(
        cadence=cadence, person=person, status=EnrolmentStatus.ACTIVE
    ).exists():
        return f"{person} is already in the cadence ‘{cadence.name}’."
    channels = cadence_channels(cadence)
    refusals = []
    for channel in channels:
        verdict = contact_check(person=person, channel=channel, purpose=cadence.purpose, at=at)
        if not verdict.allowed and verdict.code in REFUSAL_STOPS:
            refusals.append(f"{channel}: {verdict.reason}")
    if channels and len(refusals) == len(channels):
        return (
            f"{person} may not be contacted on any channel this cadence uses "
            f"({'; '.join(refusals)})."
        )
    return ""


def _enrol(
    *,
    cadence: Cadence,
    person: Person,
    actor: User | None,
    source: str,
    at: dt.datetime,
) -> Enrolment:
    """Enrol (call in a transaction, after enrol_refusal said yes)."""
    owner = person_owner(person)
    enrolment = Enrolment.objects.create(
        person=person,
        cadence=cadence,
        source=source,
        enrolled_by=actor,
        enrolled_at=at,
        owner_at_enrolment=owner,
        journey_at_enrolment=journey_snapshot(person),
    )
    _advance(enrolment, after=None, at=at, hours=person_hours(person, owner))
    by = f" by {actor.get_full_name() or actor.username}" if actor is not None else ""
    how = {EnrolmentSource.RULE: " (its rule matched)", EnrolmentSource.BULK: " (in bulk)"}
    _log(enrolment, None, "enrolled", f"Enrolled{by}{how.get(EnrolmentSource(source), '')}")
    timeline_record(
        kind="cadence.enrolled",
        summary=f"Enrolled in cadence ‘{cadence.name}’{by}{how.get(EnrolmentSource(source), '')}",
        person=person,
        actor=actor,
        occurred_at=at,
        data={"enrolment_id": enrolment.pk, "cadence_id": cadence.pk, "source": source},
    )
    return enrolment


def enrolment_create(
    *,
    cadence: Cadence,
    person: Person,
    actor: User | None,
    source: str = EnrolmentSource.BY_HAND,
) -> Enrolment:
    """Enrol one person. Raises EnrolmentRefused saying why when they cannot be."""
    at = clock.now()
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        refusal = enrol_refusal(cadence=cadence, person=person, at=at)
        if refusal:
            raise EnrolmentRefused(refusal)
        return _enrol(cadence=cadence, person=person, actor=actor, source=source, at=at)


@dataclass
class BulkEnrolment:
    enrolled: list[Enrolment] = field(default_factory=list)
    refused: list[tuple[Person, str]] = field(default_factory=list)


BULK_LIMIT = 5000


def enrolments_create_bulk(
    *,
    cadence: Cadence,
    people: QuerySet[Person],
    actor: User | None,
    source: str = EnrolmentSource.BULK,
) -> BulkEnrolment:
    """Enrol many (a selection, or everyone a search finds); those who cannot be are listed
    with why, the others enrolled. At most BULK_LIMIT at once."""
    if people.count() > BULK_LIMIT:
        raise ValidationError(
            {"people": f"At most {BULK_LIMIT} people at once; narrow the search."}
        )
    at = clock.now()
    result = BulkEnrolment()
    with transaction.atomic():
        for person in people.order_by("pk"):
            refusal = enrol_refusal(cadence=cadence, person=person, at=at)
            if refusal:
                result.refused.append((person, refusal))
                continue
            result.enrolled.append(
                _enrol(cadence=cadence, person=person, actor=actor, source=source, at=at)
            )
        if result.enrolled:
            audit_record(
                actor=actor,
                action="cadence.enrol_bulk",
                obj=cadence,
                data={"enrolled": len(result.enrolled), "refused": len(result.refused)},
            )
    return result


def rule_matches(cadence: Cadence) -> QuerySet[Person]:
    """The people the cadence's rule selects (whether or not they were enrolled before)."""
    people = Person.objects.filter(merged_into__isnull=True)
    value = cadence.rule_value
    if cadence.rule_kind == RuleKind.LIFECYCLE_STAGE:
        return people.filter(pk__in=PersonLifecycle.objects.filter(stage=value).values("person_id"))
    if cadence.rule_kind == RuleKind.REQUEST_KIND:
        return people.filter(
            pk__in=Request.objects.filter(kind=value, status=RequestStatus.OPEN).values("person_id")
        )
    if cadence.rule_kind == RuleKind.JOURNEY_STEP and value.isdigit():
        return people.filter(
            pk__in=JourneyPosition.objects.filter(step_id=int(value)).values("person_id")
        )
    return people.none()


RULE_BATCH = 500


def enrolments_by_rule(*, limit: int = RULE_BATCH) -> int:
    """The sweep: enrol the people each active cadence's rule matches, once — never anyone who
    was in that cadence before. How many were enrolled."""
    at = clock.now()
    enrolled = 0
    for cadence in Cadence.objects.filter(is_active=True).exclude(rule_kind=""):
        candidates = rule_matches(cadence).exclude(
            pk__in=Enrolment.objects.filter(cadence=cadence).values("person_id")
        )
        for person in candidates.order_by("pk")[:limit]:
            try:
                with transaction.atomic():
                    if enrol_refusal(cadence=cadence, person=person, at=at):
                        continue
                    _enrol(
                        cadence=cadence,
                        person=person,
                        actor=None,
                        source=EnrolmentSource.RULE,
                        at=at,
                    )
            except IntegrityError:  # enrolled by hand meanwhile: the constraint said no
                continue
            enrolled += 1
    return enrolled


# Editing cadences ---------------------------------------------------------------------------------


def _rule_checked(rule_kind: str, rule_value: str) -> tuple[str, str]:
    rule_value = rule_value.strip()
    if rule_kind not in RuleKind.values:
        raise ValidationError({"rule_kind": f"Unknown rule {rule_kind!r}."})
    if not rule_kind:
        return "", ""
    if rule_kind == RuleKind.LIFECYCLE_STAGE and rule_value not in Stage.values:
        raise ValidationError(
            {"rule_value": f"Choose a lifecycle stage: {', '.join(Stage.values)}."}
        )
    if rule_kind == RuleKind.REQUEST_KIND and rule_value not in RequestKind.values:
        raise ValidationError(
            {"rule_value": f"Choose a request kind: {', '.join(RequestKind.values)}."}
        )
    if rule_kind == RuleKind.JOURNEY_STEP and not (
        rule_value.isdigit() and JourneyStep.objects.filter(pk=int(rule_value)).exists()
    ):
        raise ValidationError({"rule_value": "Choose a journey step."})
    return rule_kind, rule_value


def _cadence_fields(changes: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "name" in changes:
        fields["name"] = str(changes["name"]).strip()
        if not fields["name"]:
            raise ValidationError({"name": "Give the cadence a name."})
    if "description" in changes:
        fields["description"] = str(changes["description"]).strip()
    if "purpose" in changes:
        if changes["purpose"] not in Purpose.values:
            raise ValidationError({"purpose": "Marketing or sales?"})
        fields["purpose"] = changes["purpose"]
    if "is_active" in changes:
        fields["is_active"] = bool(changes["is_active"])
    if "call_team" in changes:
        fields["call_team"] = changes["call_team"]
    return fields


def cadence_create(
    *,
    name: str,
    actor: User | None,
    description: str = "",
    purpose: str = Purpose.SALES,
    call_team: Any = None,
    rule_kind: str = "",
    rule_value: str = "",
) -> Cadence:
    fields = _cadence_fields(
        {"name": name, "description": description, "purpose": purpose, "call_team": call_team}
    )
    kind, value = _rule_checked(rule_kind, rule_value)
    if Cadence.objects.filter(name__iexact=fields["name"]).exists():
        raise ValidationError({"name": f"There is already a cadence called ‘{fields['name']}’."})
    with transaction.atomic():
        cadence = Cadence.objects.create(
            **fields, rule_kind=kind, rule_value=value, created_by=actor, updated_at=clock.now()
        )
        audit_record(actor=actor, action="cadence.create", obj=cadence, data={"name": cadence.name})
    return cadence


def cadence_update(*, cadence: Cadence, changes: dict[str, Any], actor: User | None) -> Cadence:
    fields = _cadence_fields(changes)
    if "rule_kind" in changes or "rule_value" in changes:
        fields["rule_kind"], fields["rule_value"] = _rule_checked(
            str(changes.get("rule_kind", cadence.rule_kind)),
            str(changes.get("rule_value", cadence.rule_value)),
        )
    name = fields.get("name")
    if name and Cadence.objects.filter(name__iexact=name).exclude(pk=cadence.pk).exists():
        raise ValidationError({"name": f"There is already a cadence called ‘{name}’."})
    with transaction.atomic():
        for key, value in fields.items():
            setattr(cadence, key, value)
        cadence.updated_at = clock.now()
        cadence.save()
        audit_record(
            actor=actor,
            action="cadence.update",
            obj=cadence,
            data={k: (v.pk if hasattr(v, "pk") else v) for k, v in fields.items()},
        )
    return cadence


STEP_FIELDS = (
    "subject",
    "text",
    "html",
    "title",
    "script",
    "instructions",
    "outcome_options",
    "wait_days",
    "branch_outcomes",
    "branch_to",
)


def _step_checked(cadence: Cadence, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The fields the step's kind uses, checked; the others blank."""
    if kind not in StepKind.values:
        raise ValidationError({"kind": f"Unknown step kind {kind!r}."})
    clean: dict[str, Any] = {
        "subject": "",
        "text": "",
        "html": "",
        "title": "",
        "script": "",
        "instructions": "",
        "outcome_options": [],
        "wait_days": 0,
        "branch_outcomes": [],
        "branch_to": None,
    }
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        return str(values.get(name) or "").strip()

    if kind == StepKind.EMAIL:
        clean["subject"], clean["text"], clean["html"] = text("subject"), text("text"), text("html")
        if not clean["subject"]:
            errors["subject"] = "An email needs a subject."
        if not clean["text"]:
            errors["text"] = "An email needs a plain-text part."
        for name in ("subject", "text", "html"):
            problems = merge_fields_check(clean[name])
            if problems:
                errors[name] = " ".join(problems)
    elif kind in (StepKind.CALL, StepKind.MANUAL):
        clean["title"] = text("title")
        if not clean["title"]:
            errors["title"] = "Say what it is for, e.g. “Intro call” or “Connect on LinkedIn”."
        if kind == StepKind.CALL:
            clean["script"] = text("script")
            options = [o for o in values.get("outcome_options") or [] if o]
            unknown = [o for o in options if o not in Outcome.values]
            if unknown:
                errors["outcome_options"] = f"Unknown outcome(s): {', '.join(unknown)}."
            clean["outcome_options"] = list(dict.fromkeys(options))
        else:
            clean["instructions"] = text("instructions")
        for name in ("script", "instructions"):
            problems = merge_fields_check(clean[name])
            if problems:
                errors[name] = " ".join(problems)
    elif kind == StepKind.WAIT:
        try:
            days = int(values.get("wait_days") or 0)
        except (TypeError, ValueError):
            days = -1
        if not 1 <= days <= 60:
            errors["wait_days"] = "Wait between 1 and 60 business days."
        clean["wait_days"] = days
    else:
        outcomes = [o for o in values.get("branch_outcomes") or [] if o]
        unknown = [o for o in outcomes if o not in Outcome.values]
        if unknown or not outcomes:
            errors["branch_outcomes"] = "Choose the call outcome(s) that take the branch."
        clean["branch_outcomes"] = list(dict.fromkeys(outcomes))
        target = values.get("branch_to")
        target_id = target.pk if isinstance(target, CadenceStep) else target
        try:
            clean["branch_to"] = cadence.steps.get(pk=int(str(target_id)))
        except (CadenceStep.DoesNotExist, TypeError, ValueError):
            errors["branch_to"] = "Choose the step to go to."
    if errors:
        raise ValidationError(errors)
    return clean


def cadence_step_add(
    *, cadence: Cadence, kind: str, values: dict[str, Any], actor: User | None
) -> CadenceStep:
    """Add a step at the end."""
    clean = _step_checked(cadence, kind, values)
    with transaction.atomic():
        last = cadence.steps.aggregate(last=Max("position"))["last"] or 0
        step = CadenceStep.objects.create(cadence=cadence, position=last + 1, kind=kind, **clean)
        _touched(cadence, actor, "cadence.step_add", {"step_id": step.pk, "kind": kind})
    return step


def cadence_step_update(
    *, step: CadenceStep, values: dict[str, Any], actor: User | None
) -> CadenceStep:
    clean = _step_checked(step.cadence, step.kind, values)
    if clean["branch_to"] is not None and clean["branch_to"].pk == step.pk:
        raise ValidationError({"branch_to": "A branch cannot go to itself."})
    with transaction.atomic():
        for key, value in clean.items():
            setattr(step, key, value)
        step.save()
        _touched(step.cadence, actor, "cadence.step_update", {"step_id": step.pk})
    return step


def _renumber(cadence: Cadence, ordered: list[CadenceStep]) -> None:
    for position, step in enumerate(ordered, start=1):
        if step.position != position:
            step.position = position
            step.save(update_fields=["position"])


def cadence_step_move(*, step: CadenceStep, by: int, actor: User | None) -> CadenceStep:
    """Move a step up (by=-1) or down (by=1)."""
    with transaction.atomic():
        steps = list(step.cadence.steps.order_by("position", "id"))
        index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        target = max(0, min(len(steps) - 1, index + by))
        steps.insert(target, steps.pop(index))
        _renumber(step.cadence, steps)
        _touched(step.cadence, actor, "cadence.step_move", {"step_id": step.pk, "by": by})
    step.refresh_from_db()
    return step


def cadence_step_remove(*, step: CadenceStep, actor: User | None) -> None:
    """Remove a step. People due at it go on to what follows it, at the time they were due;
    people waiting for its task go on from there once the task is done. Branches that went to
    it are left without a target (the editor says so)."""
    cadence = step.cadence
    with transaction.atomic():
        steps = list(cadence.steps.order_by("position", "id"))
        index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        previous = steps[index - 1] if index > 0 else None
        at_it = list(
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("person", "cadence")
            .filter(current_step=step, status=EnrolmentStatus.ACTIVE)
        )
        _touched(cadence, actor, "cadence.step_remove", {"step_id": step.pk, "kind": step.kind})
        step.delete()
        _renumber(cadence, [s for s in steps if s.pk != step.pk])
        for enrolment in at_it:
            if enrolment.waiting_on == Waiting.TIME:
                hours = person_hours(enrolment.person, person_owner(enrolment.person))
                _advance(
                    enrolment,
                    after=previous,
                    at=enrolment.next_run_at or clock.now(),
                    hours=hours,
                )
            else:
                enrolment.current_step = previous
                enrolment.save(update_fields=["current_step"])


def _touched(cadence: Cadence, actor: User | None, action: str, data: dict[str, Any]) -> None:
    cadence.updated_at = clock.now()
    cadence.save(update_fields=["updated_at"])
    audit_record(actor=actor, action=action, obj=cadence, data=data)
