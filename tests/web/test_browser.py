"""The htmx parts in a real Chromium: live search, adding a builder row, copying the snippet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from leadline.capture.models import Form
from leadline.core.models import Role
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls, so Django may allow them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def _log_in(page: Page, base: str) -> None:
    factories.user(role=Role.MARKETING, username="maria")
    page.goto(f"{base}/login/")
    page.locator("[name=username]").fill("maria")
    page.locator("[name=password]").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/people/")


def test_live_search_swaps_the_results_in_place(page: Page, live_server: Any) -> None:
    ann = factories.person(first_name="Ann", last_name="Lee", role_own_words="I run finance")
    bob = factories.person(first_name="Bob", last_name="Stone", role_own_words="I buy laptops")
    _log_in(page, live_server.url)
    page.evaluate("window.stayedOnThePage = true")

    page.get_by_label("Search people").fill("laptops")

    expect(page.locator("#people-status")).to_contain_text("1 person matching “laptops”")
    expect(page.locator(f'a[href="/people/{bob.pk}/"]')).to_be_visible()
    expect(page.locator(f'a[href="/people/{ann.pk}/"]')).to_have_count(0)
    assert page.evaluate("window.stayedOnThePage") is True
    assert "q=laptops" in page.url  # the search is in the address bar, so it can be shared


def test_builder_adds_a_row_with_htmx_and_saves_it(page: Page, live_server: Any) -> None:
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/forms/new/")
    page.get_by_label("Internal name").fill("Pricing request")
    page.get_by_label("Slug").fill("pricing")
    page.get_by_label("Heading").fill("Talk to us about pricing")
    rows = page.locator("tr.field-row")
    before = rows.count()

    page.get_by_role("button", name="Add a field").click()

    expect(rows).to_have_count(before + 1)
    new_name = page.get_by_label(f"Field {before + 1}: name")
    expect(new_name).to_be_focused()
    new_name.fill("seats")
    page.get_by_label(f"Field {before + 1}: label").fill("How many seats?")
    # Enter saves the form; it must not press "Add a field", the first button a visitor sees.
    page.get_by_label(f"Field {before + 1}: label").press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Pricing request")
    form = Form.objects.get(slug="pricing")
    assert {"name": "seats", "required": False, "label": "How many seats?"} in form.fields

    page.get_by_role("button", name="Copy embed snippet").click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert 'data-form="pricing"' in copied
