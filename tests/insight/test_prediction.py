"""The prediction engine on synthetic cases whose signal and leaks are planted, so what it
should find is known."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from leadline.insight import prediction
from leadline.insight.features import Examples

OUTCOME_AT = pd.Timestamp("2025-06-01", tz="UTC")


def _examples(X: pd.DataFrame, y: np.ndarray, known_at: pd.DataFrame | None = None) -> Examples:
    index = pd.RangeIndex(len(y))
    X = X.set_axis(index)
    if known_at is None:
        known_at = pd.DataFrame(pd.NaT, index=index, columns=X.columns, dtype="datetime64[ns, UTC]")
    return Examples(
        X=X,
        y=pd.Series(y.astype(bool), index=index),
        known_at=known_at.set_axis(index),
        outcome_at=pd.Series(OUTCOME_AT, index=index),
        subject=pd.DataFrame({"subject": "person", "subject_id": np.arange(len(y))}, index=index),
    )


def _planted(n: int = 3000, seed: int = 1) -> Examples:
    """Winning depends on Lead Source (Referral wins most), Visits and Minutes on site; the
    rest is noise, except three leaks: a noisy copy of the outcome, a field filled in after the
    outcome, and a sales "Lead Quality" grade that is noise here but named like a disposition."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["Referral", "Google", "Direct", "Partner"], size=n, p=[0.2, 0.4, 0.3, 0.1])
    visits = rng.poisson(4, size=n).astype(float)
    minutes = rng.gamma(2.0, 10.0, size=n)
    logit = (
        -1.2
        + np.select([source == "Referral", source == "Google"], [1.6, -0.4], 0.0)
        + 0.25 * (visits - 4)
        + 0.04 * (minutes - 20)
    )
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    copy = np.where(rng.random(n) < 0.06, ~y, y)
    X = pd.DataFrame(
        {
            "Lead Source": source.astype(object),
            "Visits": visits,
            "Minutes on site": minutes.round(1),
            "Region": rng.choice(["North", "South", "East", "West", None], size=n).astype(object),
            "Copied outcome": np.where(copy, "yes", "no").astype(object),
            "Follow-up channel": rng.choice(["phone", "mail", "chat"], size=n).astype(object),
            "Lead Quality": rng.choice(["High", "Low", "Might be"], size=n).astype(object),
            "Visitor id": [f"v-{i:06d}" for i in range(n)],
            "Always": "same",
        }
    )
    X.loc[rng.random(n) < 0.1, "Visits"] = None
    known_at = pd.DataFrame(pd.NaT, index=X.index, columns=X.columns, dtype="datetime64[ns, UTC]")
    # "Follow-up channel" was recorded after the outcome for 80% of the cases with a stamp.
    late = rng.random(n) < 0.8
    known_at["Follow-up channel"] = np.where(
        late, OUTCOME_AT + pd.Timedelta(days=2), OUTCOME_AT - pd.Timedelta(days=5)
    )
    known_at["Lead Source"] = OUTCOME_AT - pd.Timedelta(days=30)
    return _examples(X, y, known_at)


@pytest.fixture(scope="module")
def planted() -> Examples:
    return _planted()


@pytest.fixture(scope="module")
def fitted(planted: Examples) -> prediction.Fitted:
    return prediction.fit(planted, seed=3)


def _check(fitted: prediction.Fitted, name: str) -> prediction.FieldCheck:
    return next(c for c in fitted.fields if c.name == name)


