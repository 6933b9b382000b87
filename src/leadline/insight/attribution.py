"""Attribution: which campaigns earned the pipeline and the won revenue, by seven models.

Pure: no ORM. `insight.touches` reads the touches, opportunities and memberships from the
database as frames; everything here works on those frames (or on a list of `Touch`), so each
rule can be checked by hand.

A *path* is the touches before a deal, oldest first: the touches of the opportunity's person
and of every current member of its account (the whole buying group), from `lookback_days`
before it opened until it opened (for pipeline) or until it closed (for won revenue).

The models, per path, as shares of the deal's amount (every model's shares sum to 1, so every
model's totals sum to the pipeline, or to the revenue):

- **first_touch**: all to the oldest touch. **last_touch**: all to the newest.
- **linear**: the same share to every touch.
- **u_shaped** (40/20/40): 40% to the first, 40% to the last, 20% shared equally by the touches
  between. One touch: 100%. Two touches: 50/50.
- **w_shaped** (30/30/30/10): three key roles take 30% each: the first touch; the lead-creation
  touch (the first form submission or request on the path; when the path has none, the first
  touch takes this role); the opportunity-creation touch (the last touch at or before the moment
  the deal opened; when there is none, the first touch takes it). The touches with no role share
  10% equally. Rules for the edge cases, exactly:
  * one touch may hold several roles; it then gets 30% per role (first and lead-creation on the
    same touch: 60%);
  * when every touch holds a role (nothing left to share the 10%), the roles' shares are
    scaled up to sum to 100%, i.e. each touch gets (its roles) / 3: one touch 100%; two
    touches where the first is also the lead-creation touch: 2/3 and 1/3; three touches with
    one role each: 1/3 each.
- **time_decay**: weight 2^(-age / half-life) where age is the time from the touch to the end
  of the path (the deal's opening for pipeline, its close for revenue); normalised per path.
  Half-life in days (setting, default 7).
- **markov**: data-driven. A first-order Markov chain over the campaigns (or channels) with a
  start, a conversion and a null state is fitted on every path, converting and not (for
  revenue: won deals convert; lost deals and the buying groups with touches and no deal do
  not). Removal effect of c = 1 - P(convert with c removed) / P(convert). Each deal's amount is
  then split over the touches on its path in proportion to the removal effect of the touch's
  campaign (a campaign touching it twice shares its effect between the two touches), so a
  campaign is credited only with deals it touched, and the totals are shares of the total. A
  path whose campaigns all have no effect is split equally (linear).

A deal with no touch on its path is credited to no campaign: the report shows it as
"no campaign touch", so campaign credit + that = the whole pipeline (or revenue).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "u_shaped",
    "w_shaped",
    "time_decay",
    "markov",
)
MODEL_NAMES = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "u_shaped": "U-shaped (40/20/40)",
    "w_shaped": "W-shaped (30/30/30/10)",
    "time_decay": "Time decay",
    "markov": "Data-driven (Markov)",
}
RULE_MODELS = MODELS[:-1]
MarkovBy = Literal["campaign", "channel"]

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
# Fewer converting paths than this, and the data-driven model says it has too little evidence.
MARKOV_MIN_CONVERSIONS = 30
NO_TOUCH = "(no campaign touch)"
SECONDS_PER_DAY = 86_400.0


@dataclasses.dataclass(frozen=True)
class Touch:
    """One touch on a path: the campaign it belongs to, when, through which channel, with what
    content (asset, form), and whether it was a form submission or request (lead creation)."""

    campaign: str
    at: dt.datetime
    channel: str = ""
    content: str = ""
    lead: bool = False


def campaign_key(name: str) -> str:
    """Campaign names match without regard to case or surrounding spaces."""
    return " ".join(name.split()).casefold()


# Per-touch shares, for many paths at once --------------------------------------------------------


def shares(
    frame: pd.DataFrame,
    *,
    model: str,
    half_life_days: float = 7.0,
    effects: Mapping[str, float] | None = None,
    by: MarkovBy = "campaign",
) -> np.ndarray:
    """Each touch's share of its path's amount, for `frame` sorted by path then time.

    Columns used: path (any id), at (UTC), lead (bool), opened_at (the deal's opening), end
    (the end of the path: the moment ages are counted to), and `by` (for markov). Per path the
    shares sum to 1."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}")
    if frame.empty:
        return np.zeros(0)
    groups = frame.groupby("path", sort=False)
    pos: np.ndarray = groups.cumcount().to_numpy()
    n: np.ndarray = groups["at"].transform("size").to_numpy()
    first: np.ndarray = pos == 0
    last: np.ndarray = pos == n - 1
    if model == "first_touch":
        return first.astype(float)
    if model == "last_touch":
        return last.astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "u_shaped":
        middle = 0.2 / np.maximum(n - 2, 1)
        return np.where(
            n == 1, 1.0, np.where(n == 2, 0.5, np.where(first | last, 0.4, middle))
        ).astype(float)
    if model == "w_shaped":
        return _w_shaped(frame, pos, n)
    if model == "time_decay":
        if not half_life_days > 0:
            raise ValueError("the half-life must be more than 0 days")
        age = (frame["end"] - frame["at"]).dt.total_seconds().to_numpy() / SECONDS_PER_DAY
        age = np.maximum(age, 0.0)
        # Counted from the newest touch of each path, so long paths never underflow to 0.
        youngest = pd.Series(age).groupby(frame["path"].to_numpy()).transform("min").to_numpy()
        weight = np.exp2(-(age - youngest) / half_life_days)
        return _normalised(frame, weight, n)
    effect = frame[by].map(dict(effects or {})).fillna(0.0).to_numpy(dtype=float)
    repeats = frame.groupby(["path", by], sort=False)["at"].transform("size").to_numpy()
    return _normalised(frame, effect / repeats, n)


