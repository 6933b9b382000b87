"""Examples to learn from, built from the history frames: one row per case, the fields known
about it, what happened (the outcome) and when.

Two questions, one shape (`Examples`):
- winning: every closed opportunity; y = won. Its fields are the opportunity's, its person's
  and its account's, plus what the person (or the account's people) did before it opened.
- moving on: every stay at a journey step that has had `horizon` days to show its outcome;
  y = moved to a later step within the horizon. Fields: the person's or account's, plus what
  they did before they reached the step.

`known_at` says when each field's value became known (NaT where nobody recorded it) and
`outcome_at` when the outcome was, so the leakage guard can find fields filled in afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from leadline.core import clock
from leadline.insight import history

EVENTS_PREFIX = "Events: "


@dataclasses.dataclass
class Examples:
    X: pd.DataFrame  # one row per case; index = the case's id (opportunity id, or visit number)
    y: pd.Series  # bool, same index
    known_at: pd.DataFrame  # same shape as X: when each value became known (UTC, NaT unknown)
    outcome_at: pd.Series  # when the outcome happened (UTC), same index
    subject: pd.DataFrame  # columns subject ("person"/"account"), subject_id; same index

    def __len__(self) -> int:
        return len(self.y)


def _joined(
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.Series, str]], index: pd.Index
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join field frames onto the cases through a key per case; a name used twice gets the
    part's prefix ("Account: Country")."""
    values: list[pd.DataFrame] = []
    times: list[pd.DataFrame] = []
    seen: set[str] = set()
    for frame, known, keys, prefix in parts:
        picked = frame.reindex(keys.to_numpy()).set_axis(index)
        picked_known = known.reindex(keys.to_numpy()).set_axis(index)
        renamed = {c: (f"{prefix}{c}" if c in seen else c) for c in picked.columns}
        seen.update(renamed.values())
        values.append(picked.rename(columns=renamed))
        times.append(picked_known.rename(columns=renamed))
    return pd.concat(values, axis=1), pd.concat(times, axis=1)


