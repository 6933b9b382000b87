"""t.js on a customer's site, in a real Chromium, against the real product (gunicorn + worker).

The customer's site is a plain static server on another origin (localhost, where Leadline is on
127.0.0.1) with the tracking tag of the demo's site ("demo-site") on each page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.server]
PAGES = {"index.html": "Home", "solutions.html": "Solutions", "pricing.html": "Pricing"}

# Waits (in the server's own shell) until the worker made `expected` events of the visitor.
_EVENTS = """
import json, time
from leadline.journeys.models import Event, EventBatch
deadline = time.monotonic() + {timeout}
while True:
    rows = list(Event.objects.filter(visitor__visitor_id={visitor!r})
                .order_by("occurred_at", "pk").values_list("name", "path", "title", "source"))
    if len(rows) >= {expected} or time.monotonic() > deadline:
        break
    time.sleep(0.2)
batches = EventBatch.objects.filter(visitor_id={visitor!r})
print(json.dumps({{"events": rows, "batches": batches.count(),
                  "processed": batches.filter(status="processed").count()}}))
"""
_BATCHES = """
from leadline.journeys.models import EventBatch
print(EventBatch.objects.count())
"""


def events_of(live_leadline: Any, visitor: str, expected: int) -> dict[str, Any]:
    script = _EVENTS.format(visitor=visitor, expected=expected, timeout=30)
    out = live_leadline.run("shell", "-c", script).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def batches_stored(live_leadline: Any) -> int:
    return int(live_leadline.run("shell", "-c", _BATCHES).stdout.strip().splitlines()[-1])


@pytest.fixture
def site(live_leadline: Any, customer_site: Callable[[dict[str, str]], str]) -> str:
    """The customer's site: three pages with the tracking tag, one that asks for consent first."""
    leadline = str(live_leadline.url).rstrip("/")
    links = "".join(f'<a href="{name}">{title}</a> ' for name, title in PAGES.items())
    pages = {
        name: f"<!doctype html><html lang=en><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><nav>{links}</nav>"
        f'<script src="{leadline}/t.js" data-site="demo-site" async></script>'
        "</body></html>"
        for name, title in PAGES.items()
    }
    pages["consent.html"] = (
        "<!doctype html><html lang=en><head><title>Consent first</title></head><body>"
        "<h1>Consent first</h1>"
        f'<script src="{leadline}/t.js" data-site="demo-site" data-consent="required" async>'
        "</script></body></html>"
    )
    return customer_site(pages)


def loaded(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.leadline && window.leadline.loaded")


def test_three_page_views_arrive_as_one_visitor(page: Page, live_leadline: Any, site: str) -> None:
    ids = []
    for name in PAGES:
        loaded(page, f"{site}/{name}")
        ids.append(page.evaluate("leadline.visitorId()"))
    # Leaving the page sends what waits (pagehide, with sendBeacon).
    page.goto("about:blank")

    visitor = ids[0]
    assert visitor
    assert ids == [visitor] * 3  # one first-party cookie, reused
    cookies = {c["name"]: c for c in page.context.cookies(site)}
    assert cookies["ll_vid"]["value"] == visitor
    assert cookies["ll_vid"]["sameSite"] == "Lax"
    assert cookies["ll_vid"]["expires"] > 0  # kept, not a session cookie
    assert not page.context.cookies(str(live_leadline.url))  # none on Leadline's domain

    found = events_of(live_leadline, visitor, expected=3)
    assert found["events"] == [
        ["page_view", "/index.html", "Home", "web"],
        ["page_view", "/solutions.html", "Solutions", "web"],
        ["page_view", "/pricing.html", "Pricing", "web"],
    ]
    assert found["processed"] == found["batches"] >= 1


def test_custom_events_arrive_after_the_page_view(
    page: Page, live_leadline: Any, site: str
) -> None:
    loaded(page, f"{site}/pricing.html")
    visitor = page.evaluate("leadline.visitorId()")
    assert page.evaluate("leadline.track('Plan_Compared', {plan: 'team'})") is True
    page.evaluate("leadline.flush()")
    found = events_of(live_leadline, visitor, expected=2)
    assert [e[0] for e in found["events"]] == ["page_view", "plan_compared"]


@pytest.fixture
def do_not_track(browser: Browser) -> Iterator[BrowserContext]:
    """A browser whose user asked not to be tracked (navigator.doNotTrack "1")."""
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"
    )
    yield context
    context.close()


