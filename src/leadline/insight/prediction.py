"""Predicting an outcome (winning, moving on) from the history, honestly: calibrated
probabilities, the reasons behind each one, and a guard against fields that leak the outcome.

Pure: pandas, NumPy and scikit-learn on an `Examples` (see `features`); no database.

- **Fields** are typed from the data, with no per-data-set code: a field is a number when at
  least 95% of its known values read as numbers and it has more than 10 distinct values, else a
  category (its 30 most common levels, each at least 0.5% of cases, the rest "other", missing
  its own level). Fields with one value only, and text that is nearly unique per case (an id),
  are left out.
- **Two candidates**, compared by stratified k-fold cross-validated AUC on a stratified sample of
  at most `sample` cases: gradient boosting (scikit-learn's HistGradientBoostingClassifier with
  native categories) and an L2 logistic regression (one-hot categories, standardised numbers, C
  picked from a small grid on the first fold). The better one is calibrated on its out-of-fold
  scores (isotonic from 5,000 cases on, else Platt's sigmoid), as CalibratedClassifierCV does
  with `ensemble=False`; the AUC and Brier score reported are those of the calibrated model,
  out of fold (the calibration of each fold learnt from the other folds only).
- **The leakage guard** (`leakage_check`, run by `fit`) flags a field when its values were
  recorded after the outcome, when it predicts the outcome almost alone, when one field carries
  most of the signal, or when its name is one sales fills in after the contact (`LEAK_WORDS`).
  `fit` leaves flagged fields out unless the user insists (`include`).
- **Reasons** per prediction: what each field adds to the probability against a typical value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed  # type: ignore[import-untyped]
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.compose import ColumnTransformer  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from leadline.insight.features import Examples

Progress = Callable[[str, float], None]

# Folds are fitted side by side in threads, each model on one core: on a shared machine,
# OpenMP's many threads per model wait on one another for the busiest core and go many times
# slower (measured: one gradient boosting fit 1.6 s on one thread, 15-28 s on two under load).
JOBS = int(os.environ.get("LEADLINE_INSIGHT_JOBS", "2"))

GRADIENT_BOOSTING = "gradient boosting"
LOGISTIC = "logistic regression"

# Typing the fields.
NUMERIC_SHARE = 0.95  # share of known values that must read as numbers
NUMERIC_DISTINCT = 10  # more distinct values than this to be a number, else a category
MAX_LEVELS = 30  # most common levels kept per category
MIN_LEVEL_SHARE = 0.005  # rarer levels become "other"
ID_UNIQUE_SHARE = 0.9  # text with at least this share of distinct values is an id
ID_UNIQUE_NUMBERS = 0.99  # whole numbers with at least this share of distinct values: an id
OTHER = "other"
MISSING = "missing"

# Calibration.
ISOTONIC_FROM = 5_000
CALIBRATION_BINS = 10

# The leakage guard.
GUARD_SAMPLE = 20_000
AFTER_OUTCOME_SHARE = 0.5  # (a) share of time-stamped values recorded at or after the outcome
AFTER_OUTCOME_MIN = 5  # ... among at least this many time-stamped values
ALONE_AUC = 0.90  # (b) a field predicting the outcome almost alone
CARRIES_GAIN = 0.03  # (c) AUC lost when it is dropped from all the others ...
CARRIES_ALONE_AUC = 0.75  # ... while it alone scores at least this
# (d) Names of fields sales fills in after talking to the lead, or records of the contact itself
# (CRM dispositions): matched as whole words, case-insensitive, "_", "-" and "." read as spaces.
LEAK_WORDS = (
    "tag",
    "tags",
    "lead quality",
    "rating",
    "disposition",
    "status",
    "stage",
    "outcome",
    "result",
    "reason lost",
    "reason won",
    "lost reason",
    "won reason",
    "call duration",
    "duration",
    "last activity",
    "last notable activity",
    "score",
)
_LEAK_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in LEAK_WORDS) + r")\b")
EVENTS_PREFIX = "Events: "  # counted events (features.EVENTS_PREFIX): never matched by name


class TooLittleEvidence(ValueError):
    """Not enough cases of each outcome to fit and check a model."""


@dataclasses.dataclass
class FieldCheck:
    name: str
    single_auc: float | None  # out-of-fold AUC of this field alone
    gain: float | None  # CV AUC lost when this field is dropped from the rest
    after_outcome: float | None  # share of known values whose known_at >= outcome_at
    flagged: bool
    why: str  # plain words ("Filled in after the outcome for 97% of cases")


@dataclasses.dataclass
class Reason:
    field: str
    value: str
    effect: float  # change in probability (e.g. +0.12), signed
    words: str  # "Lead Source is Reference: +12 points"


# --- Typing and encoding the fields ---------------------------------------------------------


@dataclasses.dataclass
class _Column:
    name: str
    numeric: bool
    levels: list[str]  # categories: kept levels, most common first; codes: levels, other, missing
    typical: float  # numbers: the median; categories: the code of the most common level

    @property
    def other(self) -> int:
        return len(self.levels)

    @property
    def missing(self) -> int:
        return len(self.levels) + 1


def _as_text(series: pd.Series) -> pd.Series:
    """Values as text (None where missing): 5 and 5.0 read the same."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map({True: "True", False: "False"})
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("Int64").astype("string").astype(object).where(series.notna(), None)
    if pd.api.types.is_float_dtype(series.dtype):
        out = series.map(lambda v: None if pd.isna(v) else _number_text(v))
        return out.astype(object)

    def text(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, float):
            return _number_text(v)
        return str(v)

    return series.map(text).astype(object)


