"""A rep logs a call from a person's page with the keyboard alone, in a real Chromium against the
real product: the pain point the prospect named is suggested at once, the rep confirms it, and
it shows under "What they said hurts" in the prospect's own words."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

# A rep to log in as, a person to talk to, and a pain point in the catalogue.
_SETUP = """
import json
from leadline.core.models import Person, PersonEmail, Role, User
from leadline.routing.models import Ownership
from leadline.journeys.models import PainPoint
rep = User.objects.create_user(username={username!r}, password={password!r},
                               role=Role.SALES_REP, first_name="Rita", last_name="Keyboard")
person = Person.objects.create(first_name="Nora", last_name="Quill{token}", title="Controller")
PersonEmail.objects.create(person=person, email="nora.{token}@quill.example", is_primary=True)
Ownership.objects.create(owner=rep, person=person)  # their prospect: in the rep's view
PainPoint.objects.create(name={pain!r}, phrases="month-end {token}\\nclosing the books {token}")
print(json.dumps({{"person": person.pk}}))
"""


def test_a_call_logged_by_keyboard_suggests_a_pain_point_that_shows_in_their_words(
    page: Page, live_leadline: Any
) -> None:
    token = uuid.uuid4().hex[:8]
    username, password = f"rita{token}", f"pw-{token}"
    pain = f"Slow month-end close {token}"
    made = live_leadline.run(
        "shell",
        "-c",
        _SETUP.format(username=username, password=password, token=token, pain=pain),
    )
    person_id = json.loads(made.stdout.strip().splitlines()[-1])["person"]
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, username, password)
    page.goto(f"{base}/people/{person_id}/")

    said = page.locator("#pains-said")
    expect(said).to_contain_text("Nothing confirmed yet.")
    conversations = page.locator("#conversations")
    status = conversations.get_by_role("status")

    # Open the form from its summary, and type: the person is preselected, it is a call.
    conversations.get_by_text("Log a call, meeting, email or note").focus()
    page.keyboard.press("Enter")
    kind = conversations.get_by_label("What kind")
    expect(kind).to_be_visible()
    expect(kind).to_have_value("call")
    expect(conversations.get_by_role("checkbox", name=f"Nora Quill{token}")).to_be_checked()
    conversations.get_by_label("What was talked about").focus()
    page.keyboard.type("First call. Walked through how they close the month.")
    page.keyboard.press("Tab")  # on to "Their words"
    quote = f"Honestly, month-end {token} takes us twelve days."
    page.keyboard.type(f"{quote}\nThe rest works fine.")
    conversations.get_by_role("button", name="Log conversation").focus()
    page.keyboard.press("Enter")

    expect(status).to_have_text(
        "Call logged. 1 pain point suggested from what was said: confirm or reject below."
    )
    logged = conversations.locator(".conversation").first
    expect(logged.locator(".conversation-head")).to_be_focused()
    expect(logged.get_by_role("blockquote").first).to_have_text(quote)
    suggestion = logged.locator(".suggestion")
    expect(suggestion).to_contain_text(pain)
    expect(suggestion).to_contain_text("Suggested")

    # Tab from the conversation to its Confirm button, and press it.
    confirm = suggestion.get_by_role("button", name=f"Confirm {pain}")
    for _ in range(10):
        page.keyboard.press("Tab")
        if confirm.evaluate("button => button === document.activeElement"):
            break
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")

    expect(status).to_have_text(f"Confirmed: {pain}. It shows under “What they said hurts”.")
    expect(suggestion).to_contain_text("Confirmed")
    expect(suggestion).to_be_focused()
    expect(suggestion.get_by_role("button", name=f"Confirm {pain}")).to_have_count(0)
    expect(said).to_contain_text(pain)
    expect(said.get_by_role("blockquote")).to_have_text(quote)
    expect(said).to_contain_text("Call")

    # It stays after a reload.
    page.reload()
    expect(page.locator("#pains-said").get_by_role("blockquote")).to_have_text(quote)
