"""The embed snippet sends again, with the same Idempotency-Key, while the database cannot store.

A real Chromium on a customer's page (another origin) against the real product (gunicorn +
worker, tests/server.py), whose SQLite database this test really locks (BEGIN EXCLUSIVE from
another connection) for longer than the server waits for it: the first try gets 503 with
Retry-After, the snippet says "Still sending…", tries again after the wait, and the submission
arrives exactly once.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

pytestmark = [pytest.mark.browser, pytest.mark.server]

_COUNT = """
from leadline.capture.models import Submission
rows = Submission.objects.filter(payload__email={email!r})
print(rows.count(), len(set(rows.values_list("idempotency_key", flat=True))))
"""


def test_the_embed_sends_again_while_the_database_is_locked_and_it_arrives_once(
    page: Page, live_leadline: Any, customer_site: Callable[[dict[str, str]], str]
) -> None:
    if live_leadline.postgres_database:
        pytest.skip("the fault here is SQLite's write lock; PostgreSQL's stop is tests/faults/")
    leadline = str(live_leadline.url).rstrip("/")
    site = customer_site(
        {
            "index.html": "<!doctype html><html lang=en><head><title>Blog</title></head><body>"
            f'<script src="{leadline}/embed.js" data-form="cfo-guide" async></script>'
            "</body></html>"
        }
    )
    answers: list[tuple[int, str | None, str | None]] = []

    def seen(response: Response) -> None:
        if response.request.method == "POST" and "/f/cfo-guide/" in response.url:
            request_key = response.request.headers.get("idempotency-key")
            answers.append((response.status, response.headers.get("retry-after"), request_key))

    page.on("response", seen)
    page.goto(f"{site}/index.html")
    form = page.locator("[data-leadline-form=cfo-guide]")
    expect(form).to_be_visible()
    email = f"retry.{uuid.uuid4().hex[:8]}@brightwater-logistics.example"
    page.get_by_label("Work email").fill(email)
    page.get_by_label("First name").fill("Nadia")
    page.wait_for_timeout(2500)  # a person's pace: the time-to-fill check lets it through

    lock = sqlite3.connect(
        live_leadline.data_dir / "leadline.sqlite3", timeout=30, check_same_thread=False
    )
    lock.isolation_level = None
    lock.execute("BEGIN EXCLUSIVE")
    locked_for = 7.0  # longer than the server's wait for the lock (5 s): the first try fails
    released = threading.Timer(locked_for, lambda: (lock.execute("ROLLBACK"), lock.close()))
    started = time.monotonic()
    released.start()
    try:
        form.get_by_role("button", name="Send me the guide").click()
        expect(form.locator(".leadline-status")).to_contain_text("Still sending", timeout=20_000)
        expect(page.locator(".leadline-thanks")).to_be_visible(timeout=45_000)
    finally:
        released.join()
    took = time.monotonic() - started
    out = live_leadline.run("shell", "-c", _COUNT.format(email=email)).stdout.split()
    stored, keys = int(out[-2]), int(out[-1])
    figures = f"answers {answers}, thanks after {took:.1f} s, stored {stored} with {keys} key(s)"
    print(figures, file=sys.stderr)
    statuses = [status for status, _, _ in answers]
    assert 503 in statuses, figures
    assert statuses[-1] == 201, figures
    assert all(wait for status, wait, _ in answers if status == 503), figures  # Retry-After
    assert len({key for _, _, key in answers}) == 1, figures  # the same Idempotency-Key
    assert (stored, keys) == (1, 1), figures
