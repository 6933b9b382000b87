"""What made a difference to an outcome, field by field, without inventing anything.

For every field of a set of examples (`features.Examples.X`) and a yes/no outcome `y`:

- a count of events ("Events: <name>"): those who had it at least once against those who never
  did;
- a number: at or above the median against below it (among those who have a value), and, when
  enough have none, "not given" against everyone else;
- anything else (words, yes/no): each of the most common values (at most `max_levels`, each
  with at least `min_n` cases and at least `min_n` outside it) against all the rest; a missing
  value is a value of its own, "not given".

Each comparison is a 2x2 table. Its lift is the risk ratio (how many times as often the outcome
happened with the value as without it) with a 95% interval on the log scale (Katz); when a cell
is empty, 0.5 is added to every cell for the lift and its interval (Haldane-Anscombe), and the
driver says so. Its p-value is Fisher's exact test, or Pearson's chi-square (Yates-corrected)
when the table is big enough for it (every expected cell at least 5 and over 5,000 cases). The
p-values of every comparison made for the question are adjusted together (Benjamini-Hochberg),
so testing 40 fields does not make 2 of them look important by luck. A driver is significant
only when its adjusted q is below `alpha` and its interval leaves out 1.

Only significant drivers are ever named. When the outcome has fewer than `min_class` cases on
either side, nothing is tested: "Too little history to tell yet".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy import stats  # type: ignore[import-untyped]

EVENTS_PREFIX = "Events: "  # as features.EVENTS_PREFIX; kept here so this module stays pure
NOT_GIVEN = "not given"
AT_LEAST_ONCE = "at least once"
Z95 = 1.959963984540054
MIN_CLASS = 20
MAX_LEVELS = 12
FISHER_UP_TO = 5_000


@dataclasses.dataclass
class Driver:
    field: str
    value: str  # "at least once", "at least 4", "above 0", "Reference", "not given"
    n_with: int
    n_without: int
    rate_with: float
    rate_without: float
    lift: float  # risk ratio, with / without
    low: float  # its 95% interval
    high: float
    p: float
    q: float  # Benjamini-Hochberg adjusted over every comparison made for the question
    significant: bool
    words: str
    test: str = "Fisher's exact test"  # or "chi-square"
    corrected: bool = False  # 0.5 added to every cell because one was empty

    @property
    def n(self) -> int:
        return self.n_with + self.n_without


@dataclasses.dataclass
class DriverReport:
    drivers: list[Driver]  # every comparison made, most convincing first
    n: int  # cases
    positives: int  # cases where the outcome happened
    outcome_words: str
    alpha: float
    thin: bool  # too little history: nothing was tested
    verdict: str
    skipped: list[str]  # fields with nothing to compare (one value, or too few of each)

    @property
    def significant(self) -> list[Driver]:
        return [d for d in self.drivers if d.significant]

    @property
    def tested(self) -> int:
        return len(self.drivers)

    @property
    def not_significant(self) -> int:
        return self.tested - len(self.significant)

    @property
    def smallest_q(self) -> float | None:
        return min((d.q for d in self.drivers), default=None)


# Numbers in words ------------------------------------------------------------------------------


def ratio(value: float) -> str:
    """A lift as people read it: 2.3, 12, 0.43."""
    if not math.isfinite(value):
        return "∞"
    if value >= 9.95:
        return f"{value:.0f}"
    if value >= 0.995:
        return f"{value:.1f}"
    return f"{value:.2f}"


def number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def q_words(q: float) -> str:
    return f"{q:.2g}" if q >= 0.001 else "< 0.001"


def _about(field: str, value: str) -> str:
    """Who a comparison is about, after "People" / "Deals": "who had “webinar” at least once",
    "whose Lead Source is “Reference”"."""
    if field.startswith(EVENTS_PREFIX):
        name = field[len(EVENTS_PREFIX) :]
        return f"with “{name}” at least once"
    if value == NOT_GIVEN:
        return f"whose {field} is not given"
    if value.startswith(("at least ", "above ")):
        return f"whose {field} is {value}"
    return f"whose {field} is “{value}”"


def _words(who: str, driver: Driver, outcome_words: str) -> str:
    figures = f"95% CI {ratio(driver.low)}–{ratio(driver.high)}, n={driver.n_with:,}"
    if driver.high < 0.5:
        how = f"less than half as often ({ratio(driver.lift)}×; {figures})"
    else:
        how = f"{ratio(driver.lift)}× as often ({figures})"
    sentence = f"{who} {_about(driver.field, driver.value)} {outcome_words} {how}."
    if driver.corrected:
        sentence += " (One count was zero; 0.5 was added to each for the lift.)"
    return sentence


# The comparisons -------------------------------------------------------------------------------


def _is_number_type(kind: type) -> bool:
    return issubclass(kind, int | float | np.integer | np.floating) and not issubclass(
        kind, bool | np.bool_
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _splits(
    name: str, column: pd.Series, *, min_n: int, max_levels: int
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(value words, cases with it, cases compared against) for each comparison the field
    allows."""
    n = len(column)
    missing = column.isna().to_numpy()

    def enough(mask: np.ndarray, against: np.ndarray) -> bool:
        return int(mask.sum()) >= min_n and int(against.sum()) >= min_n

    if name.startswith(EVENTS_PREFIX):
        had = pd.to_numeric(column, errors="coerce").fillna(0).to_numpy() > 0
        if enough(had, ~had):
            yield AT_LEAST_ONCE, had, ~had
        return
    given = column[~missing].to_numpy()
    types = set(map(type, given))
    numeric = bool(types) and all(_is_number_type(t) for t in types)
    if numeric and pd.Series(given).nunique() > 2:
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        median = float(np.nanmedian(numbers))
        with np.errstate(invalid="ignore"):
            high, label = numbers >= median, f"at least {number(median)}"
            if not (~high & ~missing).any():  # the median is the smallest value
                high, label = numbers > median, f"above {number(median)}"
        low = ~high & ~missing  # among those with a value: the other side of the median
        if enough(high, low):
            yield label, high, low
        if enough(missing, ~missing):
            yield NOT_GIVEN, missing, ~missing
        return
    if types <= {str}:
        words = column.where(~missing, NOT_GIVEN).astype(str).str.strip().replace("", NOT_GIVEN)
    else:
        words = column.astype(object).where(~missing, NOT_GIVEN).map(_text)
    counts = words.value_counts()
    levels = [str(v) for v, c in counts.items() if c >= min_n and n - c >= min_n]
    if len(counts) == 2 and len(levels) == 2:
        levels = levels[:1]  # the two sides of a yes/no are one comparison, not two
    for level in levels[:max_levels]:
        mask = (words == level).to_numpy()
        yield level, mask, ~mask


