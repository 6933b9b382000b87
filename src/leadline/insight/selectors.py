"""Reads for the prediction models: the models with their fits, a fit's progress, a person's or
an account's chances, and the cases to score (the same fields the model learned from, for
everyone it predicts for now).

pandas is imported inside the functions that build frames, so importing this module (the web
pages and the API do, with the URL map) stays cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, QuerySet

from leadline.core import clock
from leadline.core.models import Account, Person
from leadline.insight.models import (
    FitStatus,
    ModelFit,
    Prediction,
    PredictionModel,
    Question,
)

if TYPE_CHECKING:
    import pandas as pd

SCORING_CHUNK = 5_000
PARTS = {"opportunity": "Opportunity: ", "person": "Person: ", "account": "Account: "}


# Models and fits -------------------------------------------------------------------------------


@dataclasses.dataclass
class ModelRow:
    model: PredictionModel
    current: ModelFit | None  # the fit its predictions come from
    latest: ModelFit | None  # the newest fit, whatever its status


def models_list() -> list[ModelRow]:
    """Every model with its current fit and its newest one."""
    models = PredictionModel.objects.select_related("step__journey").prefetch_related(
        Prefetch(
            "fits",
            queryset=ModelFit.objects.defer("fitted").order_by("-queued_at", "-pk"),
            to_attr="fits_newest_first",
        )
    )
    rows = []
    for model in models:
        fits: list[ModelFit] = model.fits_newest_first
        current = next((f for f in fits if f.is_current), None)
        rows.append(ModelRow(model=model, current=current, latest=fits[0] if fits else None))
    # Winning first, then the steps in journey order.
    rows.sort(key=lambda r: _order(r.model))
    return rows


def _order(model: PredictionModel) -> tuple[int, int, int, int]:
    step = model.step
    if step is None:
        return (0, 0, 0, model.pk)
    return (1, step.journey_id, step.position, model.pk)


def model_row(*, model: PredictionModel) -> ModelRow:
    fits = ModelFit.objects.filter(model=model).defer("fitted").order_by("-queued_at", "-pk")
    current = fits.filter(is_current=True).first()
    return ModelRow(model=model, current=current, latest=fits.first())


def fit_active(*, model: PredictionModel) -> ModelFit | None:
    """The fit queued or running for the model, if any."""
    return (
        ModelFit.objects.filter(model=model, status__in=[FitStatus.QUEUED, FitStatus.RUNNING])
        .defer("fitted")
        .first()
    )


def model_fields_known(*, model: PredictionModel) -> list[str]:
    """The fields the model's newest finished fit saw (what the user may choose among)."""
    fit = (
        ModelFit.objects.filter(model=model, status=FitStatus.DONE)
        .only("fields")
        .order_by("-finished_at", "-pk")
        .first()
    )
    return [str(check["name"]) for check in fit.fields] if fit else []


def model_question(model: PredictionModel) -> str:
    """The model's question in the users' words."""
    if model.question == Question.WIN:
        return "Will the deal be won?"
    step = model.step
    assert step is not None
    following = step.journey.steps.filter(position__gt=step.position).order_by("position").first()
    to = f"“{following.name}”" if following else "a later step"
    return f"Will they move from “{step.name}” to {to} within {model.horizon_days} days?"


# Predictions for a person or an account ----------------------------------------------------------


@dataclasses.dataclass
class Chance:
    model: PredictionModel
    words: str  # "Chance of winning", "Chance of moving to Comparing vendors within 30 days"
    probability: float
    reasons: list[dict[str, Any]]
    scored_at: dt.datetime
    fit: ModelFit


def _chance_words(model: PredictionModel) -> str:
    if model.question == Question.WIN:
        return "Chance of winning"
    step = model.step
    assert step is not None
    following = step.journey.steps.filter(position__gt=step.position).order_by("position").first()
    to = following.name if following else "a later step"
    return f"Chance of moving to {to} within {model.horizon_days} days"


def predictions_for(
    *, person: Person | None = None, account: Account | None = None
) -> list[Chance]:
    """The chances from each model's current fit, winning first."""
    rows: QuerySet[Prediction] = Prediction.objects.filter(fit__is_current=True)
    rows = rows.filter(person=person) if person is not None else rows.filter(account=account)
    rows = rows.select_related("model__step__journey", "fit").defer("fit__fitted")
    found = [
        Chance(
            model=row.model,
            words=_chance_words(row.model),
            probability=row.probability,
            reasons=list(row.reasons or []),
            scored_at=row.scored_at,
            fit=row.fit,
        )
        for row in rows
    ]
    found.sort(key=lambda c: (c.model.question != Question.WIN, c.model.step_id or 0))
    return found


def predictions_query(
    *, person_id: int | None = None, account_id: int | None = None
) -> QuerySet[Prediction]:
    rows = Prediction.objects.filter(fit__is_current=True).select_related("model", "fit")
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    return rows.defer("fit__fitted").order_by("model__question", "model__step_id", "pk")


# The cases to score: the fields the model learned from, for those it predicts for now ----------


@dataclasses.dataclass
class Cases:
    X: pd.DataFrame  # the model's input columns, one row per case
    subjects: list[tuple[str, int]]  # ("person", id) or ("account", id), one per row


def _ids_key(keys: pd.Series) -> Any:
    """Ids to reindex a frame by, with -1 (no such row) where the key is missing."""
    return keys.fillna(-1).astype("int64").to_numpy()


