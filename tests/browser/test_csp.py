"""The main pages work under the Content-Security-Policy (web/security.py) in a real Chromium:
no `securitypolicyviolation` event, no console error, and their scripts did run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Collects every CSP violation, from the first byte of each page on.
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") +
    " " + (e.sample || "") + " @" + e.lineNumber);
});
"""

_IDS = """
from leadline.booking.models import BookingPage
from leadline.core.models import Account, Person
print(Person.objects.order_by("id").first().pk, Account.objects.order_by("id").first().pk,
      BookingPage.objects.order_by("id").first().slug)
"""


_CSP_WORDS = re.compile(r"Content Security Policy|Refused to|EvalError|evalDisallowed", re.I)


def _visit(page: Page, url: str, problems: list[str], console: list[str]) -> None:
    console.clear()
    response = page.goto(url)
    assert response is not None, url
    assert response.status < 400, f"{url}: {response.status}"
    assert "script-src" in (response.headers.get("content-security-policy") or ""), url
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # htmx's load event and app.js's first run
    violations = page.evaluate("window.__violations || ['listener missing']")
    problems += [f"{url}: {v}" for v in violations]
    # Other console errors (a missing /favicon.ico on the public pages) are not the policy's.
    problems += [f"{url}: console: {e}" for e in console if _CSP_WORDS.search(e)]


def test_the_main_pages_have_no_csp_violations(browser: Browser, live_leadline: Any) -> None:
    base = str(live_leadline.url).rstrip("/")
    person_id, account_id, booking_slug = (
        live_leadline.run("shell", "-c", _IDS).stdout.strip().splitlines()[-1].split()
    )
    context = browser.new_context()
    context.add_init_script(_LISTEN)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    try:
        # Public pages, before logging in.
        _visit(page, f"{base}/f/cfo-guide/", problems, console)
        # The hosted form's inline script ran (it adds the page address for attribution).
        expect(page.locator("input[name=page_url]")).to_have_count(1)
        _visit(page, f"{base}/book/{booking_slug}/", problems, console)
        _visit(page, f"{base}/login/", problems, console)

        log_in(page, base, "admin")
        expect(page).not_to_have_url(f"{base}/login/")
        for path in (
            "/inbox/",
            "/people/",
            f"/people/{person_id}/",
            f"/accounts/{account_id}/",
            "/sla/",
            "/relationships/team/",
            "/insight/winning/",
            "/insight/journeys/",
            "/campaigns/",
        ):
            _visit(page, base + path, problems, console)

        # htmx works without eval: a filter change on the people list swaps the results in.
        _visit(page, f"{base}/people/", problems, console)
        page.evaluate("window.stayedOnThePage = true")
        checkbox = page.locator("form.toolbar input[type=checkbox]").first
        with page.expect_response(lambda r: "/people/" in r.url and r.request.method == "GET"):
            checkbox.check()
        assert page.evaluate("window.stayedOnThePage") is True, "the filter reloaded the page"
        assert "wants_contact" in page.url, page.url
        problems += [f"people filter: {v}" for v in page.evaluate("window.__violations")]
    finally:
        context.close()
    print(f"CSP violations: {problems}", flush=True)
    assert not problems, f"CSP violations / console errors on the main pages: {problems}"