def _normalised(frame: pd.DataFrame, weight: np.ndarray, n: np.ndarray) -> np.ndarray:
    total = pd.Series(weight).groupby(frame["path"].to_numpy()).transform("sum").to_numpy()
    return np.where(total > 0, weight / np.where(total > 0, total, 1.0), 1.0 / n)


def _w_shaped(frame: pd.DataFrame, pos: np.ndarray, n: np.ndarray) -> np.ndarray:
    path = frame["path"].to_numpy()
    big = np.iinfo(np.int64).max
    lead = frame["lead"].to_numpy(dtype=bool)
    lead_pos = pd.Series(np.where(lead, pos, big)).groupby(path).transform("min").to_numpy()
    lead_pos = np.where(lead_pos == big, 0, lead_pos)
    before = (frame["at"] <= frame["opened_at"]).to_numpy()
    open_pos = pd.Series(np.where(before, pos, -1)).groupby(path).transform("max").to_numpy()
    open_pos = np.where(open_pos < 0, 0, open_pos)
    roles = (pos == 0).astype(int) + (pos == lead_pos) + (pos == open_pos)
    key = roles > 0
    others = n - pd.Series(key.astype(int)).groupby(path).transform("sum").to_numpy()
    shared = np.where(key, 0.0, 0.1 / np.maximum(others, 1))
    result: np.ndarray = np.where(others > 0, 0.3 * roles + shared, roles / 3.0)
    return result


# One path --------------------------------------------------------------------------------------


def _path_frame(
    path: Sequence[Touch], *, opened_at: dt.datetime | None, converted_at: dt.datetime | None
) -> pd.DataFrame:
    ordered = sorted(enumerate(path), key=lambda item: (item[1].at, item[0]))
    at = pd.to_datetime([t.at for _, t in ordered], utc=True)
    end = pd.Timestamp(converted_at) if converted_at is not None else at.max()
    opened = pd.Timestamp(opened_at) if opened_at is not None else end
    return pd.DataFrame(
        {
            "index": [i for i, _ in ordered],
            "path": 0,
            "at": at,
            "lead": [t.lead for _, t in ordered],
            "campaign": [t.campaign for _, t in ordered],
            "channel": [t.channel for _, t in ordered],
            "opened_at": opened,
            "end": end,
        }
    )


