"""Fitting the prediction engine on a large generated history: 1,000,000 journeys and 20,000,000
events.

    python bench/insight_scale.py                        # 1e6 cases, 2e7 events
    python bench/insight_scale.py --cases 100000 --events 2000000 --sample 50000

Generates (vectorised NumPy, seeded) one case per person with 15 fields — 8 categories (3 to
40 levels, some missing) and 7 numbers — and the events of those people (a person, one name of
30, a time), as pandas frames: no database (`--database-url` is accepted, like every bench's,
and said on standard error to be unused). Winning depends on some fields, on a hidden
propensity that also makes people do more of three of the event names, and on chance. The
Examples are built the way the product builds them: the event counts before each case's
cutoff through `insight.features.event_counts`. Then `insight.prediction.fit` runs — leakage
guard, both candidates by 5-fold cross-validation, calibration, the final fit — on a
stratified sample of `--sample` cases (the guard on 20,000 of them): the JSON says so.

Prints JSON lines: insight_generate_s (generating the frames), insight_examples_s (the event
counts), insight_fit_s (prediction.fit, everything in it), insight_reasons_100k_s (predicting
and giving the top three reasons for 100,000 cases), then insight_peak_rss_gib (the process's
peak resident memory, generation included). Target: fit ≤ 60 s and ≤ 4 GiB on 2 cores.
Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import add_database_argument, database_unused, emit, say

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

EVENT_NAMES = 30
SIGNAL_EVENTS = ("pricing_viewed", "webinar_attended", "demo_requested")


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def generate(
    cases: int, events: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """(fields, events, y, cases frame for event_counts, outcome_at)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    propensity = rng.normal(0, 1, cases)
    logit = -1.0 + 0.9 * propensity
    fields: dict[str, np.ndarray] = {}
    for i, levels in enumerate((3, 5, 8, 12, 20, 25, 30, 40)):
        names = np.array([f"level {j}" for j in range(levels)] + [None], dtype=object)
        weights = rng.dirichlet(np.ones(levels) * 2)
        codes = rng.choice(levels, size=cases, p=weights)
        codes[rng.random(cases) < 0.05 * (i % 3)] = levels  # some missing
        effect = rng.normal(0, 0.5 if i < 4 else 0.05, levels + 1)
        logit += effect[codes]
        fields[f"Category {i + 1}"] = names[codes]
    for i in range(7):
        values = rng.gamma(2.0 + i, 10.0, cases)
        if i < 3:
            logit += 0.4 * (values - values.mean()) / values.std()
        values[rng.random(cases) < 0.03] = np.nan
        fields[f"Number {i + 1}"] = values.round(2)
    y = rng.random(cases) < 1 / (1 + np.exp(-logit))
    X = pd.DataFrame(fields)
    cutoff = start + pd.to_timedelta(rng.integers(60 * 86400, 365 * 86400, cases), unit="s")
    cases_frame = pd.DataFrame(
        {"person_id": pd.array(np.arange(cases), dtype="Int64"), "cutoff": cutoff}
    )
    outcome_at = pd.Series(cutoff + pd.to_timedelta(rng.integers(1, 60, cases), unit="D"))

    # Events: who (keener people act more), what (keener people view pricing, attend webinars
    # and ask for demos more), when (over the year, before or after their cutoff).
    keen = np.exp(0.4 * propensity)
    person = rng.choice(cases, size=events, p=keen / keen.sum()).astype(np.int64)
    name = rng.integers(0, EVENT_NAMES, events).astype(np.int8)
    signal = rng.random(events) < 0.15 / (1 + np.exp(-propensity[person]))
    name[signal] = rng.integers(0, len(SIGNAL_EVENTS), int(signal.sum()))
    del signal
    labels = [*SIGNAL_EVENTS] + [f"event {i}" for i in range(len(SIGNAL_EVENTS), EVENT_NAMES)]
    at = start + pd.to_timedelta(rng.integers(0, 420 * 86400, events), unit="s")
    events_frame = pd.DataFrame(
        {
            "person_id": person,
            "name": pd.Categorical.from_codes(name, categories=labels),
            "at": at,
        }
    )
    return X, events_frame, pd.Series(y), cases_frame, outcome_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument(
        "--sample", type=int, default=50_000, help="cases cross-validated and fitted on"
    )
    parser.add_argument("--seed", type=int, default=0)
    add_database_argument(parser)
    args = parser.parse_args()
    database_unused(args, "insight_scale.py")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    import django

    django.setup()  # features imports the history's models; nothing here reads the database
    from leadline.insight import features, prediction

    started = time.perf_counter()
    say(f"generating {args.cases:,} cases and {args.events:,} events…")
    X, events, y, cases, outcome_at = generate(args.cases, args.events, args.seed)
    generate_s = time.perf_counter() - started
    say(f"  {generate_s:.1f} s, peak {peak_gib():.2f} GiB")

    started = time.perf_counter()
    say("counting events before each cutoff (features.event_counts)…")
    counts = features.event_counts(cases, events)
    del events
    X = pd.concat([X, counts], axis=1)
    known_at = pd.DataFrame(
        {c: pd.Series(pd.NaT, index=X.index, dtype="datetime64[ns, UTC]") for c in X.columns}
    )
    for column in ("Category 1", "Category 2", "Number 1"):
        known_at[column] = cases["cutoff"] - pd.Timedelta(days=3)  # known before the outcome
    for column in counts.columns:
        known_at[column] = cases["cutoff"]
    examples = features.Examples(
        X=X,
        y=y.astype(bool),
        known_at=known_at,
        outcome_at=outcome_at,
        subject=pd.DataFrame({"subject": "person", "subject_id": cases["person_id"]}),
    )
    examples_s = time.perf_counter() - started
    say(f"  {examples_s:.1f} s, {X.shape[1]} fields, {y.mean():.1%} won, peak {peak_gib():.2f} GiB")

    started = time.perf_counter()
    last = [""]

    def progress(stage: str, share: float) -> None:
        line = f"  {stage} {share:.0%}"
        if line != last[0]:
            last[0] = line
            say(f"{line} ({time.perf_counter() - started:.1f} s, peak {peak_gib():.2f} GiB)")

    fitted = prediction.fit(examples, sample=args.sample, seed=args.seed, progress=progress)
    fit_s = time.perf_counter() - started
    m = fitted.metrics
    say(
        f"{fitted.kind}: AUC {m['auc']:.3f} (gradient boosting {m['auc_gradient_boosting']:.3f}, "
        f"logistic {m['auc_logistic']:.3f}), Brier {m['brier']:.4f} (base rate "
        f"{m['brier_base_rate']:.4f}), fitted on {fitted.fitted_on}; flagged: "
        f"{[c.name for c in fitted.fields if c.flagged] or 'none'}"
    )

    started = time.perf_counter()
    batch = X.iloc[:100_000]
    fitted.predict(batch)
    reasons = fitted.reasons(batch)
    reasons_s = time.perf_counter() - started
    say(f"  first case's reasons: {[r.words for r in reasons[0]]}")

    sample_note = (
        f"leakage guard on a stratified sample of {min(prediction.GUARD_SAMPLE, args.cases):,}; "
        f"model choice, calibration and final fit on {fitted.fitted_on}"
    )
    emit("insight_generate_s", round(generate_s, 1), "s", cases=args.cases, events=args.events)
    emit("insight_examples_s", round(examples_s, 1), "s", cases=args.cases, events=args.events)
    emit(
        "insight_fit_s",
        round(fit_s, 1),
        "s",
        cases=args.cases,
        events=args.events,
        fields=X.shape[1],
        auc=round(m["auc"], 4),
        brier=round(m["brier"], 4),
        model=fitted.kind,
        sample=sample_note,
    )
    emit("insight_reasons_100k_s", round(reasons_s, 1), "s")
    emit("insight_peak_rss_gib", round(peak_gib(), 2), "GiB", cases=args.cases, events=args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
