"""The buying committee: who is involved in an account's decision, their part, stance and
influence, how they stand to each other, and where our coverage of them has gaps."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction
from django.db.models import Q

from leadline.core.models import Account, Person, TimelineEvent, User
from leadline.core.services import audit_record, timeline_record
from leadline.journeys.models import (
    ConversationKind,
    Influence,
    LinkKind,
    Part,
    Stakeholder,
    StakeholderLink,
    Stance,
)

SPOKEN = (
    ConversationKind.CALL,
    ConversationKind.MEETING,
    ConversationKind.EMAIL,
    ConversationKind.CHAT,
    ConversationKind.EVENT,
)
SPOKEN_TOUCHES = Q(data__kind="meeting") | Q(data__kind="call", data__outcome="connected")


def _choice(value: str, choices: type[Any], field: str) -> str:
    if value not in choices.values:
        raise ValueError(f"{field}: one of {', '.join(choices.values)}")
    return value


def stakeholder_add(
    *,
    account: Account,
    person: Person,
    part: str,
    added_by: User | None,
    stance: str = Stance.UNKNOWN,
    influence: str = Influence.MEDIUM,
    decision: str = "",
    notes: str = "",
) -> Stakeholder:
    """Add someone to the committee for `decision` (empty: the account's in general)."""
    with transaction.atomic():
        if Stakeholder.objects.filter(account=account, decision=decision, person=person).exists():
            raise ValueError(f"person: {person} is in this committee already")
        stakeholder = Stakeholder.objects.create(
            account=account,
            person=person,
            decision=decision.strip(),
            part=_choice(part, Part, "part"),
            stance=_choice(stance, Stance, "stance"),
            influence=_choice(influence, Influence, "influence"),
            notes=notes.strip(),
        )
        timeline_record(
            kind="committee.added",
            summary=f"{person} joined the buying committee: {stakeholder.get_part_display()}, "
            f"{stakeholder.get_stance_display().lower()}, "
            f"{stakeholder.get_influence_display().lower()} influence",
            account=account,
            actor=added_by,
            data={"stakeholder_id": stakeholder.pk, "person_id": person.pk},
        )
        audit_record(actor=added_by, action="stakeholder.add", obj=stakeholder)
    return stakeholder


def stakeholder_update(
    *,
    stakeholder: Stakeholder,
    changed_by: User | None,
    part: str | None = None,
    stance: str | None = None,
    influence: str | None = None,
    notes: str | None = None,
) -> Stakeholder:
    before = {f: getattr(stakeholder, f) for f in ("part", "stance", "influence", "notes")}
    if part is not None:
        stakeholder.part = _choice(part, Part, "part")
    if stance is not None:
        stakeholder.stance = _choice(stance, Stance, "stance")
    if influence is not None:
        stakeholder.influence = _choice(influence, Influence, "influence")
    if notes is not None:
        stakeholder.notes = notes.strip()
    changes = {
        f: [old, getattr(stakeholder, f)]
        for f, old in before.items()
        if old != getattr(stakeholder, f)
    }
    if not changes:
        return stakeholder
    with transaction.atomic():
        stakeholder.save()
        timeline_record(
            kind="committee.changed",
            summary=f"{stakeholder.person}: "
            + ", ".join(
                f"{field} {old or '—'} → {new or '—'}" for field, (old, new) in changes.items()
            ),
            account=stakeholder.account,
            actor=changed_by,
            data={"stakeholder_id": stakeholder.pk, "changes": changes},
        )
        audit_record(actor=changed_by, action="stakeholder.update", obj=stakeholder, data=changes)
    return stakeholder


def stakeholder_remove(*, stakeholder: Stakeholder, removed_by: User | None) -> None:
    with transaction.atomic():
        audit_record(actor=removed_by, action="stakeholder.remove", obj=stakeholder)
        timeline_record(
            kind="committee.removed",
            summary=f"{stakeholder.person} left the buying committee",
            account=stakeholder.account,
            actor=removed_by,
        )
        stakeholder.delete()


def stakeholder_link_add(
    *, source: Stakeholder, target: Stakeholder, kind: str, added_by: User | None
) -> StakeholderLink:
    """“Ann reports to Bo”, “Ann trusts Cy”, “Bo rivals Cy”: within one committee."""
    if source.pk == target.pk:
        raise ValueError("target: a person cannot be linked to themselves")
    if (source.account_id, source.decision) != (target.account_id, target.decision):
        raise ValueError("target: both must be in the same committee")
    with transaction.atomic():
        link, created = StakeholderLink.objects.get_or_create(
            source=source, target=target, kind=_choice(kind, LinkKind, "kind")
        )
        if created:
            audit_record(actor=added_by, action="stakeholder.link", obj=link)
    return link


@dataclasses.dataclass(frozen=True)
class Member:
    stakeholder: Stakeholder
    spoken_to: bool


@dataclasses.dataclass(frozen=True)
class Committee:
    account: Account
    decision: str
    members: list[Member]
    links: list[StakeholderLink]
    warnings: list[str]


def people_spoken_to(ids: list[int]) -> set[int]:
    """Which of these people we have spoken with: a call, meeting or email logged as a
    conversation, or a seller's call that reached them or a meeting with them."""
    logged = Person.objects.filter(pk__in=ids, conversations__kind__in=SPOKEN)
    # A seller's touches are on the timeline (routing.services.touch_record): a call that
    # reached them, or a meeting, is a conversation even when nobody logged one.
    touched = TimelineEvent.objects.filter(person_id__in=ids, kind="touch.recorded").filter(
        SPOKEN_TOUCHES
    )
    return set(logged.values_list("pk", flat=True)) | set(
        touched.values_list("person_id", flat=True)
    )


def committee_of(*, account: Account, decision: str = "") -> Committee:
    """The committee with who has been spoken to (a call, meeting or email with them) and its
    coverage gaps, worded for the account page."""
    stakeholders = list(
        Stakeholder.objects.filter(account=account, decision=decision)
        .select_related("person")
        .order_by("id")
    )
    spoken = people_spoken_to([s.person_id for s in stakeholders])
    members = [Member(s, s.person_id in spoken) for s in stakeholders]
    links = list(
        StakeholderLink.objects.filter(source__in=stakeholders).select_related(
            "source__person", "target__person"
        )
    )
    return Committee(account, decision, members, links, coverage_warnings(members))


def coverage_warnings(members: list[Member]) -> list[str]:
    """What is missing from our picture of the committee, most serious first."""
    warnings = []
    if not members:
        return ["Nobody in the buying committee is known yet."]
    signers = [m for m in members if m.stakeholder.part in (Part.SIGNS, Part.DECIDES)]
    if not signers:
        warnings.append("Nobody who decides or signs is known.")
    elif not any(m.spoken_to for m in signers):
        warnings.append("Nobody who decides or signs has been spoken to.")
    for m in members:
        s = m.stakeholder
        if (s.part == Part.BLOCKS or s.stance == Stance.OPPOSED) and s.influence == Influence.HIGH:
            warnings.append(f"{s.person} opposes or blocks, with high influence.")
    if len(members) == 1:
        warnings.append("Only one contact: if they leave or go quiet, we lose the account.")
    if not any(m.stakeholder.part == Part.CHAMPIONS for m in members):
        warnings.append("No champion: nobody is selling this internally for us.")
    return warnings
