"""Writes for engagement: lifecycle moves with history, the handoff from marketing to sales with
its deadline and escalation, opportunities, the managed list of rejection reasons, and the sweep
that qualifies people on fit and interest.

Every function is one business action in one transaction; every move leaves a LifecycleChange
and a timeline row ("lifecycle.changed", "handoff.created", "handoff.accepted",
"handoff.rejected", "handoff.expired", ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.deadlines import due_ids, due_row_locked
from leadline.core.models import Membership, Person, Role, Team, User
from leadline.core.selectors import assignable_check
from leadline.core.services import audit_record, timeline_record
from leadline.engagement.models import (
    UNDECIDED,
    Handoff,
    HandoffStatus,
    HandoffStep,
    HandoffTimer,
    LifecycleChange,
    Opportunity,
    OpportunityStatus,
    PersonLifecycle,
    QualificationMark,
    RejectionReason,
    Stage,
    Trigger,
)
from leadline.engagement.qualification import qualification_read
from leadline.journeys.models import Event
from leadline.notify.services import notify_user
from leadline.routing.models import Absence, Ownership, RequestRouting
from leadline.routing.services import local_time, person_link, team_hours, team_manager

# Stages the sweep and a handoff may move someone on from: not yet with sales.
BEFORE_SALES = (Stage.SUBSCRIBER, Stage.ENGAGED, Stage.RECYCLED, Stage.DISQUALIFIED)
STAGE_LABEL = dict(Stage.choices)


# Lifecycle ---------------------------------------------------------------------------------------


def _lifecycle_locked(person: Person) -> PersonLifecycle | None:
    return PersonLifecycle.objects.select_for_update().filter(person=person).first()


def lifecycle_set(
    *,
    person: Person,
    stage: str,
    reason: str,
    actor: User | None,
    at: dt.datetime | None = None,
) -> bool:
    """Move the person to `stage` (one of Stage), saying why; False when already there.
    Records a LifecycleChange and a "lifecycle.changed" timeline row (data: from, to)."""
    if stage not in Stage.values:
        raise ValidationError({"stage": f"“{stage}” is not a lifecycle stage"})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why they move"})
    at = at or clock.now()
    with transaction.atomic():
        current = _lifecycle_locked(person)
        before = current.stage if current is not None else ""
        if before == stage:
            return False
        if current is None:
            try:
                with transaction.atomic():
                    PersonLifecycle.objects.create(
                        person=person, stage=stage, since=at, reason=reason[:500], actor=actor
                    )
            except IntegrityError:
                # Made at the same moment by another transaction (two workers' sweeps): judge
                # against what it made, now locked, so the move is recorded once, not twice.
                current = _lifecycle_locked(person)
                assert current is not None
                before = current.stage
                if before == stage:
                    return False
        if current is not None:
            current.stage, current.since, current.reason, current.actor = (
                stage,
                at,
                reason[:500],
                actor,
            )
            current.save(update_fields=["stage", "since", "reason", "actor"])
        LifecycleChange.objects.create(
            person=person,
            from_stage=before,
            to_stage=stage,
            at=at,
            reason=reason[:500],
            actor=actor,
        )
        was = STAGE_LABEL[before] if before else "no stage"
        timeline_record(
            kind="lifecycle.changed",
            summary=f"{was} → {STAGE_LABEL[stage]}: {reason}",
            person=person,
            actor=actor,
            occurred_at=at,
            data={"from": before or Stage.SUBSCRIBER.value, "to": stage},
        )
    return True


def _stage_of(person: Person) -> str:
    found = PersonLifecycle.objects.filter(person=person).values_list("stage", flat=True).first()
    return found or Stage.SUBSCRIBER


# Handoff: creation -------------------------------------------------------------------------------


def _latest_request(person: Person) -> Request | None:
    return (
        Request.objects.filter(person=person)
        .select_related("form")
        .order_by("-created_at", "-pk")
        .first()
    )


def _owner_for(person: Person, request: Request | None) -> User | None:
    """Who should decide: the person's owner, else their company's, else the owner routing gave
    the request, else the manager who answers for the default team."""
    owners = Q(person=person)
    account_ids = list(
        Membership.objects.filter(person=person, is_current=True).values_list(
            "account_id", flat=True
        )
    )
    if account_ids:
        owners |= Q(account_id__in=account_ids)
    for owned in (
        Ownership.objects.filter(owners, ended_at__isnull=True, owner__is_active=True)
        .exclude(owner__departs_at__lte=clock.now())  # left: their handover date has come
        .select_related("owner__team")
        .order_by("account_id", "-started_at")  # their own owner first
    ):
        return owned.owner
    if request is not None:
        routing = (
            RequestRouting.objects.filter(request=request, owner__is_active=True)
            .exclude(owner__departs_at__lte=clock.now())
            .select_related("owner__team")
            .first()
        )
        if routing is not None and routing.owner is not None:
            return routing.owner
    return team_manager(None)


def handoff_deadline(*, team: Team | None, at: dt.datetime) -> dt.datetime:
    """settings.HANDOFF_BUSINESS_DAYS business days from `at` in the team's hours."""
    return team_hours(team).add_business_days(at, settings.HANDOFF_BUSINESS_DAYS)


