"""Shared set-up for engagement tests: a sales team (UTC, Mon-Fri 09:00-17:00) with a manager
and two reps; Rita owns the people handed over unless a test says otherwise."""

from __future__ import annotations

import dataclasses

import pytest

from leadline.core.models import Role, Team, User
from tests import factories


@dataclasses.dataclass
class Sales:
    team: Team
    manager: User
    rita: User
    tom: User
    marketer: User


@pytest.fixture
def sales(db: None) -> Sales:
    manager = factories.user(role=Role.SALES_MANAGER, username="sam", first_name="Sam")
    team = factories.team(name="EMEA", manager=manager)
    manager.team = team
    manager.save(update_fields=["team"])
    rita = factories.user(role=Role.SALES_REP, username="rita", first_name="Rita", team=team)
    tom = factories.user(role=Role.SALES_REP, username="tom", first_name="Tom", team=team)
    marketer = factories.user(role=Role.MARKETING, username="mia", first_name="Mia")
    return Sales(team=team, manager=manager, rita=rita, tom=tom, marketer=marketer)
