"""Writes for the prediction models: the default models, refitting one in the worker (with its
progress on the fit's row), scoring everyone it predicts for, and the user's choice of fields.

- `models_ensure()`: the "Winning" model and one "Next step" model per step of the default
  journey (but its last), made when missing.
- `model_refit(model=, actor=)`: queue a fit (one at a time per model). The worker runs
  `model_fit_run(fit_id=)`: the examples from the history, `prediction.fit` with its progress
  written to the row in short transactions of their own (so the page sees it move), then
  `predictions_score` for everyone the model predicts for, in chunks; only then is the fit made
  current. A failure marks the fit failed, with the reason in words, and leaves the last good
  fit current.
- `model_fields_set(model=, field=, choice=, actor=)`: use a flagged field anyway, leave a field
  out, or let the guard decide again. It counts from the next refit.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import User
from leadline.core.services import audit_record
from leadline.insight import selectors
from leadline.insight.models import (
    FitStatus,
    ModelFit,
    Prediction,
    PredictionModel,
    Question,
)
from leadline.journeys.models import Journey

if TYPE_CHECKING:
    from leadline.insight.features import Examples
    from leadline.insight.prediction import Fitted

log = logging.getLogger(__name__)

# The bar: reading the history, then the fit (checks, cross-validation, calibration), then
# scoring everyone.
READ_SHARE, FIT_SHARE = 0.05, 0.85
# A progress write at most this often within one stage (every change of stage is written).
PROGRESS_EVERY_S = 0.5
# A fit that shows no sign of life for this long was lost with its worker; a new refit may go.
RUNNING_STALE = dt.timedelta(minutes=30)
QUEUED_STALE = dt.timedelta(hours=24)
MAX_STAGES_LOGGED = 200
# Threads scikit-learn's OpenMP loops may use during a fit. One by default: the worker shares
# its cores with the web processes, and OpenMP threads that wait for a busy core spin, which on
# a loaded machine made a small fit 30 times slower (0.7 s alone, 19 s with two threads).
FIT_THREADS = int(os.environ.get("LEADLINE_FIT_THREADS", "1"))

# prediction.fit's stages, in the words the page shows.
STAGE_WORDS = {
    "checking fields": "Checking fields for leakage",
    "comparing models": "Cross-validating gradient boosting and logistic regression",
    "calibrating": "Calibrating",
    "fitting": "Fitting the better model on all cases",
    "done": "Fitted",
}
READING = "Reading the history"
SCORING = "Scoring"

FIELD_CHOICES = ("use", "leave_out", "auto")


class FitAlreadyRunning(ValidationError):
    """A refit asked for while one of the same model is queued or running."""

    def __init__(self, fit: ModelFit) -> None:
        self.fit = fit
        doing = (
            "waiting for the worker"
            if fit.status == FitStatus.QUEUED
            else f"{fit.progress:.0%} done"
        )
        super().__init__(
            f"A fit of this model is already running (fit #{fit.pk}, {doing}); "
            "wait for it to finish before refitting."
        )


# Default models ---------------------------------------------------------------------------------


def models_ensure() -> list[PredictionModel]:
    """The winning model, and a next-step model for each step of the default journey that has
    a step after it; made when missing, never changed. Returns every model."""
    if not PredictionModel.objects.filter(question=Question.WIN).exists():
        try:
            with transaction.atomic():
                PredictionModel.objects.create(name="Winning", question=Question.WIN)
        except IntegrityError:  # made meanwhile by another request
            pass
    journey = Journey.objects.filter(is_default=True).first()
    if journey is not None:
        steps = list(journey.steps.order_by("position"))
        have = set(
            PredictionModel.objects.filter(
                question=Question.NEXT_STEP, step__journey=journey
            ).values_list("step_id", flat=True)
        )
        for step in steps[:-1]:
            if step.pk in have:
                continue
            try:
                with transaction.atomic():
                    PredictionModel.objects.create(
                        name=f"Next step from “{step.name}”",
                        question=Question.NEXT_STEP,
                        step=step,
                    )
            except IntegrityError:
                pass
    return list(PredictionModel.objects.select_related("step"))


# Refitting --------------------------------------------------------------------------------------


def _stale(fit: ModelFit, now: dt.datetime) -> bool:
    if fit.status == FitStatus.RUNNING:
        return (fit.progress_at or fit.started_at or fit.queued_at) < now - RUNNING_STALE
    return fit.queued_at < now - QUEUED_STALE


def model_refit(*, model: PredictionModel, actor: User | None, run_now: bool = False) -> ModelFit:
    """Queue a fit of the model for the worker. Refused (FitAlreadyRunning) while one is queued
    or running, unless that one has shown no sign of life for long: its worker was lost, and it
    is marked failed. `run_now` runs the fit in this process after the commit (the demo, the
    command line) instead of queueing it."""
    now = clock.now()
    with transaction.atomic():
        PredictionModel.objects.select_for_update().filter(pk=model.pk).order_by().first()
        active = selectors.fit_active(model=model)
        if active is not None:
            if not _stale(active, now):
                raise FitAlreadyRunning(active)
            active.status = FitStatus.FAILED
            active.error = "The worker stopped during this fit; it was given up."
            active.finished_at = now
            active.save(update_fields=["status", "error", "finished_at"])
        fit = ModelFit.objects.create(model=model, requested_by=actor, queued_at=now)
        audit_record(actor=actor, action="model.refit", obj=model, data={"fit_id": fit.pk})
        if run_now:
            transaction.on_commit(lambda: model_fit_run(fit_id=fit.pk))
        else:
            transaction.on_commit(lambda: _enqueue(fit.pk), robust=True)
    return fit


def _enqueue(fit_id: int) -> None:
    from leadline.insight.tasks import model_fit_task

    model_fit_task.enqueue(fit_id)


class _Progress:
    """Writes a fit's progress to its row, each write its own short transaction, at most every
    PROGRESS_EVERY_S within a stage; each stage reached is kept in `stages`."""

    def __init__(self, fit_id: int) -> None:
        self.fit_id = fit_id
        self.stage = ""
        self.share = 0.0
        self.written_at = 0.0
        self.stages: list[dict[str, Any]] = []

    def __call__(self, stage: str, share: float) -> None:
        share = min(max(share, self.share), 1.0)  # never backwards
        moment = time.monotonic()
        new_stage = stage != self.stage
        if not new_stage and moment - self.written_at < PROGRESS_EVERY_S and share < 1.0:
            self.share = share
            return
        self.stage, self.share, self.written_at = stage, share, moment
        now = clock.now()
        if new_stage and len(self.stages) < MAX_STAGES_LOGGED:
            self.stages.append({"stage": stage, "share": round(share, 4), "at": now.isoformat()})
        with transaction.atomic():
            ModelFit.objects.filter(pk=self.fit_id).update(
                stage=stage, progress=share, stages=self.stages, progress_at=now
            )

    def of_fit(self, stage: str, share: float) -> None:
        """prediction.fit's progress, on its part of the bar."""
        words = STAGE_WORDS.get(stage, stage[:1].upper() + stage[1:])
        self(words, READ_SHARE + (FIT_SHARE - READ_SHARE) * share)


