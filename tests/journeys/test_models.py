from __future__ import annotations

import pytest
from django.db import IntegrityError

from leadline.journeys.models import Journey, JourneyPosition
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_default_journey_is_the_buyers_steps_in_their_words() -> None:
    journey = Journey.objects.get(is_default=True)
    assert [step.name for step in journey.steps.order_by("position")] == [
        "Noticing a problem",
        "Exploring ways to solve it",
        "Comparing vendors",
        "Building the internal case",
        "Deciding",
        "Getting value",
    ]
    pricing = journey.steps.get(position=2).exit_signals[0]
    assert pricing == {
        "name": "Visited pricing twice",
        "event": "page_view",
        "path_contains": "/pricing",
        "count": 2,
        "within_days": 30,
    }


def test_a_position_belongs_to_a_person_or_an_account_not_both() -> None:
    journey = Journey.objects.get(is_default=True)
    step = journey.steps.get(position=1)
    person = factories.person()
    with pytest.raises(IntegrityError):
        JourneyPosition.objects.create(
            journey=journey, step=step, person=person, account=factories.account()
        )