def _timers_plan(handoff: Handoff, *, start: dt.datetime) -> None:
    due = handoff.due_at
    remind_at = due - dt.timedelta(hours=settings.HANDOFF_REMIND_HOURS)
    steps: list[tuple[str, dt.datetime]] = [(HandoffStep.EXPIRE, due)]
    if settings.HANDOFF_REMIND_HOURS > 0 and remind_at > start:
        steps.append((HandoffStep.REMIND, remind_at))
    reassign = dt.timedelta(hours=settings.HANDOFF_REASSIGN_HOURS)
    steps.append((HandoffStep.REASSIGN, team_hours(handoff.team).add_business_time(due, reassign)))
    HandoffTimer.objects.bulk_create(
        HandoffTimer(handoff=handoff, step=step, round=handoff.round, due_at=due_at)
        for step, due_at in steps
    )


def _tell_owner(handoff: Handoff, *, title: str, body: str, kind: str) -> None:
    if handoff.owner is None or not handoff.owner.is_active:
        return
    notify_user(
        user=handoff.owner,
        kind=kind,
        title=title,
        body=body,
        link=person_link(handoff.person_id),
        person=handoff.person,
        subject_ref=f"handoff:{handoff.pk}",
    )


def handoff_create(
    *,
    person: Person,
    trigger: str,
    actor: User | None,
    note: str = "",
    request: Request | None = None,
    owner: User | None = None,
    at: dt.datetime | None = None,
) -> Handoff:
    """Hand the person to sales. trigger: "threshold" | "marketing" | "appointment".

    Idempotent: while the person has an open (undecided) handoff it is returned, not a second
    one. Copies source, form and campaign from `request` (else their latest request), sets the
    accept/reject deadline (settings.HANDOFF_BUSINESS_DAYS business days of the owner's team),
    plans the escalation timers, moves them to marketing-qualified when they were not yet with
    sales, notifies the owner and records "handoff.created"."""
    if trigger not in Trigger.values:
        raise ValidationError({"trigger": f"“{trigger}” is not a handoff trigger"})
    at = at or clock.now()
    assignable_check(owner, field="owner", at=at)
    with transaction.atomic():
        # One handoff at a time per person: whoever locks the person first makes it.
        Person.objects.select_for_update().filter(pk=person.pk).first()
        existing = Handoff.objects.filter(person=person, status__in=UNDECIDED).first()
        if existing is not None:
            return existing
        source_request = request or _latest_request(person)
        owner = owner or _owner_for(person, source_request)
        team = owner.team if owner is not None else None
        form = source_request.form if source_request is not None else None
        campaign = ""
        source = ""
        if source_request is not None:
            campaign = (
                source_request.campaign
                or source_request.utm_campaign
                or (form.campaign if form is not None else "")
            )
            source = source_request.utm_source or source_request.source
        handoff = Handoff.objects.create(
            person=person,
            request=source_request,
            trigger=trigger,
            note=note.strip(),
            source=source[:200],
            form=form,
            form_name=(form.title if form is not None else "")[:200],
            campaign=campaign[:200],
            owner=owner,
            team=team,
            handed_by=actor,
            created_at=at,
            due_at=handoff_deadline(team=team, at=at),
        )
        _timers_plan(handoff, start=at)
        if _stage_of(person) in BEFORE_SALES:
            lifecycle_set(
                person=person,
                stage=Stage.MARKETING_QUALIFIED,
                reason=_trigger_reason(trigger, actor, note),
                actor=actor,
                at=at,
            )
        due = local_time(handoff.due_at, owner)
        who = str(owner) if owner is not None else "nobody (no sales manager to hold it)"
        timeline_record(
            kind="handoff.created",
            summary=f"Handed to sales ({Trigger(trigger).label.lower()}); {who} to accept or "
            f"reject by {local_time(handoff.due_at, None)}",
            person=person,
            actor=actor,
            occurred_at=at,
            data={"handoff_id": handoff.pk, "trigger": trigger, "owner_id": owner and owner.pk},
        )
        _tell_owner(
            handoff,
            kind="handoff.created",
            title=f"New lead to accept or reject by {due}: {person}",
            body=(
                f"{person} was handed to you ({Trigger(trigger).label.lower()}). Accept or reject "
                f"by {due}."
                + (f"\n\nNote from {actor}: {note.strip()}" if note.strip() and actor else "")
            ),
        )
    return handoff


