"""Issue 4's journey, end to end in a real Chromium against the real product: an anonymous
visitor browses a customer's site that embeds /t.js, then sends the form embedded there; the
person page shows the earlier visits, and an exit signal of the default journey ("Visited
pricing twice") has moved them on, with the timeline saying which signal did it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in
from tests.browser.test_capture_flow import fill_in_as_prospect

pytestmark = [pytest.mark.browser, pytest.mark.server]
PAGES = {"solutions.html": "Solutions", "pricing.html": "Pricing"}


@pytest.fixture
def site(live_leadline: Any, customer_site: Callable[[dict[str, str]], str]) -> str:
    """Pages with the tracking tag, and a guide page with the tag and the embedded form."""
    leadline = str(live_leadline.url).rstrip("/")
    tag = f'<script src="{leadline}/t.js" data-site="demo-site" async></script>'
    form = f'<script src="{leadline}/embed.js" data-form="cfo-guide" async></script>'
    pages = {}
    for name, title in {**PAGES, "guide.html": "The CFO guide"}.items():
        pages[name] = (
            f"<!doctype html><html lang=en><head><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{form if name == 'guide.html' else ''}{tag}</body></html>"
        )
    return customer_site(pages)


def visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.leadline && window.leadline.loaded")


def test_earlier_visits_join_the_person_and_a_signal_moves_them_on(
    page: Page, live_leadline: Any, site: str
) -> None:
    email = f"nadia.{uuid.uuid4().hex[:8]}@brightwater-logistics.example"
    for name in ("solutions.html", "pricing.html", "pricing.html"):
        visit(page, f"{site}/{name}")  # leaving each page sends its view
    visit(page, f"{site}/guide.html")
    form = page.locator("[data-leadline-form=cfo-guide]")
    expect(form).to_be_visible()
    fill_in_as_prospect(page, email=email, own_words="I keep month-end sane")
    form.get_by_role("button").click()
    expect(page.locator(".leadline-thanks")).to_be_visible()

    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, "maria")
    page.goto(f"{base}/people/?q={email}")
    page.get_by_role("link", name="Nadia Okafor").first.click()

    timeline = page.locator("#timeline")
    journey = page.locator("#journeys")
    # The worker joins the visits and weighs the signals moments after the form: look again
    # until it has (the page is not live; a person would reload too).
    for _ in range(40):
        if "Visited pricing twice" in (journey.text_content() or ""):
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(timeline).to_contain_text("Viewed Solutions (/solutions.html)")
    expect(timeline.get_by_text("Viewed Pricing (/pricing.html)")).to_have_count(2)
    expect(journey).to_contain_text("Comparing vendors")
    expect(journey).to_contain_text("Visited pricing twice")
    expect(timeline).to_contain_text(
        "Moved to “Comparing vendors” (The buyer's journey) — signal: Visited pricing twice"
    )