def test_the_model_finds_the_planted_signal_and_is_calibrated(fitted: prediction.Fitted) -> None:
    m = fitted.metrics
    assert m["auc"] > 0.72
    assert m["brier"] < m["brier_base_rate"] - 0.02
    assert fitted.kind in (prediction.GRADIENT_BOOSTING, prediction.LOGISTIC)
    chosen = (
        "auc_gradient_boosting" if fitted.kind == prediction.GRADIENT_BOOSTING else "auc_logistic"
    )
    assert m[chosen] == max(m["auc_gradient_boosting"], m["auc_logistic"])
    assert m["n"] == 3000
    assert m["folds"] == 5
    assert fitted.fitted_on == "all 3,000 cases"
    assert fitted.calibration_method == "sigmoid"  # under 5,000 cases
    assert len(fitted.calibration) == 10
    assert sum(n for _, _, n in fitted.calibration) == 3000
    # Calibrated: in every tenth, the predicted and the observed share are close.
    for predicted, observed, n in fitted.calibration:
        assert (
            abs(predicted - observed) < 3 * np.sqrt(max(observed * (1 - observed), 0.02) / n) + 0.02
        )
    assert set(fitted.used) == {"Lead Source", "Visits", "Minutes on site", "Region"}


def test_fields_left_out_say_why(fitted: prediction.Fitted) -> None:
    assert "identifier" in _check(fitted, "Visitor id").why
    assert _check(fitted, "Always").why == "The same value for every case"
    assert not _check(fitted, "Visitor id").flagged


def test_a_field_recorded_after_the_outcome_is_flagged(fitted: prediction.Fitted) -> None:
    check = _check(fitted, "Follow-up channel")
    assert check.flagged
    assert check.after_outcome == pytest.approx(0.8, abs=0.03)
    assert "Filled in after the outcome for 8" in check.why
    assert check.single_auc is not None
    assert check.single_auc < 0.6  # noise otherwise
    assert _check(fitted, "Lead Source").after_outcome == 0.0


def test_a_noisy_copy_of_the_outcome_is_flagged(fitted: prediction.Fitted) -> None:
    check = _check(fitted, "Copied outcome")
    assert check.flagged
    assert check.single_auc is not None
    assert check.single_auc >= 0.9
    assert "almost alone (AUC 0.9" in check.why


def test_a_field_named_like_a_sales_disposition_is_flagged(fitted: prediction.Fitted) -> None:
    check = _check(fitted, "Lead Quality")
    assert check.flagged
    assert '"lead quality"' in check.why


def test_honest_strong_fields_are_not_flagged(fitted: prediction.Fitted) -> None:
    for name in ("Lead Source", "Minutes on site", "Visits", "Region"):
        check = _check(fitted, name)
        assert not check.flagged, check.why
        assert check.why.startswith("No sign of leaking")
    assert (_check(fitted, "Lead Source").single_auc or 0) > 0.6


def test_one_field_carrying_most_of_the_signal_is_flagged() -> None:
    """Like a call's duration: strong alone (AUC ≥ 0.75) and the others cannot stand in."""
    rng = np.random.default_rng(7)
    n = 4000
    duration = rng.exponential(1.0, size=n)
    age = rng.normal(40, 10, size=n)
    logit = -2.0 + 2.2 * duration + 0.02 * (age - 40)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    X = pd.DataFrame(
        {
            "Call length": (duration * 300).round(),
            "Age": age.round(),
            "Job": rng.choice(["a", "b", "c"], size=n).astype(object),
        }
    )
    checks = {c.name: c for c in prediction.leakage_check(_examples(X, y))}
    length = checks["Call length"]
    assert length.flagged, length.why
    assert length.gain is not None
    assert length.gain >= 0.03
    assert "Carries most of the signal" in length.why
    assert not checks["Age"].flagged
    assert checks["Age"].gain is None  # not strong enough alone to be dropped and compared


def test_include_lets_a_flagged_field_in(planted: Examples, fitted: prediction.Fitted) -> None:
    insisted = prediction.fit(planted, include=["Copied outcome"], seed=3)
    assert "Copied outcome" in insisted.used
    assert _check(insisted, "Copied outcome").flagged  # still flagged, in but marked
    assert insisted.metrics["auc"] > fitted.metrics["auc"] + 0.05


