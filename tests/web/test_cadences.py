"""The cadence pages: the list, the editor (htmx), the person card, bulk enrol, My tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from leadline.cadences.models import (
    Cadence,
    CadenceStep,
    Enrolment,
    EnrolmentStatus,
    ManualTask,
    TaskStatus,
)
from leadline.cadences.services import enrolments_run_due
from leadline.core import clock
from leadline.core.models import Role, User
from leadline.outreach.models import DoNotContact
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]

HTMX = {"HX-Request": "true"}


def test_the_list_shows_each_cadence_with_its_numbers(marketing_client: Client) -> None:
    cadence = factories.cadence(name="New trial")
    factories.enrolment(cadence=cadence)
    factories.enrolment(cadence=cadence, status=EnrolmentStatus.STOPPED, stopped_reason="replied")
    factories.enrolment(cadence=cadence, status=EnrolmentStatus.STOPPED, stopped_reason="bounced")
    page = marketing_client.get("/cadences/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "New trial" in html
    assert "Replied: 1" in html
    assert "Mail bounced: 1" in html


@pytest.mark.parametrize(
    ("role", "path", "method"),
    [
        (Role.OUTSIDE_CALLER, "/cadences/", "get"),
        (Role.OUTSIDE_CALLER, "/cadences/tasks/", "get"),
        (Role.SALES_REP, "/cadences/new/", "post"),
    ],
)
def test_a_wrong_role_gets_403(role_client: object, role: str, path: str, method: str) -> None:
    client = role_client(role)  # type: ignore[operator]
    response = getattr(client, method)(path, {"name": "X"})
    assert response.status_code == 403
    assert not Cadence.objects.exists()


def test_a_rep_may_not_change_steps(role_client: object) -> None:
    cadence = factories.cadence()
    step = cadence.steps.get()
    client = role_client(Role.SALES_REP)  # type: ignore[operator]
    response = client.post(f"/cadences/steps/{step.pk}/order/", {"action": "remove"})
    assert response.status_code == 403
    assert cadence.steps.count() == 1
    assert client.get(f"/cadences/{cadence.pk}/").status_code == 200  # reading is fine


def test_create_then_build_the_steps_with_htmx(marketing_client: Client) -> None:
    response = marketing_client.post(
        "/cadences/new/", {"name": "New trial", "purpose": "marketing", "description": ""}
    )
    cadence = Cadence.objects.get(name="New trial")
    assert response.status_code == 302
    assert response["Location"] == f"/cadences/{cadence.pk}/"
    base = f"/cadences/{cadence.pk}/steps/new/"

    form = marketing_client.get(base, {"kind": "email"}, headers=HTMX)
    assert 'name="subject"' in form.content.decode()
    bad = marketing_client.post(
        base, {"kind": "email", "subject": "Hi {{ name }}", "text": ""}, headers=HTMX
    )
    assert "Unknown merge field" in bad.content.decode()
    assert "needs a plain-text part" in bad.content.decode()
    assert not cadence.steps.exists()

    marketing_client.post(
        base,
        {"kind": "email", "subject": "Hi {{ first_name }}", "text": "Welcome to the trial"},
        headers=HTMX,
    )
    marketing_client.post(base, {"kind": "wait", "wait_days": "2"}, headers=HTMX)
    added = marketing_client.post(
        base,
        {"kind": "call", "title": "Intro call", "outcome_options": ["connected", "no_answer"]},
        headers=HTMX,
    )
    html = added.content.decode()
    assert "Wait 2 business days" in html
    assert "Call: Intro call" in html
    assert [s.kind for s in cadence.steps.order_by("position")] == ["email", "wait", "call"]

    call = cadence.steps.get(kind="call")
    marketing_client.post(f"/cadences/steps/{call.pk}/order/", {"action": "up"}, headers=HTMX)
    assert [s.kind for s in cadence.steps.order_by("position")] == ["email", "call", "wait"]

    marketing_client.post(
        f"/cadences/steps/{call.pk}/",
        {"title": "First call", "script": "Hello {{ first_name }}"},
        headers=HTMX,
    )
    call.refresh_from_db()
    assert call.title == "First call"

    wait = cadence.steps.get(kind="wait")
    marketing_client.post(f"/cadences/steps/{wait.pk}/order/", {"action": "remove"}, headers=HTMX)
    assert [s.kind for s in cadence.steps.order_by("position")] == ["email", "call"]
    assert [s.position for s in cadence.steps.order_by("position")] == [1, 2]


def test_a_branch_step_names_its_target(marketing_client: Client) -> None:
    cadence = factories.cadence(steps=[{"kind": "call", "title": "Intro call"}])
    call = cadence.steps.get()
    marketing_client.post(
        f"/cadences/{cadence.pk}/steps/new/",
        {"kind": "branch", "branch_outcomes": ["no_answer"], "branch_to": str(call.pk)},
        headers=HTMX,
    )
    branch = cadence.steps.get(kind="branch")
    assert branch.branch_to == call
    assert branch.branch_outcomes == ["no_answer"]


def test_the_person_card_enrols_shows_the_next_step_and_stops(
    client: Client, marketer: User
) -> None:
    rep = factories.user(first_name="Rita")
    person = factories.prospect(owner=rep, time_zone="Asia/Tokyo")
    cadence = factories.cadence(name="New trial")
    client.force_login(rep)
    page = client.get(f"/people/{person.pk}/")
    assert "Not in any cadence." in page.content.decode()
    card = client.post(
        f"/people/{person.pk}/cadences/enrol/", {"cadence": cadence.pk}, headers=HTMX
    ).content.decode()
    assert "Enrolled in ‘New trial’." in card
    # Monday 10:00 UTC is 19:00 in Tokyo: the first mail waits for 09:00 their time.
    assert "Tue 24 Nov, 09:00" in card
    assert "their time" in card
    again = client.post(
        f"/people/{person.pk}/cadences/enrol/", {"cadence": cadence.pk}, headers=HTMX
    ).content.decode()
    assert "is already in the cadence ‘New trial’" in again
    enrolment = Enrolment.objects.get(person=person)
    stopped = client.post(
        f"/cadences/enrolments/{enrolment.pk}/stop/", {"from": "person"}, headers=HTMX
    ).content.decode()
    assert "Took them out of ‘New trial’." in stopped
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stopped_reason == "by_hand"


def test_enrolling_someone_who_may_not_be_contacted_says_why(client: Client) -> None:
    rep = factories.user()
    person = factories.prospect(owner=rep)
    DoNotContact.objects.create(person=person, channel="email", reason="Asked us to stop")
    cadence = factories.cadence(name="Mails only")
    client.force_login(rep)
    card = client.post(
        f"/people/{person.pk}/cadences/enrol/", {"cadence": cadence.pk}, headers=HTMX
    ).content.decode()
    assert "may not be contacted on any channel" in card
    assert "Asked us to stop" in card
    assert not Enrolment.objects.exists()


def test_bulk_enrol_a_search_after_confirming_the_count(marketing_client: Client) -> None:
    cadence = factories.cadence(name="Nurture")
    found = [factories.person(first_name="Zed", last_name=f"Z{n}") for n in range(3)]
    factories.person(first_name="Other")
    already = found[0]
    factories.enrolment(cadence=cadence, person=already)
    page = marketing_client.get("/cadences/enrol/", {"q": "Zed", "cadence": cadence.pk})
    assert page.status_code == 200
    assert "<strong>3</strong>" in page.content.decode()
    stale = marketing_client.post(
        "/cadences/enrol/", {"q": "Zed", "cadence": cadence.pk, "scope": "all", "count": "2"}
    )
    assert stale.status_code == 400
    assert "finds 3 people, not 2" in stale.content.decode()
    done = marketing_client.post(
        "/cadences/enrol/", {"q": "Zed", "cadence": cadence.pk, "scope": "all", "count": "3"}
    )
    html = done.content.decode()
    assert "2 people enrolled in Nurture" in html
    assert "already in the cadence" in html
    assert set(cadence.enrolments.values_list("person_id", flat=True)) == {p.pk for p in found}


def test_bulk_enrol_only_the_ticked_people(marketing_client: Client) -> None:
    cadence = factories.cadence(name="Nurture")
    ticked, not_ticked = factories.person(first_name="Zed"), factories.person(first_name="Zed")
    marketing_client.post(
        "/cadences/enrol/",
        {"q": "Zed", "cadence": cadence.pk, "scope": "selected", "person": [ticked.pk]},
    )
    assert list(cadence.enrolments.values_list("person_id", flat=True)) == [ticked.pk]
    assert not_ticked.pk not in cadence.enrolments.values_list("person_id", flat=True)


def test_my_tasks_done_moves_the_person_on(client: Client) -> None:
    rep = factories.user()
    person = factories.prospect(owner=rep)
    cadence = factories.cadence(
        steps=[
            {"kind": "manual", "title": "Connect on LinkedIn", "instructions": "Say hi"},
            {"kind": "email", "subject": "Hi", "text": "Hello"},
        ]
    )
    factories.enrol(cadence=cadence, person=person, actor=rep)
    enrolments_run_due()
    task = ManualTask.objects.get(person=person)
    client.force_login(rep)
    page = client.get("/cadences/tasks/").content.decode()
    assert "Connect on LinkedIn" in page
    assert "Say hi" in page
    other = Client()
    other.force_login(factories.user())
    assert other.post(f"/cadences/tasks/{task.pk}/done/").status_code == 403
    row = client.post(f"/cadences/tasks/{task.pk}/done/", headers=HTMX).content.decode()
    assert "Done" in row
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    enrolment = Enrolment.objects.get(person=person)
    assert enrolment.current_step == cadence.steps.get(kind="email")
    assert enrolment.waiting_on == ""


def test_settings_set_a_rule_and_the_sweep_enrols_matching_people_once(
    marketing_client: Client,
) -> None:
    from leadline.cadences.services import enrolments_by_rule, enrolments_stop

    cadence = factories.cadence(name="Demo follow-up")
    response = marketing_client.post(
        f"/cadences/{cadence.pk}/settings/",
        {
            "name": "Demo follow-up",
            "purpose": "sales",
            "is_active": "on",
            "rule_kind": "request_kind",
            "rule_value_request_kind": "demo",
        },
    )
    assert response.status_code == 302
    cadence.refresh_from_db()
    assert (cadence.rule_kind, cadence.rule_value) == ("request_kind", "demo")
    wants_demo = factories.person()
    factories.person_request(person=wants_demo, kind="demo")
    factories.person_request(person=factories.person(), kind="pricing")
    assert enrolments_by_rule() == 1
    assert enrolments_by_rule() == 0
    enrolments_stop(person=wants_demo, reason="replied")
    assert enrolments_by_rule() == 0  # once: not again after leaving
    assert list(cadence.enrolments.values_list("person_id", flat=True)) == [wants_demo.pk]


def test_the_enrolment_page_tells_what_happened(marketing_client: Client) -> None:
    person = factories.prospect(owner=factories.user())
    cadence = factories.cadence(name="Welcome")
    enrolment = factories.enrol(cadence=cadence, person=person)
    with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(minutes=1)):
        enrolments_run_due()
    page = marketing_client.get(f"/cadences/enrolments/{enrolment.pk}/").content.decode()
    assert "Sent “Hello" in page
    assert "Finished" in page
    assert CadenceStep.objects.filter(cadence=cadence).exists()


def test_the_editor_shows_and_opens_every_kind_of_step(marketing_client: Client) -> None:
    cadence = factories.cadence(
        steps=[
            {"kind": "email", "subject": "Hi", "text": "Hello", "html": "<p>Hello</p>"},
            {"kind": "wait", "wait_days": 3},
            {"kind": "call", "title": "Intro call", "outcome_options": ["connected"]},
            {"kind": "branch", "branch_outcomes": ["no_answer"]},
            {"kind": "manual", "title": "Connect on LinkedIn"},
        ]
    )
    page = marketing_client.get(f"/cadences/{cadence.pk}/").content.decode()
    assert "Wait 3 business days" in page
    assert "Choose the step this branch goes to." in page
    for step in cadence.steps.all():
        form = marketing_client.get(f"/cadences/steps/{step.pk}/", headers=HTMX)
        assert form.status_code == 200
        assert f"Save step {step.position}" in form.content.decode()