def _number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _as_number(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype(float)
    return pd.to_numeric(
        series.map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce"
    )


@dataclasses.dataclass
class _Prep:
    """How each field is read: typed once from (a sample of) the cases, then applied to any
    frame (missing columns read as missing, unseen levels as "other")."""

    columns: list[_Column]
    dropped: dict[str, str]  # field -> why it was left out (one value, an id)

    @classmethod
    def learn(cls, X: pd.DataFrame) -> _Prep:
        columns: list[_Column] = []
        dropped: dict[str, str] = {}
        n = len(X)
        for name in X.columns:
            raw = X[name]
            known = raw.notna()
            n_known = int(known.sum())
            if n_known == 0:
                dropped[name] = "Never filled in"
                continue
            numbers = _as_number(raw)
            parsed = int(numbers.notna().sum())
            distinct_numbers = numbers.nunique()
            if parsed >= NUMERIC_SHARE * n_known and distinct_numbers > NUMERIC_DISTINCT:
                whole = numbers.dropna()
                if (
                    n_known >= 50
                    and distinct_numbers >= ID_UNIQUE_NUMBERS * n_known
                    and bool((whole == np.round(whole)).all())
                ):
                    dropped[name] = "Whole numbers unique per case, like an identifier"
                    continue
                median = float(numbers.median())
                columns.append(_Column(str(name), True, [], median))
                continue
            text = _as_text(raw)
            counts = text.value_counts(dropna=True)
            n_levels = len(counts) + (1 if n_known < n else 0)
            if n_levels <= 1:
                dropped[name] = "The same value for every case"
                continue
            if n_known >= 50 and len(counts) >= ID_UNIQUE_SHARE * n_known:
                dropped[name] = "Nearly unique per case, like an identifier"
                continue
            kept = counts[counts >= MIN_LEVEL_SHARE * n].head(MAX_LEVELS)
            levels = [str(v) for v in kept.index]
            column = _Column(str(name), False, levels, 0.0)
            codes = column_codes(column, text)
            column.typical = float(np.bincount(codes, minlength=column.missing + 1).argmax())
            columns.append(column)
        return cls(columns, dropped)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def only(self, names: Collection[str]) -> _Prep:
        keep = set(names)
        return _Prep([c for c in self.columns if c.name in keep], dict(self.dropped))

    def encode(self, X: pd.DataFrame) -> pd.DataFrame:
        """One float column per field: numbers as they are (NaN missing), categories as codes
        (levels 0..k-1, k other, k+1 missing)."""
        out: dict[str, np.ndarray] = {}
        for column in self.columns:
            if column.name not in X.columns:
                raw = pd.Series(None, index=X.index, dtype=object)
            else:
                raw = X[column.name]
            if column.numeric:
                out[column.name] = _as_number(raw).to_numpy(dtype=float)
            else:
                out[column.name] = column_codes(column, _as_text(raw)).astype(float)
        return pd.DataFrame(out, index=X.index, columns=self.names)

    def categorical_mask(self) -> np.ndarray:
        return np.array([not c.numeric for c in self.columns], dtype=bool)


def column_codes(column: _Column, text: pd.Series) -> np.ndarray:
    codes = (
        pd.Index(column.levels, dtype=object)
        .get_indexer(pd.Index(text, dtype=object))
        .astype(np.int64)
    )
    codes = np.where(codes < 0, column.other, codes)
    return np.where(text.isna().to_numpy(), column.missing, codes)


# --- The two candidates ------------------------------------------------------------------------


def _gradient_boosting(
    prep: _Prep, *, seed: int, fast: bool = False
) -> HistGradientBoostingClassifier:
    mask = prep.categorical_mask()
    if fast:
        return HistGradientBoostingClassifier(
            max_iter=60,
            learning_rate=0.15,
            max_leaf_nodes=15,
            early_stopping=False,
            categorical_features=mask if mask.any() else None,
            random_state=seed,
        )
    return HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.08,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=15,
        categorical_features=mask if mask.any() else None,
        random_state=seed,
    )