def test_with_do_not_track_nothing_is_sent_and_no_cookie_set(
    do_not_track: BrowserContext, live_leadline: Any, site: str
) -> None:
    before = batches_stored(live_leadline)
    page = do_not_track.new_page()
    for name in PAGES:
        loaded(page, f"{site}/{name}")
        assert page.evaluate("leadline.visitorId()") is None
        assert page.evaluate("leadline.track('clicked')") is False
        page.evaluate("leadline.flush()")
    page.wait_for_timeout(1500)  # past the batching delay
    page.goto("about:blank")
    page.wait_for_timeout(500)  # what leaving the page would have sent has arrived
    assert not do_not_track.cookies()
    assert batches_stored(live_leadline) == before


def test_consent_required_waits_for_consent_and_withdrawing_removes_the_cookie(
    page: Page, live_leadline: Any, site: str
) -> None:
    before = batches_stored(live_leadline)
    loaded(page, f"{site}/consent.html")
    page.evaluate("leadline.track('clicked'); leadline.flush()")
    page.wait_for_timeout(1500)
    assert batches_stored(live_leadline) == before
    assert page.evaluate("leadline.visitorId()") is None
    assert not page.context.cookies(site)

    page.evaluate("leadline.consent(true); leadline.flush()")
    visitor = page.evaluate("leadline.visitorId()")
    assert visitor
    found = events_of(live_leadline, visitor, expected=1)
    assert found["events"] == [["page_view", "/consent.html", "Consent first", "web"]]

    page.evaluate("leadline.consent(false)")
    assert page.evaluate("leadline.visitorId()") is None
    assert not [c for c in page.context.cookies(site) if c["name"] == "ll_vid"]
    sent = batches_stored(live_leadline)
    assert page.evaluate("leadline.track('clicked')") is False
    page.evaluate("leadline.flush()")
    page.goto("about:blank")
    page.wait_for_timeout(500)
    assert batches_stored(live_leadline) == sent


# A demo person and a token for the links of a mail to them; later, who the visitor is now.
_TOKEN = """
from leadline.core.models import Person
from leadline.journeys.tracking import identify_token
person = Person.objects.filter(merged_into__isnull=True).order_by("pk").first()
print(person.pk, identify_token(person_id=person.pk))
"""
_JOINED = """
import json, time
from leadline.journeys.models import Event, Visitor
deadline = time.monotonic() + 30
while not Event.objects.filter(visitor__visitor_id={visitor!r}, name="email_clicked").exists():
    if time.monotonic() > deadline:
        break
    time.sleep(0.2)
visitor = Visitor.objects.filter(visitor_id={visitor!r}).first()
clicks = Event.objects.filter(visitor__visitor_id={visitor!r}, name="email_clicked")
print(json.dumps({{"person": visitor and visitor.person_id,
                  "clicked": list(clicks.values_list("person_id", "path"))}}))
"""


def test_a_page_opened_from_a_mail_link_joins_the_visitor_to_the_person(
    page: Page, live_leadline: Any, site: str
) -> None:
    person, token = live_leadline.run("shell", "-c", _TOKEN).stdout.split()[-2:]

    loaded(page, f"{site}/pricing.html?utm_source=mail&ll_t={token}")
    visitor = page.evaluate("leadline.visitorId()")
    # The token is taken out of the address, so the link is not passed on with it.
    assert page.url == f"{site}/pricing.html?utm_source=mail"
    page.goto("about:blank")

    out = live_leadline.run("shell", "-c", _JOINED.format(visitor=visitor)).stdout
    joined = json.loads(out.strip().splitlines()[-1])
    assert joined == {"person": int(person), "clicked": [[int(person), "/pricing.html"]]}
