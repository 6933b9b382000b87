"""The handover pages through real requests: who may see them, planning a handover with the
form (and its errors), changing a new owner with htmx and without JavaScript, marking a key
relationship, the "needing a decision" filter, applying (once only) and cancelling, and a query
count that does not grow with the size of the plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as html_lib
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadline.core.models import Person, Role, Team, User
from leadline.relationships.models import (
    RELATIONSHIP_KINDS,
    HandoverItem,
    HandoverPlan,
    ItemKind,
    PlanKind,
    PlanStatus,
)
from leadline.relationships.services import handover_plan_create
from leadline.routing.models import Ownership
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
LEAVES = dt.datetime(2026, 12, 12, tzinfo=dt.UTC)
HTMX = {"HX-Request": "true"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: object) -> str:
    return html_lib.unescape(response.content.decode())  # type: ignore[attr-defined]


@dataclasses.dataclass
class Desk:
    team: Team
    manager: User
    leaver: User
    bea: User
    carl: User
    people: list[Person]


def desk(*, relationships: int = 3) -> Desk:
    """A team: its manager, Lena who leaves, Bea and Carl who may take over; Lena owns
    `relationships` active people, the first with an open promise."""
    team = factories.team(name="North")
    manager = factories.user(role=Role.SALES_MANAGER, username="mona", team=team)
    leaver = factories.user(username="lena", first_name="Lena", last_name="Leaving", team=team)
    bea = factories.user(username="bea", first_name="Bea", last_name="Able", team=team)
    carl = factories.user(username="carl", first_name="Carl", last_name="Cole", team=team)
    people = factories.owned_people(owner=leaver, count=relationships)
    factories.commitment(person=people[0], promised_by=leaver, what="Send the pricing sheet")
    return Desk(team=team, manager=manager, leaver=leaver, bea=bea, carl=carl, people=people)


def plan_for(d: Desk) -> HandoverPlan:
    return handover_plan_create(
        user=d.leaver, kind=PlanKind.LEAVING, effective_at=LEAVES, actor=d.manager
    )


def relationship_of(plan: HandoverPlan, person: Person) -> HandoverItem:
    return plan.items.get(kind=ItemKind.PERSON, object_id=person.pk)


# Who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.OUTSIDE_CALLER, Role.MARKETING])
def test_only_managers_and_admins_reach_the_handover_pages(role: str) -> None:
    d = desk(relationships=1)
    plan = plan_for(d)
    item = relationship_of(plan, d.people[0])
    if role == Role.OUTSIDE_CALLER:
        outsider: User = factories.outside_caller()
    else:
        outsider = factories.user(role=role, team=d.team)
    client = client_for(outsider)
    for url in (
        reverse("web:handovers"),
        reverse("web:handover_new"),
        reverse("web:handover", args=[plan.pk]),
    ):
        assert client.get(url).status_code == 403, url
    for url, data in (
        (reverse("web:handover_new"), {"user": d.leaver.pk}),
        (reverse("web:handover_item_owner", args=[plan.pk, item.pk]), {"new_owner": d.bea.pk}),
        (reverse("web:handover_item_key", args=[plan.pk, item.pk]), {"is_key": "yes"}),
        (reverse("web:handover_apply", args=[plan.pk]), {}),
        (reverse("web:handover_cancel", args=[plan.pk]), {}),
    ):
        assert client.post(url, data).status_code == 403, url
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    assert relationship_of(plan, d.people[0]).new_owner_id == item.new_owner_id

    anonymous = Client().get(reverse("web:handovers"))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    admin = client_for(factories.user(role=Role.ADMIN))
    assert admin.get(reverse("web:handovers")).status_code == 200


# Planning ---------------------------------------------------------------------------------------


def test_a_manager_plans_a_handover_with_the_form() -> None:
    d = desk()
    client = client_for(d.manager)
    page = client.get(reverse("web:handover_new"), {"user": d.leaver.pk})
    body = text(page)
    assert page.status_code == 200
    assert f'<option value="{d.leaver.pk}" selected>' in body
    assert "{first_name}" in body
    assert "{new_owner}" in body
    assert "Introducing {new_owner}" in body  # the standard introduction, to edit

    response = client.post(
        reverse("web:handover_new"),
        {
            "user": d.leaver.pk,
            "kind": "leaving",
            "effective_at": "2026-12-12",
            "note": "Lena moves abroad; she has briefed everyone.",
            "send_intro_emails": "yes",
            "intro_subject": "Meet {new_owner}",
            "intro_body": "Hello {first_name}, {new_owner} takes over from {old_owner}.",
        },
    )
    plan = HandoverPlan.objects.get(user=d.leaver)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:handover", args=[plan.pk])
    assert plan.status == PlanStatus.DRAFT
    assert plan.created_by == d.manager
    assert plan.send_intro_emails
    assert plan.intro_subject == "Meet {new_owner}"
    assert plan.effective_at.date() == dt.date(2026, 12, 12)
    d.leaver.refresh_from_db()
    assert d.leaver.departs_at == plan.effective_at
    relationships = plan.items.filter(kind__in=list(RELATIONSHIP_KINDS))
    assert relationships.count() == 3
    assert all(i.new_owner_id in {d.bea.pk, d.carl.pk} for i in relationships)

    review = client.get(response["Location"])
    body = text(review)
    assert review.status_code == 200
    assert "Handover of Lena Leaving" in body
    assert "Planned the handover of Lena Leaving" in body
    for person in d.people:
        assert f'href="/people/{person.pk}/"' in body
    assert "Send the pricing sheet" in body  # the promise, nested under its person
    assert 'aria-live="polite"' in body
    assert 'id="handover-loads"' in body
    # Every select has its label.
    for select_id in re.findall(r'<select id="(ho-owner-\d+)"', body):
        assert f'<label for="{select_id}">' in body


def test_a_bad_date_is_reported_next_to_the_date_field() -> None:
    d = desk(relationships=1)
    response = client_for(d.manager).post(
        reverse("web:handover_new"),
        {"user": d.leaver.pk, "kind": "leaving", "effective_at": "12/12/2026"},
    )
    body = text(response)
    assert response.status_code == 400
    assert not HandoverPlan.objects.exists()
    assert '<p class="field-error" id="handover-date-error">' in body
    assert "“12/12/2026” is not a date" in body
    assert '<a href="#handover-date">Date</a>' in body
    assert 'value="12/12/2026"' in body  # what was typed stays


def test_the_service_errors_come_back_by_field() -> None:
    d = desk(relationships=1)
    client = client_for(d.manager)
    moving = client.post(
        reverse("web:handover_new"),
        {"user": d.leaver.pk, "kind": "moving", "effective_at": "2026-12-12"},
    )
    assert moving.status_code == 400
    assert "Choose the team they move to." in text(moving)
    past = client.post(
        reverse("web:handover_new"),
        {"user": d.leaver.pk, "kind": "leaving", "effective_at": "2026-01-05"},
    )
    assert past.status_code == 400
    assert 'id="handover-date-error"' in text(past)
    assert "in the past" in text(past)
    assert not HandoverPlan.objects.exists()


# Reviewing and changing -------------------------------------------------------------------------


def test_changing_a_relationships_new_owner_with_htmx_moves_its_items_and_the_loads() -> None:
    d = desk()
    plan = plan_for(d)
    item = relationship_of(plan, d.people[0])
    promise = plan.items.get(kind=ItemKind.COMMITMENT)
    other = d.carl if item.new_owner_id == d.bea.pk else d.bea
    assert promise.new_owner_id == item.new_owner_id

    response = client_for(d.manager).post(
        reverse("web:handover_item_owner", args=[plan.pk, item.pk]),
        {"new_owner": other.pk},
        headers=HTMX,
    )
    body = text(response)
    assert response.status_code == 200
    item.refresh_from_db()
    promise.refresh_from_db()
    assert item.new_owner == other
    assert promise.new_owner == other
    # The group again, with the new owner selected, and out of band the loads and the line.
    assert f'id="hg-{item.pk}"' in body
    assert f'<option value="{other.pk}" selected>{other}</option>' in body
    assert 'id="handover-loads" hx-swap-oob="innerHTML"' in body
    assert 'id="handover-problems" hx-swap-oob="innerHTML"' in body
    assert f"now goes to {other}, with 1 item that followed." in body
    loads = body.split('id="handover-loads"', 1)[1].split("</div>", 1)[0]
    adding = sum(
        1
        for i in plan.items.filter(kind=ItemKind.PERSON, new_owner=other)
        if i.is_active_relationship
    )
    assert f"(+{adding})" in loads
    assert str(other) in loads
    # Only that group: the other relationships are not in the answer.
    assert f'id="hg-{relationship_of(plan, d.people[1]).pk}"' not in body


def test_changing_one_dependent_leaves_the_relationship_and_works_without_javascript() -> None:
    d = desk(relationships=1)
    plan = plan_for(d)
    item = relationship_of(plan, d.people[0])
    promise = plan.items.get(kind=ItemKind.COMMITMENT)
    other = d.carl if item.new_owner_id == d.bea.pk else d.bea

    response = client_for(d.manager).post(
        reverse("web:handover_item_owner", args=[plan.pk, promise.pk]), {"new_owner": other.pk}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#ho-owner-{promise.pk}")
    promise.refresh_from_db()
    assert promise.new_owner == other
    assert relationship_of(plan, d.people[0]).new_owner_id == item.new_owner_id


def test_an_owner_who_may_not_take_over_is_refused() -> None:
    d = desk(relationships=1)
    plan = plan_for(d)
    item = relationship_of(plan, d.people[0])
    stranger = factories.user(username="sam")  # another team's rep: not a choice here
    client = client_for(d.manager)
    for who in (stranger.pk, d.leaver.pk, "nobody"):
        response = client.post(
            reverse("web:handover_item_owner", args=[plan.pk, item.pk]),
            {"new_owner": who},
            headers=HTMX,
        )
        assert response.status_code == 400
        assert "Choose someone who can take it over." in text(response)
    item.refresh_from_db()
    assert item.new_owner_id in {d.bea.pk, d.carl.pk}


def test_marking_a_key_relationship() -> None:
    d = desk(relationships=1)
    plan = plan_for(d)
    item = relationship_of(plan, d.people[0])
    client = client_for(d.manager)
    url = reverse("web:handover_item_key", args=[plan.pk, item.pk])
    off = client.post(url, {"is_key": "no"}, headers=HTMX)
    assert off.status_code == 200
    item.refresh_from_db()
    assert not item.is_key
    assert "is no longer marked key" in text(off)
    on = client.post(url, {"is_key": ["no", "yes"]}, headers=HTMX)  # hidden "no", then the box
    item.refresh_from_db()
    assert item.is_key
    assert f'id="ho-key-{item.pk}" name="is_key" value="yes" checked' in text(on)


def test_the_filter_shows_only_what_needs_a_decision() -> None:
    d = desk()
    plan = plan_for(d)
    undecided = relationship_of(plan, d.people[1])
    HandoverItem.objects.filter(pk=undecided.pk).update(new_owner=None)
    client = client_for(d.manager)
    url = reverse("web:handover", args=[plan.pk])

    everything = text(client.get(url))
    assert everything.count('<article class="handover-group') == 3
    assert "Only the ones needing a decision (1)" in everything
    needing = client.get(url, {"show": "need"}, headers={**HTMX, "HX-Target": "handover-groups"})
    body = text(needing)
    assert body.count('<article class="handover-group') == 1
    assert f'id="hg-{undecided.pk}"' in body
    assert "<html" not in body  # the fragment only


def test_a_plan_with_problems_cannot_be_applied() -> None:
    d = desk(relationships=2)
    plan = plan_for(d)
    stuck = relationship_of(plan, d.people[0])
    HandoverItem.objects.filter(pk=stuck.pk).update(new_owner=None)
    client = client_for(d.manager)
    body = text(client.get(reverse("web:handover", args=[plan.pk])))
    assert 'role="alert"' in body
    assert "problem to resolve before applying" in body
    assert re.search(r"<button [^>]*disabled[^>]*>Apply the handover</button>", body)
    assert "Yes, apply it now" not in body

    refused = client.post(reverse("web:handover_apply", args=[plan.pk]), follow=True)
    assert "Not applied:" in text(refused)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    assert Ownership.objects.filter(owner=d.leaver, ended_at__isnull=True).count() == 2

    # Giving it an owner clears the problem: the apply box comes back out of band.
    fixed = client.post(
        reverse("web:handover_item_owner", args=[plan.pk, stuck.pk]),
        {"new_owner": d.bea.pk},
        headers=HTMX,
    )
    assert "Yes, apply it now" in text(fixed)
    assert "problem to resolve" not in text(fixed)


# Applying and cancelling ------------------------------------------------------------------------


def test_applying_moves_everything_once_and_a_second_apply_changes_nothing() -> None:
    d = desk()
    plan = plan_for(d)
    client = client_for(d.manager)
    wanted = {i.object_id: i.new_owner_id for i in plan.items.filter(kind=ItemKind.PERSON)}
    response = client.post(reverse("web:handover_apply", args=[plan.pk]), follow=True)
    body = text(response)
    assert response.status_code == 200
    assert "Applied: everything Lena Leaving held has its new owner." in body
    assert "What applying did" in body
    assert "<strong>3</strong> relationships" in body
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPLIED
    assert plan.applied_by == d.manager
    owners = dict(
        Ownership.objects.filter(person__in=d.people, ended_at__isnull=True).values_list(
            "person", "owner"
        )
    )
    assert owners == wanted
    assert not Ownership.objects.filter(owner=d.leaver, ended_at__isnull=True).exists()
    ownerships = Ownership.objects.count()
    briefings = plan.briefings.count()
    assert f"<dt>Briefings written</dt><dd>{briefings}</dd>" in body
    assert "<select" not in body  # applied: nothing to change any more

    again = client.post(reverse("web:handover_apply", args=[plan.pk]), follow=True)
    assert "This plan was already applied: nothing changed." in text(again)
    assert Ownership.objects.count() == ownerships
    assert plan.briefings.count() == briefings
    item = relationship_of(plan, d.people[0])
    late = client.post(
        reverse("web:handover_item_owner", args=[plan.pk, item.pk]), {"new_owner": d.bea.pk}
    )
    assert late.status_code == 404


def test_cancelling_a_plan() -> None:
    d = desk(relationships=1)
    plan = plan_for(d)
    client = client_for(d.manager)
    response = client.post(reverse("web:handover_cancel", args=[plan.pk]), follow=True)
    assert "Cancelled the handover of Lena Leaving; nothing moved." in text(response)
    plan.refresh_from_db()
    d.leaver.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED
    assert d.leaver.departs_at is None
    assert Ownership.objects.filter(owner=d.leaver, ended_at__isnull=True).count() == 1


def test_the_list_shows_each_plan_with_its_counts() -> None:
    d = desk()
    plan = plan_for(d)
    HandoverItem.objects.filter(pk=relationship_of(plan, d.people[0]).pk).update(new_owner=None)
    body = text(client_for(d.manager).get(reverse("web:handovers")))
    row = body.split(f'href="/handovers/{plan.pk}/"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r'<td class="num">(?:<strong class="handover-bad">)?(\d+)', row)
    assert cells == ["3", str(plan.items.count()), "1"]
    assert "Leaving" in row
    assert "Sat 12 Dec 2026" in row
    assert "Plan a handover" in body


# Staying fast -----------------------------------------------------------------------------------


def _review_queries(client: Client, plan: HandoverPlan) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("web:handover", args=[plan.pk]))
    assert response.status_code == 200
    return len(queries)


def test_the_review_page_makes_as_many_queries_for_150_relationships_as_for_3() -> None:
    small = desk(relationships=3)
    small_plan = plan_for(small)
    client = client_for(small.manager)
    few = _review_queries(client, small_plan)

    big_team = factories.team(name="South")
    big_leaver = factories.user(username="lars", team=big_team)
    for n in range(4):
        factories.user(username=f"taker{n}", team=big_team)
    people = factories.owned_people(owner=big_leaver, count=150)
    for person in people[:40]:
        factories.commitment(person=person, promised_by=big_leaver)
    big_plan = handover_plan_create(
        user=big_leaver, kind=PlanKind.LEAVING, effective_at=LEAVES, actor=small.manager
    )
    assert big_plan.items.count() == 190
    many = _review_queries(client, big_plan)

    assert many <= few + 2, (few, many)
    assert many < 30
