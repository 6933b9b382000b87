"""Prediction models through the API: list and read them, refit one in the real worker and
follow its progress, choose fields, and read a person's or an account's chances."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadline.core.models import AuditEntry, Role
from leadline.insight import services
from leadline.insight.models import FitStatus, ModelFit, PredictionModel, Question
from tests import factories
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def post(api: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return api.post(url, body or {}, content_type="application/json")


def _win_model() -> PredictionModel:
    services.models_ensure()
    return PredictionModel.objects.get(question=Question.WIN)


def test_refit_follow_the_fit_and_read_the_chances(
    run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = factories.win_history(cases=60)
    api = bearer(factories.user(role=Role.MARKETING))

    listed = api.get("/api/v1/insight/models")
    assert listed.status_code == 200, listed.content
    win = next(m for m in listed.json() if m["question"] == "win")
    assert win["status"] is None
    assert win["auc"] is None
    assert any(m["question"] == "next_step" for m in listed.json())

    with django_capture_on_commit_callbacks(execute=True):
        refit = post(api, f"/api/v1/insight/models/{win['id']}/refit")
    assert refit.status_code == 202, refit.content
    fit_id = refit.json()["fit_id"]
    busy = post(api, f"/api/v1/insight/models/{win['id']}/refit")
    assert busy.status_code == 409
    assert "already running" in busy.json()["detail"]
    waiting = api.get(f"/api/v1/insight/fits/{fit_id}").json()
    assert waiting["status"] == "queued"
    assert waiting["progress"] == 0

    run_worker()

    done = api.get(f"/api/v1/insight/fits/{fit_id}").json()
    assert done["status"] == "done"
    assert done["progress"] == 1
    assert done["is_current"]
    assert [s["stage"] for s in done["stages"]][:2] == [
        "Reading the history",
        "Checking fields for leakage",
    ]
    model = api.get(f"/api/v1/insight/models/{win['id']}").json()
    current = model["current_fit"]
    assert current["id"] == fit_id
    assert 0.5 < current["metrics"]["auc"] <= 1
    assert current["metrics"]["brier"] < 0.25
    assert {f["name"] for f in current["fields"] if f["flagged"]} == {"Tags"}
    assert "Tags" not in current["used_fields"]
    assert sum(b[2] for b in current["calibration"]) == 60
    assert current["data_summary"]["cases"] == 60

    chances = api.get(f"/api/v1/insight/predictions?person_id={people[0].pk}")
    assert chances.status_code == 200, chances.content
    [chance] = chances.json()
    assert chance["model_id"] == win["id"]
    assert chance["question"] == "win"
    assert 0 <= chance["probability"] <= 1
    assert chance["fit_id"] == fit_id
    assert isinstance(chance["reasons"], list)


def test_a_rep_reads_chances_but_may_not_refit_or_read_models() -> None:
    model = _win_model()
    api = bearer(factories.user(role=Role.SALES_REP))
    someone = factories.person()

    refit = post(api, f"/api/v1/insight/models/{model.pk}/refit")
    models = api.get("/api/v1/insight/models")
    chances = api.get(f"/api/v1/insight/predictions?person_id={someone.pk}")

    assert refit.status_code == 403
    assert refit.json()["missing"] == "access_model_refit"
    assert models.status_code == 403
    assert chances.status_code == 200
    assert chances.json() == []
    assert not ModelFit.objects.exists()


def test_bad_input_names_the_field() -> None:
    model = _win_model()
    ModelFit.objects.create(
        model=model,
        status=FitStatus.DONE,
        fields=[{"name": "Tags", "flagged": True, "why": "after the outcome"}],
    )
    api = bearer(factories.user(role=Role.MARKETING))
    url = f"/api/v1/insight/models/{model.pk}/fields"

    unknown = post(api, url, {"field": "Shoe size", "choice": "use"})
    bad_choice = post(api, url, {"field": "Tags", "choice": "maybe"})
    neither = api.get("/api/v1/insight/predictions")
    both = api.get("/api/v1/insight/predictions?person_id=1&account_id=2")
    missing = api.get("/api/v1/insight/models/999999")
    no_fit = api.get("/api/v1/insight/fits/999999")
    used = post(api, url, {"field": "Tags", "choice": "use"})

    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"][-1] == "field"
    assert "Shoe size" in unknown.json()["detail"][0]["msg"]
    assert bad_choice.status_code == 422
    assert bad_choice.json()["detail"][0]["loc"][-1] == "choice"
    assert neither.status_code == 422
    assert "person_id or account_id" in neither.content.decode()
    assert both.status_code == 422
    assert missing.status_code == 404
    assert no_fit.status_code == 404
    assert used.status_code == 200
    assert used.json()["included_fields"] == ["Tags"]
    assert AuditEntry.objects.filter(action="model.fields").count() == 1
