"""Booking against the real product (gunicorn + worker) in a real Chromium: a prospect in New York
opens a seller's booking page, sees the times in their own zone (detected by the browser), picks
one with the keyboard, books, and the invitation with its .ics arrives on the real SMTP server.

The seller and their page are made through `leadline shell`, the way an operator would; the demo
data's own pages are left as they are."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.browser, pytest.mark.server]

PROSPECT_ZONE = "America/New_York"
MAIL_TIMEOUT = 60.0

_SETUP = """
import json
from leadline.booking.models import BookableHours, BookingPage
from leadline.core.models import Role, User
spec = json.loads({spec!r})
seller = User.objects.create_user(
    username=spec["username"], password="x-" + spec["username"], email=spec["email"],
    first_name="Ines", last_name="Duarte", role=Role.SALES_REP, time_zone="Europe/Berlin",
)
BookableHours.objects.create(user=seller, hours="Mon-Sun 00:00-24:00")
BookingPage.objects.create(
    slug=spec["slug"], user=seller, title="Intro call", notice_minutes=60, horizon_days=3,
    buffer_minutes=0, location="https://meet.example/ines",
)
"""


def _invitation_to(smtp: Any, address: str, timeout: float) -> EmailMessage:
    """The first mail to `address` carrying a calendar file (the seller also hears of the
    handoff, by another mail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(smtp.messages):
            if address in str(message.get("To", "")) and any(
                part.get_content_type() == "text/calendar" for part in message.iter_attachments()
            ):
                return message  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"no invitation to {address} within {timeout:.0f} s")


def test_a_prospect_books_a_slot_and_the_invitation_arrives(
    browser: Browser, live_leadline: Any
) -> None:
    token = uuid.uuid4().hex[:8]
    spec = {
        "username": f"ines{token}",
        "email": f"ines{token}@seller.example",
        "slug": f"ines-{token}",
    }
    live_leadline.run("shell", "-c", _SETUP.format(spec=json.dumps(spec)))
    prospect = f"nadia.{token}@buyer.example"
    base = str(live_leadline.url).rstrip("/")

    context = browser.new_context(timezone_id=PROSPECT_ZONE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/book/{spec['slug']}/")
        # The page asked the browser for its zone and shows the times there.
        page.wait_for_url(f"**/book/{spec['slug']}/?tz=America%2FNew_York")
        expect(page.get_by_role("heading", name="Intro call")).to_be_visible()
        expect(page.get_by_label("Your time zone")).to_have_value(PROSPECT_ZONE)
        expect(page.get_by_role("heading", name=f"Pick a time ({PROSPECT_ZONE})")).to_be_visible()

        first = page.locator("input[name=start]").first
        chosen = first.get_attribute("value")
        assert chosen is not None
        starts_at = dt.datetime.fromisoformat(chosen)
        local = starts_at.astimezone(ZoneInfo(PROSPECT_ZONE))
        expect(page.locator("label.slot").first).to_have_text(local.strftime("%H:%M"))

        # By keyboard: focus the first time, take it with Space, then fill in the details.
        first.focus()
        page.keyboard.press("Space")
        expect(first).to_be_checked()
        page.get_by_label("Name").fill("Nadia Okafor")
        page.get_by_label("Email").fill(prospect)
        page.get_by_label("Company (optional)").fill("Okafor Logistics")
        page.get_by_role("button", name="Book this time").click()

        expect(page.get_by_text("You're booked.")).to_be_visible()
        expect(page.get_by_text(f"({PROSPECT_ZONE})")).to_be_visible()
        expect(page.get_by_role("link", name="Cancel the meeting")).to_be_visible()
    finally:
        context.close()

    message = _invitation_to(live_leadline.smtp, prospect, MAIL_TIMEOUT)
    assert "Intro call with Ines Duarte" in str(message["Subject"])
    [attachment] = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    assert attachment.get_filename() == "invite.ics"
    calendar = Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == starts_at
    assert event.decoded("DTEND") == starts_at + dt.timedelta(minutes=30)
    assert int(event["SEQUENCE"]) == 0
    assert str(event["ORGANIZER"]) == f"mailto:{spec['email']}"
    assert str(event["ATTENDEE"]) == f"mailto:{prospect}"
    assert f"{base}/book/m/" in str(event["DESCRIPTION"])
    # The seller gets the same invitation.
    to_seller = _invitation_to(live_leadline.smtp, spec["email"], MAIL_TIMEOUT)
    assert "Intro call with Nadia Okafor" in str(to_seller["Subject"])
