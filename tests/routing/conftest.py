"""Shared set-up for routing tests: a Monday morning, a team with two reps and a manager."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadline.capture.models import Request, RequestKind
from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.routing.models import RoutingRule
from tests import factories
from tests.smtp import smtp_server

__all__ = ["smtp_server"]

MONDAY_10 = factories.MONDAY_10
FRIDAY_20 = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def emea() -> Team:
    manager = factories.user(role=Role.SALES_MANAGER, username="sam")
    team = factories.team(name="EMEA", manager=manager)
    for name in ("rita", "tom"):
        factories.user(role=Role.SALES_REP, username=name, team=team)
    RoutingRule.objects.create(
        name="Germany and Austria",
        team=team,
        conditions=[{"field": "country", "op": "in", "value": ["DE", "AT"]}],
    )
    return team


def new_request(*, country: str = "DE", kind: str = RequestKind.CONTACT, **extra: Any) -> Request:
    person = factories.person(country=country)
    return factories.person_request(
        person=person, kind=kind, wants_contact=True, created_at=clock.now(), **extra
    )


def owner_of(request: Request) -> User | None:
    request.refresh_from_db()
    return request.routing.owner
