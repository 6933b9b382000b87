"""The API for prediction models (mounted at /insight): the models with their cross-validated
figures, calibration and the leakage guard's checks; refitting one in the worker and following
its progress; the user's choice of fields; and the chances of a person or an account."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import model_validator

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Strict, field_errors
from leadline.core.permissions import access_insight, access_model_refit, access_prediction
from leadline.insight import selectors, services
from leadline.insight.models import ModelFit, Prediction, PredictionModel

router = Router(tags=["Prediction"])


# Schemas ----------------------------------------------------------------------------------------


class FieldCheckOut(Schema):
    name: str
    single_auc: float | None = Field(description="Out-of-fold AUC of this field alone")
    gain: float | None = Field(description="Cross-validated AUC lost when it is dropped")
    after_outcome: float | None = Field(
        description="Share of its time-stamped values recorded at or after the outcome"
    )
    flagged: bool = Field(description="The leakage guard suspects it leaks the outcome")
    why: str


class FitOut(Schema):
    id: int
    model_id: int
    status: str = Field(description="queued, running, done or failed")
    progress: float = Field(description="Share done, 0 to 1")
    stage: str = Field(description="What it is doing now, in words")
    stages: list[dict[str, Any]] = Field(description="Each stage reached: stage, share, at")
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str = Field(description="Why it failed, in words")
    is_current: bool = Field(description="The fit the model's predictions come from")
    kind: str = Field(description="The model that won the cross-validation")
    n: int | None = Field(description="Cases it learned from")
    positives: int | None
    scored: int = Field(description="Predictions written")


class FitDetailOut(FitOut):
    metrics: dict[str, float | None] = Field(
        description="auc, brier, brier_base_rate, auc_gradient_boosting, auc_logistic, folds, "
        "n, positives (cross-validated, out of fold)"
    )
    calibration: list[list[float]] = Field(
        description="Per bin: [mean predicted, observed share, cases], out of fold"
    )
    fields: list[FieldCheckOut]
    used_fields: list[str]
    data_summary: dict[str, Any] = Field(
        description="cases, positives, base_rate, first_outcome, last_outcome, fields_used, "
        "fields_flagged, ..."
    )


class ModelOut(Schema):
    id: int
    name: str
    question: str = Field(description="win or next_step")
    question_words: str
    step_id: int | None = Field(description="For next_step: the step they are at")
    horizon_days: int
    included_fields: list[str] = Field(description="Flagged fields used anyway")
    excluded_fields: list[str] = Field(description="Fields left out")
    current_fit: FitDetailOut | None
    latest_fit: FitOut | None = Field(description="The newest fit, whatever its status")


class ModelListOut(Schema):
    id: int
    name: str
    question: str
    question_words: str
    step_id: int | None
    auc: float | None
    brier: float | None
    fitted_at: dt.datetime | None
    status: str | None = Field(description="The newest fit's status; null if never fitted")


class RefitOut(Schema):
    fit_id: int
    status: str


class FieldsIn(Strict):
    field: str = Field(min_length=1, max_length=300, description="A field of the model's data")
    choice: Literal["use", "leave_out", "auto"] = Field(
        description="use: a flagged field anyway; leave_out: never; auto: the guard decides"
    )


class PredictionReasonOut(Schema):
    field: str
    value: str
    effect: float = Field(description="Change in probability, signed (0.12 = +12 points)")
    words: str


class PredictionOut(Schema):
    model_id: int
    model: str
    question: str
    person_id: int | None
    account_id: int | None
    probability: float
    reasons: list[PredictionReasonOut]
    fit_id: int
    scored_at: dt.datetime

    @staticmethod
    def resolve_model(obj: Prediction) -> str:
        return obj.model.name

    @staticmethod
    def resolve_question(obj: Prediction) -> str:
        return obj.model.question


class PredictionFilter(Schema):
    person_id: int | None = Field(None, description="This person's chances")
    account_id: int | None = Field(None, description="Or this account's")

    @model_validator(mode="after")
    def _one(self) -> PredictionFilter:
        if (self.person_id is None) == (self.account_id is None):
            raise ValueError("give person_id or account_id (one of them)")
        return self


# Helpers ----------------------------------------------------------------------------------------


def _model(model_id: int) -> PredictionModel:
    found = PredictionModel.objects.select_related("step__journey").filter(pk=model_id).first()
    if found is None:
        raise HttpError(404, f"no model {model_id}")
    return found


def _fit_out(fit: ModelFit) -> FitOut:
    return FitOut.model_validate(fit, from_attributes=True)


def _fit_detail(fit: ModelFit) -> FitDetailOut:
    return FitDetailOut.model_validate(fit, from_attributes=True)


def _model_out(model: PredictionModel) -> ModelOut:
    row = selectors.model_row(model=model)
    return ModelOut(
        id=model.pk,
        name=model.name,
        question=model.question,
        question_words=selectors.model_question(model),
        step_id=model.step_id,
        horizon_days=model.horizon_days,
        included_fields=list(model.included_fields),
        excluded_fields=list(model.excluded_fields),
        current_fit=_fit_detail(row.current) if row.current else None,
        latest_fit=_fit_out(row.latest) if row.latest else None,
    )


# Operations -------------------------------------------------------------------------------------


@router.get(
    "/models", response={200: list[ModelListOut], **REFUSALS}, summary="List prediction models"
)
@rule(access_insight)
def models_list(request: HttpRequest) -> list[ModelListOut]:
    """The winning model and one next-step model per step of the default journey (made on
    first sight), each with its current fit's cross-validated AUC and Brier score."""
    require(request, access_insight)
    services.models_ensure()
    out = []
    for row in selectors.models_list():
        metrics = row.current.metrics if row.current else {}
        out.append(
            ModelListOut(
                id=row.model.pk,
                name=row.model.name,
                question=row.model.question,
                question_words=selectors.model_question(row.model),
                step_id=row.model.step_id,
                auc=metrics.get("auc"),
                brier=metrics.get("brier"),
                fitted_at=row.current.finished_at if row.current else None,
                status=row.latest.status if row.latest else None,
            )
        )
    return out


