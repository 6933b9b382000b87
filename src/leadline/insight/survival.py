"""How long people stay somewhere, counted honestly: the Kaplan-Meier estimate.

A stay that has not ended yet (someone still at a step) or was cut short by something else
(taken off the journey by hand) is *censored*: we know it lasted at least that long, and no
more. Dropping such stays would make steps look quicker than they are; counting them as ended
would too. Kaplan-Meier uses each stay for as long as it was watched.

Pure NumPy; no database. Durations are in whatever unit the caller gives (the reports use days).

- Survival S(t): the share still in the step after t. At each time an ending was seen,
  S drops by the factor (1 - endings / at risk), where "at risk" counts the stays that had
  lasted at least that long (ended or censored at the same time count as at risk: censoring
  at t happens just after the endings at t, the usual convention).
- Standard error by Greenwood's formula; the 95% band is taken on the log scale
  (S·exp(±1.96·se/S), clipped to [0, 1]), R's `survfit` default, which stays inside [0, 1]
  better than the plain one.
- Quantiles: the time t at which S(t) first falls to 1 - p or below (the median: 0.5). None
  when the curve never gets that low: "not reached" (too many still there to tell).
- The median's 95% interval (Brookmeyer-Crowley, as `survfit` prints it): from the first time
  the band's lower edge is at or below 0.5 to the first time its upper edge is; None for an
  edge that never gets there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class Curve:
    """One Kaplan-Meier curve; arrays hold one entry per distinct time an ending was seen."""

    times: FloatArray
    survival: FloatArray  # S just after each time
    at_risk: IntArray
    events: IntArray  # endings at each time
    std_err: FloatArray  # Greenwood, of S
    low: FloatArray  # 95% band
    high: FloatArray
    n: int
    n_events: int

    @property
    def n_censored(self) -> int:
        return self.n - self.n_events

    def quantile(self, p: float) -> float | None:
        """The time by which a share `p` of the stays had ended (0.5: the median)."""
        return _first_at_or_below(self.times, self.survival, 1.0 - p)

    @property
    def median(self) -> float | None:
        return self.quantile(0.5)

    @property
    def median_ci(self) -> tuple[float | None, float | None]:
        return (
            _first_at_or_below(self.times, self.low, 0.5),
            _first_at_or_below(self.times, self.high, 0.5),
        )

    def at(self, t: float) -> float:
        """S(t): the share still there after `t` (1 before the first ending)."""
        index = int(np.searchsorted(self.times, t, side="right")) - 1
        return 1.0 if index < 0 else float(self.survival[index])


def _first_at_or_below(times: FloatArray, values: FloatArray, level: float) -> float | None:
    hits = np.flatnonzero(values <= level + 1e-12)
    return float(times[hits[0]]) if len(hits) else None


def kaplan_meier(
    durations: Sequence[float] | npt.ArrayLike, ended: Sequence[bool] | npt.ArrayLike
) -> Curve:
    """The Kaplan-Meier curve of stays lasting `durations`, `ended[i]` False when stay i is
    censored (still going, or cut short by something else). NaN durations are left out."""
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(ended, dtype=bool)
    if t.shape != e.shape:
        raise ValueError("durations and ended must have the same length")
    keep = ~np.isnan(t)
    t, e = t[keep], e[keep]
    if np.any(t < 0):
        raise ValueError("a duration cannot be negative")
    n = len(t)
    distinct, inverse = np.unique(t, return_inverse=True)
    events_all = np.bincount(inverse, weights=e, minlength=len(distinct)).astype(np.int64)
    total_all = np.bincount(inverse, minlength=len(distinct)).astype(np.int64)
    # Everyone whose stay lasted at least distinct[k] is at risk at distinct[k].
    at_risk_all = n - np.concatenate(([0], np.cumsum(total_all)[:-1])).astype(np.int64)
    has_event = events_all > 0
    times = distinct[has_event]
    events = events_all[has_event]
    at_risk = at_risk_all[has_event]
    factors = 1.0 - events / at_risk
    survival = np.cumprod(factors)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > events, events / (at_risk * (at_risk - events)), np.inf)
        variance_ratio = np.cumsum(terms)
        std_err = survival * np.sqrt(variance_ratio)
        # log-scale band: S * exp(±z * sqrt(sum)) ; at S = 0 the band collapses to 0.
        spread = np.exp(Z95 * np.sqrt(variance_ratio))
        low = np.where(survival > 0, survival / spread, 0.0)
        high = np.where(survival > 0, np.minimum(survival * spread, 1.0), 0.0)
    std_err = np.where(np.isfinite(std_err), std_err, 0.0)
    return Curve(
        times=times,
        survival=survival.astype(np.float64),
        at_risk=at_risk,
        events=events,
        std_err=std_err.astype(np.float64),
        low=np.nan_to_num(low, nan=0.0).astype(np.float64),
        high=np.nan_to_num(high, nan=0.0).astype(np.float64),
        n=n,
        n_events=int(e.sum()),
    )