def _assemble(
    parts: Sequence[tuple[str, pd.Series]],
    columns: Sequence[str],
    cutoff: pd.Series,
    person_id: pd.Series,
) -> pd.DataFrame:
    """The model's columns for these cases, named as `features` names them: a field under its
    own name from the first part that has it, or "<Part>: <field>" from that part; event
    counts before each case's cutoff."""
    import numpy as np
    import pandas as pd

    from leadline.insight import features, history

    frames: dict[str, pd.DataFrame] = {}
    for kind, keys in parts:
        ids = [int(i) for i in keys.dropna().unique()]
        frames[kind] = history.subjects_frame(kind, ids=ids)[0] if ids else pd.DataFrame()  # type: ignore[arg-type]
    index = cutoff.index
    out: dict[str, Any] = {}
    event_columns = [c for c in columns if c.startswith(features.EVENTS_PREFIX)]
    for column in columns:
        if column.startswith(features.EVENTS_PREFIX):
            continue
        values: Any = None
        for kind, keys in parts:
            frame, prefix = frames[kind], PARTS[kind]
            name = column
            if column.startswith(prefix) and column[len(prefix) :] in frame.columns:
                name = column[len(prefix) :]
            if name in frame.columns:
                values = frame[name].reindex(_ids_key(keys)).to_numpy()
                break
        out[column] = values if values is not None else np.full(len(index), None, dtype=object)
    X = pd.DataFrame(out, index=index, columns=[c for c in columns if c in out])
    if event_columns:
        ids = [int(p) for p in person_id.dropna().unique()]
        events = history.events_frame(person_ids=ids)
        cases = pd.DataFrame({"person_id": person_id.astype("Int64"), "cutoff": cutoff})
        counts = features.event_counts(cases, events).reindex(columns=event_columns, fill_value=0)
        X = pd.concat([X, counts], axis=1)
    return X.reindex(columns=list(columns))


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def win_cases(
    *, columns: Sequence[str], chunk: int = SCORING_CHUNK, now: dt.datetime | None = None
) -> Iterator[Cases]:
    """Everyone the winning model predicts for: each person, through their newest open
    opportunity (or, with none, their own fields as a case); then each account, through its
    newest open opportunity (or its own fields). Cut off as the cases it learned from were:
    events before the opportunity opened (before now, without one)."""
    import pandas as pd

    from leadline.insight import features, history

    moment = pd.Timestamp(now or clock.now())
    membership = features.current_accounts()
    opportunities = history.opportunities_frame()
    opened = opportunities[opportunities["status"] == "open"].sort_values(["opened_at", "id"])
    opened = opened.assign(
        account_id=opened["account_id"]
        .fillna(opened["person_id"].map(membership).astype("Int64"))
        .astype("Int64")
    )
    by_person = opened.dropna(subset=["person_id"]).drop_duplicates("person_id", keep="last")
    by_person = by_person.set_index(by_person["person_id"].astype("int64"))
    by_account = opened.dropna(subset=["account_id"]).drop_duplicates("account_id", keep="last")
    by_account = by_account.set_index(by_account["account_id"].astype("int64"))

    people = list(
        Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    for ids in _chunks(people, chunk):
        index = pd.RangeIndex(len(ids))
        person_id = pd.Series(ids, index=index, dtype="Int64")
        deal = by_person.reindex(ids).set_axis(index)
        account_id = (
            deal["account_id"].astype("Int64").fillna(person_id.map(membership).astype("Int64"))
        ).astype("Int64")
        cutoff = deal["opened_at"].fillna(moment)
        parts = [
            ("opportunity", deal["id"].astype("Int64")),
            ("person", person_id),
            ("account", account_id),
        ]
        yield Cases(
            X=_assemble(parts, columns, cutoff, person_id),
            subjects=[("person", i) for i in ids],
        )

    accounts = list(
        Account.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    for ids in _chunks(accounts, chunk):
        index = pd.RangeIndex(len(ids))
        deal = by_account.reindex(ids).set_axis(index)
        person_id = deal["person_id"].astype("Int64")
        parts = [
            ("opportunity", deal["id"].astype("Int64")),
            ("person", person_id),
            ("account", pd.Series(ids, index=index, dtype="Int64")),
        ]
        yield Cases(
            X=_assemble(parts, columns, deal["opened_at"].fillna(moment), person_id),
            subjects=[("account", i) for i in ids],
        )


def step_cases(
    *, step_id: int, columns: Sequence[str], chunk: int = SCORING_CHUNK
) -> Iterator[Cases]:
    """Everyone at the step now (people and accounts), with their fields and what they did
    before they reached it."""
    import pandas as pd

    from leadline.insight import features
    from leadline.journeys.models import JourneyPosition

    membership = features.current_accounts()
    positions = list(
        JourneyPosition.objects.filter(step_id=step_id)
        .order_by("pk")
        .values_list("person_id", "account_id", "since")
    )
    for start in range(0, len(positions), chunk):
        rows = positions[start : start + chunk]
        index = pd.RangeIndex(len(rows))
        person_id = pd.Series([r[0] for r in rows], index=index, dtype="Int64")
        given = pd.Series([r[1] for r in rows], index=index, dtype="Int64")
        account_id = given.fillna(person_id.map(membership).astype("Int64")).astype("Int64")
        cutoff = pd.to_datetime(pd.Series([r[2] for r in rows], index=index), utc=True)
        parts = [("person", person_id), ("account", account_id)]
        yield Cases(
            X=_assemble(parts, columns, cutoff, person_id),
            subjects=[
                ("person", int(p)) if p is not None else ("account", int(a)) for p, a, _ in rows
            ],
        )
