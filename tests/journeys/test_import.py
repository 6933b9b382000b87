from __future__ import annotations

from typing import Any

import pytest
import yaml

from leadline.core.models import AuditEntry
from leadline.journeys.models import Journey, JourneyPosition
from leadline.journeys.selectors import journey_yaml
from leadline.journeys.services import JourneyImportError, journey_import, signals_evaluate
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_default_journey_goes_out_as_yaml_and_comes_back_the_same() -> None:
    journey = Journey.objects.get(is_default=True)
    text = journey_yaml(journey)
    assert "- name: Visited pricing twice" in text
    data = yaml.safe_load(text)
    data["steps"][2]["name"] = "Weighing vendors"
    again = journey_import(data=data, actor=None)
    assert again.pk == journey.pk
    assert yaml.safe_load(journey_yaml(again)) == data
    assert AuditEntry.objects.filter(action="journey.update", object_id=str(journey.pk)).exists()


def test_a_new_journey_can_take_over_as_the_default() -> None:
    made = journey_import(
        data={
            "name": "Renewals",
            "default": True,
            "steps": [
                {"name": "Reviewing the year", "exit_signals": [{"name": "Asked", "event": "x"}]},
                {"name": "Renewing"},
            ],
        },
        actor=factories.user(),
    )
    assert (made.slug, made.is_default) == ("renewals", True)
    assert list(Journey.objects.filter(is_default=True)) == [made]
    assert [s.name for s in made.steps.order_by("position")] == ["Reviewing the year", "Renewing"]


def test_steps_keep_their_people_when_renamed_and_cannot_be_dropped_under_them() -> None:
    journey = Journey.objects.get(is_default=True)
    person = factories.person()
    signals_evaluate(person_ids=[person.pk])  # on step 1
    data = yaml.safe_load(journey_yaml(journey))
    data["steps"] = data["steps"][:1]
    data["steps"][0]["name"] = "Feeling the pain"
    journey_import(data=data, actor=None)
    assert JourneyPosition.objects.get(person=person).step.name == "Feeling the pain"

    # Steps are kept by their place: the person stays on the first, whatever it is called.
    data["steps"] = [{"name": "Something else"}, {"name": "Feeling the pain"}]
    journey_import(data=data, actor=None)
    assert JourneyPosition.objects.get(person=person).step.name == "Something else"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": []}, "steps: a list of at least one step"),
        ({"steps": [{"buyer_words": "x"}]}, r"steps\[0\].name: is required"),
        ({"steps": [{"name": "a", "colour": "red"}]}, r"steps\[0\].colour: unknown field"),
        (
            {"steps": [{"name": "a", "exit_signals": [{"name": "b", "event": "c", "count": 0}]}]},
            r"steps\[0\].exit_signals\[0\].count",
        ),
        ({"steps": [{"name": "a"}, {"name": "a"}]}, "two steps have the same name"),
        ({"default": "yes"}, "default: true or false"),
    ],
)
def test_a_bad_journey_is_refused_naming_the_field_and_nothing_changes(
    change: dict[str, Any], message: str
) -> None:
    journey = Journey.objects.get(is_default=True)
    before = journey_yaml(journey)
    data = {**yaml.safe_load(before), **change}
    with pytest.raises(JourneyImportError, match=message):
        journey_import(data=data, actor=None)
    assert journey_yaml(Journey.objects.get(pk=journey.pk)) == before


def test_a_step_in_someones_history_cannot_be_dropped() -> None:
    journey = Journey.objects.get(is_default=True)
    person = factories.person()
    factories.buyer_event(person=person, name="form_submitted")
    signals_evaluate(person_ids=[person.pk])  # moved through step 1 to step 2
    factories.buyer_event(person=person, name="contact_requested")
    signals_evaluate(person_ids=[person.pk])  # and on to step 3
    data = yaml.safe_load(journey_yaml(journey))
    data["steps"] = data["steps"][:1]
    with pytest.raises(JourneyImportError, match="is in people's history"):
        journey_import(data=data, actor=None)