def _trigger_reason(trigger: str, actor: User | None, note: str) -> str:
    if trigger == Trigger.THRESHOLD:
        return "Crossed the fit and interest thresholds"
    if trigger == Trigger.APPOINTMENT:
        return "An appointment was set"
    text = f"Handed over by {actor}" if actor is not None else "Handed over by marketing"
    return f"{text}: {note.strip()}" if note.strip() else text


# Handoff: decisions ------------------------------------------------------------------------------


def _handoff_locked(handoff: Handoff) -> Handoff:
    locked = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("person", "owner", "reason")
        .get(pk=handoff.pk)
    )
    if not locked.is_undecided:
        raise ValidationError(
            {"status": f"This handoff was already decided ({locked.get_status_display()})"}
        )
    return locked


def _timers_cancel(handoff: Handoff, *, at: dt.datetime, why: str) -> None:
    HandoffTimer.objects.filter(handoff=handoff, done_at__isnull=True).update(
        done_at=at, outcome=why
    )


def handoff_accept(
    *,
    handoff: Handoff,
    actor: User,
    note: str = "",
    amount: Decimal | None = None,
    at: dt.datetime | None = None,
) -> Opportunity:
    """Sales takes the lead: sales-accepted, and an opportunity is opened at once (with an
    expected `amount` if known); the person moves on to the opportunity stage."""
    if amount is not None and amount < 0:
        raise ValidationError({"amount": "The amount cannot be negative"})
    at = at or clock.now()
    with transaction.atomic():
        handoff = _handoff_locked(handoff)
        handoff.status, handoff.decided_by, handoff.decided_at = HandoffStatus.ACCEPTED, actor, at
        handoff.reason_text = note.strip()
        handoff.save(update_fields=["status", "decided_by", "decided_at", "reason_text"])
        _timers_cancel(handoff, at=at, why="not needed: accepted")
        person = handoff.person
        lifecycle_set(
            person=person,
            stage=Stage.SALES_ACCEPTED,
            reason=f"{actor} accepted the handoff" + (f": {note.strip()}" if note.strip() else ""),
            actor=actor,
            at=at,
        )
        deal_owner = actor if actor.role != Role.MARKETING else handoff.owner
        assignable_check(deal_owner, field="owner", at=at)
        opportunity = Opportunity.objects.create(
            person=person,
            handoff=handoff,
            owner=deal_owner,
            amount=amount,
            opened_at=at,
        )
        lifecycle_set(
            person=person,
            stage=Stage.OPPORTUNITY,
            reason="An opportunity was opened when the handoff was accepted",
            actor=actor,
            at=at,
        )
        timeline_record(
            kind="handoff.accepted",
            summary=f"{actor} accepted the handoff; opportunity opened"
            + (f" ({amount:,.2f})" if amount is not None else ""),
            person=person,
            actor=actor,
            occurred_at=at,
            data={"handoff_id": handoff.pk, "opportunity_id": opportunity.pk},
        )
    return opportunity


