"""The journey editor in a real Chromium against the real product, by keyboard only: make a
journey, add a step and an exit signal (the preview says what it looks for as it is typed),
move a step with Alt+↑, save, and see it all on the journey's page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]


def press_on(page: Page, locator: Any, key: str = "Enter") -> None:
    locator.focus()
    page.keyboard.press(key)


def test_a_journey_is_made_with_steps_and_a_signal_by_keyboard(
    page: Page, live_leadline: Any
) -> None:
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, "maria")
    page.goto(f"{base}/journeys/")
    press_on(page, page.get_by_role("link", name="New journey"))
    expect(page.get_by_role("heading", name="New journey", level=1)).to_be_visible()

    name = f"Renewals {uuid.uuid4().hex[:6]}"
    page.get_by_role("textbox", name="Name", exact=True).focus()
    page.keyboard.type(name)
    page.get_by_label("Step 1: name, in the buyer's words").focus()
    page.keyboard.type("Weighing the renewal")

    # Add an exit signal to step 1: the new row takes the focus, and its preview follows the typing.
    press_on(page, page.get_by_role("button", name="+ Add an exit signal to step 1"))
    status = page.locator("#editor-status")
    expect(status).to_have_text("Exit signal 1 added to step 1.")
    signal = page.get_by_role("group", name="Exit signal 1 of step 1")
    expect(signal.get_by_label("Signal name")).to_be_focused()
    page.keyboard.type("Read the renewal terms twice")
    page.keyboard.press("Tab")
    expect(signal.get_by_label("Event")).to_be_focused()
    page.keyboard.type("page_view")
    page.keyboard.press("Tab")
    page.keyboard.type("/renewal")
    signal.get_by_label("At least (times)").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    expect(signal.locator(".signal-preview")).to_have_text(
        "Moves them on after 2 page views of a page whose address contains “/renewal”."
    )

    # Add a second step; it takes the focus. Then move it above the first with Alt+↑.
    press_on(page, page.get_by_role("button", name="+ Add a step"))
    expect(status).to_have_text("Step 2 added.")
    second = page.get_by_label("Step 2: name, in the buyer's words")
    expect(second).to_be_focused()
    page.keyboard.type("Noticing the renewal date")
    page.keyboard.press("Alt+ArrowUp")
    expect(status).to_have_text("“Noticing the renewal date” is now step 1 of 2.")
    expect(page.get_by_role("button", name="Move down: step 1")).to_be_focused()
    expect(page.get_by_label("Step 1: name, in the buyer's words")).to_have_value(
        "Noticing the renewal date"
    )
    # The signal went with its step, as typed.
    moved = page.get_by_role("group", name="Exit signal 1 of step 2")
    expect(moved.get_by_label("Signal name")).to_have_value("Read the renewal terms twice")

    press_on(page, page.get_by_role("button", name="Create journey"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.get_by_text(f"Journey “{name}” created.")).to_be_visible()
    steps = page.locator("ol.journey-steps > li")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("Noticing the renewal date")
    expect(steps.nth(1)).to_contain_text("Weighing the renewal")
    expect(steps.nth(1)).to_contain_text(
        "Read the renewal terms twice: 2 page views of a page whose address contains “/renewal”"
    )


def test_a_mistake_is_shown_next_to_its_field_and_nothing_is_saved(
    page: Page, live_leadline: Any
) -> None:
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, "maria")
    page.goto(f"{base}/journeys/new/")
    page.get_by_role("textbox", name="Name", exact=True).fill(f"Broken {uuid.uuid4().hex[:6]}")
    press_on(page, page.get_by_role("button", name="+ Add an exit signal to step 1"))
    signal = page.get_by_role("group", name="Exit signal 1 of step 1")
    expect(signal.get_by_label("Signal name")).to_be_focused()
    page.keyboard.type("Asked for a quote")
    page.keyboard.press("Tab")
    page.keyboard.type("Quote Asked")
    page.keyboard.press("Enter")  # Enter in a field saves
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Nothing was saved. Please fix 2 problems:")
    expect(summary).to_contain_text("Step 1, step name: is required")
    event = signal.get_by_label("Event")
    expect(event).to_have_attribute("aria-invalid", "true")
    expect(event).to_have_value("Quote Asked")
    expect(signal).to_contain_text("An event name of a-z, 0-9, _ . : - is required")
    expect(page).to_have_url(f"{base}/journeys/new/")
