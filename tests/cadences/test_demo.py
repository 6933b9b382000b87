"""The demo's cadences (demo/cadences.py) on a handful of people."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.cadences.models import Cadence, Enrolment, EnrolmentStatus
from leadline.core import clock
from leadline.core.models import Role
from leadline.demo.cadences import cadences_demo
from leadline.notify.models import OutgoingMail, SendStatus
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_demo_makes_two_cadences_with_people_walking_them_once() -> None:
    now = factories.MONDAY_10
    factories.user(role=Role.MARKETING)
    rep = factories.user()
    with clock.frozen_at(now - dt.timedelta(days=30)):
        for _ in range(6):
            factories.prospect(owner=rep)
    assert cadences_demo(now=now) == 6
    assert cadences_demo(now=now) == 0
    assert set(Cadence.objects.values_list("name", flat=True)) == {"New trial", "Demo follow-up"}
    follow_up = Cadence.objects.get(name="Demo follow-up")
    assert [s.kind for s in follow_up.steps.order_by("position")] == [
        "call",
        "branch",
        "email",
        "manual",
    ]
    assert Enrolment.objects.filter(stopped_reason="replied").count() == 2
    assert Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE).exists()
    mail = OutgoingMail.objects.filter(reason="cadence.email")
    assert mail.exists()
    assert not mail.exclude(status=SendStatus.SENT).exists()
