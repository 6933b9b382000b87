"""Attribution models on paths worked out by hand (the arithmetic is in each test), and the
property that every model's credit sums to the amount, on any path."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadline.insight import attribution
from leadline.insight.attribution import MODELS, RULE_MODELS, CampaignInfo, Touch, credit, markov

T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def touches(*campaigns: str, lead_at: int | None = None) -> list[Touch]:
    """One touch a day, in the order given; the `lead_at`-th is a form submission."""
    return [Touch(c, day(i), lead=(i == lead_at)) for i, c in enumerate(campaigns)]


# Rule-based models, by hand ----------------------------------------------------------------------


def test_first_and_last_touch_give_everything_to_one_end() -> None:
    path = touches("A", "B", "C")
    assert credit(path, model="first_touch", amount=900) == {"A": 900, "B": 0, "C": 0}
    assert credit(path, model="last_touch", amount=900) == {"A": 0, "B": 0, "C": 900}


def test_linear_shares_equally_and_adds_up_repeat_touches() -> None:
    # A, B, A, C: 4 touches of 1000 / 4 = 250; A has two: 500.
    assert credit(touches("A", "B", "A", "C"), model="linear", amount=1000) == pytest.approx(
        {"A": 500, "B": 250, "C": 250}
    )


def test_order_is_by_time_not_by_the_list() -> None:
    late, early = Touch("late", day(5)), Touch("early", day(1))
    assert credit([late, early], model="first_touch", amount=10) == {"late": 0, "early": 10}


@pytest.mark.parametrize(
    ("campaigns", "expected"),
    [
        # One touch: 100%.
        (("A",), {"A": 1000}),
        # Two touches: 50/50.
        (("A", "B"), {"A": 500, "B": 500}),
        # Three: 40% first (400), 40% last (400), 20% to the one between (200).
        (("A", "B", "C"), {"A": 400, "B": 200, "C": 400}),
        # Five: first 400, last 400; 200 shared by three middles: 66.67 each; B has two: 133.33.
        (("A", "B", "C", "B", "D"), {"A": 400, "B": 400 / 3, "C": 200 / 3, "D": 400}),
        # The same campaign first and last: 400 + 400 = 800; middle 200.
        (("A", "B", "A"), {"A": 800, "B": 200}),
    ],
)
def test_u_shaped(campaigns: tuple[str, ...], expected: dict[str, float]) -> None:
    assert credit(touches(*campaigns), model="u_shaped", amount=1000) == pytest.approx(expected)


def test_w_shaped_three_distinct_key_touches_and_others() -> None:
    # A (first), B, C (form: lead creation), D, E (last before opening: opportunity creation).
    # Keys 30% each of 1000 = 300; B and D share 10% = 50 each.
    path = touches("A", "B", "C", "D", "E", lead_at=2)
    assert credit(path, model="w_shaped", amount=1000, opened_at=day(4)) == pytest.approx(
        {"A": 300, "B": 50, "C": 300, "D": 50, "E": 300}
    )


def test_w_shaped_first_touch_is_also_the_lead_touch() -> None:
    # A is first and the form (60% = 600); D opens the deal (300); B and C share 100: 50 each.
    path = touches("A", "B", "C", "D", lead_at=0)
    assert credit(path, model="w_shaped", amount=1000, opened_at=day(3)) == pytest.approx(
        {"A": 600, "B": 50, "C": 50, "D": 300}
    )


def test_w_shaped_without_a_form_the_first_touch_creates_the_lead() -> None:
    # No form on the path: the first touch holds first and lead creation (60%), C opens (30%),
    # B alone gets the 10%.
    path = touches("A", "B", "C")
    assert credit(path, model="w_shaped", amount=100, opened_at=day(2)) == pytest.approx(
        {"A": 60, "B": 10, "C": 30}
    )


def test_w_shaped_when_every_touch_has_a_role_the_shares_scale_to_the_whole() -> None:
    # One touch: all three roles: 3/3 = 100%.
    assert credit(touches("A"), model="w_shaped", amount=90) == pytest.approx({"A": 90})
    # Two touches, A first and the form, B opens: roles 2 and 1 of 3: 60 and 30 of 90.
    path = touches("A", "B", lead_at=0)
    assert credit(path, model="w_shaped", amount=90, opened_at=day(1)) == pytest.approx(
        {"A": 60, "B": 30}
    )
    # Two touches, A first, B the form and the opening: 30 and 60.
    path = touches("A", "B", lead_at=1)
    assert credit(path, model="w_shaped", amount=90, opened_at=day(1)) == pytest.approx(
        {"A": 30, "B": 60}
    )
    # Three touches, one role each: 30 each.
    path = touches("A", "B", "C", lead_at=1)
    assert credit(path, model="w_shaped", amount=90, opened_at=day(2)) == pytest.approx(
        {"A": 30, "B": 30, "C": 30}
    )


def test_w_shaped_on_a_revenue_path_the_opening_touch_is_the_last_before_it_opened() -> None:
    # Path until the close: A, B (form), C, D; the deal opened on day 2, so C opens it even
    # though D (day 3, after the opening) is newer. Keys A, B, C: 300 each; D: 100.
    path = touches("A", "B", "C", "D", lead_at=1)
    found = credit(path, model="w_shaped", amount=1000, opened_at=day(2), converted_at=day(4))
    assert found == pytest.approx({"A": 300, "B": 300, "C": 300, "D": 100})


def test_w_shaped_later_forms_are_not_lead_creation() -> None:
    # Forms at B and D: only the first (B) creates the lead. Keys A, B, E: 300 each; C, D: 50.
    path = [*touches("A", "B", "C", "D", "E", lead_at=1)]
    path[3] = Touch("D", day(3), lead=True)
    found = credit(path, model="w_shaped", amount=1000, opened_at=day(4))
    assert found == pytest.approx({"A": 300, "B": 300, "C": 50, "D": 50, "E": 300})


def test_time_decay_halves_per_half_life() -> None:
    # Ages to the end (day 14), half-life 7: A 14 days (weight 1/4), B 7 days (1/2), C 0 (1).
    # Sum 1.75: A = 700 * 0.25 / 1.75 = 100, B = 200, C = 400.
    path = touches("A", "B", "C")
    path = [Touch("A", day(0)), Touch("B", day(7)), Touch("C", day(14))]
    assert credit(path, model="time_decay", amount=700) == pytest.approx(
        {"A": 100, "B": 200, "C": 400}
    )
    # Counted to a close on day 21 instead: every age grows by 7 days, the ratios stay.
    assert credit(path, model="time_decay", amount=700, converted_at=day(21)) == pytest.approx(
        {"A": 100, "B": 200, "C": 400}
    )
    # Half-life 14: weights 1/2, 1/sqrt(2), 1.
    weights = [0.5, 2**-0.5, 1.0]
    expected = {k: 100 * w / sum(weights) for k, w in zip("ABC", weights, strict=True)}
    assert credit(path, model="time_decay", amount=100, half_life_days=14) == pytest.approx(
        expected
    )


def test_an_empty_path_credits_no_campaign() -> None:
    for model in RULE_MODELS:
        assert credit([], model=model, amount=100) == {}


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model 'v_shaped'"):
        credit(touches("A"), model="v_shaped", amount=1)


# Markov, by hand -------------------------------------------------------------------------------


def test_markov_removal_effects_by_hand() -> None:
    # Paths: A→B converts; A alone does not; B alone converts.
    # Start→A 2/3, Start→B 1/3; A→B 1/2, A→null 1/2; B→conversion 1.
    # P(convert) = 2/3 * 1/2 * 1 + 1/3 * 1 = 2/3.
    # Without A: only Start→B→conversion: 1/3; effect 1 - (1/3)/(2/3) = 1/2.
    # Without B: nothing converts: effect 1 - 0 = 1.
    effects = markov([(["A", "B"], True), (["A"], False), (["B"], True)])
    assert effects == pytest.approx({"A": 0.5, "B": 1.0})
    assert attribution.effect_shares(effects) == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    # A won deal of 300 on the path A, B: split 1/2 : 1 → 100 and 200.
    found = credit(touches("A", "B"), model="markov", amount=300, effects=effects)
    assert found == pytest.approx({"A": 100, "B": 200})


def test_markov_a_campaign_touching_twice_shares_its_effect_between_its_touches() -> None:
    effects = {"A": 0.5, "B": 1.0}
    # A, A, B: A's touches get 0.5/2 each, B 1.0; total weight 1.5 → A 300 * 0.5/1.5 = 100.
    found = credit(touches("A", "A", "B"), model="markov", amount=300, effects=effects)
    assert found == pytest.approx({"A": 100, "B": 200})


def test_markov_with_loops_and_a_campaign_that_never_converts() -> None:
    # Paths: A→C→A→B converts, C null, B converts, A→B converts.
    # Counts: Start→A 2, Start→C 1, Start→B 1; A→C 1, A→B 2; C→A 1, C→null 1; B→conv 3.
    # P: S→A 1/2, S→C 1/4, S→B 1/4; A→C 1/3, A→B 2/3; C→A 1/2, C→null 1/2; B→conv 1.
    # p(B)=1; p(A) = 1/3 p(C) + 2/3; p(C) = 1/2 p(A) → p(A) = p(A)/6 + 2/3 → p(A) = 4/5,
    # p(C) = 2/5; p(S) = 1/2*4/5 + 1/4*2/5 + 1/4 = 2/5 + 1/10 + 1/4 = 3/4.
    # Without B: nothing converts → effect 1.
    # Without A: p(C) = 0; p(S) = 1/4 → effect 1 - (1/4)/(3/4) = 2/3.
    # Without C: p(A) = 2/3; p(S) = 1/2*2/3 + 1/4 = 7/12 → effect 1 - (7/12)/(3/4) = 2/9.
    effects = markov(
        [(["A", "C", "A", "B"], True), (["C"], False), (["B"], True), (["A", "B"], True)]
    )
    assert effects == pytest.approx({"A": 2 / 3, "B": 1.0, "C": 2 / 9})


def test_markov_when_nothing_converts_every_effect_is_zero_and_credit_falls_back_to_linear() -> (
    None
):
    effects = markov([(["A"], False), (["B", "A"], False)])
    assert effects == {"A": 0.0, "B": 0.0}
    found = credit(touches("A", "B"), model="markov", amount=10, effects=effects)
    assert found == pytest.approx({"A": 5, "B": 5})


def test_markov_by_channel() -> None:
    path = [Touch("A", day(0), channel="email"), Touch("B", day(1), channel="social")]
    effects = {"email": 1.0, "social": 3.0}
    found = credit(path, model="markov", amount=40, effects=effects, by="channel")
    assert found == pytest.approx({"A": 10, "B": 30})


# Every model sums to the amount, whatever the path -----------------------------------------------

paths = st.lists(
    st.tuples(
        st.sampled_from("ABCDE"),
        st.integers(min_value=0, max_value=400 * 24),  # hours after T0
        st.booleans(),
        st.sampled_from(["email", "social", ""]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    path=paths,
    amount=st.floats(min_value=0.01, max_value=1e9),
    half_life=st.floats(min_value=0.1, max_value=60),
    opened_after=st.integers(min_value=-200 * 24, max_value=200 * 24),
    effects=st.dictionaries(
        st.sampled_from("ABCDE"), st.floats(min_value=0, max_value=1), min_size=0
    ),
)
def test_every_model_credits_exactly_the_amount(
    path: list[tuple[str, int, bool, str]],
    amount: float,
    half_life: float,
    opened_after: int,
    effects: dict[str, float],
) -> None:
    built = [Touch(c, T0 + dt.timedelta(hours=h), channel=ch, lead=lead) for c, h, lead, ch in path]
    opened_at = T0 + dt.timedelta(hours=200 * 24 + opened_after)
    for model in MODELS:
        found = credit(
            built,
            model=model,
            amount=amount,
            half_life_days=half_life,
            opened_at=opened_at,
            effects=effects,
        )
        assert set(found) == {t.campaign for t in built}
        assert all(v >= 0 for v in found.values())
        assert sum(found.values()) == pytest.approx(amount, rel=1e-9), model


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6), st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_markov_effects_are_between_zero_and_one(data: list[tuple[list[str], bool]]) -> None:
    effects = markov(data)
    assert set(effects) == {c for states, _ in data for c in states}
    assert all(0 <= v <= 1 + 1e-9 for v in effects.values())
    if not any(converts for _, converts in data):
        assert set(effects.values()) == {0.0}


# The report on frames ----------------------------------------------------------------------------


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two people at Acme (1 and 2), one alone (3), one with no deal (4).

    Deal 10: Acme's (person 1), 1000, opened day 10, won day 20.
    Deal 11: person 3, 500, opened day 12, lost day 15.
    Deal 12: person 3, 200, opened day 30, still open; no touch in reach before day 30 other
    than ... see touches.
    """
    touches_ = pd.DataFrame.from_records(
        [
            # touch_id, person_id, at, campaign, channel, lead
            (1, 1, day(1), "Webinar", "webinar", True),  # Acme, before deal 10
            (2, 2, day(5), "webinar", "webinar", False),  # Acme, the other member; same campaign
            (3, 2, day(8), "Ads", "paid search", False),  # Acme
            (4, 1, day(15), "Newsletter", "email", False),  # Acme, after opening, before won
            (5, 3, day(11), "Ads", "paid search", True),  # person 3, before deal 11
            (6, 4, day(2), "Ads", "paid search", True),  # person 4: no deal
            (7, 1, day(25), "Newsletter", "email", False),  # after deal 10 closed
        ],
        columns=["touch_id", "person_id", "at", "campaign", "channel", "lead"],
    )
    touches_["at"] = pd.to_datetime(touches_["at"], utc=True)
    touches_["content"] = ""
    opportunities = pd.DataFrame.from_records(
        [
            (10, 1, None, "won", 1000.0, day(10), day(20)),
            (11, 3, None, "lost", 500.0, day(12), day(15)),
            (12, 3, None, "open", 200.0, day(30), None),
        ],
        columns=["id", "person_id", "account_id", "status", "amount", "opened_at", "closed_at"],
    )
    for column in ("person_id", "account_id"):
        opportunities[column] = opportunities[column].astype("Int64")
    for column in ("opened_at", "closed_at"):
        opportunities[column] = pd.to_datetime(opportunities[column], utc=True)
    memberships = pd.DataFrame({"person_id": [1, 2], "account_id": [100, 100]})
    return touches_, opportunities, memberships