def touch_shares(
    path: Sequence[Touch],
    *,
    model: str,
    half_life_days: float = 7.0,
    opened_at: dt.datetime | None = None,
    converted_at: dt.datetime | None = None,
    effects: Mapping[str, float] | None = None,
    by: MarkovBy = "campaign",
) -> list[float]:
    """Each touch's share (in the order given). `opened_at`: when the deal opened (default: the
    end of the path); `converted_at`: the end of the path that ages count to (default: the
    newest touch)."""
    if not path:
        return []
    frame = _path_frame(path, opened_at=opened_at, converted_at=converted_at)
    found = shares(frame, model=model, half_life_days=half_life_days, effects=effects, by=by)
    result = [0.0] * len(path)
    for index, share in zip(frame["index"], found, strict=True):
        result[int(index)] = float(share)
    return result


def credit(
    path: Sequence[Touch],
    *,
    model: str,
    amount: float,
    half_life_days: float = 7.0,
    opened_at: dt.datetime | None = None,
    converted_at: dt.datetime | None = None,
    effects: Mapping[str, float] | None = None,
    by: MarkovBy = "campaign",
) -> dict[str, float]:
    """The amount split over the campaigns on the path by `model` (see the module's rules);
    the values sum to `amount`. An empty path credits no campaign: {}. For "markov", give the
    removal `effects` from `markov()`."""
    result: dict[str, float] = {}
    found = touch_shares(
        path,
        model=model,
        half_life_days=half_life_days,
        opened_at=opened_at,
        converted_at=converted_at,
        effects=effects,
        by=by,
    )
    for touch, share in zip(path, found, strict=True):
        result[touch.campaign] = result.get(touch.campaign, 0.0) + share * amount
    return result


# The Markov chain ------------------------------------------------------------------------------


def removal_effects(frame: pd.DataFrame, converted: pd.Series, *, by: MarkovBy) -> dict[str, float]:
    """Removal effects from paths as a frame (sorted by path then time; column `by`) and
    `converted` (bool, indexed by path id; a path in `converted` with no touch is ignored)."""
    if frame.empty:
        return {}
    path = frame["path"].to_numpy()
    state = frame[by].astype(str).to_numpy()
    following = pd.Series(state).groupby(path).shift(-1).to_numpy(dtype=object)
    ends = pd.Series(path).isin(converted.index[converted.to_numpy(dtype=bool)]).to_numpy()
    following = np.where(pd.isna(following), np.where(ends, CONVERSION, NULL), following).astype(
        object
    )
    firsts = pd.Series(state).groupby(path).transform("first").to_numpy()
    starts = pd.Series(path).duplicated().to_numpy()
    counts = pd.concat(
        [
            pd.DataFrame({"from": START, "to": firsts[~starts]}),
            pd.DataFrame({"from": state, "to": following}),
        ]
    ).value_counts()
    names = sorted(set(state))
    index = {name: i + 1 for i, name in enumerate(names)}  # 0 is the start
    size = len(names) + 1
    q = np.zeros((size, size))
    r = np.zeros(size)
    out = np.zeros(size)
    for pair, count in counts.items():
        source, target = (str(part) for part in pair)  # type: ignore[attr-defined]
        i = 0 if source == START else index[source]
        out[i] += count
        if target == CONVERSION:
            r[i] += count
        elif target != NULL:
            q[i, index[target]] += count
    q = q / np.where(out > 0, out, 1.0)[:, None]
    r = r / np.where(out > 0, out, 1.0)

    def converting(removed: int | None) -> float:
        qq, rr = q.copy(), r.copy()
        if removed is not None:
            qq[removed, :] = 0.0
            rr[removed] = 0.0
        solved = np.linalg.solve(np.eye(size) - qq, rr)
        return float(solved[0])

    base = converting(None)
    if base <= 0:
        return dict.fromkeys(names, 0.0)
    return {name: max(0.0, 1.0 - converting(index[name]) / base) for name in names}


