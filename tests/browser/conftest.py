"""A real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium floods the closed network with connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def customer_site(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """A customer's web site on another origin (localhost; Leadline is on 127.0.0.1):
    `customer_site({"index.html": html, ...})` serves the pages and gives the site's address."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(pages: dict[str, str]) -> str:
        root = tmp_path / f"customer-site-{len(servers)}"
        root.mkdir()
        for name, html in pages.items():
            (root / name).write_text(html)
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests run in the SQLite pass only. They drive the pages in Chromium; what the
    pages read and write goes through the same views and services that tests/web and the
    `server` tests run on both databases. Running them twice cost CI minutes it does not have
    (the whole run must stay under 25)."""
    url = os.environ.get("LEADLINE_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    skip = pytest.mark.skip(reason="browser tests run in the SQLite pass (see tests/browser)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
