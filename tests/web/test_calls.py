"""The call queue and a call's page: who sees which calls, what a call shows, logging it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leadline.calls.models import CallTask, TaskStatus
from leadline.calls.services import call_task_log
from leadline.core import clock
from leadline.core.models import Person, Role, Team, User
from leadline.journeys.models import Conversation
from leadline.outreach.models import DoNotContact
from leadline.routing.models import Touch, TouchKind
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


@pytest.fixture
def callers() -> Team:
    return factories.team(name="Callsource GmbH")


@pytest.fixture
def olive(callers: Team) -> User:
    return factories.outside_caller(calling_team=callers, username="olive")


@pytest.fixture
def ann() -> Person:
    """A prospect with a phone, a company and things an outside caller must not see."""
    ann = factories.person_with_phone(
        first_name="Ann",
        last_name="Lee",
        email="ann.lee@acme-widgets.example",
        role_own_words="I run the finance systems team",
        personal_context="Back from parental leave in March",
        cares_about="Month-end close takes twelve days",
    )
    factories.membership(person=ann, account=factories.account(name="Acme Widgets"))
    return ann


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_outside_caller_sees_their_own_and_their_teams_calls_only(
    olive: User, callers: Team, ann: Person
) -> None:
    colleague = factories.outside_caller(calling_team=callers)
    mine = factories.call_task(person=ann, assignee=olive, title="Mine")
    teams = factories.call_task(team=callers, title="Team call")
    factories.call_task(assignee=colleague, title="Colleague's")
    factories.call_task(team=factories.team(name="Other callers"), title="Other team's")
    factories.call_task(title="A rep's own")
    later = factories.call_task(
        team=callers, title="Later call", due_at=clock.now() + dt.timedelta(days=2)
    )
    response = _as(olive).get(reverse("web:calls"))
    assert response.status_code == 200
    html = response.content.decode()
    for shown in (mine, teams, later):
        assert reverse("web:call_task", args=[shown.pk]) in html
    for hidden in ("Colleague", "Other team", "A rep"):
        assert hidden not in html
    assert html.index("Mine") < html.index("Later call")


def test_a_rep_sees_their_own_calls(ann: Person) -> None:
    rita = factories.user(username="rita")
    own = factories.call_task(person=ann, assignee=rita, title="Rita's call")
    team = factories.team(name="EMEA")
    rita.team = team
    rita.save()
    factories.call_task(team=team, title="Team call")
    html = _as(rita).get(reverse("web:calls")).content.decode()
    assert reverse("web:call_task", args=[own.pk]) in html
    assert "Team call" not in html


def test_the_call_page_shows_only_what_a_call_needs(olive: User, ann: Person) -> None:
    rita = factories.user(username="rita")
    earlier = factories.call_task(person=ann, assignee=rita, title="First try")
    call_task_log(task=earlier, outcome="voicemail", note="Left a message at reception", actor=rita)
    secret = factories.call_task(person=ann, assignee=rita, title="Second try")
    call_task_log(
        task=secret, outcome="connected", note="Budget frozen, keep quiet", private=True, actor=rita
    )
    Touch.objects.create(
        person=ann, kind=TouchKind.CALL, outcome="no_answer", note="Tried the mobile", user=rita
    )
    factories.conversation(people=[ann], summary="Pricing is the real worry", private=True)
    task = factories.call_task(person=ann, assignee=olive, script="Ask about month-end close")
    response = _as(olive).get(reverse("web:call_task", args=[task.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("Ann Lee", "+4930123456", "Acme Widgets", "Ask about month-end close"):
        assert shown in html
    # Monday 10:00 UTC is 11:00 in Berlin.
    assert "11:00, Monday" in html
    assert "Europe/Berlin" in html
    assert "Left a message at reception" in html
    assert "Tried the mobile" in html
    assert "Spoke to them" in html  # the private one's outcome, without its note
    for hidden in (
        "Budget frozen",
        "Pricing is the real worry",
        "ann.lee@acme-widgets.example",
        "finance systems",
        "parental leave",
        "Month-end close takes",
        "Private",
        'href="/people/',
        'href="/accounts/',
    ):
        assert hidden not in html, hidden


def test_staff_see_private_notes_marked_and_a_link_to_the_full_record(ann: Person) -> None:
    rita = factories.user(username="rita")
    done = factories.call_task(person=ann, assignee=rita)
    call_task_log(task=done, outcome="connected", note="Budget frozen", private=True, actor=rita)
    task = factories.call_task(person=ann, assignee=rita)
    html = _as(rita).get(reverse("web:call_task", args=[task.pk])).content.decode()
    assert "Budget frozen" in html
    assert 'class="badge badge-private"' in html
    assert reverse("web:person", args=[ann.pk]) in html


def test_outside_their_hours_is_shown() -> None:
    tokyo = factories.person_with_phone(time_zone="Asia/Tokyo")
    task = factories.call_task(person=tokyo)
    html = _as(task.assignee).get(reverse("web:call_task", args=[task.pk])).content.decode()
    # 19:00 in Tokyo: after their working day.
    assert "19:00, Monday" in html
    assert "Outside their hours" in html


def test_logging_an_outcome_closes_the_call_and_back_to_the_queue(
    olive: User, callers: Team, ann: Person
) -> None:
    task = factories.call_task(person=ann, team=callers)
    client = _as(olive)
    response = client.post(
        reverse("web:call_log", args=[task.pk]),
        {"outcome": "call_back", "note": "Call back after 3pm"},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("web:calls"), 302)]
    assert "Logged: Asked to be called back — Ann Lee." in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.outcome, task.done_by) == (TaskStatus.DONE, "call_back", olive)
    assert task.outcome_note == "Call back after 3pm"
    assert not task.note_private
    # Logging again is refused, clearly, and changes nothing.
    again = client.post(reverse("web:call_log", args=[task.pk]), {"outcome": "connected"})
    assert again.status_code == 400
    assert "already logged" in again.content.decode()
    task.refresh_from_db()
    assert task.outcome == "call_back"


def test_an_outside_caller_cannot_mark_a_note_private(olive: User, ann: Person) -> None:
    task = factories.call_task(person=ann, assignee=olive)
    page = _as(olive).get(reverse("web:call_task", args=[task.pk])).content.decode()
    assert 'name="private"' not in page
    _as(olive).post(
        reverse("web:call_log", args=[task.pk]),
        {"outcome": "connected", "note": "Nice chat", "private": "on"},
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert not task.note_private


def test_an_outcome_the_call_does_not_offer_is_refused(olive: User, ann: Person) -> None:
    task = factories.call_task(person=ann, assignee=olive, outcome_options=["connected"])
    response = _as(olive).post(reverse("web:call_log", args=[task.pk]), {"outcome": "voicemail"})
    assert response.status_code == 400
    assert "voicemail is not one of the available choices" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_another_teams_call_is_not_found(olive: User, ann: Person) -> None:
    other = factories.call_task(person=ann, team=factories.team(name="Other callers"))
    client = _as(olive)
    assert client.get(reverse("web:call_task", args=[other.pk])).status_code == 404
    response = client.post(reverse("web:call_log", args=[other.pk]), {"outcome": "connected"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == TaskStatus.OPEN


def test_next_call_skips_whom_may_not_be_called_and_says_why(
    olive: User, callers: Team, ann: Person
) -> None:
    blocked = factories.person_with_phone(first_name="Bo", last_name="Blocked")
    DoNotContact.objects.create(person=blocked, channel="phone", reason="asked us not to call")
    night = factories.person_with_phone(
        first_name="Nia", last_name="Night", time_zone="Pacific/Auckland"
    )
    first = factories.call_task(
        person=blocked, team=callers, due_at=clock.now() - dt.timedelta(hours=3)
    )
    second = factories.call_task(
        person=night, team=callers, due_at=clock.now() - dt.timedelta(hours=2)
    )
    third = factories.call_task(
        person=ann, team=callers, due_at=clock.now() - dt.timedelta(hours=1)
    )
    response = _as(olive).get(reverse("web:call_next"), follow=True)
    assert response.redirect_chain == [(reverse("web:call_task", args=[third.pk]), 302)]
    html = response.content.decode()
    assert "Skipped Bo Blocked: Do not contact by phone: asked us not to call." in html
    assert "Skipped Nia Night: Quiet hours where they are" in html
    # Skipping is not cancelling: they are still in the queue.
    assert set(CallTask.objects.filter(status="open").values_list("pk", flat=True)) >= {
        first.pk,
        second.pk,
    }


def test_a_call_page_for_someone_who_may_not_be_called_says_so(olive: User) -> None:
    blocked = factories.person_with_phone()
    DoNotContact.objects.create(person=blocked, channel="phone", reason="asked us not to call")
    task = factories.call_task(person=blocked, assignee=olive)
    html = _as(olive).get(reverse("web:call_task", args=[task.pk])).content.decode()
    assert "Do not call now." in html
    assert "asked us not to call" in html


def test_next_call_with_nothing_due_goes_back_to_the_queue(olive: User) -> None:
    factories.call_task(assignee=olive, due_at=clock.now() + dt.timedelta(hours=1))
    response = _as(olive).get(reverse("web:call_next"), follow=True)
    assert response.redirect_chain == [(reverse("web:calls"), 302)]
    assert "No call is due now." in response.content.decode()


def test_the_outside_callers_nav_shows_only_their_queue(olive: User) -> None:
    html = _as(olive).get(reverse("web:calls")).content.decode()
    nav = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    assert nav.count("<li>") == 1
    assert 'href="/calls/"' in nav
    assert 'aria-current="page"' in nav


def test_a_private_conversation_is_logged_from_the_form_and_marked(ann: Person) -> None:
    rita = factories.user(role=Role.SALES_REP, username="rita")
    client = _as(rita)
    response = client.post(
        reverse("web:person_conversation_new", args=[ann.pk]),
        {
            "kind": "call",
            "occurred_at": "2026-11-23T09:30",
            "people": [ann.pk],
            "summary": "Talked about the budget freeze",
            "private": "on",
        },
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert conversation.private
    html = client.get(reverse("web:person", args=[ann.pk])).content.decode()
    assert 'class="badge badge-private"' in html


def test_setting_an_appointment_needs_a_time_to_come(olive: User, ann: Person) -> None:
    task = factories.call_task(person=ann, assignee=olive)
    response = _as(olive).post(
        reverse("web:call_appointment", args=[task.pk]), {"starts_at": "2026-11-20T10:00"}
    )
    assert response.status_code == 400
    assert "That is in the past" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_an_outside_caller_sets_an_appointment_with_the_owner(olive: User, ann: Person) -> None:
    from leadline.booking.models import Meeting
    from leadline.routing.models import Ownership

    rita = factories.user(username="rita", first_name="Rita", last_name="Santos")
    Ownership.objects.create(owner=rita, person=ann)
    factories.bookable_hours(host=rita, hours="Mon-Fri 09:00-17:00")
    factories.booking_page(host=rita)
    task = factories.call_task(person=ann, assignee=olive)
    # Tuesday 14:00 in Berlin, the person's time zone, is 13:00 UTC.
    response = _as(olive).post(
        reverse("web:call_appointment", args=[task.pk]),
        {"starts_at": "2026-11-24T14:00", "note": "Wants to see the close dashboard"},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("web:calls"), 302)]
    assert "Appointment set: Ann Lee meets Rita Santos" in response.content.decode()
    meeting = Meeting.objects.get()
    assert meeting.host == rita
    assert meeting.starts_at == dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.UTC)
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "appointment_set")