def _examples(model: PredictionModel) -> Examples:
    from leadline.insight import features

    if model.question == Question.WIN:
        return features.win_examples()
    step = model.step
    assert step is not None
    return features.step_examples(
        journey_id=step.journey_id, position=step.position, horizon_days=model.horizon_days
    )


def _summary(model: PredictionModel, examples: Examples, fitted: Fitted) -> dict[str, Any]:
    import pandas as pd

    outcome_at = pd.to_datetime(examples.outcome_at, utc=True).dropna()
    n = len(examples)
    positives = int(examples.y.sum())
    return {
        "cases": n,
        "positives": positives,
        "base_rate": positives / n if n else None,
        "first_outcome": outcome_at.min().isoformat() if len(outcome_at) else None,
        "last_outcome": outcome_at.max().isoformat() if len(outcome_at) else None,
        "fields_seen": len(examples.X.columns),
        "fields_used": list(fitted.used),
        "fields_flagged": [c.name for c in fitted.fields if c.flagged],
        "included": list(model.included_fields),
        "excluded": list(model.excluded_fields),
        "fitted_on": fitted.fitted_on,
        "calibration_method": fitted.calibration_method,
        "horizon_days": model.horizon_days if model.question == Question.NEXT_STEP else None,
    }


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN → None (JSON has no NaN)


