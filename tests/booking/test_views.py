"""The public booking page and the signed links of a meeting, through real HTTP requests: slots in
the prospect's time zone, booking with CSRF, a honeypot and a rate limit; moving and cancelling
only through genuine, current links."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from leadline.booking.models import Meeting, MeetingStatus
from leadline.core import clock
from leadline.core.models import Person
from leadline.notify.models import OutgoingMail
from tests import factories

pytestmark = pytest.mark.django_db

MONDAY = factories.MONDAY_10
TUESDAY_9 = "2026-11-24T09:00:00Z"  # 10:00 in Berlin, 04:00 in New York


@pytest.fixture(autouse=True)
def _monday() -> Any:
    with clock.frozen_at(MONDAY):
        yield


@pytest.fixture
def page() -> Any:
    host = factories.user(first_name="Ines", last_name="Duarte", time_zone="Europe/Berlin")
    factories.bookable_hours(host=host, hours="Mon-Fri 09:00-12:00")
    return factories.booking_page(host=host, slug="ines", title="Intro call", horizon_days=7)


def form(**overrides: str) -> dict[str, str]:
    data = {
        "start": TUESDAY_9,
        "name": "Ann Lee",
        "email": "ann@buyer.example",
        "company": "Acme Widgets",
        "note": "",
        "tz": "America/New_York",
    }
    data.update(overrides)
    return data


def links(meeting: Meeting) -> dict[str, str]:
    """The reschedule and cancel links in the latest mail to the prospect (paths)."""
    mail = OutgoingMail.objects.filter(person=meeting.person).latest("id")
    found = re.findall(r"http://testserver(/book/m/[^/\s]+/(?:reschedule|cancel)/)", mail.text)
    return {path.rstrip("/").rsplit("/", 1)[1]: path for path in found}


def test_the_page_shows_slots_by_day_in_the_prospects_time_zone(client: Client, page: Any) -> None:
    response = client.get("/book/ines/?tz=America/New_York")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Intro call" in html
    assert "with Ines Duarte" in html
    # Tuesday 09:00-12:00 in Berlin is 03:00-06:00 in New York (the first slot is 04:00:
    # Monday's slots are already past or closed). Times are grouped under the prospect's dates.
    assert "Tuesday 24 November" in html
    assert f'value="{TUESDAY_9}"' in html
    assert "<span>04:00</span>" in html
    assert '<option value="America/New_York" selected>' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="website_url"' in html
    # No slot after the horizon (7 days): Monday 30 November is the last day shown.
    assert "Monday 30 November" in html
    assert "Tuesday 1 December" not in html


def test_an_unknown_time_zone_falls_back_to_utc(client: Client, page: Any) -> None:
    html = client.get("/book/ines/?tz=Mars/Olympus").content.decode()
    assert '<option value="UTC" selected>' in html
    assert "<span>09:00</span>" in html


def test_unknown_and_closed_pages_are_404(client: Client, page: Any) -> None:
    assert client.get("/book/nobody/").status_code == 404
    page.active = False
    page.save()
    assert client.get("/book/ines/").status_code == 404
    assert client.post("/book/ines/", form()).status_code == 404
    assert not Meeting.objects.exists()


def test_booking_makes_the_meeting_and_shows_the_confirmation(client: Client, page: Any) -> None:
    response = client.post("/book/ines/", form(note="Month-end takes 12 days"))

    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert meeting.starts_at == dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    assert (meeting.time_zone, meeting.company, meeting.note) == (
        "America/New_York",
        "Acme Widgets",
        "Month-end takes 12 days",
    )
    confirmation = client.get(response["Location"])
    html = confirmation.content.decode()
    assert "You're booked" in html
    assert "Tuesday 24 November 2026, 04:00" in html
    assert "(America/New_York)" in html
    assert set(links(meeting)) == {"reschedule", "cancel"}


def test_the_form_needs_the_csrf_token(page: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/book/ines/", form()).status_code == 403
    assert not Meeting.objects.exists()


def test_a_filled_honeypot_books_nothing(client: Client, page: Any) -> None:
    response = client.post("/book/ines/", form(website_url="http://spam.example"))
    assert response.status_code == 400
    assert not Meeting.objects.exists()
    assert not Person.objects.exists()


def test_missing_details_are_shown_next_to_their_fields(client: Client, page: Any) -> None:
    response = client.post("/book/ines/", form(name="", email="", start=""))
    assert response.status_code == 400
    html = response.content.decode()
    for message in ("Enter your name.", "Enter your email address.", "Pick a time."):
        assert message in html
    response = client.post("/book/ines/", form(email="not-an-address"))
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not Meeting.objects.exists()


def test_a_time_taken_meanwhile_is_said_plainly(client: Client, page: Any) -> None:
    assert client.post("/book/ines/", form()).status_code == 302
    response = client.post("/book/ines/", form(name="Bo Berg", email="bo@other.example"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "That time was just taken" in html
    assert 'value="Bo Berg"' in html  # what they typed is kept
    assert Meeting.objects.count() == 1


def test_booking_is_rate_limited_per_address(client: Client, page: Any, settings: Any) -> None:
    settings.BOOKING_RATE_LIMIT = "2/60"
    assert client.post("/book/ines/", form(name="")).status_code == 400
    assert client.post("/book/ines/", form(name="")).status_code == 400
    response = client.post("/book/ines/", form())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not Meeting.objects.exists()


def test_the_reschedule_link_moves_the_meeting_once(client: Client, page: Any) -> None:
    client.post("/book/ines/", form())
    meeting = Meeting.objects.get()
    first = links(meeting)

    shown = client.get(first["reschedule"] + "?tz=Europe/Berlin")
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "Pick another time" in html
    assert f'value="{TUESDAY_9}"' in html

    moved = client.post(
        first["reschedule"], {"start": "2026-11-24T10:00:00Z", "tz": "Europe/Berlin"}
    )
    assert moved.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.starts_at.hour, meeting.sequence) == (10, 1)

    # The links of the first invitation are out of date now: they change nothing.
    again = client.post(first["reschedule"], {"start": TUESDAY_9})
    assert again.status_code == 410
    assert client.post(first["cancel"]).status_code == 410
    meeting.refresh_from_db()
    assert (meeting.starts_at.hour, meeting.status) == (10, MeetingStatus.BOOKED)
    assert set(links(meeting)) == {"reschedule", "cancel"}
    assert links(meeting) != first


def test_the_cancel_link_asks_first_then_cancels(client: Client, page: Any) -> None:
    client.post("/book/ines/", form())
    meeting = Meeting.objects.get()
    cancel = links(meeting)["cancel"]

    asked = client.get(cancel)
    assert asked.status_code == 200
    assert "Yes, cancel it" in asked.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.BOOKED  # a GET (a mail scanner) changes nothing

    done = client.post(cancel, {"reason": "Found another way"})
    assert done.status_code == 302
    assert "This meeting is cancelled" in client.get(done["Location"]).content.decode()
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED
    assert client.post(cancel).status_code == 410


@pytest.mark.parametrize("action", ["reschedule", "cancel"])
def test_a_tampered_or_borrowed_link_is_404_and_changes_nothing(
    client: Client, page: Any, action: str
) -> None:
    client.post("/book/ines/", form())
    meeting = Meeting.objects.get()
    path = links(meeting)[action]
    token = path.split("/")[3]
    other = "cancel" if action == "reschedule" else "reschedule"
    forged = [
        path.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")),
        path.replace(token, "eyJtIjoxLCJzIjowfQ:forged:signature"),
        # A genuine token of the other kind (salts differ): not a key to this door.
        path.replace(f"/{action}/", f"/{other}/")
        .replace(token, links(meeting)[other].split("/")[3])
        .replace(f"/{other}/", f"/{action}/"),
        f"/book/m/{links(meeting)[other].split('/')[3]}/{action}/",
    ]
    for url in forged:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"start": "2026-11-24T10:00:00Z", "reason": "x"}).status_code == 404
    meeting.refresh_from_db()
    assert (meeting.status, meeting.sequence, meeting.starts_at.hour) == ("booked", 0, 9)


def test_a_link_signed_for_a_person_books_for_them_and_a_tampered_one_books_nothing(
    client: Client, page: Any
) -> None:
    from leadline.booking.links import invite_path

    pat = factories.person(email="pat@buyer.example", first_name="Pat", last_name="Lee")
    path = invite_path(page, pat)
    shown = client.get(path).content.decode()
    assert 'value="pat@buyer.example"' in shown  # who they are is known; they pick a time
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    other_page = factories.booking_page(host=page.user, slug="ines-demo", title="Demo")
    moved = path.replace("/book/ines/", "/book/ines-demo/")
    people_before = Person.objects.count()

    for bad in (tampered, moved):
        response = client.post(bad, form(name="Mallory", email="mallory@evil.example"))
        assert response.status_code == 400, bad
        assert client.get(bad).status_code == 400
    assert not Meeting.objects.exists()
    assert Person.objects.count() == people_before
    assert other_page.pk

    # The genuine link books for Pat, whatever address is typed in the form.
    response = client.post(path, form(name="P. Lee", email="someone.else@buyer.example"))
    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert meeting.person == pat
    assert Person.objects.count() == people_before
