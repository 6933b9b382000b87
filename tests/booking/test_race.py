"""Two prospects booking the same seller at the same moment, each on a connection of its own (run
it on PostgreSQL: LEADLINE_DATABASE_URL=postgres://…): one gets the time, the other hears it was
just taken, and the seller never has two meetings at once."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from leadline.booking import services
from leadline.booking.models import Meeting
from leadline.booking.services import SlotUnavailable
from leadline.core import clock
from leadline.core.models import PersonEmail
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The in-memory SQLite test database shares one cache between threads, whose table locks
    # fail at once ("database table is locked") instead of waiting; a real SQLite file takes
    # writers one at a time (BEGIN IMMEDIATE), so there the race cannot arise.
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="threads racing for a lock: PostgreSQL only",
    ),
]

TUESDAY_9 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
ROUNDS = 4


def at_once(*attempts: Callable[[], Any]) -> list[str]:
    """Run the attempts in threads released together; "booked" or the refusal of each."""
    barrier = threading.Barrier(len(attempts))
    results: list[str] = [""] * len(attempts)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            attempts[i]()
            results[i] = "booked"
        except SlotUnavailable as exc:
            results[i] = str(exc)
        except Exception as exc:  # anything else is a bug: show it in the assertion
            results[i] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def booking(page: Any, when: dt.datetime, email: str) -> Callable[[], Any]:
    return functools.partial(
        services.meeting_book, page=page, starts_at=when, name=email.split("@")[0], email=email
    )


def test_two_prospects_picking_the_same_slot_one_wins() -> None:
    page = factories.booking_page()
    factories.bookable_hours(host=page.user, hours="Mon-Fri 00:00-24:00")
    with clock.frozen_at(factories.MONDAY_10):
        for n in range(ROUNDS):
            when = TUESDAY_9 + dt.timedelta(hours=n)
            results = at_once(
                booking(page, when, f"a{n}@buyer.example"),
                booking(page, when, f"b{n}@buyer.example"),
            )
            assert sorted(results) == [services.TAKEN, "booked"], results
    assert Meeting.objects.count() == ROUNDS
    # The loser's person was made in the transaction that failed: nothing of theirs is kept.
    assert PersonEmail.objects.filter(email__endswith="@buyer.example").count() == ROUNDS


def test_two_pages_of_one_seller_cannot_double_book_overlapping_times() -> None:
    # Different starts, so the unique (host, start) constraint cannot tell: only the lock does.
    host = factories.user(time_zone="UTC")
    factories.bookable_hours(host=host, hours="Mon-Fri 00:00-24:00")
    half_hour = factories.booking_page(host=host, length_minutes=30)
    hour = factories.booking_page(host=host, length_minutes=60)
    with clock.frozen_at(factories.MONDAY_10):
        for n in range(ROUNDS):
            base = TUESDAY_9 + dt.timedelta(hours=2 * n)
            results = at_once(
                booking(hour, base, f"long{n}@buyer.example"),
                booking(half_hour, base + dt.timedelta(minutes=30), f"short{n}@buyer.example"),
            )
            assert sorted(results) == [services.TAKEN, "booked"], results
    meetings = list(Meeting.objects.filter(host=host).order_by("starts_at"))
    assert len(meetings) == ROUNDS
    for earlier, later in itertools.pairwise(meetings):
        assert earlier.ends_at <= later.starts_at