def event_counts(cases: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """How many events of each name each case's person had before its cutoff. `cases`:
    index = case id, columns person_id (Int64, NA for none) and cutoff (UTC). One column per
    event name, "Events: <name>"; vectorised, so a million cases cost seconds, not minutes."""
    names = [str(n) for n in events["name"].cat.categories] if len(events) else []
    counts = np.zeros((len(cases), len(names)), dtype=np.int32)
    if len(events) and len(cases):
        joined = pd.DataFrame(
            {
                "row": np.arange(len(cases)),
                "person_id": cases["person_id"].astype("Int64"),
                "cutoff": cases["cutoff"],
            }
        ).dropna(subset=["person_id"])
        joined["person_id"] = joined["person_id"].astype(np.int64)
        ev = events[["person_id", "name", "at"]].copy()
        ev["person_id"] = ev["person_id"].astype(np.int64)
        merged = joined.merge(ev, on="person_id")
        merged = merged[merged["at"] < merged["cutoff"]]
        np.add.at(counts, (merged["row"].to_numpy(), merged["name"].cat.codes.to_numpy()), 1)
    return pd.DataFrame(counts, index=cases.index, columns=[EVENTS_PREFIX + n for n in names])


def current_accounts() -> pd.Series:
    """Each person's current account (their latest membership): person_id → account_id."""
    memberships = history.memberships_frame().drop_duplicates("person_id", keep="last")
    return memberships.set_index("person_id")["account_id"]


def _account_of(people: pd.Series) -> pd.Series:
    return people.map(current_accounts()).astype("Int64")


def win_examples() -> Examples:
    """Every closed opportunity; y = won."""
    opportunities = history.opportunities_frame()
    closed = opportunities[opportunities["status"].isin(["won", "lost"])].set_index("id")
    closed = closed.sort_index()
    account_id = closed["account_id"].fillna(_account_of(closed["person_id"])).astype("Int64")
    person_ids = [int(p) for p in closed["person_id"].dropna().unique()]
    account_ids = [int(a) for a in account_id.dropna().unique()]
    parts = [
        (*history.subjects_frame("opportunity", ids=closed.index.tolist()),
         pd.Series(closed.index, index=closed.index), "Opportunity: "),
        (*history.subjects_frame("person", ids=person_ids), closed["person_id"], "Person: "),
        (*history.subjects_frame("account", ids=account_ids), account_id, "Account: "),
    ]  # fmt: skip
    X, known_at = _joined(parts, closed.index)
    cases = pd.DataFrame({"person_id": closed["person_id"], "cutoff": closed["opened_at"]})
    counts = event_counts(cases, history.events_frame(person_ids=person_ids))
    X = pd.concat([X, counts], axis=1)
    # An event counted before the opportunity opened was known then, whatever its name.
    counted_known = pd.DataFrame({c: closed["opened_at"] for c in counts.columns})
    known_at = pd.concat([known_at, counted_known], axis=1)
    subject = pd.DataFrame(
        {
            "subject": np.where(closed["person_id"].notna(), "person", "account"),
            "subject_id": closed["person_id"].fillna(account_id),
        },
        index=closed.index,
    )
    return Examples(
        X=X,
        y=(closed["status"] == "won"),
        known_at=known_at,
        outcome_at=closed["closed_at"],
        subject=subject,
    )


def step_examples(
    *,
    journey_id: int,
    position: int,
    horizon_days: int = 30,
    as_of: dt.datetime | None = None,
    visits: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> Examples:
    """Every stay at the step `position` that has had `horizon_days` to show its outcome
    (or moved on sooner); y = moved to a later step within the horizon. Stays cut short by a
    removal count as not moving on only if the horizon had passed before it. What happened
    after `as_of` is not known yet. A report asking for every step passes the journey's
    `visits` (history.step_visits_frame) and `events` (history.events_frame) read once."""
    now = pd.Timestamp(as_of or clock.now())
    horizon = pd.Timedelta(days=horizon_days)
    if visits is None:
        visits = history.step_visits_frame(journey_id)
    visits = visits[(visits["position"] == position) & (visits["entered_at"] <= now)]
    visits = visits.reset_index(drop=True)
    later = visits["left_at"] > now
    visits.loc[later, ["left_at", "next_step_id", "next_position"]] = None
    deadline = visits["entered_at"] + horizon
    moved = (
        visits["next_position"].fillna(0).astype(int).gt(position)
        & visits["left_at"].notna()
        & (visits["left_at"] <= deadline)
    ).to_numpy()
    # Watched for the whole horizon: still there (or went elsewhere) after it.
    left = visits["left_at"].fillna(now)
    watched = (left >= deadline).to_numpy() & (deadline <= now).to_numpy()
    keep = moved | watched
    visits = visits[keep]
    y = pd.Series(moved[keep], index=visits.index)
    outcome_at = visits["left_at"].where(y, visits["entered_at"] + horizon)
    people = visits[visits["subject"] == "person"]["subject_id"]
    accounts = visits[visits["subject"] == "account"]["subject_id"]
    person_id = people.reindex(visits.index).astype("Int64")
    account_id = (
        accounts.reindex(visits.index).astype("Int64").fillna(_account_of(person_id))
    ).astype("Int64")
    parts = [
        (*history.subjects_frame("person", ids=[int(p) for p in people.unique()]),
         person_id, "Person: "),
        (*history.subjects_frame("account", ids=[int(a) for a in account_id.dropna().unique()]),
         account_id, "Account: "),
    ]  # fmt: skip
    X, known_at = _joined(parts, visits.index)
    cases = pd.DataFrame({"person_id": person_id, "cutoff": visits["entered_at"]})
    if events is None:
        events = history.events_frame(person_ids=[int(p) for p in people.unique()])
    counts = event_counts(cases, events[events["person_id"].isin(people.unique())])
    X = pd.concat([X, counts], axis=1)
    known_at = pd.concat(
        [known_at, pd.DataFrame({c: visits["entered_at"] for c in counts.columns})], axis=1
    )
    return Examples(
        X=X,
        y=y,
        known_at=known_at,
        outcome_at=outcome_at,
        subject=visits[["subject", "subject_id"]],
    )