def _logistic(prep: _Prep, *, C: float, seed: int) -> Pipeline:
    parts: list[tuple[str, Any, list[int]]] = []
    for i, column in enumerate(prep.columns):
        if column.numeric:
            numbers = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                    ("scale", StandardScaler()),
                ]
            )
            parts.append((f"f{i}", numbers, [i]))
        else:
            codes = [float(c) for c in range(column.missing + 1)]
            parts.append((f"f{i}", OneHotEncoder(categories=[codes], handle_unknown="ignore"), [i]))
    design = ColumnTransformer(parts, sparse_threshold=0.3)
    model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    return Pipeline([("design", design), ("model", model)])


C_GRID = (0.01, 0.1, 1.0, 10.0)


def _scores(model: Any, X: np.ndarray | pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X)[:, 1], dtype=float)


def _one_core(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run with one thread per model (BLAS, OpenMP); see JOBS."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return wrapper


def _out_of_fold(
    make: Callable[[], Any],
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    def one(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = make()
        model.fit(X.iloc[train], y[train])
        return test, _scores(model, X.iloc[test])

    oof = np.zeros(len(y), dtype=float)
    jobs = Parallel(n_jobs=max(1, min(JOBS, len(splits))), backend="threading")
    for test, scores in jobs(delayed(one)(train, test) for train, test in splits):
        oof[test] = scores
    return oof


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(y, scores))


# --- Calibration -------------------------------------------------------------------------------


@dataclasses.dataclass
class _Calibrator:
    method: str  # "isotonic" | "sigmoid"
    model: Any

    @classmethod
    def learn(cls, scores: np.ndarray, y: np.ndarray, *, method: str) -> _Calibrator:
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            iso.fit(scores, y.astype(float))
            return cls(method, iso)
        platt = LogisticRegression(C=1e6, max_iter=1000)
        platt.fit(_logit(scores).reshape(-1, 1), y)
        return cls(method, platt)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.asarray(self.model.predict(scores), dtype=float)
        return np.asarray(
            self.model.predict_proba(_logit(scores).reshape(-1, 1))[:, 1], dtype=float
        )


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)), dtype=float)


def _calibration_bins(
    y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed share, n) per quantile bin of the predictions."""
    order = np.argsort(p, kind="stable")
    out: list[tuple[float, float, int]] = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            out.append((float(p[chunk].mean()), float(y[chunk].mean()), len(chunk)))
    return out


# --- Sampling ----------------------------------------------------------------------------------


def _stratified_rows(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Positions of a stratified random sample of at most `size` cases (all when fewer)."""
    if len(y) <= size:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    for value in (False, True):
        rows = np.flatnonzero(y == value)
        take = round(size * len(rows) / len(y))
        picked.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))


