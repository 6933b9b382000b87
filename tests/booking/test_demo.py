"""The demo's booking pages: one per seller, one per team with sellers; run twice, nothing new."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.booking.models import BookableHours, BookingPage
from leadline.booking.selectors import free_slots
from leadline.core import clock
from leadline.core.models import Role
from leadline.demo.booking import booking_demo
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_seller_and_team_gets_a_page_with_free_slots() -> None:
    team = factories.team(name="DACH Sales", time_zone="Europe/Berlin")
    reps = [
        factories.user(username=f"rep{n}", team=team, time_zone="Europe/Berlin") for n in (1, 2)
    ]
    factories.user(username="maria", role=Role.MARKETING, team=team)

    with clock.frozen_at(factories.MONDAY_10):
        assert booking_demo(now=clock.now()) == 3
        assert booking_demo(now=clock.now()) == 0
        team_page = BookingPage.objects.get(slug="dach-sales")
        slots = free_slots(
            page=team_page, start=clock.now(), end=clock.now() + dt.timedelta(days=7)
        )

    assert set(BookingPage.objects.values_list("slug", flat=True)) == {"rep1", "rep2", "dach-sales"}
    assert BookableHours.objects.count() == 2
    assert slots
    assert {h for s in slots for h in s.hosts} == {r.pk for r in reps}