def test_report_by_hand() -> None:
    touches_, opportunities, memberships = frames()
    found = attribution.report(
        touches=touches_,
        opportunities=opportunities,
        memberships=memberships,
        campaigns={"ads": CampaignInfo(7, "Ads", "paid search", 250.0, "EUR")},
        since=day(0),
        until=day(60),
    )
    rows = {row.key: row for row in found.rows}
    assert set(rows) == {"webinar", "ads", "newsletter"}
    # Pipeline: 1000 + 500 + 200 = 1700; revenue 1000 (deal 10).
    assert (found.deals, found.won, found.pipeline, found.revenue) == (3, 1, 1700, 1000)
    # Deal 10's pipeline path (Acme, until day 10): Webinar (1), Webinar (2), Ads (3).
    # Deal 11's (person 3, until day 12): Ads (5). Deal 12 (until day 30): Ads (5) too.
    # Influenced pipeline: Webinar 1000; Ads 1000 + 500 + 200 = 1700; Newsletter 0.
    assert rows["webinar"].influenced_pipeline == 1000
    assert rows["ads"].influenced_pipeline == 1700
    assert rows["newsletter"].influenced_pipeline == 0
    # Won revenue path of deal 10 (until day 20): Webinar, Webinar, Ads, Newsletter (day 15).
    assert rows["newsletter"].influenced_revenue == 1000
    assert rows["webinar"].influenced_won == 1
    # Linear revenue: 1000 / 4 touches = 250 each; Webinar has two: 500.
    assert rows["webinar"].revenue["linear"] == pytest.approx(500)
    assert rows["ads"].revenue["linear"] == pytest.approx(250)
    assert rows["newsletter"].revenue["linear"] == pytest.approx(250)
    # First touch pipeline: deal 10 → Webinar (1000); 11 and 12 → Ads (700).
    assert rows["webinar"].pipeline["first_touch"] == 1000
    assert rows["ads"].pipeline["first_touch"] == 700
    # W-shaped revenue on deal 10: first = lead (touch 1, Webinar, 60%), opening = Ads (30%),
    # the others: Webinar (2) and Newsletter share 10%: 5% each. Webinar 650, Ads 300, News 50.
    assert rows["webinar"].revenue["w_shaped"] == pytest.approx(650)
    assert rows["ads"].revenue["w_shaped"] == pytest.approx(300)
    assert rows["newsletter"].revenue["w_shaped"] == pytest.approx(50)
    # Return on Ads (cost 250) by linear revenue: (250 - 250) / 250 = 0; no cost: None.
    assert rows["ads"].gain("linear") == pytest.approx(0)
    assert rows["webinar"].gain("linear") is None
    assert rows["ads"].name == "Ads"
    assert rows["ads"].campaign_id == 7
    # "Webinar" and "webinar" are one campaign, named as first seen.
    assert rows["webinar"].name == "Webinar"
    # Every model: the campaigns' credit plus the untouched deals' = the whole.
    for model in MODELS:
        assert found.attributed("pipeline", model) + found.untouched_pipeline == pytest.approx(
            found.pipeline
        )
        assert found.attributed("revenue", model) + found.untouched_revenue == pytest.approx(
            found.revenue
        )
    # The channel roll-up sums the same credit by each touch's channel.
    channels = {row.key: row for row in found.channels}
    assert channels["webinar"].revenue["linear"] == pytest.approx(500)
    assert channels["email"].influenced_revenue == 1000
    # Revenue chain: won deal 10 converts; lost deal 11 (Ads) and person 4 (Ads) do not.
    assert found.conversions_revenue == 1
    assert found.paths_null_revenue == 2
    assert found.notes
    assert "Too little evidence" in found.notes[0]


