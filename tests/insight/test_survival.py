"""Kaplan-Meier against a small example worked out by hand and against the textbook one.

The textbook example is Freireich et al. (1963), the 6-MP arm of the leukaemia remission
trial (21 patients, weeks in remission, "+" = censored), as printed in Kleinbaum & Klein,
*Survival Analysis*, and as R's `survfit(Surv(time, cens) ~ 1)` reports it (MASS::gehan):

    time n.risk n.event survival std.err lower 95% CI upper 95% CI
       6     21       3    0.857  0.0764        0.720        1.000
       7     17       1    0.807  0.0869        0.653        0.996
      10     15       1    0.753  0.0963        0.586        0.968
      13     12       1    0.690  0.1068        0.510        0.935
      16     11       1    0.627  0.1141        0.439        0.896
      22      7       1    0.538  0.1282        0.337        0.858
      23      6       1    0.448  0.1346        0.249        0.807

    median 23, 0.95LCL 16, 0.95UCL NA
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from leadline.insight.survival import kaplan_meier

SIX_MP = [
    "6", "6", "6", "6+", "7", "9+", "10", "10+", "11+", "13", "16",
    "17+", "19+", "20+", "22", "23", "25+", "32+", "32+", "34+", "35+",
]  # fmt: skip


def test_a_small_example_worked_out_by_hand() -> None:
    # Six stays: ended after 1, 2, 3 and 5 days; one still going after 2 days, one after 4.
    curve = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])

    assert curve.times.tolist() == [1, 2, 3, 5]
    assert curve.at_risk.tolist() == [6, 5, 3, 1]  # the one censored at 2 is still at risk at 2
    assert curve.events.tolist() == [1, 1, 1, 1]
    # 5/6; 5/6 * 4/5; then * 2/3; then * 0/1.
    assert curve.survival == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
    # Greenwood: S * sqrt(sum d / (n (n - d))): 1/30, + 1/20, + 1/6.
    assert curve.std_err[:3] == pytest.approx(
        [5 / 6 * math.sqrt(1 / 30), 2 / 3 * math.sqrt(1 / 30 + 1 / 20), 4 / 9 * math.sqrt(0.25)]
    )
    assert curve.median == 3
    assert curve.quantile(0.25) == 2  # S first at or below 0.75 after day 2
    assert (curve.n, curve.n_events, curve.n_censored) == (6, 4, 2)
    assert curve.at(0.5) == 1.0
    assert curve.at(2.5) == pytest.approx(2 / 3)


def test_the_freireich_six_mp_arm_matches_the_textbook() -> None:
    durations = [float(value.rstrip("+")) for value in SIX_MP]
    ended = [not value.endswith("+") for value in SIX_MP]

    curve = kaplan_meier(durations, ended)

    assert curve.times.tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert curve.at_risk.tolist() == [21, 17, 15, 12, 11, 7, 6]
    assert curve.events.tolist() == [3, 1, 1, 1, 1, 1, 1]
    assert np.round(curve.survival, 3).tolist() == [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    assert np.round(curve.std_err, 4).tolist() == [
        0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346
    ]  # fmt: skip
    assert np.round(curve.low, 3).tolist() == [0.720, 0.653, 0.586, 0.510, 0.439, 0.337, 0.249]
    assert np.round(curve.high, 3).tolist() == [1.0, 0.996, 0.968, 0.935, 0.896, 0.858, 0.807]
    assert curve.median == 23
    assert curve.median_ci == (16, None)  # the upper edge is never at or below one half
    assert curve.n_censored == 12


def test_a_median_not_reached_when_most_are_still_there() -> None:
    curve = kaplan_meier([1, 2, 3, 4, 5, 6], [True, False, False, False, False, False])

    assert curve.median is None
    assert curve.survival.tolist() == pytest.approx([5 / 6])


def test_nobody_ended_yet_and_no_stays_at_all() -> None:
    curve = kaplan_meier([3.0, 4.0], [False, False])
    assert len(curve.times) == 0
    assert curve.median is None
    assert curve.at(10) == 1.0

    empty = kaplan_meier([], [])
    assert empty.n == 0
    assert empty.median is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier([-1.0], [True])
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1.0, 2.0], [True])