def _text(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if _is_number(value):
        return number(float(value))  # type: ignore[arg-type]
    return str(value).strip() or NOT_GIVEN


def _compare(
    with_mask: np.ndarray, without_mask: np.ndarray, y: np.ndarray
) -> tuple[int, int, int, int, float, float, float, float, str, bool]:
    a = int((with_mask & y).sum())
    b = int((with_mask & ~y).sum())
    c = int((without_mask & y).sum())
    d = int((without_mask & ~y).sum())
    corrected = min(a, b, c, d) == 0
    aa, bb, cc, dd = (v + 0.5 for v in (a, b, c, d)) if corrected else (a, b, c, d)
    lift = (aa / (aa + bb)) / (cc / (cc + dd))
    se = math.sqrt(1 / aa - 1 / (aa + bb) + 1 / cc - 1 / (cc + dd))
    low, high = lift * math.exp(-Z95 * se), lift * math.exp(Z95 * se)
    table = np.array([[a, b], [c, d]])
    total = a + b + c + d
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    if total > FISHER_UP_TO and expected.min() >= 5:
        p = float(stats.chi2_contingency(table, correction=True).pvalue)
        test = "chi-square"
    else:
        p = float(stats.fisher_exact(table).pvalue)
        test = "Fisher's exact test"
    return a, b, c, d, lift, low, high, min(p, 1.0), test, corrected


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Adjusted q-values, in the order given."""
    m = len(p)
    if m == 0:
        return np.array([], dtype=float)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(ranked, 1.0)
    return q


def drivers(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    outcome_words: str,
    alpha: float = 0.05,
    min_n: int = 30,
    who: str = "People",
    max_levels: int = MAX_LEVELS,
    min_class: int = MIN_CLASS,
) -> DriverReport:
    """Every field's comparisons on the outcome `y`, adjusted together. `outcome_words` is
    the outcome as a verb phrase ("moved to Comparing vendors", "won"); `who` the cases
    ("People", "Deals")."""
    outcome = y.astype(bool).to_numpy()
    n, positives = len(outcome), int(outcome.sum())
    if positives < min_class or n - positives < min_class:
        return DriverReport(
            drivers=[],
            n=n,
            positives=positives,
            outcome_words=outcome_words,
            alpha=alpha,
            thin=True,
            verdict=(
                f"Too little history to tell yet (n={n:,}: {positives:,} {outcome_words}, "
                f"{n - positives:,} did not; at least {min_class} of each are needed)."
            ),
            skipped=[str(c) for c in X.columns],
        )
    rows: list[tuple[str, str, tuple[int, int, int, int, float, float, float, float, str, bool]]]
    rows = []
    skipped: list[str] = []
    for name in X.columns:
        column = X[name]
        before = len(rows)
        comparisons = _splits(str(name), column, min_n=min_n, max_levels=max_levels)
        for value, with_mask, without_mask in comparisons:
            rows.append((str(name), value, _compare(with_mask, without_mask, outcome)))
        if len(rows) == before:
            skipped.append(str(name))
    q = benjamini_hochberg(np.array([row[2][7] for row in rows], dtype=float))
    found: list[Driver] = []
    for (name, value, figures), q_value in zip(rows, q, strict=True):
        a, b, c, d, lift, low, high, p, test, corrected = figures
        driver = Driver(
            field=name,
            value=value,
            n_with=a + b,
            n_without=c + d,
            rate_with=a / (a + b),
            rate_without=c / (c + d),
            lift=lift,
            low=low,
            high=high,
            p=p,
            q=float(q_value),
            significant=bool(q_value < alpha and (low > 1 or high < 1)),
            words="",
            test=test,
            corrected=corrected,
        )
        driver.words = _words(who, driver, outcome_words)
        found.append(driver)
    found.sort(key=lambda d: (not d.significant, d.q, -abs(math.log(d.lift))))
    significant = [d for d in found if d.significant]
    if not found:
        verdict = (
            f"No field had enough cases on both sides to compare (n={n:,}; at least {min_n} "
            "with and without a value are needed)."
        )
    elif not significant:
        smallest = min(d.q for d in found)
        verdict = (
            f"No field or signal made a significant difference ({len(found)} tested, "
            f"smallest q = {q_words(smallest)})."
        )
    else:
        verdict = (
            f"{len(significant)} of {len(found)} comparisons made a significant difference "
            f"(false discovery rate {alpha:.0%})."
        )
    return DriverReport(
        drivers=found,
        n=n,
        positives=positives,
        outcome_words=outcome_words,
        alpha=alpha,
        thin=False,
        verdict=verdict,
        skipped=skipped,
    )
