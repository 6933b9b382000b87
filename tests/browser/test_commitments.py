"""Promises end to end, in a real Chromium against the real product (web + worker): a rep logs
a call with a promise from a person's page, the Promises card shows it at once, the worker
breaks another at its due time on the moved clock, and the rep marks the first kept with the
keyboard alone."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

_SETUP = """
import datetime as dt, json
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, Role, User
from leadline.routing.models import Ownership
rep = User.objects.create_user(username={username!r}, password={password!r},
                               role=Role.SALES_REP, first_name="Rita", last_name="Promise")
person = Person.objects.create(first_name="Paula", last_name="Promised{token}")
PersonEmail.objects.create(person=person, email="paula.{token}@promise.example", is_primary=True)
Ownership.objects.create(owner=rep, person=person)  # their prospect: in the rep's view
print(json.dumps({{"person": person.pk, "today": clock.now().date().isoformat()}}))
"""

_SOON = """
import datetime as dt
from leadline.commitments.services import commitment_make
from leadline.core import clock
from leadline.core.models import Person, User
commitment_make(person=Person.objects.get(pk={person}), promised_by=User.objects.get(
    username={username!r}), what="Call back {token}", due_at=clock.now() + dt.timedelta(minutes=2))
"""


def test_a_promise_logged_kept_and_another_broken_by_the_worker(
    page: Page, live_leadline: Any
) -> None:
    token = uuid.uuid4().hex[:8]
    username, password = f"rita{token}", f"pw-{token}"
    made = live_leadline.run(
        "shell", "-c", _SETUP.format(username=username, password=password, token=token)
    )
    found = json.loads(made.stdout.strip().splitlines()[-1])
    person_id = found["person"]
    due = dt.date.fromisoformat(found["today"]) + dt.timedelta(days=3)
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, username, password)
    page.goto(f"{base}/people/{person_id}/")

    card = page.locator("#commitments")
    expect(card).to_contain_text("Nothing promised to them is waiting.")
    conversations = page.locator("#conversations")
    conversations.get_by_text("Log a call, meeting, email or note").click()
    conversations.get_by_label("What was talked about").fill("Pricing questions.")
    conversations.locator("summary", has_text="Promises made").click()
    what = f"Send the pricing {token}"
    conversations.get_by_label("Promise 1", exact=True).fill(what)
    conversations.get_by_label("Due by (promise 1)").fill(due.isoformat())
    conversations.get_by_role("button", name="Log conversation").click()

    expect(conversations.get_by_role("status")).to_have_text(
        "Call logged. 1 promise recorded: see Promises."
    )
    # The card reloads itself once the conversation is logged.
    expect(card.locator(".commitment")).to_have_count(1)
    expect(card).to_contain_text(what)
    expect(card.locator("#commitments-count")).to_have_text("1")

    # A second promise, due in two minutes; the clock moves three: the worker breaks it.
    live_leadline.run("shell", "-c", _SOON.format(person=person_id, username=username, token=token))
    live_leadline.clock_move(dt.timedelta(minutes=3))
    try:
        broken = card.locator(".commitment", has_text=f"Call back {token}")
        for _ in range(30):
            page.reload()
            if "Broken" in (broken.locator(".badge-bad").text_content() or ""):
                break
            page.wait_for_timeout(500)
        expect(broken.locator(".badge-bad")).to_have_text("Broken: not kept in time")
        expect(broken).to_have_class("commitment commitment-overdue")
    finally:
        live_leadline.clock_move(dt.timedelta(0))

    # Kept, by the keyboard: the card says so and moves it to what was kept.
    kept = card.get_by_role("button", name=f"Kept: {what}")
    kept.focus()
    page.keyboard.press("Enter")
    expect(card.get_by_role("status")).to_have_text(f"Kept on time: {what}.")
    expect(card.locator(".commitment-history")).to_contain_text("Kept on time")
    expect(card.locator(".commitment-history")).to_contain_text(what)
    expect(card.locator("#commitments-count")).to_have_text("1")  # the broken one is left
