"""The staff UI's htmx parts in a real Chromium against the real server: live search, adding a
builder row, copying the embed snippet."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]


def api(server: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        str(server.url).rstrip("/") + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {server.api_token('maria')}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def staff_page(browser: Browser, live_leadline: Any) -> Any:
    base = str(live_leadline.url).rstrip("/")
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, base, "maria")
    expect(page).to_have_url(f"{base}/people/")
    yield page
    context.close()


def test_live_search_swaps_the_results_in_place(staff_page: Page, live_leadline: Any) -> None:
    word = f"zeppelins{uuid.uuid4().hex[:6]}"
    made = api(
        live_leadline,
        "POST",
        "/api/v1/people",
        {
            "email": f"{word}@airships.example",
            "first_name": "Bob",
            "last_name": "Stone",
            "role_own_words": f"I buy {word} for the whole fleet",
        },
    )
    person_id = made["person"]["id"]
    staff_page.evaluate("window.stayedOnThePage = true")

    staff_page.get_by_label("Search people").fill(word)

    expect(staff_page.locator("#people-status")).to_contain_text(f"1 person matching “{word}”")
    expect(staff_page.locator(f'a[href="/people/{person_id}/"]')).to_be_visible()
    assert staff_page.evaluate("window.stayedOnThePage") is True
    assert f"q={word}" in staff_page.url  # the search is in the address bar, so it can be shared


def test_builder_adds_a_row_with_htmx_and_saves_it(staff_page: Page, live_leadline: Any) -> None:
    slug = f"pricing-{uuid.uuid4().hex[:6]}"
    staff_page.goto(f"{str(live_leadline.url).rstrip('/')}/forms/new/")
    staff_page.get_by_label("Internal name").fill("Pricing request")
    staff_page.get_by_label("Slug").fill(slug)
    staff_page.get_by_label("Heading").fill("Talk to us about pricing")
    rows = staff_page.locator("tr.field-row")
    before = rows.count()

    staff_page.get_by_role("button", name="Add a field").click()

    expect(rows).to_have_count(before + 1)
    new_name = staff_page.get_by_label(f"Field {before + 1}: name")
    expect(new_name).to_be_focused()
    new_name.fill("seats")
    staff_page.get_by_label(f"Field {before + 1}: label").fill("How many seats?")
    # Enter saves the form; it must not press "Add a field", the first button a visitor sees.
    staff_page.get_by_label(f"Field {before + 1}: label").press("Enter")

    expect(staff_page.get_by_role("heading", level=1)).to_contain_text("Pricing request")
    saved = api(live_leadline, "GET", f"/api/v1/forms/{slug}")
    seats = next(field for field in saved["fields"] if field["name"] == "seats")
    assert (seats["label"], seats["required"]) == ("How many seats?", False)

    staff_page.get_by_role("button", name="Copy embed snippet").click()
    expect(staff_page.locator("#copy-status")).to_have_text("Copied")
    copied = staff_page.evaluate("navigator.clipboard.readText()")
    assert f'data-form="{slug}"' in copied
