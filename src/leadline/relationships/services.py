"""Writes for relationships: handover plans (create, propose, edit, apply, cancel, complete).

A plan lists everything a leaving (or moving) seller holds and who takes each over. The
proposal (`relationships.handover.proposals_make`) gives relationships to their account's owner
first, keeps an account's buying group together, then goes by free capacity in the team;
every dependent item (a request, a deal, a meeting...) follows its relationship. A manager
edits it, then applies it in one transaction; the worker finishes it on the day
(`handovers_complete_due`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from leadline.booking.models import BookingPage, Meeting, MeetingStatus
from leadline.cadences.models import Enrolment, EnrolmentStatus, ManualTask
from leadline.cadences.models import TaskStatus as ManualStatus
from leadline.calls.models import CallTask
from leadline.calls.models import TaskStatus as CallStatus
from leadline.capture.models import RequestStatus
from leadline.commitments.models import Commitment
from leadline.core import clock
from leadline.core.models import Account, Membership, Person, Team, TimelineEvent, User
from leadline.core.selectors import person_email
from leadline.core.services import audit_record, timeline_event
from leadline.engagement.models import UNDECIDED, Handoff, Opportunity, OpportunityStatus
from leadline.journeys.models import Influence, Part, Stakeholder
from leadline.notify.services import Note, mail_send, notify_users
from leadline.outreach.services import contact_reserve
from leadline.relationships.briefings import (
    briefing_sections,
    briefing_title,
    intro_email_compose,
    intro_template_check,
    warm_intro_task_text,
)
from leadline.relationships.handover import ItemDraft, holdings_collect, proposals_make
from leadline.relationships.models import (
    RELATIONSHIP_KINDS,
    Briefing,
    HandoverItem,
    HandoverPlan,
    ItemKind,
    PlanKind,
    PlanStatus,
)
from leadline.relationships.selectors import (
    COMMITMENT_TO_DO,
    handover_candidates,
    plan_problems,
)
from leadline.routing.models import Assignment, Ownership, Queue, RequestRouting
from leadline.routing.services import user_deactivate

# How far in the past a plan's date may be (a leaver who left yesterday is still handed over).
PAST_GRACE = dt.timedelta(days=1)
# A warm introduction for a date already past is due this long after applying.
LATE_INTRO_DUE = dt.timedelta(days=2)


# Create, propose, edit, cancel ------------------------------------------------------------------


def handover_plan_create(
    *,
    user: User,
    kind: str,
    effective_at: dt.datetime,
    to_team: Team | None = None,
    note: str = "",
    send_intro_emails: bool = False,
    intro_subject: str = "",
    intro_body: str = "",
    actor: User | None,
) -> HandoverPlan:
    """Plan the handover of everything `user` holds: from `effective_at` routing gives them
    nothing new; each item gets a proposed new owner (ValidationError naming the field)."""
    errors: dict[str, str] = {}
    if kind not in PlanKind.values:
        errors["kind"] = "Choose leaving or moving."
    if effective_at.tzinfo is None:
        errors["effective_at"] = "Give a time zone."
    elif effective_at < clock.now() - PAST_GRACE:
        errors["effective_at"] = "Is more than a day in the past: give the day they leave or move."
    if not user.is_active:
        errors["user"] = f"{user} is deactivated: there is nothing to hand over from them now."
    elif HandoverPlan.objects.filter(user=user, status=PlanStatus.DRAFT).exists():
        errors["user"] = f"{user} already has a handover plan being reviewed."
    if kind == PlanKind.MOVING:
        if to_team is None:
            errors["to_team"] = "Choose the team they move to."
        elif to_team.pk == user.team_id:
            errors["to_team"] = f"{user} is in {to_team} already: choose another team."
    elif to_team is not None:
        to_team = None  # only a move has a new team
    for name, text in (("intro_subject", intro_subject), ("intro_body", intro_body)):
        unknown = intro_template_check(text)
        if unknown:
            errors[name] = "Unknown merge fields: " + ", ".join(
                "{" + field.strip("{}") + "}" for field in unknown
            )
    if errors:
        raise ValidationError(errors)
    now = clock.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(departs_at=effective_at)
        user.departs_at = effective_at
        plan = HandoverPlan.objects.create(
            user=user,
            kind=kind,
            effective_at=effective_at,
            to_team=to_team,
            note=note,
            send_intro_emails=send_intro_emails,
            intro_subject=intro_subject,
            intro_body=intro_body,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="handover.create",
            obj=plan,
            data={"user_id": user.pk, "kind": kind, "effective_at": effective_at.isoformat()},
        )
        handover_plan_propose(plan=plan, actor=actor)
    return plan


def _draft_locked(plan_id: int) -> HandoverPlan:
    plan = (
        HandoverPlan.objects.select_for_update(of=("self",))
        .select_related("user", "user__team", "to_team")
        .get(pk=plan_id)
    )
    if plan.status != PlanStatus.DRAFT:
        raise ValidationError(
            {"status": f"This plan is {plan.get_status_display().lower()}: it can't change."}
        )
    return plan


def handover_plan_propose(*, plan: HandoverPlan, actor: User | None) -> HandoverPlan:
    """(Re)build the draft's items from what the user holds now, each with a proposed owner
    and why. An item the manager gave someone else (new_owner differs from the proposal) or
    marked key keeps that; items the user no longer holds go."""
    with transaction.atomic():
        plan = _draft_locked(plan.pk)
        existing = {(i.kind, i.object_id): i for i in plan.items.all()}
        drafts = holdings_collect(plan=plan)
        edits = {
            key: item.new_owner
            for key, item in existing.items()
            if item.new_owner_id is not None and item.new_owner_id != item.proposed_owner_id
        }
        keys = {key: item.is_key for key, item in existing.items()}
        proposals_make(
            plan=plan, drafts=drafts, candidates=handover_candidates(plan=plan), edits=edits
        )
        held = {(d.kind, d.object_id) for d in drafts}
        gone = [item.pk for key, item in existing.items() if key not in held]
        if gone:
            HandoverItem.objects.filter(pk__in=gone).delete()
        new: list[HandoverItem] = []
        changed: list[HandoverItem] = []
        for draft in drafts:
            key = (draft.kind, draft.object_id)
            item = existing.get(key) or HandoverItem(plan=plan, kind=draft.kind)
            item.object_id = draft.object_id
            item.person, item.account = draft.person, draft.account
            item.label = draft.label[:300]
            item.proposed_owner = draft.proposed_owner
            item.proposed_why = draft.proposed_why[:300]
            item.new_owner = edits.get(key, draft.proposed_owner)
            item.is_active_relationship = draft.is_active
            item.is_key = keys.get(key, draft.is_active and draft.kind in RELATIONSHIP_KINDS)
            (changed if item.pk else new).append(item)
        HandoverItem.objects.bulk_create(new)
        HandoverItem.objects.bulk_update(
            changed,
            [
                "person",
                "account",
                "label",
                "proposed_owner",
                "proposed_why",
                "new_owner",
                "is_active_relationship",
                "is_key",
            ],
        )
        HandoverPlan.objects.filter(pk=plan.pk).update(updated_at=clock.now())
        audit_record(
            actor=actor,
            action="handover.propose",
            obj=plan,
            data={"items": len(drafts), "kept_edits": len(edits), "dropped": len(gone)},
        )
    return plan


def _owner_check(*, plan: HandoverPlan, new_owner: User | None) -> None:
    if new_owner is None:
        return
    if new_owner.pk == plan.user_id:
        raise ValidationError({"new_owner": f"{new_owner} is the one handing over."})
    if not new_owner.is_active:
        raise ValidationError({"new_owner": f"{new_owner} is deactivated."})
    if new_owner.departs_at is not None:
        raise ValidationError(
            {"new_owner": f"{new_owner} is handing over on {new_owner.departs_at:%d %b}."}
        )


def _dependents(item: HandoverItem) -> Q:
    """The plan's items that belong to this relationship (for an account: its buying group)."""
    if item.kind == ItemKind.PERSON:
        return Q(person=item.person_id) & ~Q(kind=ItemKind.PERSON)
    members = Membership.objects.filter(account=item.account_id, is_current=True).values("person")
    return (Q(account=item.account_id) & ~Q(kind=ItemKind.ACCOUNT)) | Q(person__in=members)