def markov(paths: Iterable[tuple[Sequence[str], bool]]) -> dict[str, float]:
    """Removal effects from paths given as (the campaigns in order, converted?)."""
    rows: list[tuple[int, str]] = []
    converted: dict[int, bool] = {}
    for number, (states, converts) in enumerate(paths):
        converted[number] = converts
        rows.extend((number, state) for state in states)
    frame = pd.DataFrame.from_records(rows, columns=["path", "campaign"])
    return removal_effects(frame, pd.Series(converted, dtype=bool), by="campaign")


def effect_shares(effects: Mapping[str, float]) -> dict[str, float]:
    """Removal effects as shares summing to 1 (all 0 when there is no effect at all)."""
    total = sum(effects.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in effects.items()}


# Paths from the frames ------------------------------------------------------------------------


def buying_groups(opportunities: pd.DataFrame, memberships: pd.DataFrame) -> pd.DataFrame:
    """(opportunity id, person_id) for every person whose touches count for the deal: its
    person, and every current member of its account (when the deal has no account, of its
    person's current accounts)."""
    opps = opportunities[["id", "person_id", "account_id"]]
    own = opps.dropna(subset=["person_id"])[["id", "person_id"]]
    with_account = opps.dropna(subset=["account_id"])[["id", "account_id"]]
    without = opps[opps["account_id"].isna()].dropna(subset=["person_id"])
    via_person = without[["id", "person_id"]].merge(memberships, on="person_id")[
        ["id", "account_id"]
    ]
    accounts = pd.concat([with_account, via_person]).astype({"account_id": "int64"})
    members = accounts.merge(memberships.astype({"account_id": "int64"}), on="account_id")[
        ["id", "person_id"]
    ]
    group = pd.concat([own, members]).astype({"person_id": "int64"}).drop_duplicates()
    return group.rename(columns={"id": "opportunity_id"}).reset_index(drop=True)


def opportunity_paths(
    touches: pd.DataFrame,
    opportunities: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    lookback_days: float,
    until: Literal["opened", "closed"],
) -> pd.DataFrame:
    """The touches on each deal's path, one row per (deal, touch), sorted by deal then time.

    `touches`: touch_id, person_id, at, campaign (the key), channel, lead. `until="opened"`:
    up to the deal's opening (pipeline); "closed": up to its close (revenue; a deal still open
    has no close and no path). Adds path (= opportunity id), opened_at, end, amount."""
    columns = [*touches.columns, "path", "opened_at", "end", "amount"]
    if touches.empty or opportunities.empty:
        return pd.DataFrame(columns=columns)
    opps = opportunities[["id", "opened_at", "closed_at", "amount"]].rename(
        columns={"id": "opportunity_id"}
    )
    opps = opps.assign(end=opps["opened_at"] if until == "opened" else opps["closed_at"])
    opps = opps.dropna(subset=["end"])
    joined = groups.merge(opps, on="opportunity_id").merge(touches, on="person_id")
    start = joined["opened_at"] - pd.Timedelta(days=lookback_days)
    joined = joined[(joined["at"] >= start) & (joined["at"] <= joined["end"])]
    joined = joined.drop_duplicates(subset=["opportunity_id", "touch_id"])
    joined = joined.rename(columns={"opportunity_id": "path"})
    joined = joined.sort_values(["path", "at", "touch_id"], kind="stable")
    return joined[columns].reset_index(drop=True)


def group_paths(
    touches: pd.DataFrame, memberships: pd.DataFrame, *, exclude_people: Iterable[int]
) -> pd.DataFrame:
    """Paths of the buying groups with touches and no deal (for the Markov chain's
    non-converting paths): one per account (all its current members' touches) and one per
    person who belongs to no account; groups with anyone in `exclude_people` are left out."""
    if touches.empty:
        return pd.DataFrame(columns=[*touches.columns, "path"])
    excluded = set(int(p) for p in exclude_people)
    people = touches[["person_id"]].drop_duplicates()
    in_account = people.merge(memberships, on="person_id")
    tainted = set(in_account.loc[in_account["person_id"].isin(excluded), "account_id"])
    in_account = in_account[~in_account["account_id"].isin(tainted)]
    alone = people[~people["person_id"].isin(memberships["person_id"])]
    alone = alone[~alone["person_id"].isin(excluded)]
    keys = pd.concat(
        [
            in_account.assign(path="a" + in_account["account_id"].astype(str))[
                ["person_id", "path"]
            ],
            alone.assign(path="p" + alone["person_id"].astype(str)),
        ]
    )
    joined = keys.merge(touches, on="person_id").drop_duplicates(subset=["path", "touch_id"])
    return joined.sort_values(["path", "at", "touch_id"], kind="stable").reset_index(drop=True)


