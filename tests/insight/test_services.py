"""Prediction models: refit in the real task worker, progress on the fit's row, predictions
with reasons for everyone, failures that keep the last good fit, and the user's field choices.

The fits are real (`prediction.fit` on small histories from the factories); each costs a few
seconds, so each test fits as few times as it can."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import AuditEntry, Role
from leadline.engagement.models import Opportunity
from leadline.insight import services
from leadline.insight.models import FitStatus, ModelFit, Prediction, PredictionModel, Question
from tests import factories

pytestmark = pytest.mark.django_db


def _win_model() -> PredictionModel:
    services.models_ensure()
    return PredictionModel.objects.get(question=Question.WIN)


def _refit(model: PredictionModel, run_worker: Any, capture: Any, actor: Any = None) -> ModelFit:
    """Queue a refit as the page does, then let the real worker run what is queued."""
    with capture(execute=True):
        fit = services.model_refit(model=model, actor=actor)
    assert fit.status == FitStatus.QUEUED
    run_worker()
    fit.refresh_from_db()
    return fit


def test_the_default_models_are_winning_and_one_per_step_but_the_last() -> None:
    models = services.models_ensure()
    again = services.models_ensure()

    assert len(again) == len(models)
    from leadline.journeys.models import Journey

    steps = Journey.objects.get(is_default=True).steps.count()
    assert PredictionModel.objects.filter(question=Question.WIN).count() == 1
    assert PredictionModel.objects.filter(question=Question.NEXT_STEP).count() == steps - 1


def test_a_refit_in_the_worker_fits_leaves_the_leak_out_and_scores_everyone(
    run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = factories.win_history(cases=80)
    company = factories.account(attributes={"Lead Origin": "Ads"})
    newcomer = factories.person(attributes={"Lead Origin": "Ads", "TotalVisits": 3})
    factories.deal(person=newcomer, status="open")
    marketer = factories.user(role=Role.MARKETING)
    model = _win_model()

    fit = _refit(model, run_worker, django_capture_on_commit_callbacks, actor=marketer)

    assert fit.status == FitStatus.DONE, fit.error
    assert fit.is_current
    assert fit.progress == 1.0
    # The progress moved through the stages, in order, on the row the page polls.
    stages = [s["stage"] for s in fit.stages]
    for words in ("Reading the history", "Checking fields for leakage", "Calibrating", "Scoring"):
        assert words in stages
    assert stages.index("Checking fields for leakage") < stages.index("Calibrating")
    assert any(s.startswith("Cross-validating") for s in stages)
    shares = [s["share"] for s in fit.stages]
    assert shares == sorted(shares)
    assert shares[-1] > 0.8
    assert fit.started_at is not None
    assert fit.finished_at is not None
    # Tags was written after each deal closed: flagged, and left out.
    checks = {c["name"]: c for c in fit.fields}
    assert checks["Tags"]["flagged"]
    assert "after the outcome" in checks["Tags"]["why"]
    assert "Tags" not in fit.used_fields
    assert "Lead Origin" in fit.used_fields
    assert fit.n == 80
    assert fit.positives == 40
    assert fit.data_summary["base_rate"] == 0.5
    assert fit.data_summary["fields_flagged"] == ["Tags"]
    assert 0.5 < fit.metrics["auc"] <= 1
    assert 0 < fit.metrics["brier"] < 0.25
    assert fit.kind in ("gradient boosting", "logistic regression")
    assert len(fit.calibration) >= 2
    assert sum(b[2] for b in fit.calibration) == 80
    # Everyone is scored: each person and the account.
    assert fit.scored == len(people) + 2
    assert Prediction.objects.filter(fit=fit, person__isnull=False).count() == len(people) + 1
    assert Prediction.objects.get(fit=fit, account=company).probability >= 0
    referral = Prediction.objects.get(person=people[0]).probability  # Reference
    ads = Prediction.objects.get(person=newcomer)
    assert ads.probability < referral
    assert any(r["field"] == "Lead Origin" and r["effect"] < 0 for r in ads.reasons)
    assert all(r["words"] for r in ads.reasons)
    assert AuditEntry.objects.filter(action="model.refit", actor=marketer).count() == 1


def test_a_second_refit_while_one_runs_is_refused_unless_its_worker_was_lost() -> None:
    model = _win_model()
    first = services.model_refit(model=model, actor=None)

    with pytest.raises(services.FitAlreadyRunning, match="already running"):
        services.model_refit(model=model, actor=None)

    ModelFit.objects.filter(pk=first.pk).update(
        status=FitStatus.RUNNING, progress_at=clock.now(), progress=0.4
    )
    with pytest.raises(services.FitAlreadyRunning, match="40% done"):
        services.model_refit(model=model, actor=None)

    with clock.frozen_at(clock.now() + dt.timedelta(hours=1)):
        second = services.model_refit(model=model, actor=None)
    first.refresh_from_db()
    assert first.status == FitStatus.FAILED
    assert "worker stopped" in first.error
    assert second.status == FitStatus.QUEUED


def test_a_failed_fit_says_why_and_the_last_good_fit_stays_current(
    run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = factories.win_history(cases=60, leak=False)
    model = _win_model()
    good = _refit(model, run_worker, django_capture_on_commit_callbacks)
    assert good.status == FitStatus.DONE, good.error
    before = Prediction.objects.get(person=people[1]).probability

    Opportunity.objects.update(status="lost")  # only one outcome left: nothing to learn
    failed = _refit(model, run_worker, django_capture_on_commit_callbacks)

    assert failed.status == FitStatus.FAILED
    assert failed.error.startswith("Too little evidence")
    assert "0 cases with the outcome" in failed.error
    assert not failed.is_current
    good.refresh_from_db()
    assert good.is_current
    kept = Prediction.objects.get(person=people[1])
    assert kept.fit_id == good.pk
    assert kept.probability == before
    assert not Prediction.objects.filter(fit=failed).exists()


def test_a_next_step_model_scores_those_at_the_step_now(
    run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with clock.frozen_at(factories.MONDAY_10):
        first, waiting = factories.step_history(cases=60, waiting=4)
        services.models_ensure()
        model = PredictionModel.objects.get(question=Question.NEXT_STEP, step=first)
        fit = _refit(model, run_worker, django_capture_on_commit_callbacks)

    assert fit.status == FitStatus.DONE, fit.error
    assert fit.n == 60
    assert fit.data_summary["horizon_days"] == 30
    scored = Prediction.objects.filter(fit=fit)
    assert sorted(scored.values_list("person_id", flat=True)) == sorted(p.pk for p in waiting)
    buyer = scored.get(person=waiting[0]).probability
    researcher = scored.get(person=waiting[1]).probability
    assert buyer > researcher


def test_field_choices_name_the_field_and_count_from_the_next_refit() -> None:
    model = _win_model()
    ModelFit.objects.create(
        model=model,
        status=FitStatus.DONE,
        finished_at=clock.now(),
        fields=[
            {"name": "Tags", "flagged": True, "why": "Filled in after the outcome"},
            {"name": "Lead Origin", "flagged": False, "why": "No sign of leaking"},
        ],
    )
    marketer = factories.user(role=Role.MARKETING)

    with pytest.raises(ValidationError) as unknown:
        services.model_fields_set(model=model, field="Shoe size", choice="use", actor=marketer)
    assert "Shoe size" in unknown.value.message_dict["field"][0]
    with pytest.raises(ValidationError) as not_flagged:
        services.model_fields_set(model=model, field="Lead Origin", choice="use", actor=marketer)
    assert "not flagged" in not_flagged.value.message_dict["field"][0]
    with pytest.raises(ValidationError) as bad_choice:
        services.model_fields_set(model=model, field="Tags", choice="maybe", actor=marketer)
    assert "choice" in bad_choice.value.message_dict

    services.model_fields_set(model=model, field="Tags", choice="use", actor=marketer)
    services.model_fields_set(model=model, field="Lead Origin", choice="leave_out", actor=marketer)
    model.refresh_from_db()
    assert model.included_fields == ["Tags"]
    assert model.excluded_fields == ["Lead Origin"]

    services.model_fields_set(model=model, field="Tags", choice="auto", actor=marketer)
    model.refresh_from_db()
    assert model.included_fields == []
    actions = AuditEntry.objects.filter(action="model.fields", actor=marketer)
    assert [a.data for a in actions.order_by("pk")] == [
        {"field": "Tags", "choice": "use"},
        {"field": "Lead Origin", "choice": "leave_out"},
        {"field": "Tags", "choice": "auto"},
    ]