def handover_item_reassign(
    *,
    item: HandoverItem,
    new_owner: User | None,
    actor: User | None,
    with_dependents: bool = True,
) -> list[HandoverItem]:
    """Give one item to someone else (None: nobody yet). A relationship's dependent items (and
    an account's buying group) that had the same new owner follow it. Returns the items changed."""
    with transaction.atomic():
        plan = _draft_locked(item.plan_id)
        _owner_check(plan=plan, new_owner=new_owner)
        item = HandoverItem.objects.get(pk=item.pk)
        before = item.new_owner_id
        ids = [item.pk]
        if with_dependents and item.kind in RELATIONSHIP_KINDS:
            ids += list(
                plan.items.filter(_dependents(item), new_owner=before)
                .exclude(pk=item.pk)
                .values_list("pk", flat=True)
            )
        HandoverItem.objects.filter(pk__in=ids).update(new_owner=new_owner)
        HandoverPlan.objects.filter(pk=plan.pk).update(updated_at=clock.now())
        audit_record(
            actor=actor,
            action="handover.item_reassign",
            obj=item,
            data={
                "from": before,
                "to": new_owner.pk if new_owner else None,
                "items": ids,
            },
        )
        return list(HandoverItem.objects.filter(pk__in=ids).select_related("new_owner"))