def handoff_reject(
    *,
    handoff: Handoff,
    actor: User,
    reason: RejectionReason | None,
    reason_text: str,
    at: dt.datetime | None = None,
) -> Handoff:
    """Sales turns the lead down, with a reason from the list AND a few words of its own. The
    person goes back to nurture (recycled) or, when the reason says so, is disqualified."""
    errors: dict[str, str] = {}
    if reason is None:
        errors["reason"] = "Choose a reason from the list"
    elif not reason.is_active:
        errors["reason"] = f"“{reason}” is no longer on the list; choose another"
    if not reason_text.strip():
        errors["reason_text"] = "Say in a few words why (marketing reads it)"
    if errors:
        raise ValidationError(errors)
    assert reason is not None
    at = at or clock.now()
    text = reason_text.strip()
    with transaction.atomic():
        handoff = _handoff_locked(handoff)
        handoff.status, handoff.decided_by, handoff.decided_at = HandoffStatus.REJECTED, actor, at
        handoff.reason, handoff.reason_text = reason, text
        handoff.save(update_fields=["status", "decided_by", "decided_at", "reason", "reason_text"])
        _timers_cancel(handoff, at=at, why="not needed: rejected")
        stage = Stage.RECYCLED if reason.sends_to_nurture else Stage.DISQUALIFIED
        lifecycle_set(
            person=handoff.person,
            stage=stage,
            reason=f"Rejected by {actor}: {reason} — “{text}”",
            actor=actor,
            at=at,
        )
        where = "back to nurture" if reason.sends_to_nurture else "disqualified"
        timeline_record(
            kind="handoff.rejected",
            summary=f"{actor} rejected the handoff ({reason}): “{text}”; {where}",
            person=handoff.person,
            actor=actor,
            occurred_at=at,
            data={"handoff_id": handoff.pk, "reason": reason.name, "reason_text": text},
        )
    return handoff


