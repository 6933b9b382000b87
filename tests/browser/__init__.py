from __future__ import annotations

from typing import TYPE_CHECKING

from leadline.demo import DEMO_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page


def log_in(page: Page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real login form (as a demo user unless `password` says otherwise)."""
    page.goto(f"{base}/login/")
    page.locator("[name=username]").fill(username)
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name="Log in").click()