# The report ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CampaignInfo:
    """What marketing entered about a campaign (a Campaign row)."""

    id: int
    name: str
    channel: str
    cost: float | None
    currency: str


@dataclasses.dataclass
class Row:
    """One campaign (or one channel in the roll-up)."""

    key: str
    name: str
    channel: str
    campaign_id: int | None
    cost: float | None
    currency: str
    touches: int
    influenced_deals: int
    influenced_pipeline: float
    influenced_won: int
    influenced_revenue: float
    pipeline: dict[str, float]
    revenue: dict[str, float]

    def gain(self, model: str) -> float | None:
        """(attributed revenue - cost) / cost; None when no cost (or a cost of 0) is entered."""
        if self.cost is None or self.cost <= 0:
            return None
        return (self.revenue[model] - self.cost) / self.cost


@dataclasses.dataclass
class Report:
    since: dt.datetime
    until: dt.datetime
    lookback_days: float
    half_life_days: float
    markov_by: MarkovBy
    rows: list[Row]
    channels: list[Row]
    deals: int  # opened in the period
    won: int
    deals_without_amount: int
    pipeline: float  # the amounts of every deal opened in the period
    revenue: float  # ... of those won
    untouched_pipeline: float  # of deals with no touch on their path
    untouched_revenue: float
    untouched_deals: int
    untouched_won: int
    effects_pipeline: dict[str, float]
    effects_revenue: dict[str, float]
    conversions_pipeline: int  # converting paths the chain was fitted on
    conversions_revenue: int
    paths_null_pipeline: int
    paths_null_revenue: int
    notes: list[str]

    def attributed(self, kind: Literal["pipeline", "revenue"], model: str) -> float:
        return float(sum(getattr(row, kind)[model] for row in self.rows))


def _credits(
    paths: pd.DataFrame, *, half_life_days: float, effects: Mapping[str, float], by: MarkovBy
) -> pd.DataFrame:
    """Per (deal, touch) credit under every model, as columns named after the models."""
    out = paths[["path", "campaign", "channel", "amount"]].copy()
    for model in MODELS:
        share = shares(
            paths,
            model=model,
            half_life_days=half_life_days,
            effects=effects if model == "markov" else None,
            by=by,
        )
        out[model] = share * paths["amount"].to_numpy(dtype=float)
    return out


def _influenced(paths: pd.DataFrame, key: str) -> pd.DataFrame:
    distinct = paths.drop_duplicates(subset=["path", key])
    return distinct.groupby(key).agg(deals=("path", "size"), amount=("amount", "sum"))


def _null_paths_count(frame: pd.DataFrame) -> int:
    return int(frame["path"].nunique()) if not frame.empty else 0


