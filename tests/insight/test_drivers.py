"""Drivers: the comparisons, their figures against hand-worked ones, and honesty: a planted
driver is found, noise is not, thin history says so."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats  # type: ignore[import-untyped]

from leadline.insight.drivers import NOT_GIVEN, benjamini_hochberg, drivers


def _table(a: int, b: int, c: int, d: int) -> tuple[pd.DataFrame, pd.Series]:
    """a with & yes, b with & no, c without & yes, d without & no: one field "Webinar"."""
    values = ["yes"] * (a + b) + ["no"] * (c + d)
    outcome = [True] * a + [False] * b + [True] * c + [False] * d
    return pd.DataFrame({"Webinar": values}), pd.Series(outcome)


def test_a_two_by_two_worked_out_by_hand() -> None:
    # 60 of 100 with it moved on, 30 of 100 without: risk ratio 2.
    X, y = _table(60, 40, 30, 70)

    report = drivers(X, y, outcome_words="moved to Comparing vendors")

    assert report.tested == 1  # a yes/no field is one comparison, not two
    (driver,) = report.drivers
    assert (driver.field, driver.n_with, driver.n_without) == ("Webinar", 100, 100)
    assert (driver.rate_with, driver.rate_without) == (0.6, 0.3)
    assert driver.lift == pytest.approx(2.0)
    # Katz: se(log RR) = sqrt(1/60 - 1/100 + 1/30 - 1/100) = sqrt(0.03) = 0.1732
    se = math.sqrt(1 / 60 - 1 / 100 + 1 / 30 - 1 / 100)
    assert driver.low == pytest.approx(2 * math.exp(-1.959964 * se), rel=1e-5)
    assert driver.high == pytest.approx(2 * math.exp(1.959964 * se), rel=1e-5)
    assert (round(driver.low, 2), round(driver.high, 2)) == (
        1.42,
        2.81,
    )  # 2 / e^0.3395, 2 * e^0.3395
    assert driver.p == pytest.approx(stats.fisher_exact([[60, 40], [30, 70]]).pvalue)
    assert driver.test == "Fisher's exact test"
    assert driver.significant
    assert driver.words == (
        "People whose Webinar is “yes” moved to Comparing vendors 2.0× as often "
        "(95% CI 1.4–2.8, n=100)."
    )
    assert report.significant == [driver]
    assert report.verdict.startswith("1 of 1 comparisons made a significant difference")


def test_an_empty_cell_gets_half_a_case_and_says_so() -> None:
    X, y = _table(0, 50, 20, 30)

    (driver,) = drivers(X, y, outcome_words="won", who="Deals").drivers

    assert driver.corrected
    assert driver.rate_with == 0.0
    # (0.5 / 51) / (20.5 / 51)
    assert driver.lift == pytest.approx(0.5 / 20.5)
    assert "less than half as often (0.02×; 95% CI" in driver.words
    assert driver.words.startswith("Deals whose Webinar is “yes” won less than half as often")
    assert "0.5 was added" in driver.words


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5, 0.001, 0.2])
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p))
    assert benjamini_hochberg(np.array([])).size == 0


def test_numbers_split_at_the_median_events_at_least_once_and_missing_is_a_level() -> None:
    rng = np.random.default_rng(3)
    n = 400
    visits = rng.integers(0, 10, n).astype(object)
    visits[:60] = None  # 60 people with no value
    X = pd.DataFrame({"TotalVisits": visits, "Events: webinar": rng.integers(0, 3, n)})
    y = pd.Series(rng.random(n) < 0.4)

    report = drivers(X, y, outcome_words="moved on")

    by_value = {(d.field, d.value): d for d in report.drivers}
    median = float(np.median([v for v in visits if v is not None]))
    split = by_value[("TotalVisits", f"at least {median:g}")]
    given = [v for v in visits if v is not None]
    assert split.n_with == sum(v >= median for v in given)
    assert split.n_with + split.n_without == len(given)  # compared among those with a value
    missing = by_value[("TotalVisits", NOT_GIVEN)]
    assert (missing.n_with, missing.n_without) == (60, n - 60)
    events = by_value[("Events: webinar", "at least once")]
    assert events.n_with == int((X["Events: webinar"] > 0).sum())
    assert events.words.startswith("People with “webinar” at least once moved on ")


def test_levels_are_capped_and_need_enough_cases() -> None:
    levels = [f"level {k:02d}" for k in range(20)]
    # 20 levels of 40 people each, and one rare level of 5.
    values = [lvl for lvl in levels for _ in range(40)] + ["rare"] * 5
    X = pd.DataFrame({"Source": values})
    y = pd.Series(np.arange(len(values)) % 3 == 0)

    report = drivers(X, y, outcome_words="moved on", max_levels=12)

    assert report.tested == 12
    assert "rare" not in {d.value for d in report.drivers}


def test_a_planted_driver_is_found_and_nothing_else() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    webinar = rng.random(n) < 0.3
    base = 0.12
    y = pd.Series(rng.random(n) < np.where(webinar, base * 2.5, base))
    noise = {f"Field {k}": rng.choice(["a", "b", "c"], n) for k in range(20)}
    X = pd.DataFrame({"Events: webinar_attended": webinar.astype(int), **noise})

    report = drivers(X, y, outcome_words="moved to Comparing vendors")

    assert [(d.field, d.value) for d in report.significant] == [
        ("Events: webinar_attended", "at least once")
    ]
    (found,) = report.significant
    assert found.low <= 2.5 <= found.high
    assert report.tested == 1 + 20 * 3


def test_pure_noise_names_no_driver() -> None:
    rng = np.random.default_rng(11)
    n = 1500
    X = pd.DataFrame(
        {
            **{f"Choice {k}": rng.choice(["red", "green", "blue", None], n) for k in range(20)},
            **{f"Score {k}": rng.normal(50, 10, n) for k in range(10)},
            **{f"Events: e{k}": rng.poisson(0.5, n) for k in range(10)},
        }
    )
    y = pd.Series(rng.random(n) < 0.3)

    report = drivers(X, y, outcome_words="moved on")

    assert report.significant == []
    assert report.tested > 40
    assert report.verdict.startswith(f"No field or signal made a significant difference "
                                     f"({report.tested} tested, smallest q = ")  # fmt: skip


def test_too_little_history_tests_nothing() -> None:
    X, y = _table(15, 200, 3, 200)

    report = drivers(X, y, outcome_words="moved on")

    assert report.thin
    assert report.drivers == []
    assert report.verdict.startswith("Too little history to tell yet (n=418")


def test_big_tables_use_chi_square() -> None:
    X, y = _table(2400, 1600, 1800, 2200)

    (driver,) = drivers(X, y, outcome_words="moved on").drivers

    assert driver.test == "chi-square"
    assert driver.p == pytest.approx(stats.chi2_contingency([[2400, 1600], [1800, 2200]]).pvalue)


def test_on_pure_noise_a_driver_is_named_in_about_one_run_in_twenty_at_most() -> None:
    # When nothing is real, Benjamini-Hochberg at 5% names anything at all in at most 5% of
    # runs. 50 noise data sets of 400 cases and 40 fields: at most 6 may name a driver.
    rng = np.random.default_rng(0)
    named = 0
    for _ in range(50):
        n = 400
        X = pd.DataFrame(
            {
                **{f"Choice {k}": rng.choice(["red", "green", "blue"], n) for k in range(20)},
                **{f"Score {k}": rng.normal(50, 10, n) for k in range(20)},
            }
        )
        y = pd.Series(rng.random(n) < 0.3)
        named += bool(drivers(X, y, outcome_words="moved on").significant)
    assert named <= 6
