"""Handover plans: the proposal's rules, applying once, cancelling and finishing on the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.cadences.models import ManualTask
from leadline.capture.models import RequestKind
from leadline.core import clock
from leadline.core.models import Role, TimelineEvent, User
from leadline.notify.models import InboxItem
from leadline.relationships import services
from leadline.relationships.models import Briefing, HandoverItem, ItemKind, PlanStatus
from leadline.relationships.selectors import plan_groups, plan_loads, plan_problems
from leadline.routing.models import Assignment, Ownership, RequestRouting
from tests import factories

pytestmark = pytest.mark.django_db
MONDAY_10 = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY_10):
        yield


def _item(plan: Any, of: Any, kind: str = ItemKind.PERSON) -> HandoverItem:
    return plan.items.get(kind=kind, object_id=of.pk)


def test_create_validates_and_names_the_field() -> None:
    crew, boss, (rita, _jonas) = factories.handover_team()
    with pytest.raises(ValidationError) as caught:
        services.handover_plan_create(
            user=rita, kind="leaving", effective_at=MONDAY_10 - dt.timedelta(days=3), actor=boss
        )
    assert "effective_at" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.handover_plan_create(
            user=rita, kind="moving", effective_at=MONDAY_10, to_team=crew, actor=boss
        )
    assert "to_team" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        factories.handover_plan(leaver=rita, actor=boss, intro_body="Hi {nickname}")
    assert "nickname" in caught.value.message_dict["intro_body"][0]
    plan = factories.handover_plan(leaver=rita, actor=boss)
    rita.refresh_from_db()
    assert rita.departs_at == plan.effective_at
    with pytest.raises(ValidationError) as caught:
        factories.handover_plan(leaver=rita, actor=boss)
    assert "user" in caught.value.message_dict


def test_account_owner_first_then_buying_group_together_then_room() -> None:
    _crew, boss, (rita, jonas, liam) = factories.handover_team(reps=3)
    # Jonas owns Acme: Rita's contact at Acme goes to him.
    acme = factories.account(name="Acme")
    factories.owned(owner=jonas, of=acme)
    at_acme = factories.owned_people(owner=rita, count=1)[0]
    factories.membership(person=at_acme, account=acme)
    # Rita owns Globex and two of its people: they go together, to one owner.
    globex = factories.account(name="Globex")
    factories.owned(owner=rita, of=globex)
    group = factories.owned_people(owner=rita, count=2)
    for someone in group:
        factories.membership(person=someone, account=globex)
    # Liam is nearly full; Jonas has plenty of room: loose people go by room.
    liam.relationship_cap = 3
    liam.save()
    factories.owned_people(owner=liam, count=3)
    loose = factories.owned_people(owner=rita, count=2)
    plan = factories.handover_plan(leaver=rita, actor=boss)

    acme_item = _item(plan, at_acme)
    assert (acme_item.proposed_owner, acme_item.proposed_why) == (jonas, "owns Acme")
    owners = {_item(plan, globex, ItemKind.ACCOUNT).new_owner} | {
        _item(plan, p).new_owner for p in group
    }
    assert len(owners) == 1
    assert "buying group together" in _item(plan, group[0]).proposed_why
    for someone in loose:
        item = _item(plan, someone)
        assert item.new_owner == jonas  # Liam is at his cap
        assert "most room" in item.proposed_why
    assert plan_problems(plan=plan) == []
    assert not any(load.over for load in plan_loads(plan=plan))


def test_nobody_with_room_is_a_problem_and_apply_is_refused() -> None:
    crew, boss, (rita, jonas) = factories.handover_team()
    jonas.relationship_cap = 1
    jonas.save()
    factories.owned_people(owner=jonas, count=1)
    [someone] = factories.owned_people(owner=rita, count=1)
    plan = factories.handover_plan(leaver=rita, actor=boss)
    item = _item(plan, someone)
    assert item.new_owner is None
    assert item.proposed_why == f"nobody in {crew} has room: choose someone"
    problems = plan_problems(plan=plan)
    assert any("has room" in p for p in problems)
    before = Ownership.objects.filter(ended_at__isnull=True).count()
    result = services.handover_plan_apply(plan_id=plan.pk, actor=boss)
    assert (result.applied, result.problems) == (False, problems)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    assert Ownership.objects.filter(owner=rita, person=someone, ended_at__isnull=True).exists()
    assert Ownership.objects.filter(ended_at__isnull=True).count() == before
    # Giving it to Jonas by hand would push him over his cap: still refused.
    services.handover_item_reassign(item=item, new_owner=jonas, actor=boss)
    assert any("over their cap of 1" in p for p in plan_problems(plan=plan))
    assert not services.handover_plan_apply(plan_id=plan.pk, actor=boss).applied


def test_manager_edit_is_kept_on_repropose_and_dependents_follow() -> None:
    _crew, boss, (rita, jonas, liam) = factories.handover_team(reps=3)
    people = factories.owned_people(owner=rita, count=2)
    request = factories.routed_request(at=MONDAY_10, owner=rita, kind=RequestKind.CONTACT)
    plan = factories.handover_plan(leaver=rita, actor=boss)
    person_item = _item(plan, request.person)
    request_item = _item(plan, request, ItemKind.REQUEST)
    assert request_item.new_owner == person_item.new_owner
    assert request_item.proposed_why.startswith("follows ")
    other = liam if person_item.new_owner == jonas else jonas
    changed = services.handover_item_reassign(item=person_item, new_owner=other, actor=boss)
    assert {i.pk for i in changed} == {person_item.pk, request_item.pk}
    services.handover_item_key_set(item=_item(plan, people[0]), is_key=False, actor=boss)
    # She picks up another relationship; re-proposing keeps the manager's choices.
    newcomer = factories.owned_people(owner=rita, count=1)[0]
    services.handover_plan_propose(plan=plan, actor=boss)
    assert _item(plan, request.person).new_owner == other
    assert _item(plan, request, ItemKind.REQUEST).new_owner == other
    assert _item(plan, people[0]).is_key is False
    assert _item(plan, newcomer).new_owner in (jonas, liam)
    groups = plan_groups(plan=plan)
    [group] = [g for g in groups if g.item.object_id == request.person.pk]
    assert [d.kind for d in group.dependents] == [ItemKind.REQUEST]
    with pytest.raises(ValidationError):
        services.handover_item_reassign(item=person_item, new_owner=rita, actor=boss)


def _counts() -> dict[str, int]:
    return {
        "ownerships": Ownership.objects.count(),
        "briefings": Briefing.objects.count(),
        "tasks": ManualTask.objects.count(),
        "assignments": Assignment.objects.count(),
        "events": TimelineEvent.objects.count(),
        "inbox": InboxItem.objects.count(),
    }


def test_apply_moves_everything_once() -> None:
    _crew, boss, (rita, jonas) = factories.handover_team(reps=2)
    request = factories.routed_request(at=MONDAY_10, owner=rita, kind=RequestKind.CONTACT)
    someone = request.person
    promise = factories.commitment(person=someone, promised_by=rita)
    plan = factories.handover_plan(leaver=rita, actor=boss)
    assert _item(plan, someone).is_key  # an active relationship is key by default
    result = services.handover_plan_apply(plan_id=plan.pk, actor=boss)
    assert result.applied, result.problems
    assert Ownership.objects.get(person=someone, ended_at__isnull=True).owner == jonas
    routing = RequestRouting.objects.get(request=request)
    assert routing.owner == jonas
    assert (
        Assignment.objects.filter(request=request, owner=jonas)
        .first()
        .why.endswith(f"(handover from {rita})")
    )
    promise.refresh_from_db()
    assert promise.promised_by == jonas
    briefing = Briefing.objects.get(plan=plan, person=someone)
    assert briefing.recipient == jonas
    assert briefing.from_user == rita
    assert "history" in briefing.sections
    task = ManualTask.objects.get(assignee=jonas, person=someone)
    assert task.due_at < plan.effective_at
    assert InboxItem.objects.filter(user=jonas, link="/briefings/").count() == 1
    assert all(i.applied_at and i.outcome for i in plan.items.all())
    before = _counts()
    again = services.handover_plan_apply(plan_id=plan.pk, actor=boss)
    assert not again.applied
    assert again.problems
    assert _counts() == before


def test_complete_on_the_day_deactivates_a_leaver_and_moves_a_mover() -> None:
    _crew, boss, (rita, _jonas, liam) = factories.handover_team(reps=3)
    other_team = factories.team()
    factories.owned_people(owner=rita, count=1)
    leaving = factories.handover_plan(leaver=rita, actor=boss, days=2)
    moving = factories.handover_plan(leaver=liam, actor=boss, kind="moving", to_team=other_team)
    assert services.handover_plan_apply(plan_id=leaving.pk, actor=boss).applied
    assert services.handover_plan_apply(plan_id=moving.pk, actor=boss).applied
    assert services.handovers_complete_due() == 0
    with clock.frozen_at(MONDAY_10 + dt.timedelta(days=15)):
        assert services.handovers_complete_due() == 2
        assert services.handovers_complete_due() == 0
    rita.refresh_from_db()
    liam.refresh_from_db()
    assert not rita.is_active
    assert (liam.team, liam.departs_at, liam.is_active) == (other_team, None, True)


def test_cancel_clears_the_date_and_only_a_draft() -> None:
    _crew, boss, (rita, _jonas) = factories.handover_team()
    plan = factories.handover_plan(leaver=rita, actor=boss)
    services.handover_plan_cancel(plan=plan, actor=boss)
    rita.refresh_from_db()
    assert rita.departs_at is None
    with pytest.raises(ValidationError):
        services.handover_plan_cancel(plan=plan, actor=boss)
    assert User.objects.filter(role=Role.SALES_REP, departs_at__isnull=False).count() == 0