def handover_item_key_set(*, item: HandoverItem, is_key: bool, actor: User | None) -> HandoverItem:
    """Mark a relationship key (its new owner gets a warm introduction) or not."""
    with transaction.atomic():
        _draft_locked(item.plan_id)
        if item.kind not in RELATIONSHIP_KINDS and is_key:
            raise ValidationError({"is_key": "Only a person or an account can be key."})
        HandoverItem.objects.filter(pk=item.pk).update(is_key=is_key)
        item.is_key = is_key
        audit_record(actor=actor, action="handover.item_key", obj=item, data={"is_key": is_key})
    return item


def handover_plan_cancel(*, plan: HandoverPlan, actor: User | None) -> HandoverPlan:
    """Drop a draft plan: the user stays (routing gives them new leads again)."""
    now = clock.now()
    with transaction.atomic():
        plan = _draft_locked(plan.pk)
        plan.status, plan.cancelled_at, plan.updated_at = PlanStatus.CANCELLED, now, now
        plan.save(update_fields=["status", "cancelled_at", "updated_at"])
        User.objects.filter(pk=plan.user_id).update(departs_at=None)
        plan.user.departs_at = None
        audit_record(actor=actor, action="handover.cancel", obj=plan)
    return plan


# Apply -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ApplyResult:
    plan: HandoverPlan
    applied: bool
    problems: list[str]
    intro_emails: int = 0
    intro_emails_skipped: int = 0