def _field_check(check: Any) -> dict[str, Any]:
    return {
        "name": check.name,
        "single_auc": _number(check.single_auc),
        "gain": _number(check.gain),
        "after_outcome": _number(check.after_outcome),
        "flagged": bool(check.flagged),
        "why": check.why,
    }


def _claim(fit_id: int) -> ModelFit | None:
    """Mark the queued fit running; None when it is not queued any more."""
    now = clock.now()
    with transaction.atomic():
        claimed = ModelFit.objects.filter(pk=fit_id, status=FitStatus.QUEUED).update(
            status=FitStatus.RUNNING, started_at=now, progress_at=now, stage=READING
        )
    if not claimed:
        return None
    return ModelFit.objects.select_related("model__step").get(pk=fit_id)


def model_fit_run(*, fit_id: int) -> ModelFit | None:
    """Run a queued fit (the worker's task): fit, store, score everyone, make it current.
    Any failure marks the fit failed with its reason; the last good fit stays current."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    # scikit-learn first: the limit applies to the thread pools loaded when it is set.
    from leadline.insight import prediction  # noqa: F401

    fit = _claim(fit_id)
    if fit is None:
        return None
    with threadpool_limits(limits=FIT_THREADS):
        _fit_and_score(fit)
    return ModelFit.objects.defer("fitted").get(pk=fit.pk)


def _fit_and_score(fit: ModelFit) -> None:
    from leadline.insight import prediction

    model = fit.model
    progress = _Progress(fit.pk)
    try:
        progress(READING, 0.0)
        examples = _examples(model)
        if len(examples) == 0:
            raise prediction.TooLittleEvidence(
                "Too little evidence: there are no cases to learn from yet."
            )
        fitted = prediction.fit(
            examples,
            include=list(model.included_fields),
            exclude=list(model.excluded_fields),
            progress=progress.of_fit,
        )
        summary = _summary(model, examples, fitted)
        with transaction.atomic():
            ModelFit.objects.filter(pk=fit.pk).update(
                kind=fitted.kind,
                metrics={k: _number(v) for k, v in fitted.metrics.items()},
                calibration=[[float(p), float(o), int(n)] for p, o, n in fitted.calibration],
                fields=[_field_check(c) for c in fitted.fields],
                used_fields=list(fitted.used),
                n=summary["cases"],
                positives=summary["positives"],
                data_summary=summary,
                fitted=pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL),
            )
        del examples
        progress(SCORING, FIT_SHARE)
        scored = predictions_score(
            fit=fit,
            fitted=fitted,
            progress=lambda done, total: progress(
                SCORING, FIT_SHARE + (1 - FIT_SHARE) * done / max(total, 1)
            ),
        )
        _make_current(fit.pk, model, scored)
    except Exception as exc:
        _fail(fit.pk, exc)


def _make_current(fit_id: int, model: PredictionModel, scored: int) -> None:
    now = clock.now()
    with transaction.atomic():
        ModelFit.objects.filter(model=model, is_current=True).exclude(pk=fit_id).update(
            is_current=False
        )
        ModelFit.objects.filter(pk=fit_id).update(
            status=FitStatus.DONE,
            is_current=True,
            progress=1.0,
            stage="Done",
            progress_at=now,
            finished_at=now,
            scored=scored,
        )
        # Whoever this fit did not score (no longer at the step, merged away) has no chance now.
        Prediction.objects.filter(model=model).exclude(fit_id=fit_id).delete()


def _fail(fit_id: int, exc: Exception) -> None:
    from leadline.insight.prediction import TooLittleEvidence

    if isinstance(exc, TooLittleEvidence | ValidationError | ValueError):
        words = str(exc.messages[0] if isinstance(exc, ValidationError) else exc)
    else:
        log.exception("fit %s failed", fit_id)
        words = f"The fit failed: {type(exc).__name__}: {exc}"
    with transaction.atomic():
        ModelFit.objects.filter(pk=fit_id).update(
            status=FitStatus.FAILED,
            error=words[:2000],
            finished_at=clock.now(),
            progress_at=clock.now(),
        )
        # Predictions already written by this fit are dropped; the current fit's stay.
        Prediction.objects.filter(fit_id=fit_id).delete()


# Scoring ----------------------------------------------------------------------------------------


def predictions_score(
    *,
    fit: ModelFit,
    fitted: Fitted,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = selectors.SCORING_CHUNK,
) -> int:
    """The fitted model's chance, with its top reasons, for everyone it predicts for: the
    winning model for every person and account, a next-step model for everyone at its step.
    Each chunk is one transaction: its subjects' rows for this model are replaced. Returns how
    many were scored."""
    model = fit.model
    report = progress or (lambda done, total: None)
    columns = list(fitted.used)
    if model.question == Question.WIN:
        from leadline.core.models import Account, Person

        total = (
            Person.objects.filter(merged_into__isnull=True).count()
            + Account.objects.filter(merged_into__isnull=True).count()
        )
        batches = selectors.win_cases(columns=columns, chunk=chunk)
    else:
        from leadline.journeys.models import JourneyPosition

        assert model.step_id is not None
        total = JourneyPosition.objects.filter(step_id=model.step_id).count()
        batches = selectors.step_cases(step_id=model.step_id, columns=columns, chunk=chunk)
    done = 0
    report(0, total)
    for cases in batches:
        probabilities = fitted.predict(cases.X)
        reasons = fitted.reasons(cases.X, top=3)
        now = clock.now()
        rows = [
            Prediction(
                model=model,
                fit=fit,
                person_id=subject_id if kind == "person" else None,
                account_id=subject_id if kind == "account" else None,
                probability=min(max(float(p), 0.0), 1.0),
                reasons=[
                    {
                        "field": r.field,
                        "value": r.value,
                        "effect": float(r.effect),
                        "words": r.words,
                    }
                    for r in why
                ],
                scored_at=now,
            )
            for (kind, subject_id), p, why in zip(
                cases.subjects, probabilities, reasons, strict=True
            )
        ]
        people = [i for kind, i in cases.subjects if kind == "person"]
        accounts = [i for kind, i in cases.subjects if kind == "account"]
        with transaction.atomic():
            Prediction.objects.filter(model=model).filter(
                Q(person_id__in=people) | Q(account_id__in=accounts)
            ).delete()
            Prediction.objects.bulk_create(rows, batch_size=1000)
        done += len(rows)
        report(done, total)
    return done


# The user's choice of fields -------------------------------------------------------------------


def model_fields_set(
    *, model: PredictionModel, field: str, choice: str, actor: User | None
) -> PredictionModel:
    """Use a flagged field anyway ("use"), leave any field out ("leave_out"), or let the guard
    decide ("auto"). Counts from the next refit. The field must be one the model's data has."""
    if choice not in FIELD_CHOICES:
        raise ValidationError(
            {"choice": f"“{choice[:40]}” is not a choice: use, leave_out or auto."}
        )
    with transaction.atomic():
        model = PredictionModel.objects.select_for_update().get(pk=model.pk)
        known = {str(check["name"]): check for check in _latest_checks(model)}
        if field not in known:
            raise ValidationError(
                {"field": f"There is no field “{field[:80]}” in this model's data."}
            )
        if (
            choice == "use"
            and not known[field].get("flagged")
            and field not in (model.excluded_fields)
        ):
            raise ValidationError(
                {"field": f"“{field}” is not flagged by the leakage guard: it is used already."}
            )
        included = [f for f in model.included_fields if f != field]
        excluded = [f for f in model.excluded_fields if f != field]
        if choice == "use" and known[field].get("flagged"):
            included.append(field)
        elif choice == "leave_out":
            excluded.append(field)
        model.included_fields, model.excluded_fields = included, excluded
        model.updated_at = clock.now()
        model.save(update_fields=["included_fields", "excluded_fields", "updated_at"])
        audit_record(
            actor=actor, action="model.fields", obj=model, data={"field": field, "choice": choice}
        )
    return model


def _latest_checks(model: PredictionModel) -> list[dict[str, Any]]:
    fit = (
        ModelFit.objects.filter(model=model, status=FitStatus.DONE)
        .only("fields")
        .order_by("-finished_at", "-pk")
        .first()
    )
    return list(fit.fields) if fit else []