@router.get(
    "/models/{model_id}",
    response={200: ModelOut, 404: ErrorOut, **REFUSALS},
    summary="Get a prediction model",
)
@rule(access_insight)
def model_get(request: HttpRequest, model_id: int) -> ModelOut:
    """Its current fit's metrics, calibration, every field's leakage check and the data it
    learned from; and its newest fit's status."""
    require(request, access_insight)
    return _model_out(_model(model_id))


@router.post(
    "/models/{model_id}/refit",
    response={202: RefitOut, 404: ErrorOut, 409: ErrorOut, **REFUSALS},
    summary="Refit a prediction model",
)
@rule(access_model_refit)
def model_refit(request: HttpRequest, model_id: int) -> Status[RefitOut]:
    """Queue a fit for the worker (202 with its id; follow it at /insight/fits/{fit_id}).
    409 while a fit of the same model is queued or running."""
    user = require(request, access_model_refit)
    model = _model(model_id)
    try:
        fit = services.model_refit(model=model, actor=user)
    except services.FitAlreadyRunning as exc:
        raise HttpError(409, exc.messages[0]) from exc
    return Status(202, RefitOut(fit_id=fit.pk, status=fit.status))


@router.post(
    "/models/{model_id}/fields",
    response={200: ModelOut, 404: ErrorOut, **REFUSALS},
    summary="Choose whether a field is used",
)
@rule(access_model_refit)
def model_fields(request: HttpRequest, model_id: int, payload: FieldsIn) -> ModelOut:
    """Use a flagged field anyway, leave a field out, or let the leakage guard decide again.
    Counts from the next refit. An unknown field: 422 naming `field`."""
    user = require(request, access_model_refit)
    model = _model(model_id)
    try:
        model = services.model_fields_set(
            model=model, field=payload.field, choice=payload.choice, actor=user
        )
    except DjangoValidationError as exc:
        raise field_errors(exc) from exc
    return _model_out(_model(model.pk))


@router.get(
    "/fits/{fit_id}",
    response={200: FitOut, 404: ErrorOut, **REFUSALS},
    summary="Follow a fit",
)
@rule(access_insight)
def fit_get(request: HttpRequest, fit_id: int) -> FitOut:
    """A fit's status and progress (share done and the stage, in words); its error if it
    failed."""
    require(request, access_insight)
    fit = ModelFit.objects.defer("fitted").filter(pk=fit_id).first()
    if fit is None:
        raise HttpError(404, f"no fit {fit_id}")
    return _fit_out(fit)


@router.get(
    "/predictions",
    response={200: list[PredictionOut], **REFUSALS},
    summary="A person's or an account's chances",
)
@rule(access_prediction)
def predictions_list(request: HttpRequest, filters: Query[PredictionFilter]) -> list[Prediction]:
    """Each model's current prediction for the person or the account, with its top reasons.
    Give exactly one of person_id and account_id (else 422)."""
    require(request, access_prediction)
    return list(
        selectors.predictions_query(person_id=filters.person_id, account_id=filters.account_id)
    )