def test_exclude_leaves_a_field_out(planted: Examples) -> None:
    fitted = prediction.fit(planted, exclude=["Lead Source"], sample=1000, seed=3)
    assert "Lead Source" not in fitted.used
    assert _check(fitted, "Lead Source").why == "Left out by you"


def test_reasons_name_the_planted_field(planted: Examples, fitted: prediction.Fitted) -> None:
    referral = planted.X[planted.X["Lead Source"] == "Referral"].head(50)
    reasons = fitted.reasons(referral)
    assert len(reasons) == 50
    assert all(len(r) <= 3 for r in reasons)
    firsts = [r[0] for r in reasons if r]
    share = np.mean([r.field == "Lead Source" for r in firsts])
    assert share > 0.5
    reason = next(r for r in firsts if r.field == "Lead Source")
    assert reason.value == "Referral"
    assert reason.effect > 0.05
    assert reason.words == f"Lead Source is Referral: +{round(reason.effect * 100)} points"
    # Largest effect first.
    for row in reasons:
        effects = [abs(r.effect) for r in row]
        assert effects == sorted(effects, reverse=True)


def test_logistic_reasons_name_the_planted_field(planted: Examples) -> None:
    fitted = prediction.fit(planted, models=[prediction.LOGISTIC], seed=3)
    assert fitted.kind == prediction.LOGISTIC
    assert fitted.metrics["auc"] > 0.72
    google = planted.X[planted.X["Lead Source"] == "Google"].head(40)
    referral = planted.X[planted.X["Lead Source"] == "Referral"].head(40)
    source_effects = [
        next((r.effect for r in row if r.field == "Lead Source"), None)
        for row in fitted.reasons(referral)
    ]
    assert sum(e is not None and e > 0 for e in source_effects) > 30
    for row in fitted.reasons(google):
        assert all(r.effect < 0 for r in row if r.field == "Lead Source")


def test_pickled_model_predicts_the_same(planted: Examples, fitted: prediction.Fitted) -> None:
    loaded = pickle.loads(pickle.dumps(fitted))  # noqa: S301 (our own bytes)
    rows = planted.X.head(200)
    assert np.array_equal(loaded.predict(rows), fitted.predict(rows))
    assert [[r.words for r in row] for row in loaded.reasons(rows.head(5))] == [
        [r.words for r in row] for row in fitted.reasons(rows.head(5))
    ]


def test_predict_copes_with_missing_columns_and_unseen_values(fitted: prediction.Fitted) -> None:
    frame = pd.DataFrame(
        {"Lead Source": ["Referral", "Carrier pigeon", None], "Visits": ["7", None, 2]}
    )
    p = fitted.predict(frame)
    assert p.shape == (3,)
    assert ((p > 0) & (p < 1)).all()
    assert p[0] > p[1]  # a referral beats an unknown source with no visits


def test_too_little_evidence_is_refused() -> None:
    X = pd.DataFrame({"Source": ["a", "b"] * 20})
    y = np.zeros(40, dtype=bool)
    y[:3] = True
    with pytest.raises(prediction.TooLittleEvidence, match="Too little evidence: 3 cases"):
        prediction.fit(_examples(X, y))


def test_a_large_set_is_sampled_and_says_so_with_progress(planted: Examples) -> None:
    seen: list[tuple[str, float]] = []
    fitted = prediction.fit(
        planted, sample=1000, seed=3, progress=lambda stage, share: seen.append((stage, share))
    )
    assert fitted.metrics["sample"] == 1000
    assert fitted.metrics["n"] == 3000
    assert fitted.fitted_on == "a stratified sample of 1,000 of 3,000 cases"
    assert sum(n for _, _, n in fitted.calibration) == 1000
    shares = [share for _, share in seen]
    assert shares == sorted(shares)
    assert seen[-1] == ("done", 1.0)
    assert {"checking fields", "comparing models", "calibrating", "fitting"} <= {s for s, _ in seen}