def test_report_period_counts_deals_opened_in_it_and_keeps_campaigns_without_touches() -> None:
    touches_, opportunities, memberships = frames()
    found = attribution.report(
        touches=touches_,
        opportunities=opportunities,
        memberships=memberships,
        campaigns={"trade show": CampaignInfo(9, "Trade show", "events", 5000.0, "EUR")},
        since=day(11),
        until=day(31),
    )
    assert (found.deals, found.pipeline, found.won, found.revenue) == (2, 700, 0, 0)
    rows = {row.key: row for row in found.rows}
    assert rows["trade show"].influenced_pipeline == 0
    assert rows["trade show"].gain("linear") == pytest.approx(-1.0)  # (0 - 5000) / 5000


def test_report_lookback_limits_the_path() -> None:
    touches_, opportunities, memberships = frames()
    found = attribution.report(
        touches=touches_,
        opportunities=opportunities,
        memberships=memberships,
        campaigns={},
        since=day(0),
        until=day(60),
        lookback_days=3,
    )
    rows = {row.key: row for row in found.rows}
    # Deal 10 opened day 10: only touches from day 7 count: Ads (day 8).
    assert rows["webinar"].influenced_pipeline == 0
    assert rows["ads"].pipeline["first_touch"] == 1000 + 500
    # Deal 12 (day 30) reaches back to day 27: nothing; it is untouched.
    assert found.untouched_deals == 1
    assert found.untouched_pipeline == 200