def _splits(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(kfold.split(np.zeros(len(y)), y))


def _check_evidence(y: np.ndarray, folds: int) -> None:
    positives = int(y.sum())
    negatives = len(y) - positives
    if min(positives, negatives) < max(folds, 2) * 2:
        raise TooLittleEvidence(
            f"Too little evidence: {positives} cases with the outcome and {negatives} without; "
            f"at least {max(folds, 2) * 2} of each are needed."
        )


# --- The leakage guard -------------------------------------------------------------------------


def _after_outcome(examples: Examples, name: str) -> tuple[float | None, int]:
    """Share of this field's time-stamped values recorded at or after the outcome, and how many
    time stamps say which came first. A value stamped at the very moment of the outcome is set
    aside: one moment for both is what an import of past cases writes (the person created with
    its closed opportunity), and says nothing about which was known first."""
    if name not in examples.known_at.columns:
        return None, 0
    known_at = pd.to_datetime(examples.known_at[name], utc=True)
    outcome_at = pd.to_datetime(examples.outcome_at, utc=True)
    stamped = known_at.notna() & outcome_at.notna() & examples.X[name].notna()
    stamped &= known_at != outcome_at
    n = int(stamped.sum())
    if n == 0:
        return None, 0
    late = (known_at[stamped] > outcome_at[stamped]).to_numpy()
    return float(late.mean()), n


def _single_auc(
    values: np.ndarray, numeric: bool, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> float:
    """Out-of-fold AUC of one field alone: the outcome rate of its level (or, for a number, of
    its quantile bin) in the training folds, smoothed toward the overall rate."""
    if numeric:
        known = ~np.isnan(values)
        edges = (
            np.unique(np.quantile(values[known], np.linspace(0, 1, 33)[1:-1]))
            if known.any()
            else np.array([])
        )
        codes = np.where(known, np.searchsorted(edges, values, side="right"), len(edges) + 1)
    else:
        codes = values.astype(np.int64)
    codes = codes.astype(np.int64)
    width = int(codes.max()) + 1
    oof = np.zeros(len(y), dtype=float)
    prior_weight = 10.0
    for train, test in splits:
        totals = np.bincount(codes[train], minlength=width).astype(float)
        wins = np.bincount(codes[train], weights=y[train].astype(float), minlength=width)
        prior = y[train].mean()
        rate = (wins + prior_weight * prior) / (totals + prior_weight)
        oof[test] = rate[codes[test]]
    return _auc(y, oof)


def _name_leaks(name: str) -> str | None:
    if name.startswith(EVENTS_PREFIX):
        return None
    base = name.split(": ", 1)[1] if re.match(r"^(Opportunity|Person|Account): ", name) else name
    words = re.sub(r"[_\-.]+", " ", base).lower()
    found = _LEAK_RE.search(words)
    return found.group(1) if found else None


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


@_one_core
def leakage_check(
    examples: Examples,
    *,
    progress: Progress | None = None,
    folds: int = 5,
    seed: int = 0,
    sample: int = GUARD_SAMPLE,
    exclude: Collection[str] = (),
) -> list[FieldCheck]:
    """Check every field for leaking the outcome; one `FieldCheck` per field of `examples.X`
    (left-out fields too, unflagged, with why they were left out). A field is flagged when:

    (a) time stamps: of its values with a known_at (at least 5), at least half were recorded
        after the outcome ("filled in after the outcome"; a stamp equal to the outcome's is set
        aside, see `_after_outcome`);
    (b) alone it predicts the outcome with an out-of-fold AUC of at least 0.90;
    (c) dropping it from all the other fields costs at least 0.03 AUC while alone it scores at
        least 0.75 ("one field carries most of the signal");
    (d) its name is one of `LEAK_WORDS`: a field sales fills in after talking to the lead, or a
        record of the contact itself (tags, lead quality, status, call duration, last activity,
        score...).

    The AUC checks use a fast gradient boosting (60 trees) on a stratified sample of at most
    `sample` cases, so the guard costs seconds."""
    report = progress or (lambda stage, share: None)
    y_all = examples.y.to_numpy(dtype=bool)
    _check_evidence(y_all, folds)
    rows = _stratified_rows(y_all, sample, seed)
    X = examples.X.iloc[rows]
    y = y_all[rows]
    leave_out = set(exclude)
    prep = _Prep.learn(X.drop(columns=[c for c in X.columns if c in leave_out]))
    encoded = prep.encode(X)
    splits = _splits(y, folds, seed)
    checks: dict[str, FieldCheck] = {}
    total = len(prep.columns)
    for i, column in enumerate(prep.columns):
        report("checking fields", i / max(total, 1) * 0.5)
        after, stamped = _after_outcome(examples, column.name)
        single = _single_auc(encoded[column.name].to_numpy(), column.numeric, y, splits)
        checks[column.name] = FieldCheck(column.name, single, None, after, False, "")
        reasons: list[str] = []
        if after is not None and stamped >= AFTER_OUTCOME_MIN and after >= AFTER_OUTCOME_SHARE:
            reasons.append(
                f"Filled in after the outcome for {_pct(after)} of the {stamped:,} cases "
                "with a time stamp"
            )
        if single >= ALONE_AUC:
            reasons.append(f"Predicts the outcome almost alone (AUC {single:.2f} by itself)")
        word = _name_leaks(column.name)
        if word:
            reasons.append(
                f'Its name ("{word}") reads like a field sales fills in after talking to the lead'
            )
        if reasons:
            checks[column.name].flagged = True
            checks[column.name].why = "; ".join(reasons)
    # (c): only a field that scores 0.75 alone can be flagged by it, so only those are dropped.
    candidates = [c for c in prep.names if (checks[c].single_auc or 0) >= CARRIES_ALONE_AUC]
    if candidates and len(prep.columns) > 1:
        base = _out_of_fold(
            lambda: _gradient_boosting(prep, seed=seed, fast=True), encoded, y, splits
        )
        base_auc = _auc(y, base)
        for j, name in enumerate(candidates):
            report("checking fields", 0.5 + 0.5 * j / len(candidates))
            rest = prep.only([c for c in prep.names if c != name])
            oof = _out_of_fold(
                lambda rest=rest: _gradient_boosting(rest, seed=seed, fast=True),  # type: ignore[misc]
                encoded[rest.names],
                y,
                splits,
            )
            gain = base_auc - _auc(y, oof)
            check = checks[name]
            check.gain = gain
            if gain >= CARRIES_GAIN:
                why = (
                    f"Carries most of the signal: the model loses {gain:.3f} AUC without it "
                    f"(AUC {check.single_auc:.2f} by itself)"
                )
                check.why = f"{check.why}; {why}" if check.flagged else why
                check.flagged = True
    report("checking fields", 1.0)
    out: list[FieldCheck] = []
    for name in examples.X.columns:
        if name in checks:
            check = checks[name]
            if not check.flagged:
                check.why = _honest_words(check)
            out.append(check)
        elif name in leave_out:
            out.append(FieldCheck(str(name), None, None, None, False, "Left out by you"))
        else:
            out.append(
                FieldCheck(str(name), None, None, None, False, prep.dropped.get(name, "Left out"))
            )
    return out


def _honest_words(check: FieldCheck) -> str:
    parts = [f"AUC {check.single_auc:.2f} by itself" if check.single_auc is not None else ""]
    if check.after_outcome is not None:
        parts.append(f"{_pct(check.after_outcome)} of time-stamped values after the outcome")
    return "No sign of leaking the outcome (" + ", ".join(p for p in parts if p) + ")"


# --- The fitted model --------------------------------------------------------------------------


@dataclasses.dataclass
class Fitted:
    """A calibrated model and everything said about it. Picklable.

    `metrics`: auc and brier (the calibrated model, out of fold), brier_base_rate (always
    predicting the share of outcomes), auc_gradient_boosting and auc_logistic (the candidates),
    logistic_C, folds, n (cases), positives, sample (cases cross-validated), fitted_on (cases
    the final model learnt from). `calibration`: (mean predicted, observed share, n) per tenth
    of the out-of-fold predictions. `fitted_on` in words: "all 9,240 cases" or "a stratified
    sample of 200,000 of 1,000,000 cases"."""

    kind: str  # "gradient boosting" | "logistic regression"
    metrics: dict[str, float]
    calibration: list[tuple[float, float, int]]
    fields: list[FieldCheck]
    used: list[str]
    fitted_on: str
    calibration_method: str  # "isotonic" | "sigmoid"
    _prep: _Prep
    _model: Any
    _calibrator: _Calibrator
    _design_mean: np.ndarray | None = None  # logistic: the mean of each design column (training)
    _owners: np.ndarray | None = None  # logistic: which field each design column belongs to

    @_one_core
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of the outcome, one per row of X."""
        if len(X) == 0:
            return np.zeros(0, dtype=float)
        return self._calibrator(_scores(self._model, self._prep.encode(X)))

    @_one_core
    def reasons(self, X: pd.DataFrame, *, top: int = 3) -> list[list[Reason]]:
        """The `top` fields that move each row's probability most, largest first. Gradient
        boosting: the change in probability against the field set to its typical value (the
        median number, or the most common level). Logistic regression: coefficient * (value -
        mean) on the logit scale, turned into the change in probability it makes."""
        if len(X) == 0:
            return []
        encoded = self._prep.encode(X)
        p = self._calibrator(_scores(self._model, encoded))
        columns = self._prep.columns
        effects = np.zeros((len(X), len(columns)), dtype=float)
        if self.kind == GRADIENT_BOOSTING:

            def typical(column: _Column) -> np.ndarray:
                changed = encoded.copy()
                changed[column.name] = column.typical
                return self._calibrator(_scores(self._model, changed))

            jobs = Parallel(n_jobs=max(1, JOBS), backend="threading")
            for j, moved in enumerate(jobs(delayed(typical)(column) for column in columns)):
                effects[:, j] = p - moved
        else:
            assert self._design_mean is not None
            assert self._owners is not None
            design = sparse.csr_matrix(self._model.named_steps["design"].transform(encoded))
            coef = self._model.named_steps["model"].coef_[0]
            logit = _logit(_scores(self._model, encoded))
            # coefficient * (value - mean), summed over each field's design columns.
            owner = sparse.csr_matrix(
                (np.ones(len(self._owners)), (np.arange(len(self._owners)), self._owners)),
                shape=(len(self._owners), len(columns)),
            )
            weighted = owner.multiply(coef.reshape(-1, 1)).tocsr()
            per_field = np.asarray((design @ weighted).toarray()) - (self._design_mean @ weighted)
            for j in range(len(columns)):
                without = 1 / (1 + np.exp(-(logit - per_field[:, j])))
                effects[:, j] = p - self._calibrator(without)
        return self._words(X, encoded, effects, top)

    def _words(
        self, X: pd.DataFrame, encoded: pd.DataFrame, effects: np.ndarray, top: int
    ) -> list[list[Reason]]:
        columns = self._prep.columns
        order = np.argsort(-np.abs(effects), axis=1, kind="stable")[:, :top]
        texts: dict[int, np.ndarray] = {}
        out: list[list[Reason]] = []
        for i in range(len(X)):
            row: list[Reason] = []
            for j in order[i]:
                effect = float(effects[i, j])
                if abs(effect) < 0.005:  # under half a point: not a reason
                    continue
                if j not in texts:
                    texts[j] = _value_texts(columns[j], encoded[columns[j].name].to_numpy())
                value = str(texts[j][i])
                points = round(effect * 100)
                words = f"{columns[j].name} is {value}: {points:+d} points"
                row.append(Reason(columns[j].name, value, effect, words))
            out.append(row)
        return out


def _value_texts(column: _Column, values: np.ndarray) -> np.ndarray:
    if column.numeric:
        return np.array(
            [MISSING if math.isnan(v) else _number_text(float(v)) for v in values], dtype=object
        )
    names = np.array([*column.levels, OTHER, MISSING], dtype=object)
    return names[values.astype(np.int64)]


# --- Fitting -----------------------------------------------------------------------------------


@_one_core
def fit(
    examples: Examples,
    *,
    include: Collection[str] = (),
    exclude: Collection[str] = (),
    folds: int = 5,
    sample: int = 200_000,
    seed: int = 0,
    progress: Progress | None = None,
    models: Collection[str] = (GRADIENT_BOOSTING, LOGISTIC),
) -> Fitted:
    """Check the fields for leaks, compare gradient boosting and logistic regression by
    cross-validated AUC, calibrate the better one and fit it. Flagged fields are left out unless
    named in `include`; fields in `exclude` are left out. Raises TooLittleEvidence when there are
    too few cases of either outcome. `models`: the candidates to compare (both by default)."""
    report = progress or (lambda stage, share: None)
    y_all = examples.y.to_numpy(dtype=bool)
    _check_evidence(y_all, folds)
    n = len(y_all)

    report("checking fields", 0.0)
    checks = leakage_check(
        examples,
        folds=folds,
        seed=seed,
        exclude=exclude,
        progress=lambda stage, share: report(stage, 0.3 * share),
    )
    insist = set(include)
    leave_out = set(exclude)
    keep = [
        c.name for c in checks if (not c.flagged or c.name in insist) and c.name not in leave_out
    ]

    rows = _stratified_rows(y_all, sample, seed)
    X = examples.X.iloc[rows]
    y = y_all[rows]
    prep = _Prep.learn(X[[c for c in X.columns if c in set(keep)]])
    for check in checks:  # the guard typed its own sample; say so for fields left out here
        if check.name in prep.dropped and not check.flagged:
            check.why = prep.dropped[check.name]
    if not prep.columns:
        raise TooLittleEvidence("No field is left to learn from.")
    encoded = prep.encode(X)
    splits = _splits(y, folds, seed)

    report("comparing models", 0.3)
    candidates: dict[str, np.ndarray] = {}
    gbm_auc = log_auc = math.nan
    C = math.nan
    if GRADIENT_BOOSTING in models:
        oof = _out_of_fold(lambda: _gradient_boosting(prep, seed=seed), encoded, y, splits)
        candidates[GRADIENT_BOOSTING] = oof
        gbm_auc = _auc(y, oof)
    report("comparing models", 0.55)
    if LOGISTIC in models:
        C = _pick_C(prep, encoded, y, splits[0], seed)
        report("comparing models", 0.6)
        oof = _out_of_fold(lambda: _logistic(prep, C=C, seed=seed), encoded, y, splits)
        candidates[LOGISTIC] = oof
        log_auc = _auc(y, oof)
    if not candidates:
        raise ValueError(f"No model to compare among {sorted(models)}")
    kind = max(candidates, key=lambda k: _auc(y, candidates[k]))
    oof = candidates[kind]

    report("calibrating", 0.8)
    method = "isotonic" if len(y) >= ISOTONIC_FROM else "sigmoid"
    calibrated = np.zeros(len(y), dtype=float)
    for train, test in splits:
        calibrated[test] = _Calibrator.learn(oof[train], y[train], method=method)(oof[test])
    calibrator = _Calibrator.learn(oof, y, method=method)

    report("fitting", 0.85)
    model: Any = (
        _gradient_boosting(prep, seed=seed)
        if kind == GRADIENT_BOOSTING
        else _logistic(prep, C=C, seed=seed)
    )
    model.fit(encoded, y)
    design_mean = owners = None
    if kind == LOGISTIC:
        design_mean, owners = _design_layout(model, encoded, len(prep.columns))

    base_rate = float(y.mean())
    metrics: dict[str, float] = {
        "auc": _auc(y, calibrated),
        "brier": float(brier_score_loss(y, calibrated)),
        "brier_base_rate": float(brier_score_loss(y, np.full(len(y), base_rate))),
        "auc_gradient_boosting": gbm_auc,
        "auc_logistic": log_auc,
        "logistic_C": C,
        "folds": float(folds),
        "n": float(n),
        "positives": float(y_all.sum()),
        "sample": float(len(y)),
        "fitted_on": float(len(y)),
    }
    fitted_on = (
        f"all {n:,} cases" if len(y) == n else f"a stratified sample of {len(y):,} of {n:,} cases"
    )
    report("done", 1.0)
    return Fitted(
        kind=kind,
        metrics=metrics,
        calibration=_calibration_bins(y, calibrated),
        fields=checks,
        used=prep.names,
        fitted_on=fitted_on,
        calibration_method=method,
        _prep=prep,
        _model=model,
        _calibrator=calibrator,
        _design_mean=design_mean,
        _owners=owners,
    )


def _pick_C(
    prep: _Prep,
    encoded: pd.DataFrame,
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    seed: int,
) -> float:
    """The regularisation of the logistic model: the best AUC of a small grid on one fold."""
    train, test = split
    best, best_auc = C_GRID[0], -1.0
    for C in C_GRID:
        model = _logistic(prep, C=C, seed=seed)
        model.fit(encoded.iloc[train], y[train])
        auc = _auc(y[test], _scores(model, encoded.iloc[test]))
        if auc > best_auc + 1e-4:
            best, best_auc = C, auc
    return best


def _design_layout(
    model: Pipeline, encoded: pd.DataFrame, n_fields: int
) -> tuple[np.ndarray, np.ndarray]:
    design: ColumnTransformer = model.named_steps["design"]
    matrix = design.transform(encoded)
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    owners = np.full(matrix.shape[1], -1, dtype=np.int64)
    for j in range(n_fields):
        part = design.output_indices_.get(f"f{j}")
        if part is not None:
            owners[part] = j
    return mean, owners


__all__: Sequence[str] = (
    "FieldCheck",
    "Fitted",
    "Reason",
    "TooLittleEvidence",
    "fit",
    "leakage_check",
)