def report(
    *,
    touches: pd.DataFrame,
    opportunities: pd.DataFrame,
    memberships: pd.DataFrame,
    campaigns: Mapping[str, CampaignInfo],
    since: dt.datetime,
    until: dt.datetime,
    lookback_days: float = 365,
    half_life_days: float = 7.0,
    markov_by: MarkovBy = "campaign",
) -> Report:
    """Per campaign: influenced pipeline and won revenue (deals with at least one of its touches
    on the path, not divided), attributed pipeline and revenue by every model, cost.

    `touches`: touch_id, person_id, at (UTC), campaign (display name), channel, content, lead.
    `opportunities`: id, person_id, account_id, status, amount, opened_at, closed_at (UTC).
    `memberships`: person_id, account_id (current). `campaigns`: by `campaign_key`. Deals
    count when they opened in [since, until)."""
    touches = touches.assign(
        name=touches["campaign"].astype(str),
        campaign=touches["campaign"].astype(str).map(campaign_key),
    )
    touches = touches[touches["campaign"] != ""]
    opps = opportunities[
        (opportunities["opened_at"] >= since) & (opportunities["opened_at"] < until)
    ].copy()
    without_amount = int(opps["amount"].isna().sum())
    opps["amount"] = opps["amount"].fillna(0.0).astype(float)
    won = opps[opps["status"] == "won"]
    groups = buying_groups(opps, memberships)
    pipeline_paths = opportunity_paths(
        touches, opps, groups, lookback_days=lookback_days, until="opened"
    )
    revenue_paths = opportunity_paths(
        touches, opps[opps["status"] != "open"], groups, lookback_days=lookback_days,
        until="closed",
    )  # fmt: skip
    won_paths = revenue_paths[revenue_paths["path"].isin(won["id"])]

    # The chains: pipeline converts when a deal opens; revenue when it is won.
    window = touches[
        (touches["at"] >= since - pd.Timedelta(days=lookback_days)) & (touches["at"] < until)
    ]
    everyone_in_deals = opportunities.pipe(buying_groups, memberships)["person_id"]
    no_deal = group_paths(window, memberships, exclude_people=everyone_in_deals)
    by = markov_by
    pipeline_chain = pd.concat([pipeline_paths.assign(path=pipeline_paths["path"].astype(str)),
                                no_deal])  # fmt: skip
    converted = pd.Series(True, index=pipeline_paths["path"].astype(str).unique(), dtype=bool)
    effects_pipeline = removal_effects(pipeline_chain, converted, by=by)
    revenue_chain = pd.concat([revenue_paths.assign(path=revenue_paths["path"].astype(str)),
                               no_deal])  # fmt: skip
    converted = pd.Series(True, index=won_paths["path"].astype(str).unique(), dtype=bool)
    effects_revenue = removal_effects(revenue_chain, converted, by=by)

    pipeline_credit = _credits(
        pipeline_paths, half_life_days=half_life_days, effects=effects_pipeline, by=by
    )
    revenue_credit = _credits(
        won_paths, half_life_days=half_life_days, effects=effects_revenue, by=by
    )

    names = touches.drop_duplicates("campaign").set_index("campaign")["name"]
    # A campaign's usual channel: the one most of its touches came through ("other" only
    # when nothing more telling is known).
    told = touches[~touches["channel"].isin(["", "other"])]
    usual_channel = {
        str(key): str(channels.value_counts().index[0])
        for key, channels in told.groupby("campaign")["channel"]
    }
    in_period = touches[(touches["at"] >= since) & (touches["at"] < until)]
    counts = in_period.groupby("campaign").size()

    def rows(key_column: str, keys: list[str], info: Mapping[str, CampaignInfo]) -> list[Row]:
        inf_p = _influenced(pipeline_paths, key_column)
        inf_r = _influenced(won_paths, key_column)
        cred_p = pipeline_credit.groupby(key_column)[list(MODELS)].sum()
        cred_r = revenue_credit.groupby(key_column)[list(MODELS)].sum()
        touch_counts = counts if key_column == "campaign" else in_period.groupby("channel").size()
        found: list[Row] = []
        for key in keys:
            known = info.get(key)
            if key_column == "campaign":
                name = known.name if known else str(names.get(key, key))
                channel = (known.channel if known else "") or usual_channel.get(key, "other")
            else:
                name, channel = key or "(no channel)", key
            found.append(
                Row(
                    key=key,
                    name=name,
                    channel=channel,
                    campaign_id=known.id if known else None,
                    cost=known.cost if known else None,
                    currency=known.currency if known else "",
                    touches=int(touch_counts.get(key, 0)),
                    influenced_deals=int(inf_p["deals"].get(key, 0)),
                    influenced_pipeline=float(inf_p["amount"].get(key, 0.0)),
                    influenced_won=int(inf_r["deals"].get(key, 0)),
                    influenced_revenue=float(inf_r["amount"].get(key, 0.0)),
                    pipeline={
                        m: float(cred_p[m].get(key, 0.0)) if m in cred_p else 0.0 for m in MODELS
                    },
                    revenue={
                        m: float(cred_r[m].get(key, 0.0)) if m in cred_r else 0.0 for m in MODELS
                    },
                )
            )
        return found

    campaign_keys = sorted(set(touches["campaign"]) | set(campaigns))
    campaign_rows = rows("campaign", campaign_keys, campaigns)
    campaign_rows.sort(
        key=lambda r: (-r.influenced_revenue, -r.influenced_pipeline, r.name.casefold())
    )
    channel_keys = sorted(set(pipeline_paths["channel"]) | set(won_paths["channel"]))
    channel_rows = rows("channel", channel_keys, {})
    channel_rows.sort(key=lambda r: (-r.influenced_revenue, -r.influenced_pipeline, r.name))

    touched = set(pipeline_paths["path"])
    touched_won = set(won_paths["path"])
    untouched = opps[~opps["id"].isin(touched)]
    untouched_won = won[~won["id"].isin(touched_won)]
    notes: list[str] = []
    conversions_revenue = int(won_paths["path"].nunique()) if not won_paths.empty else 0
    if conversions_revenue < MARKOV_MIN_CONVERSIONS:
        notes.append(
            f"Too little evidence for the data-driven (Markov) model on revenue: "
            f"{conversions_revenue} won deal{'s' if conversions_revenue != 1 else ''} with touches"
            f" (it needs at least {MARKOV_MIN_CONVERSIONS}). Its figures are shown, but read "
            "them as a rough guide."
        )
    if without_amount:
        notes.append(
            f"{without_amount} deal{'s' if without_amount != 1 else ''} in the period "
            f"{'have' if without_amount != 1 else 'has'} no amount; counted as 0."
        )
    return Report(
        since=since,
        until=until,
        lookback_days=lookback_days,
        half_life_days=half_life_days,
        markov_by=markov_by,
        rows=campaign_rows,
        channels=channel_rows,
        deals=len(opps),
        won=len(won),
        deals_without_amount=without_amount,
        pipeline=float(opps["amount"].sum()),
        revenue=float(won["amount"].sum()),
        untouched_pipeline=float(untouched["amount"].sum()),
        untouched_revenue=float(untouched_won["amount"].sum()),
        untouched_deals=len(untouched),
        untouched_won=len(untouched_won),
        effects_pipeline=effects_pipeline,
        effects_revenue=effects_revenue,
        conversions_pipeline=int(pipeline_paths["path"].nunique()) if len(pipeline_paths) else 0,
        conversions_revenue=conversions_revenue,
        paths_null_pipeline=_null_paths_count(no_deal),
        paths_null_revenue=_null_paths_count(no_deal)
        + int(revenue_paths.loc[~revenue_paths["path"].isin(won["id"]), "path"].nunique()),
        notes=notes,
    )


def money(value: float | None) -> str:
    """A sum as people read it: "12,500" (no cents above 100), a dash when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


CSV_COLUMNS = [
    "campaign", "channel", "model", "influenced_pipeline", "influenced_won_revenue",
    "influenced_deals", "influenced_won_deals", "attributed_pipeline", "attributed_revenue",
    "cost", "currency", "return",
]  # fmt: skip


def report_csv(report: Report, *, currency: str) -> str:
    """The report's table as CSV: one row per campaign and model, with a header row. Numbers
    plain (two decimals); return as a fraction ((revenue - cost) / cost), empty when unknown;
    a campaign with no currency of its own is in `currency`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        for model in MODELS:
            gain = row.gain(model)
            writer.writerow(
                [
                    row.name,
                    row.channel,
                    model,
                    f"{row.influenced_pipeline:.2f}",
                    f"{row.influenced_revenue:.2f}",
                    row.influenced_deals,
                    row.influenced_won,
                    f"{row.pipeline[model]:.2f}",
                    f"{row.revenue[model]:.2f}",
                    f"{row.cost:.2f}" if row.cost is not None else "",
                    row.currency or currency,
                    f"{gain:.4f}" if gain is not None else "",
                ]
            )
    return buffer.getvalue()
