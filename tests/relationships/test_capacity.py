"""Capacity: each seller's load against their cap (`team_loads`), and the alert at 90% that the
worker's sweep raises, does not repeat, clears, and raises again (`capacity_alerts_check`)."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.relationships.capacity import (
    ALERT_KIND,
    SellerLoad,
    alert_threshold,
    capacity_alerts_check,
    team_loads,
)
from leadline.relationships.models import CapacityAlert
from leadline.routing.models import Ownership, Touch
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
DAY = dt.timedelta(days=1)


@pytest.fixture
def emea() -> Team:
    sam = factories.user(role=Role.SALES_MANAGER, username="sam", first_name="Sam")
    return factories.team(name="EMEA", manager=sam)


@pytest.fixture
def rita(emea: Team) -> User:
    return factories.user(
        username="rita", first_name="Rita", last_name="Alves", team=emea, relationship_cap=10
    )


def _by_name(loads: list[SellerLoad]) -> dict[str, SellerLoad]:
    return {s.user.username: s for s in loads}


def test_the_alert_threshold_is_ninety_percent_of_the_cap() -> None:
    assert alert_threshold(150) == 135
    assert alert_threshold(10) == 9
    assert alert_threshold(7) == 7  # 6.3 rounds up: a seller is alerted at a whole load
    assert alert_threshold(1) == 1


def test_team_loads_counts_active_against_cap_for_every_seller(
    emea: Team, rita: User, django_assert_max_num_queries: object
) -> None:
    tom = factories.user(username="tom", team=emea)  # the default cap, nothing owned
    apac = factories.team(name="APAC")
    kai = factories.user(username="kai", team=apac, relationship_cap=4)
    factories.owned_people(owner=rita, count=9)
    factories.owned_people(owner=rita, count=3, active=False)
    factories.owned_people(owner=kai, count=5)
    factories.user(username="mia", role=Role.MARKETING)  # no seller

    with django_assert_max_num_queries(2):  # type: ignore[operator]
        loads = team_loads()

    assert [s.user.username for s in loads] == ["kai", "rita", "tom"]  # by team, fullest first
    got = _by_name(loads)
    r, t, k = got["rita"], got["tom"], got["kai"]
    assert (r.load, r.owned, r.cap, r.share, r.alert, r.over) == (9, 12, 10, 0.9, True, False)
    assert (t.load, t.cap, t.alert, t.over) == (0, 150, False, False)
    assert (k.load, k.cap, k.share, k.alert, k.over) == (5, 4, 1.25, True, True)
    assert r.team == emea
    assert [s.user for s in team_loads(team=emea)] == [rita, tom]


def test_managers_and_leavers_count_only_while_they_own_something(emea: Team) -> None:
    sam = emea.manager
    assert sam is not None
    gone = factories.user(username="gone", team=emea, is_active=False)
    factories.user(username="gone2", team=emea, is_active=False)
    assert set(_by_name(team_loads())) == set()

    factories.owned_people(owner=sam, count=1)
    factories.owned_people(owner=gone, count=2, active=False)

    got = _by_name(team_loads())
    assert set(got) == {"sam", "gone"}
    assert (got["gone"].load, got["gone"].owned) == (0, 2)


def _inbox(user: User | None) -> list[str]:
    return list(
        InboxItem.objects.filter(user=user, kind=ALERT_KIND)
        .order_by("pk")
        .values_list("title", flat=True)
    )


def test_an_alert_is_raised_once_cleared_below_and_raised_again(
    emea: Team, rita: User, django_capture_on_commit_callbacks: object
) -> None:
    sam = emea.manager
    people = factories.owned_people(owner=rita, count=8)
    assert capacity_alerts_check() == 0
    assert not CapacityAlert.objects.exists()

    # The ninth active relationship: 90% of her cap of 10.
    factories.owned_people(owner=rita, count=1)
    with django_capture_on_commit_callbacks(execute=False):  # type: ignore[operator]
        assert capacity_alerts_check() == 1
    alert = CapacityAlert.objects.get()
    assert (alert.user, alert.load, alert.cap, alert.raised_at, alert.cleared_at) == (
        rita,
        9,
        10,
        NOW,
        None,
    )
    assert _inbox(rita) == ["You hold 9 of your 10 relationships"]
    assert _inbox(sam) == ["Rita Alves holds 9 of 10 relationships (90%)"]
    manager_note = InboxItem.objects.get(user=sam, kind=ALERT_KIND)
    assert manager_note.link == f"/relationships/team/?team={emea.pk}"
    assert OutgoingMail.objects.filter(reason=ALERT_KIND).count() == 2

    # Still at 90% and more: no second alert, no second message.
    factories.owned_people(owner=rita, count=2)
    assert capacity_alerts_check() == 0
    assert CapacityAlert.objects.count() == 1
    assert len(_inbox(rita)) == 1

    # Back below: three relationships go quiet (their touches are over the window).
    later = NOW + 2 * DAY
    Touch.objects.filter(person__in=people[:4]).update(at=NOW - 100 * DAY)
    with clock.frozen_at(later):
        assert capacity_alerts_check() == 1
        assert capacity_alerts_check() == 0
    alert.refresh_from_db()
    assert alert.cleared_at == later

    # A later rise alerts again, with a new alert and new messages.
    factories.owned_people(owner=rita, count=3, at=NOW + 3 * DAY)
    with clock.frozen_at(NOW + 3 * DAY):
        assert capacity_alerts_check() == 1
    assert CapacityAlert.objects.count() == 2
    assert CapacityAlert.objects.filter(cleared_at__isnull=True).get().load == 10
    assert len(_inbox(rita)) == 2
    assert len(_inbox(sam)) == 2


def test_a_seller_who_manages_their_own_team_hears_once(emea: Team) -> None:
    sam = emea.manager
    assert sam is not None
    sam.team = emea
    sam.relationship_cap = 2
    sam.save()
    factories.owned_people(owner=sam, count=2)
    assert capacity_alerts_check() == 1
    assert len(_inbox(sam)) == 1


def test_a_deactivated_seller_is_not_alerted_and_their_open_alert_clears(rita: User) -> None:
    factories.owned_people(owner=rita, count=9)
    assert capacity_alerts_check() == 1
    rita.is_active = False
    rita.save()
    assert capacity_alerts_check() == 1
    assert CapacityAlert.objects.get().cleared_at == NOW
    assert capacity_alerts_check() == 0


def test_an_alert_clears_when_relationships_are_handed_over(emea: Team, rita: User) -> None:
    factories.owned_people(owner=rita, count=9)
    capacity_alerts_check()
    tom = factories.user(username="tom", team=emea)
    moved = Ownership.objects.filter(owner=rita).order_by("pk").first()
    assert moved is not None
    moved.ended_at = NOW
    moved.save()
    Ownership.objects.create(owner=tom, person=moved.person)

    assert capacity_alerts_check() == 1
    assert not CapacityAlert.objects.filter(cleared_at__isnull=True).exists()
