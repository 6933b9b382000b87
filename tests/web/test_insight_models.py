"""The prediction models' pages: the list, a model's figures and calibration plot, the refit
button with its polled progress (the real worker runs the fit), the leakage guard's flags with
"Use anyway" and "Leave out", and the chances on a person's and an account's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leadline.core import clock
from leadline.core.models import Role
from leadline.insight import services
from leadline.insight.models import FitStatus, ModelFit, Prediction, PredictionModel, Question
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


HTMX = {"HTTP_HX_REQUEST": "true"}


def _win_model() -> PredictionModel:
    services.models_ensure()
    return PredictionModel.objects.get(question=Question.WIN)


def _done_fit(model: PredictionModel, **extra: Any) -> ModelFit:
    """A finished fit as the worker stores it (figures of a small history)."""
    values: dict[str, Any] = {
        "status": FitStatus.DONE,
        "is_current": True,
        "progress": 1.0,
        "finished_at": clock.now(),
        "kind": "logistic regression",
        "metrics": {
            "auc": 0.812,
            "brier": 0.171,
            "brier_base_rate": 0.25,
            "auc_gradient_boosting": 0.801,
            "auc_logistic": 0.815,
            "folds": 5.0,
        },
        "calibration": [[0.2, 0.25, 40], [0.5, 0.45, 40], [0.8, 0.78, 40]],
        "fields": [
            {
                "name": "Tags",
                "single_auc": 0.99,
                "gain": 0.2,
                "after_outcome": 0.97,
                "flagged": True,
                "why": "Filled in after the outcome for 97% of the 120 cases with a time stamp",
            },
            {
                "name": "Lead Origin",
                "single_auc": 0.71,
                "gain": None,
                "after_outcome": 0.0,
                "flagged": False,
                "why": "No sign of leaking the outcome (AUC 0.71 by itself)",
            },
        ],
        "used_fields": ["Lead Origin"],
        "n": 120,
        "positives": 60,
        "data_summary": {
            "cases": 120,
            "positives": 60,
            "base_rate": 0.5,
            "first_outcome": "2026-01-25T09:00:00+00:00",
            "last_outcome": "2026-03-05T09:00:00+00:00",
            "fields_seen": 2,
            "fields_used": ["Lead Origin"],
            "fields_flagged": ["Tags"],
            "fitted_on": "all 120 cases",
            "calibration_method": "sigmoid",
        },
    }
    values.update(extra)
    return ModelFit.objects.create(model=model, **values)


def test_the_list_shows_each_model_with_its_current_figures(marketing_client: Client) -> None:
    model = _win_model()
    _done_fit(model)

    response = marketing_client.get(reverse("web:insight_models"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Winning" in body
    assert "Will the deal be won?" in body
    assert "0.812" in body
    assert "0.171" in body
    assert "Next step from" in body  # one per step of the default journey
    assert body.count("Never fitted") == PredictionModel.objects.count() - 1


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.OUTSIDE_CALLER])
def test_the_model_pages_are_for_insight_roles(role: str, role_client: Any) -> None:
    model = _win_model()
    client = role_client(role)

    assert client.get(reverse("web:insight_models")).status_code == 403
    assert client.get(reverse("web:insight_model", args=[model.pk])).status_code == 403


def test_a_model_page_shows_figures_calibration_data_and_flags(marketing_client: Client) -> None:
    model = _win_model()
    _done_fit(model)

    response = marketing_client.get(reverse("web:insight_model", args=[model.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Cross-validated AUC" in body
    assert "0.812" in body
    assert "always saying the base rate scores 0.250" in body
    assert "Logistic regression</strong> won the cross-validation" in body
    assert "gradient boosting AUC 0.801, logistic regression AUC 0.815" in body
    # The calibration plot, inline, named, with its numbers as a table.
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="calibration-title"', body)
    assert "Perfect calibration" in body
    assert body.count('<td class="num">40</td>') == 3
    assert "n=120 in all" in body
    # The data it learned from.
    assert "25 Jan 2026" in body
    assert "5 Mar 2026" in body
    assert "Fields used (1 of 2)" in body
    # The flag, its reason, and the choices (forms with CSRF).
    assert "Filled in after the outcome for 97%" in body
    assert 'name="choice" value="use"' in body
    assert 'name="choice" value="leave_out"' in body
    assert "csrfmiddlewaretoken" in body
    assert "Refit</button>" in body


def test_a_sales_manager_reads_the_page_but_may_not_refit(role_client: Any) -> None:
    model = _win_model()
    _done_fit(model)
    manager = role_client(Role.SALES_MANAGER)

    page = manager.get(reverse("web:insight_model", args=[model.pk]))
    refit = manager.post(reverse("web:insight_model_refit", args=[model.pk]))
    choose = manager.post(
        reverse("web:insight_model_field", args=[model.pk]), {"field": "Tags", "choice": "use"}
    )

    assert page.status_code == 200
    assert "Refit</button>" not in page.content.decode()
    assert 'value="leave_out"' not in page.content.decode()
    assert refit.status_code == 403
    assert choose.status_code == 403
    assert not ModelFit.objects.filter(status=FitStatus.QUEUED).exists()


def test_a_rep_may_not_refit(role_client: Any) -> None:
    model = _win_model()

    response = role_client(Role.SALES_REP).post(reverse("web:insight_model_refit", args=[model.pk]))

    assert response.status_code == 403
    assert not ModelFit.objects.exists()


def test_refit_shows_progress_polled_until_the_worker_is_done(
    marketing_client: Client, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = factories.win_history(cases=60)
    model = _win_model()
    refit_url = reverse("web:insight_model_refit", args=[model.pk])
    progress_url = reverse("web:insight_model_progress", args=[model.pk])

    with django_capture_on_commit_callbacks(execute=True):
        queued = marketing_client.post(refit_url, **HTMX)
    again = marketing_client.post(refit_url, **HTMX)
    polled = marketing_client.get(progress_url, **HTMX)

    assert queued.status_code == 200
    body = queued.content.decode()
    assert "<progress" in body
    assert f'hx-get="{progress_url}"' in body
    assert 'hx-trigger="every 1s"' in body
    assert "already running" in again.content.decode()
    assert polled.status_code == 200
    assert "Waiting for the worker" in polled.content.decode()

    run_worker()
    finished = marketing_client.get(progress_url, **HTMX)

    assert finished.status_code == 286  # htmx stops polling
    done = finished.content.decode()
    assert "Done" in done
    assert "hx-trigger" not in done
    assert f"scored {len(people)}" in done
    assert "Checking fields for leakage" in done  # the stages it went through
    page = marketing_client.get(reverse("web:insight_model", args=[model.pk])).content.decode()
    assert "Cross-validated AUC" in page
    assert "<svg" in page
    assert "Tags" in page
    assert "Filled in after the outcome" in page


def test_a_failed_fit_says_why_on_the_page(
    marketing_client: Client, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    model = _win_model()  # no history at all
    with django_capture_on_commit_callbacks(execute=True):
        marketing_client.post(reverse("web:insight_model_refit", args=[model.pk]))
    run_worker()

    page = marketing_client.get(reverse("web:insight_model", args=[model.pk])).content.decode()

    assert "Failed" in page
    assert "Too little evidence" in page


def test_use_anyway_and_leave_out(marketing_client: Client) -> None:
    model = _win_model()
    _done_fit(model)
    url = reverse("web:insight_model_field", args=[model.pk])

    used = marketing_client.post(url, {"field": "Tags", "choice": "use"}, follow=True)
    left = marketing_client.post(url, {"field": "Lead Origin", "choice": "leave_out"}, follow=True)
    unknown = marketing_client.post(url, {"field": "Shoe size", "choice": "leave_out"}, follow=True)

    model.refresh_from_db()
    assert model.included_fields == ["Tags"]
    assert model.excluded_fields == ["Lead Origin"]
    assert "“Tags” will be used anyway from the next refit" in used.content.decode()
    assert "Flagged, used anyway" in used.content.decode()
    assert "Left out by you" in left.content.decode()
    assert "There is no field “Shoe size”" in unknown.content.decode()


def test_the_person_and_account_pages_show_chances_with_reasons(role_client: Any) -> None:
    model = _win_model()
    fit = _done_fit(model)
    someone = factories.person(first_name="Ada")
    company = factories.account(name="Initech")
    Prediction.objects.create(
        model=model,
        fit=fit,
        person=someone,
        probability=0.34,
        reasons=[
            {
                "field": "Lead Origin",
                "value": "Reference",
                "effect": 0.12,
                "words": "Lead Origin is Reference: +12 points",
            }
        ],
    )
    Prediction.objects.create(model=model, fit=fit, account=company, probability=0.7, reasons=[])
    rep = role_client(Role.SALES_REP)

    person_page = rep.get(reverse("web:person", args=[someone.pk])).content.decode()
    account_page = rep.get(reverse("web:account", args=[company.pk])).content.decode()

    assert "Chance of winning:" in person_page
    assert "34%" in person_page
    assert "Lead Origin is Reference: +12 points" in person_page
    assert "Chance of winning:" in account_page
    assert "70%" in account_page
    assert "Nothing about them moves it far" in account_page


def test_a_prediction_of_a_fit_no_longer_current_is_not_shown(role_client: Any) -> None:
    model = _win_model()
    old = _done_fit(model, is_current=False)
    someone = factories.person()
    Prediction.objects.create(model=model, fit=old, person=someone, probability=0.5)

    page = role_client(Role.SALES_REP).get(reverse("web:person", args=[someone.pk]))

    assert "Chance of winning" not in page.content.decode()
    assert "No prediction yet" in page.content.decode()
