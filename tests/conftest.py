"""Shared fixtures. Tests run against SQLite by default, PostgreSQL with LEADLINE_DATABASE_URL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from leadline.capture import services as capture_services
from leadline.core import clock
from leadline.core.models import Role, User
from leadline.journeys import tracking
from tests import factories


@pytest.fixture(autouse=True)
def _isolated(settings: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """Each test: its own media dir, an empty cache (rate limits, form specs)."""
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    # Factories make many users; a slow password hash would only slow the tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    cache.clear()
    # A drain task seen waiting by an earlier test is not this test's.
    capture_services.SUBMISSIONS_DRAIN.forget()
    tracking.EVENTS_DRAIN.forget()
    yield
    cache.clear()


@pytest.fixture
def monday_morning() -> Iterator[None]:
    with clock.frozen_at(factories.MONDAY_10):
        yield


@pytest.fixture
def run_worker(monkeypatch: pytest.MonkeyPatch) -> object:
    """Run the real database task worker until the queue is empty (what `leadline worker` does).

    The worker closes "old" connections between tasks; inside a test's transaction that would
    close the test's own connection on PostgreSQL. Django's test client disables the same call
    around requests, and so do we.
    """
    from django_tasks_db.management.commands import db_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> None:
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)

    return run


def _login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def marketer(db: None) -> User:
    return factories.user(role=Role.MARKETING, username="maria")


@pytest.fixture
def marketing_client(client: Client, marketer: User) -> Client:
    return _login(client, marketer)


@pytest.fixture
def role_client(db: None) -> object:
    """role_client("sales_rep") → a logged-in test client for a fresh user with that role."""

    def make(role: str) -> Client:
        return _login(Client(), factories.user(role=role))

    return make


@pytest.fixture(scope="session")
def shared_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="leadline-tests-") as path:
        yield Path(path)


# The real product as subprocesses (`live_leadline`), for tests marked `server`.
pytest_plugins = ["tests.server"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures tests measured (tests/figures.py), after the results."""
    from tests.figures import MEASURED

    if MEASURED:
        terminalreporter.section("figures measured")
        for line in MEASURED:
            terminalreporter.write_line(line)