class _Refused(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclasses.dataclass
class _Applying:
    plan: HandoverPlan
    leaver: User
    actor: User | None
    at: dt.datetime
    why: str
    events: list[TimelineEvent] = dataclasses.field(default_factory=list)
    briefings: dict[int, list[Briefing]] = dataclasses.field(
        default_factory=lambda: defaultdict(list)
    )
    intro_sent: int = 0
    intro_skipped: int = 0


def handover_plan_apply(*, plan_id: int, actor: User | None) -> ApplyResult:
    """Move every item to its new owner, in one transaction. The plan is claimed first (draft to
    applied), so a second or concurrent apply changes nothing and answers applied=False; with
    problems (nobody for an item, someone over their cap) nothing changes either."""
    at = clock.now()
    try:
        with transaction.atomic():
            claimed = HandoverPlan.objects.filter(pk=plan_id, status=PlanStatus.DRAFT).update(
                status=PlanStatus.APPLIED, applied_at=at, applied_by=actor, updated_at=at
            )
            plan = HandoverPlan.objects.select_related("user", "user__team").get(pk=plan_id)
            if not claimed:
                return ApplyResult(
                    plan=plan,
                    applied=False,
                    problems=[f"This plan is {plan.get_status_display().lower()} already."],
                )
            owners = set(
                plan.items.filter(new_owner__isnull=False).values_list("new_owner", flat=True)
            )
            # Routing locks sellers the same way: nobody's last free place is given twice.
            list(User.objects.select_for_update().filter(pk__in=owners).order_by("pk"))
            problems = plan_problems(plan=plan, claimed=True)
            if problems:
                raise _Refused(problems)
            run = _Applying(
                plan=plan, leaver=plan.user, actor=actor, at=at, why=f"handover from {plan.user}"
            )
            _items_apply(run)
            audit_record(
                actor=actor,
                action="handover.apply",
                obj=plan,
                data={
                    "items": plan.items.count(),
                    "briefings": sum(len(b) for b in run.briefings.values()),
                    "intro_emails": run.intro_sent,
                    "intro_emails_skipped": run.intro_skipped,
                },
            )
    except _Refused as refused:
        plan = HandoverPlan.objects.select_related("user").get(pk=plan_id)
        return ApplyResult(plan=plan, applied=False, problems=refused.problems)
    return ApplyResult(
        plan=plan,
        applied=True,
        problems=[],
        intro_emails=run.intro_sent,
        intro_emails_skipped=run.intro_skipped,
    )


def _items_apply(run: _Applying) -> None:
    items = list(
        run.plan.items.select_related("person", "account", "new_owner", "new_owner__team").order_by(
            "id"
        )
    )
    done: list[HandoverItem] = []
    for item in items:
        owner = item.new_owner
        assert owner is not None  # plan_problems refuses an item without one
        outcome = APPLIERS[ItemKind(item.kind)](run, item, owner)
        item.applied_at, item.outcome = run.at, outcome[:300]
        done.append(item)
    HandoverItem.objects.bulk_update(done, ["applied_at", "outcome"])
    for item in done:
        if item.kind in RELATIONSHIP_KINDS and item.outcome.startswith("now with"):
            _briefing_make(run, item)
    TimelineEvent.objects.bulk_create(run.events)
    _owners_notify(run)


def _relationship_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    field = "person" if item.kind == ItemKind.PERSON else "account"
    current = (
        Ownership.objects.select_for_update()
        .filter(**{field: item.object_id}, ended_at__isnull=True)
        .first()
    )
    if current is not None and current.owner_id != run.leaver.pk:
        return f"not moved: now owned by {current.owner}"
    if current is not None:
        Ownership.objects.filter(pk=current.pk).update(ended_at=run.at)
    Ownership.objects.create(
        owner=owner, **{f"{field}_id": item.object_id}, started_at=run.at, reason=run.why[:200]
    )
    run.events.append(
        timeline_event(
            kind="handover.owner_changed",
            summary=f"Handed over from {run.leaver} to {owner}",
            person=item.person if item.kind == ItemKind.PERSON else None,
            account=item.account if item.kind == ItemKind.ACCOUNT else None,
            actor=run.actor,
            occurred_at=run.at,
            data={"plan_id": run.plan.pk, "from": run.leaver.pk, "to": owner.pk},
        )
    )
    return f"now with {owner}"


def _request_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    routing = (
        RequestRouting.objects.select_for_update(of=("self",))
        .select_related("request", "request__person", "request__account")
        .filter(request=item.object_id)
        .first()
    )
    if routing is None or routing.request.status != RequestStatus.OPEN:
        return "not moved: closed since"
    if routing.owner_id != run.leaver.pk:
        return f"not moved: now with {routing.owner or 'nobody'}"
    routing.owner, routing.team, routing.queue = owner, owner.team, Queue.OWNER
    routing.assigned_at = run.at
    routing.save(update_fields=["owner", "team", "queue", "assigned_at"])
    assignment = Assignment.objects.create(
        request=routing.request,
        owner=owner,
        team=owner.team,
        queue=Queue.OWNER,
        why=f"Assigned to {owner} ({run.why})",
        at=run.at,
        actor=run.actor,
    )
    request = routing.request
    run.events.append(
        timeline_event(
            kind="request.assigned",
            summary=assignment.why,
            person=request.person,
            account=request.account,
            actor=run.actor,
            occurred_at=run.at,
            data={
                "request_id": request.pk,
                "assignment_id": assignment.pk,
                "owner_id": owner.pk,
                "queue": Queue.OWNER,
                "plan_id": run.plan.pk,
            },
        )
    )
    return f"now with {owner}"


def _moved(changed: int, owner: User) -> str:
    return f"now with {owner}" if changed else "not moved: closed or given to someone else since"


def _opportunity_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = Opportunity.objects.filter(
        pk=item.object_id, owner=run.leaver, status=OpportunityStatus.OPEN
    ).update(owner=owner)
    return _moved(changed, owner)


def _handoff_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = Handoff.objects.filter(
        pk=item.object_id, owner=run.leaver, status__in=UNDECIDED
    ).update(owner=owner)
    return _moved(changed, owner)


def _enrolment_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = Enrolment.objects.filter(pk=item.object_id, status=EnrolmentStatus.ACTIVE).update(
        owner_at_enrolment=owner
    )
    return _moved(changed, owner)


def _commitment_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = Commitment.objects.filter(
        pk=item.object_id, promised_by=run.leaver, status__in=COMMITMENT_TO_DO
    ).update(promised_by=owner)
    return _moved(changed, owner)


def _meeting_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    meeting = Meeting.objects.filter(
        pk=item.object_id, host=run.leaver, status=MeetingStatus.BOOKED, starts_at__gt=run.at
    ).first()
    if meeting is None:
        return "not moved: cancelled, past or given to someone else since"
    # The time stays; the new host keeps it (plan_problems refuses a clash beforehand).
    Meeting.objects.filter(pk=meeting.pk).update(host=owner, updated_at=run.at)
    run.events.append(
        timeline_event(
            kind="meeting.host_changed",
            summary=f"“{meeting.title}” is now with {owner} (was {run.leaver}), same time",
            person=item.person,
            actor=run.actor,
            occurred_at=run.at,
            data={"meeting_id": meeting.pk, "plan_id": run.plan.pk, "host": owner.pk},
        )
    )
    return f"now with {owner}, same time"


def _call_task_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = CallTask.objects.filter(
        pk=item.object_id, assignee=run.leaver, status=CallStatus.OPEN
    ).update(assignee=owner)
    return _moved(changed, owner)


def _manual_task_apply(run: _Applying, item: HandoverItem, owner: User) -> str:
    changed = ManualTask.objects.filter(
        pk=item.object_id, assignee=run.leaver, status=ManualStatus.OPEN
    ).update(assignee=owner)
    return _moved(changed, owner)


APPLIERS: dict[ItemKind, Any] = {
    ItemKind.PERSON: _relationship_apply,
    ItemKind.ACCOUNT: _relationship_apply,
    ItemKind.REQUEST: _request_apply,
    ItemKind.OPPORTUNITY: _opportunity_apply,
    ItemKind.HANDOFF: _handoff_apply,
    ItemKind.ENROLMENT: _enrolment_apply,
    ItemKind.COMMITMENT: _commitment_apply,
    ItemKind.MEETING: _meeting_apply,
    ItemKind.CALL_TASK: _call_task_apply,
    ItemKind.MANUAL_TASK: _manual_task_apply,
}


def key_contact(account: Account) -> Person | None:
    """Who a warm introduction to an account goes through: a current member, preferring a
    stakeholder who decides (or signs), the most influential first, then anyone on the buying
    committee, then whoever has been there longest."""
    members = Membership.objects.filter(account=account, is_current=True)
    influence = {Influence.HIGH: 0, Influence.MEDIUM: 1, Influence.LOW: 2}
    ranked = sorted(
        Stakeholder.objects.filter(
            account=account, person__in=members.values("person")
        ).select_related("person"),
        key=lambda s: (
            s.part not in (Part.DECIDES, Part.SIGNS),
            influence.get(Influence(s.influence), 3),
            s.pk,
        ),
    )
    if ranked:
        return ranked[0].person
    first = members.select_related("person").order_by("created_at", "pk").first()
    return first.person if first else None


def _briefing_make(run: _Applying, item: HandoverItem) -> None:
    owner = item.new_owner
    assert owner is not None
    person = item.person if item.kind == ItemKind.PERSON else None
    account = item.account if item.kind == ItemKind.ACCOUNT else None
    briefing = Briefing.objects.create(
        plan=run.plan,
        item=item,
        recipient=owner,
        from_user=run.leaver,
        person=person,
        account=account,
        title=briefing_title(person=person, account=account)[:300],
        sections=briefing_sections(
            person=person, account=account, departing=run.leaver, at=run.at, reader=owner
        ),
        created_at=run.at,
    )
    run.briefings[owner.pk].append(briefing)
    if not item.is_key:
        return
    contact = person if person is not None else (key_contact(account) if account else None)
    if contact is None:
        item.outcome = (item.outcome + "; no current member to introduce")[:300]
        HandoverItem.objects.filter(pk=item.pk).update(outcome=item.outcome)
        return
    title, instructions = warm_intro_task_text(
        person=contact,
        account=account,
        old_owner=run.leaver,
        new_owner=owner,
        effective_at=run.plan.effective_at,
    )
    effective = run.plan.effective_at
    due = effective - dt.timedelta(hours=1) if effective > run.at else run.at + LATE_INTRO_DUE
    ManualTask.objects.create(
        person=contact,
        assignee=owner,
        title=title[:200],
        instructions=instructions,
        due_at=due,
        created_at=run.at,
    )
    if run.plan.send_intro_emails:
        _intro_email(run, item=item, person=contact, owner=owner)


def _intro_email(run: _Applying, *, item: HandoverItem, person: Person, owner: User) -> None:
    address = person_email(person)
    ref = f"handover_item:{item.pk}"
    if not address:
        run.intro_skipped += 1
        return
    verdict = contact_reserve(
        person=person, channel="email", purpose="sales", source="handover", ref=ref, at=run.at
    )
    if not verdict.allowed:
        run.intro_skipped += 1
        item.outcome = (item.outcome + f"; no introduction email: {verdict.reason}")[:300]
        HandoverItem.objects.filter(pk=item.pk).update(outcome=item.outcome)
        return
    subject, body = intro_email_compose(plan=run.plan, person=person, new_owner=owner)
    headers = {"Reply-To": owner.email} if owner.email else None
    # mail_send queues the delivery on commit: nothing leaves if the handover rolls back.
    mail_send(
        to=[address],
        subject=subject,
        text=body,
        headers=headers,
        reason="handover.intro",
        person=person,
        subject_ref=ref,
    )
    run.intro_sent += 1


def _owners_notify(run: _Applying) -> None:
    counts: dict[int, int] = defaultdict(int)
    owners: dict[int, User] = {}
    for item in run.plan.items.select_related("new_owner"):
        assert item.new_owner is not None
        counts[item.new_owner.pk] += 1
        owners[item.new_owner.pk] = item.new_owner
    notes = []
    for pk, owner in owners.items():
        briefed = len(run.briefings.get(pk, []))
        notes.append(
            Note(
                user=owner,
                kind="handover.applied",
                title=f"You take over {briefed} relationships from {run.leaver}",
                body=(
                    f"{run.leaver} is handing over on {run.plan.effective_at:%d %b %Y}. "
                    f"You take over {counts[pk]} items, with a briefing on each relationship; "
                    "key relationships have a warm-introduction task in your list."
                ),
                link=reverse("web:briefings"),
                subject_ref=f"handover:{run.plan.pk}",
            )
        )
    notify_users(notes=notes)


# The worker: finish plans on their day ---------------------------------------------------------


def handovers_complete_due(*, limit: int = 50) -> int:
    """Applied plans whose day has come: a leaver is deactivated (their open requests move on),
    a mover joins the new team. Each once; returns how many were completed."""
    at = clock.now()
    ids = list(
        HandoverPlan.objects.filter(
            status=PlanStatus.APPLIED, completed_at__isnull=True, effective_at__lte=at
        )
        .order_by("effective_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            plan = (
                HandoverPlan.objects.select_for_update(of=("self",))
                .select_related("user", "to_team")
                .filter(pk=pk, completed_at__isnull=True)
                .first()
            )
            if plan is None:
                continue
            user = plan.user
            if plan.kind == PlanKind.LEAVING:
                user_deactivate(user=user, actor=None)
                # Their own booking page would take meetings nobody holds.
                BookingPage.objects.filter(user=user, active=True).update(active=False)
            else:
                User.objects.filter(pk=user.pk).update(team=plan.to_team, departs_at=None)
            plan.completed_at = at
            plan.save(update_fields=["completed_at"])
            audit_record(
                actor=None,
                action="handover.complete",
                obj=plan,
                data={"kind": plan.kind, "user_id": user.pk},
            )
            done += 1
    return done


__all__ = [
    "ApplyResult",
    "ItemDraft",
    "handover_item_key_set",
    "handover_item_reassign",
    "handover_plan_apply",
    "handover_plan_cancel",
    "handover_plan_create",
    "handover_plan_propose",
    "handovers_complete_due",
]
