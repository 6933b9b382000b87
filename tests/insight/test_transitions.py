"""The transitions report on real history in the database: counts, time in step, drivers; and
the acceptance checks: Maven's won/lost has no driver, a planted driver is found (and only it),
pure noise names nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadline.imports.mappings import mapping_load, preset_file, shared_data_dir
from leadline.imports.services import import_file
from leadline.insight import transitions
from leadline.journeys.models import Journey, JourneyStep
from tests import factories

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
AS_OF = T0 + dt.timedelta(days=150)
DATA = shared_data_dir()


def _days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def _journey() -> tuple[Journey, list[JourneyStep]]:
    journey = Journey.objects.get(is_default=True)
    return journey, list(journey.steps.order_by("position"))


def test_a_small_journey_worked_out_by_hand() -> None:
    journey, steps = _journey()
    first, second, third = steps[:3]
    people = [factories.person() for _ in range(6)]
    a, b, c, d, e, f = people
    factories.journey_moves(
        journey=journey,
        moves=[
            (a, first, _days(0)), (a, second, _days(2)), (a, third, _days(5)),
            (b, first, _days(0)), (b, second, _days(4)), (b, first, _days(6)),  # back again
            (c, first, _days(0)), (c, third, _days(6)),  # skipped a step
            (d, first, _days(0)),  # still there
            (e, first, _days(0)), (e, None, _days(3)),  # taken off the journey
            (f, first, _days(1)), (f, second, _days(9)),
        ],
    )  # fmt: skip

    report = transitions.journey_transitions(journey, as_of=_days(20))

    step1, step2, step3 = report.steps[:3]
    assert (step1.reached, step1.arrivals) == (6, 7)  # b came back
    assert step1.moved_on == 4  # a, b, c, f
    went = {dest.label: dest.count for dest in step1.went}
    assert went == {
        steps[1].name: 3,
        steps[2].name: 1,
        "taken off the journey": 1,
        "still there": 2,
    }
    assert [dest.kind for dest in step1.went] == ["forward", "forward", "removed", "still"]
    assert {dest.label: dest.count for dest in step2.went} == {
        steps[2].name: 1,
        f"back to {steps[0].name}": 1,
        "still there": 1,
    }
    assert step2.moved_on == 1
    # Time in step 1: ended after 2, 4, 6, 8 days (a, b, c, f); censored: d at 20, e at 3
    # (removed), b's second stay at 14. At risk 7 at day 2 (S = 6/7), 5 at 4 (S = 24/35),
    # 4 at 6 (S = 18/35), 3 at 8 (S = 12/35): the median is day 8.
    time = step1.time
    assert (time.stays, time.ended, time.censored) == (7, 4, 3)
    assert time.curve.survival.tolist() == pytest.approx([6 / 7, 24 / 35, 18 / 35, 12 / 35])
    assert time.median == 8
    assert time.q25 == 4
    assert step3.time.median is None  # nobody has left step 3 yet
    # Six people is too little history to name any driver.
    assert step1.drivers is not None
    assert step1.drivers.thin
    assert step1.drivers.verdict.startswith("Too little history to tell yet (n=")
    assert step1.outcome_words == f"moved to {steps[1].name} or further within 30 days"
    assert report.steps[-1].drivers is None  # nothing after the last step


def test_a_planted_driver_is_found_and_only_it() -> None:
    journey, _ = factories.journey_history(n=400, seed=5, planted=True, noise_fields=6)

    report = transitions.journey_transitions(journey, as_of=AS_OF)

    step = report.steps[0]
    assert step.drivers is not None
    found = step.drivers.significant
    assert [(d.field, d.value) for d in found] == [("Events: webinar_attended", "at least once")]
    (webinar,) = found
    assert webinar.lift == pytest.approx(2.5)  # 80 of 160 against 48 of 240
    assert (webinar.n_with, webinar.n_without) == (160, 240)
    assert webinar.low <= 2.5 <= webinar.high
    assert webinar.words.startswith(
        f"People with “webinar_attended” at least once moved to {step.next_name} or further "
        "within 30 days "
    )
    assert f"n={webinar.n_with}" in webinar.words
    # every other field and signal was tested, and is counted, not named
    assert step.drivers.tested > 6
    assert step.drivers.not_significant == step.drivers.tested - 1


def test_pure_noise_in_forty_fields_names_nothing() -> None:
    journey, _ = factories.journey_history(n=400, seed=9, planted=False, noise_fields=40)

    report = transitions.journey_transitions(journey, as_of=AS_OF)

    step = report.steps[0]
    assert step.drivers is not None
    assert not step.drivers.thin
    assert step.drivers.tested >= 40
    assert step.drivers.significant == []
    assert step.drivers.verdict.startswith("No field or signal made a significant difference (")


def test_a_field_written_down_after_the_outcome_is_left_out_and_named() -> None:
    rng = np.random.default_rng(1)
    for k in range(120):
        won = bool(rng.random() < 0.5)
        opened = _days(k % 30)
        closed = opened + dt.timedelta(days=20)
        buyer = factories.person(
            attributes={"Tags": "Closed by rep" if won else "Lost to rival"},
            attributes_at={"Tags": (closed + dt.timedelta(hours=1)).isoformat()},
        )
        factories.deal(person=buyer, status="won" if won else "lost", opened_at=opened)

    report = transitions.win_drivers()

    assert [item.field for item in report.left_out] == ["Tags"]
    assert "after the outcome for 100%" in report.left_out[0].why
    assert all(d.field != "Tags" for d in report.drivers.drivers)
    assert report.won + report.lost == 120


def test_the_number_of_queries_does_not_grow_with_the_people() -> None:
    def count(n: int) -> int:
        journey, _ = factories.journey_history(n=n, seed=2, planted=True, noise_fields=2)
        with CaptureQueriesContext(connection) as queries:
            transitions.journey_transitions(journey, as_of=AS_OF)
        return len(queries.captured_queries)

    small = count(10)
    assert count(60) == small


@pytest.mark.skipif(not DATA.joinpath("maven-crm-pipeline").exists(), reason="no shared data")
def test_maven_won_against_lost_has_no_significant_driver() -> None:
    """Maven's CRM pipeline through the product's own importer and presets: static fields
    (the account's sector, size, location; the deal's agent and product) carry almost no
    signal on winning, and the report must say so rather than invent a driver."""
    for preset in ("maven-accounts", "maven-pipeline"):
        mapping = mapping_load(preset)
        path = preset_file(mapping)
        assert path is not None
        job = import_file(path=path, mapping=mapping)
        assert job.status == "done", job.status

    report = transitions.win_drivers()

    assert (report.won, report.lost) == (4238, 2473)
    assert report.drivers.tested > 30
    assert {"sales_agent", "product", "sector", "revenue"} <= {
        d.field for d in report.drivers.drivers
    }
    assert report.drivers.significant == []
    assert report.drivers.verdict.startswith("No field or signal made a significant difference")