def opportunity_close(
    *,
    opportunity: Opportunity,
    outcome: str,
    actor: User,
    amount: Decimal | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Opportunity:
    """Close the deal: "won" (the person becomes a customer; the amount is required) or "lost"
    (back to nurture)."""
    errors: dict[str, str] = {}
    if outcome not in (OpportunityStatus.WON, OpportunityStatus.LOST):
        errors["outcome"] = "Choose won or lost"
    if amount is not None and amount < 0:
        errors["amount"] = "The amount cannot be negative"
    elif outcome == OpportunityStatus.WON and amount is None and opportunity.amount is None:
        errors["amount"] = "Give the amount won"
    if errors:
        raise ValidationError(errors)
    at = at or clock.now()
    with transaction.atomic():
        opportunity = (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("person")
            .get(pk=opportunity.pk)
        )
        if opportunity.status != OpportunityStatus.OPEN:
            raise ValidationError(
                {"outcome": f"Already closed ({opportunity.get_status_display().lower()})"}
            )
        opportunity.status, opportunity.closed_at, opportunity.closed_by = outcome, at, actor
        if amount is not None:
            opportunity.amount = amount
        opportunity.close_note = note.strip()
        opportunity.save()
        won = outcome == OpportunityStatus.WON
        said = f": {note.strip()}" if note.strip() else ""
        money = f" ({opportunity.amount:,.2f})" if opportunity.amount is not None else ""
        if opportunity.person is not None:  # an account's deal has no one person's stage
            lifecycle_set(
                person=opportunity.person,
                stage=Stage.CUSTOMER if won else Stage.RECYCLED,
                reason=(f"Won{money}, closed by {actor}" if won else f"Lost, closed by {actor}")
                + said,
                actor=actor,
                at=at,
            )
        timeline_record(
            kind=f"opportunity.{outcome}",
            summary=f"Opportunity {'won' if won else 'lost'}{money}{said}",
            person=opportunity.person,
            account=opportunity.account,
            actor=actor,
            occurred_at=at,
            data={"opportunity_id": opportunity.pk, "amount": str(opportunity.amount or "")},
        )
    return opportunity


# Rejection reasons -------------------------------------------------------------------------------


def rejection_reason_save(
    *,
    reason: RejectionReason | None,
    name: str,
    sends_to_nurture: bool,
    is_active: bool = True,
    actor: User | None,
) -> RejectionReason:
    """Add a reason to the list (reason=None) or change one. Reasons are never deleted (past
    rejections name them); a reason turned off is no longer offered."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the reason a name"})
    clash = RejectionReason.objects.filter(name__iexact=name)
    if reason is not None:
        clash = clash.exclude(pk=reason.pk)
    if clash.exists():
        raise ValidationError({"name": f"“{name}” is on the list already"})
    with transaction.atomic():
        if reason is None:
            position = (RejectionReason.objects.aggregate(m=Max("position"))["m"] or 0) + 10
            reason = RejectionReason.objects.create(
                name=name[:120],
                sends_to_nurture=sends_to_nurture,
                is_active=is_active,
                position=position,
            )
            audit_record(actor=actor, action="rejection_reason.create", obj=reason)
        else:
            reason.name, reason.sends_to_nurture, reason.is_active = (
                name[:120],
                sends_to_nurture,
                is_active,
            )
            reason.save(update_fields=["name", "sends_to_nurture", "is_active"])
            audit_record(actor=actor, action="rejection_reason.update", obj=reason)
    return reason


# Escalation: the handoff's timers ----------------------------------------------------------------


def _step_remind(handoff: Handoff, at: dt.datetime) -> str:
    if handoff.owner is None:
        return "skipped: nobody to remind"
    if at >= handoff.due_at:
        return "skipped: the deadline has passed (the clock jumped)"
    due = local_time(handoff.due_at, handoff.owner)
    _tell_owner(
        handoff,
        kind="handoff.reminder",
        title=f"Accept or reject by {due}: {handoff.person}",
        body=f"{handoff.person} is waiting for your decision (accept or reject) by {due}.",
    )
    timeline_record(
        kind="handoff.reminder",
        summary=f"Reminded {handoff.owner}: the handoff is to be decided by "
        f"{local_time(handoff.due_at, None)}",
        person=handoff.person,
        occurred_at=at,
        data={"handoff_id": handoff.pk, "owner_id": handoff.owner_id},
    )
    return f"reminded {handoff.owner}"


def _step_expire(handoff: Handoff, at: dt.datetime) -> str:
    handoff.status = HandoffStatus.EXPIRED
    handoff.save(update_fields=["status"])
    manager = team_manager(handoff.team)
    told: list[User] = []
    due = local_time(handoff.due_at, None)
    for user in (manager, handoff.owner):
        if user is None or user in told or not user.is_active:
            continue
        notify_user(
            user=user,
            kind="handoff.expired",
            title=f"Handoff not decided in time: {handoff.person}",
            body=f"{handoff.person} was handed to {handoff.owner or 'nobody'} on "
            f"{local_time(handoff.created_at, user)}; nobody accepted or rejected it by {due}.",
            link=person_link(handoff.person_id),
            person=handoff.person,
            subject_ref=f"handoff:{handoff.pk}",
        )
        told.append(user)
    names = " and ".join(str(u) for u in told) or "nobody (no active manager)"
    timeline_record(
        kind="handoff.expired",
        summary=f"Handoff deadline missed ({due}) by {handoff.owner or 'nobody'}; told {names}",
        person=handoff.person,
        occurred_at=at,
        data={"handoff_id": handoff.pk, "told": [u.pk for u in told]},
    )
    return "told " + (", ".join(str(u) for u in told) or "nobody")


def _next_seller(handoff: Handoff, at: dt.datetime) -> User | None:
    """Another active rep of the owner's team, in hours or not, not away and taking leads, who
    has not had this handoff: the one with the fewest undecided handoffs. Else the manager."""
    tried = {handoff.owner_id, *handoff_owners_tried(handoff)}
    if handoff.team is not None:
        away = Absence.objects.filter(starts_at__lte=at, ends_at__gt=at).values("user_id")
        candidates = (
            User.objects.filter(
                team=handoff.team,
                is_active=True,
                accepts_new_leads=True,
                role=Role.SALES_REP,
            )
            .exclude(pk__in=[pk for pk in tried if pk is not None])
            .exclude(pk__in=away)
            .annotate(
                load=Count("handoffs", filter=Q(handoffs__status__in=UNDECIDED), distinct=True)
            )
            .order_by("load", "pk")
        )
        found = candidates.first()
        if found is not None:
            return found
    manager = team_manager(handoff.team)
    if manager is not None and manager.pk not in tried:
        return manager
    return None


def handoff_owners_tried(handoff: Handoff) -> set[int]:
    """Everyone who has held this handoff (from the timeline rows of its reassignments)."""
    tried: set[int] = set()
    for data in handoff.person.timeline.filter(
        kind="handoff.reassigned", data__handoff_id=handoff.pk
    ).values_list("data", flat=True):
        tried.update(pk for pk in (data.get("from_id"), data.get("to_id")) if pk is not None)
    return tried


def _step_reassign(handoff: Handoff, at: dt.datetime) -> str:
    new_owner = _next_seller(handoff, at)
    if new_owner is None:
        return "skipped: nobody else to hand it to"
    before = handoff.owner
    handoff.owner, handoff.team = new_owner, new_owner.team or handoff.team
    handoff.round += 1
    handoff.status = HandoffStatus.OPEN
    handoff.due_at = handoff_deadline(team=handoff.team, at=at)
    handoff.save(update_fields=["owner", "team", "round", "status", "due_at"])
    _timers_plan(handoff, start=at)
    timeline_record(
        kind="handoff.reassigned",
        summary=f"Handoff not decided by {before or 'nobody'}; handed on to {new_owner}, to "
        f"decide by {local_time(handoff.due_at, None)}",
        person=handoff.person,
        occurred_at=at,
        data={
            "handoff_id": handoff.pk,
            "from_id": before.pk if before is not None else None,
            "to_id": new_owner.pk,
        },
    )
    due = local_time(handoff.due_at, new_owner)
    _tell_owner(
        handoff,
        kind="handoff.created",
        title=f"Lead handed on to you, to accept or reject by {due}: {handoff.person}",
        body=f"{before or 'Nobody'} did not decide in time. Accept or reject by {due}.",
    )
    return f"now with {new_owner}"


STEPS = {
    HandoffStep.REMIND: _step_remind,
    HandoffStep.EXPIRE: _step_expire,
    HandoffStep.REASSIGN: _step_reassign,
}


def handoff_timer_fire(*, timer_id: int) -> HandoffTimer | None:
    """Do one due step, once (the timer is locked and marked done with the step's effects).
    None when there was nothing to do."""
    at = clock.now()
    with transaction.atomic():
        timer = due_row_locked(HandoffTimer.objects.all(), pk=timer_id, at=at)
        if timer is None:
            return None
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("person", "owner", "team")
            .get(pk=timer.handoff_id)
        )
        if not handoff.is_undecided:
            outcome = f"not needed: {handoff.get_status_display().lower()}"
        elif timer.round != handoff.round:
            outcome = "not needed: handed on already"
        else:
            outcome = STEPS[HandoffStep(timer.step)](handoff, at)
        timer.done_at, timer.outcome = at, outcome[:300]
        timer.save(update_fields=["done_at", "outcome"])
    return timer


def handoff_timers_fire_due(*, limit: int = 200) -> int:
    """Do every handoff step due now, oldest first, at most `limit`; how many were done."""
    ids = due_ids(HandoffTimer.objects.filter(done_at__isnull=True), limit=limit)
    return sum(handoff_timer_fire(timer_id=pk) is not None for pk in ids)


# Qualification: the sweep ------------------------------------------------------------------------

SWEEP_BATCH = 200


def qualification_evaluate(*, person_ids: Iterable[int], at: dt.datetime | None = None) -> int:
    """Score each person on fit and interest and move them on when a threshold is crossed:
    subscriber → engaged (interest ≥ ENGAGED_INTEREST_MIN) → marketing-qualified (fit ≥
    MQL_FIT_MIN and interest ≥ MQL_INTEREST_MIN), which hands them to sales (trigger
    "threshold"). A recycled lead qualifies again only on what it did after being recycled;
    nobody already with sales, or disqualified, is moved. Returns how many moved."""
    at = at or clock.now()
    ids = sorted(set(person_ids))
    stages = dict(
        PersonLifecycle.objects.filter(person_id__in=ids).values_list("person_id", "since")
    )
    current = dict(
        PersonLifecycle.objects.filter(person_id__in=ids).values_list("person_id", "stage")
    )
    moved = 0
    for person in Person.objects.filter(pk__in=ids, merged_into__isnull=True):
        stage = current.get(person.pk, Stage.SUBSCRIBER)
        if stage not in (Stage.SUBSCRIBER, Stage.ENGAGED, Stage.RECYCLED):
            continue
        since = stages.get(person.pk) if stage == Stage.RECYCLED else None
        scores = qualification_read(person=person, now=at, interest_since=since)
        fit, interest = scores.fit.score, scores.interest.score
        if fit >= settings.MQL_FIT_MIN and interest >= settings.MQL_INTEREST_MIN:
            with transaction.atomic():
                lifecycle_set(
                    person=person,
                    stage=Stage.MARKETING_QUALIFIED,
                    reason=f"Crossed the thresholds: fit {fit} of {len(scores.fit.checks)} "
                    f"(at least {settings.MQL_FIT_MIN}), interest {interest:.0f} "
                    f"(at least {settings.MQL_INTEREST_MIN})",
                    actor=None,
                    at=at,
                )
                handoff_create(person=person, trigger=Trigger.THRESHOLD, actor=None, at=at)
            moved += 1
        elif stage == Stage.SUBSCRIBER and interest >= settings.ENGAGED_INTEREST_MIN:
            lifecycle_set(
                person=person,
                stage=Stage.ENGAGED,
                reason=f"Interest {interest:.0f} (at least {settings.ENGAGED_INTEREST_MIN}): "
                + (scores.interest.reasons[0] if scores.interest.reasons else ""),
                actor=None,
                at=at,
            )
            moved += 1
    return moved


def qualification_sweep(*, limit: int = 1000) -> int:
    """The worker's sweep: evaluate everyone with an event or a request newer than the last
    sweep saw (at most `limit` of each a time), then remember how far it read. Returns how many
    moved. Evaluating someone twice does no harm (the moves and the handoff are idempotent)."""
    mark = QualificationMark.objects.order_by("pk").first() or QualificationMark.objects.create()
    events = list(
        Event.objects.filter(pk__gt=mark.events_after, person__isnull=False)
        .order_by("pk")
        .values_list("pk", "person_id")[:limit]
    )
    requests = list(
        Request.objects.filter(pk__gt=mark.requests_after)
        .order_by("pk")
        .values_list("pk", "person_id")[:limit]
    )
    people = sorted({pid for _, pid in events} | {pid for _, pid in requests})
    moved = sum(
        qualification_evaluate(person_ids=people[start : start + SWEEP_BATCH])
        for start in range(0, len(people), SWEEP_BATCH)
    )
    changes: dict[str, object] = {"updated_at": clock.now()}
    if events:
        changes["events_after"] = events[-1][0]
    if requests:
        changes["requests_after"] = requests[-1][0]
    QualificationMark.objects.filter(pk=mark.pk).update(**changes)
    return moved
