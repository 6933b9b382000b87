"""The staff "Booking" page: my bookable hours, my booking page and its link, my coming meetings;
managers make their team's round-robin page. Sellers only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.booking import services
from leadline.booking.models import BookableHours, BookingPage, Meeting, MeetingStatus
from leadline.core import clock
from leadline.core.models import Role, User
from leadline.core.permissions import access_booking_settings, access_booking_team_pages
from leadline.notify.models import OutgoingMail
from tests import factories

pytestmark = pytest.mark.django_db

MONDAY = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY):
        yield


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [Role.MARKETING, Role.OUTSIDE_CALLER])
def test_roles_that_take_no_meetings_get_403(role: str) -> None:
    client = logged_in(factories.user(role=role))
    assert client.get("/booking/").status_code == 403
    assert client.post("/booking/", {"hours": "Mon 09:00-10:00"}).status_code == 403
    assert client.get("/booking/pages/new/").status_code == 403
    assert not BookableHours.objects.exists()


def test_anonymous_visitors_go_to_the_login_page(client: Client) -> None:
    response = client.get("/booking/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_permission_checks() -> None:
    rep, manager = factories.user(), factories.user(role=Role.SALES_MANAGER)
    assert access_booking_settings(rep)
    assert not access_booking_team_pages(rep)
    assert access_booking_team_pages(manager)
    assert not access_booking_settings(factories.user(role=Role.MARKETING))


def test_a_rep_sets_their_bookable_hours() -> None:
    team = factories.team(working_hours="Mon-Fri 08:00-16:00")
    rep = factories.user(team=team, time_zone="Europe/Lisbon")
    client = logged_in(rep)

    page = client.get("/booking/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Mon-Fri 08:00-16:00"' in html  # the team's hours until they set their own
    assert "Europe/Lisbon" in html
    assert 'aria-current="page">Booking' in html

    saved = client.post("/booking/", {"hours": "Mon-Thu  10:00-12:00, 14:00-16:30"})
    assert saved.status_code == 302
    assert BookableHours.objects.get(user=rep).hours == "Mon-Thu 10:00-12:00, 14:00-16:30"

    wrong = client.post("/booking/", {"hours": "Mon 17:00-09:00"})
    assert wrong.status_code == 400
    assert "ends before it starts" in wrong.content.decode()
    assert BookableHours.objects.get(user=rep).hours == "Mon-Thu 10:00-12:00, 14:00-16:30"


def test_a_rep_makes_their_page_and_sees_its_public_link() -> None:
    rep = factories.user(first_name="Ines", last_name="Duarte")
    client = logged_in(rep)
    form = client.get("/booking/pages/new/").content.decode()
    assert 'value="ines-duarte"' in form

    made = client.post(
        "/booking/pages/new/",
        {
            "title": "Meet Ines",
            "slug": "ines-duarte",
            "length_minutes": "45",
            "buffer_minutes": "15",
            "notice_minutes": "120",
            "horizon_days": "14",
            "location": "https://meet.example/ines",
            "active": "on",
        },
    )
    assert made.status_code == 302
    page = BookingPage.objects.get(slug="ines-duarte")
    assert (page.user, page.team, page.length_minutes, page.buffer_minutes) == (rep, None, 45, 15)
    html = client.get("/booking/").content.decode()
    assert "http://testserver/book/ines-duarte/" in html
    assert "Make my booking page" not in html

    taken = client.post(
        "/booking/pages/new/",
        {
            "title": "Again",
            "slug": "ines-duarte",
            "length_minutes": "30",
            "buffer_minutes": "0",
            "notice_minutes": "0",
            "horizon_days": "7",
        },
    )
    assert taken.status_code == 400
    assert "already exists" in taken.content.decode()
    other = logged_in(factories.user())
    assert other.get(f"/booking/pages/{page.pk}/").status_code == 403
    assert other.post(f"/booking/pages/{page.pk}/", {"title": "Mine now"}).status_code == 403


def test_only_managers_make_team_pages_and_only_for_their_teams() -> None:
    manager = factories.user(role=Role.SALES_MANAGER)
    team = factories.team(manager=manager)
    factories.team(name="Someone else's")
    rep = factories.user(team=team)
    assert logged_in(rep).get("/booking/pages/new/?team=1").status_code == 403

    client = logged_in(manager)
    form = client.get("/booking/pages/new/?team=1").content.decode()
    assert team.name in form
    assert "Someone else" not in form
    made = client.post(
        "/booking/pages/new/?team=1",
        {
            "team": str(team.pk),
            "title": "Talk to sales",
            "slug": "sales",
            "length_minutes": "30",
            "buffer_minutes": "10",
            "notice_minutes": "240",
            "horizon_days": "21",
            "active": "on",
        },
    )
    assert made.status_code == 302
    page = BookingPage.objects.get(slug="sales")
    assert (page.team, page.user) == (team, None)
    # The team's reps see it, but may not change it.
    html = logged_in(rep).get("/booking/").content.decode()
    assert "Round robin" in html
    assert f"/booking/pages/{page.pk}/" not in html


def test_coming_meetings_are_listed_and_the_host_can_cancel() -> None:
    rep = factories.user(time_zone="UTC")
    page = factories.booking_page(host=rep)
    meeting = services.meeting_book(
        page=page,
        starts_at=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
        name="Ann Lee",
        email="ann@buyer.example",
        company="Acme Widgets",
    )
    client = logged_in(rep)
    html = client.get("/booking/").content.decode()
    assert "Tue 24 Nov, 09:00–09:30" in html
    assert "Ann Lee" in html
    assert "Acme Widgets" in html

    assert (
        logged_in(factories.user()).post(f"/booking/meetings/{meeting.pk}/cancel/").status_code
        == 403
    )
    assert client.post(f"/booking/meetings/{meeting.pk}/cancel/").status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED
    assert OutgoingMail.objects.filter(reason="meeting.cancel", person=meeting.person).exists()
    assert Meeting.objects.filter(status=MeetingStatus.BOOKED).count() == 0


def test_the_persons_page_shows_their_coming_meeting() -> None:
    rep = factories.user(first_name="Ines", last_name="Duarte", time_zone="UTC")
    page = factories.booking_page(host=rep)
    meeting = services.meeting_book(
        page=page,
        starts_at=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
        name="Ann Lee",
        email="ann@buyer.example",
    )
    html = logged_in(rep).get(f"/people/{meeting.person_id}/").content.decode()
    assert "Meetings" in html
    assert "Tue 24 Nov, 09:00" in html
    assert "with Ines Duarte" in html
