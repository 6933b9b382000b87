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


# Who it is for and who starts on it ------------------------------------------------------------

PAYROLL: dict[str, Any] = {
    "name": "Payroll",
    "slug": "payroll",
    "description": "For finance teams who run payroll in spreadsheets.",
    "audience": "Payroll — firms of 50 to 500",
    "default": False,
    "start_signals": [
        {"name": "Trial of payroll", "event": "trial_started", "properties": {"plan": "payroll"}},
        {
            "name": "Read about payroll twice",
            "event": "page_view",
            "path_contains": "/payroll",
            "count": 2,
            "within_days": 30,
        },
    ],
    "steps": [
        {
            "name": "Dreading the month end",
            "exit_signals": [{"name": "Asked for a demo", "event": "demo_requested"}],
        },
        {"name": "Comparing payroll tools", "exit_signals": []},
    ],
}


def test_audience_and_start_signals_go_out_as_yaml_and_come_back_the_same() -> None:
    made = journey_import(data=PAYROLL, actor=None)
    assert made.audience == "Payroll — firms of 50 to 500"
    assert made.start_signals == PAYROLL["start_signals"]
    text = journey_yaml(made)
    assert "audience: Payroll — firms of 50 to 500" in text
    assert "start_signals:\n- name: Trial of payroll" in text
    assert yaml.safe_load(text) == PAYROLL

    # Changed in YAML and imported again: the same journey, with the new rules.
    data = yaml.safe_load(text)
    data["audience"] = "Payroll — firms of 500 and more"
    data["start_signals"] = data["start_signals"][1:]
    again = journey_import(data=data, actor=None)
    assert again.pk == made.pk
    assert yaml.safe_load(journey_yaml(again)) == data
    entry = AuditEntry.objects.filter(action="journey.update", object_id=str(made.pk)).latest("id")
    assert entry.data["start_signals"] == ["Read about payroll twice"]
    assert entry.data["audience"] == "Payroll — firms of 500 and more"

    # Left out: no audience, no start signals (entered by hand only).
    del data["audience"], data["start_signals"]
    journey_import(data=data, actor=None)
    made.refresh_from_db()
    assert (made.audience, made.start_signals) == ("", [])
    assert "start_signals" not in journey_yaml(made)


def test_the_default_journey_has_no_start_signals_and_its_yaml_is_unchanged() -> None:
    text = journey_yaml(Journey.objects.get(is_default=True))
    assert "start_signals" not in text
    assert "audience" not in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"audience": "x" * 201}, "audience: at most 200 characters"),
        ({"audience": ["Payroll"]}, "audience: must be text"),
        ({"start_signals": "trial_started"}, "start_signals: a list of rules"),
        (
            {"start_signals": [{"name": "Trial", "event": "trial_started", "count": 0}]},
            r"start_signals\[0\].count: a whole number from 1 to 1000",
        ),
        (
            {"start_signals": [{"name": "Trial", "event": "trial_started"}, {"event": "x"}]},
            r"start_signals\[1\].name: a text of 1 to 200 characters is required",
        ),
        (
            {"start_signals": [{"name": "Trial", "event": "Trial Started"}]},
            r"start_signals\[0\].event: an event name",
        ),
        (
            {"start_signals": [{"name": "Trial", "event": "x", "colour": "red"}]},
            r"start_signals\[0\]: unknown field\(s\) colour",
        ),
    ],
)
def test_bad_start_signals_or_audience_are_refused_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    made = journey_import(data=PAYROLL, actor=None)
    before = journey_yaml(made)
    with pytest.raises(JourneyImportError, match=message):
        journey_import(data={**PAYROLL, **change}, actor=None)
    assert journey_yaml(Journey.objects.get(pk=made.pk)) == before
