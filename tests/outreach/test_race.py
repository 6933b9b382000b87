"""Two reservations at once for the same person must not both pass the cap: real threads, each
with its own database connection (run it on PostgreSQL; SQLite's in-memory test database
cannot share a write lock between connections)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from leadline.outreach import services
from leadline.outreach.models import ContactAttempt, ContactState
from leadline.outreach.selectors import Verdict
from tests import factories

THREADS = 8


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("state_exists", [True, False])
def test_concurrent_reservations_do_not_pass_the_cap_together(state_exists: bool) -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip(
            "SQLite's shared-cache in-memory test database answers 'table is locked' at once "
            "instead of waiting; a file database (and PostgreSQL) waits for the lock"
        )
    factories.contact_policy(weekly_cap=3)
    ann = factories.person(time_zone="Europe/Berlin")
    if state_exists:
        ContactState.objects.create(person=ann)
    start = Barrier(THREADS)

    def reserve(n: int) -> Verdict:
        try:
            start.wait()
            return services.contact_reserve(
                person=ann,
                channel="email",
                purpose="marketing",
                source="race",
                ref=f"r:{n}",
                at=factories.MONDAY_10,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        verdicts = list(pool.map(reserve, range(THREADS)))

    assert sorted(v.allowed for v in verdicts) == [False] * (THREADS - 3) + [True] * 3
    assert {v.code for v in verdicts if not v.allowed} == {"cap"}
    assert ContactAttempt.objects.filter(person=ann).count() == 3
    assert ContactState.objects.filter(person=ann).count() == 1
