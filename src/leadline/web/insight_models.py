"""The prediction models' pages (/insight/models/): each model's cross-validated figures, its
calibration, the data it learned from, the leakage guard's flags with the user's choice, and a
refit in the worker with its progress. Also the chances card on a person's and an account's
page (`predictions_context`).

Thin: access checks, then `insight.selectors` / `insight.services`; the plot is drawn by
`web.model_plots`, imported when a model's page is drawn.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_POST

from leadline.core.models import Account, Person, User
from leadline.core.permissions import access_insight, access_model_refit, access_prediction
from leadline.insight import selectors, services
from leadline.insight.models import ModelFit, PredictionModel
from leadline.web.access import is_htmx, page

POLL_EVERY = "1s"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # page() let only a logged-in user with a role through
    return user


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _figures(fit: ModelFit | None) -> dict[str, Any]:
    """A fit's numbers as the page says them."""
    if fit is None:
        return {}
    metrics = fit.metrics or {}
    summary = fit.data_summary or {}
    auc = metrics.get("auc")
    brier = metrics.get("brier")
    brier_base = metrics.get("brier_base_rate")
    base_rate = summary.get("base_rate")
    return {
        "auc": auc,
        "brier": brier,
        "brier_base": brier_base,
        "brier_better": (brier is not None and brier_base is not None and brier < brier_base),
        "auc_gb": metrics.get("auc_gradient_boosting"),
        "auc_logistic": metrics.get("auc_logistic"),
        "folds": int(metrics.get("folds") or 0),
        "base_rate": base_rate,
        "first_outcome": _when(summary.get("first_outcome")),
        "last_outcome": _when(summary.get("last_outcome")),
        "summary": summary,
    }


def _progress_context(model: PredictionModel) -> dict[str, Any]:
    row = selectors.model_row(model=model)
    latest = row.latest
    return {
        "model": model,
        "latest": latest,
        "poll": latest is not None and latest.is_active,
        "poll_every": POLL_EVERY,
    }


@require_GET
@page(access_insight)
def models_list(request: HttpRequest) -> HttpResponse:
    services.models_ensure()  # the default ones, made on first sight (idempotent)
    rows = selectors.models_list()
    context = {
        "nav": "insight_models",
        "rows": [
            {
                "row": row,
                "question": selectors.model_question(row.model),
                "figures": _figures(row.current),
            }
            for row in rows
        ],
    }
    return render(request, "web/insight_models_list.html", context)


@require_GET
@page(access_insight)
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from leadline.web.model_plots import calibration_plot

    model = get_object_or_404(PredictionModel.objects.select_related("step__journey"), pk=pk)
    row = selectors.model_row(model=model)
    current = row.current
    fields = list(current.fields) if current else []
    # Flagged first, then by how much each tells alone.
    fields.sort(key=lambda f: (not f.get("flagged"), -(f.get("single_auc") or 0)))
    context = {
        "nav": "insight_models",
        "question": selectors.model_question(model),
        "current": current,
        "figures": _figures(current),
        "calibration": calibration_plot(current.calibration if current else []),
        "fields": fields,
        "included": set(model.included_fields),
        "excluded": set(model.excluded_fields),
        "may_refit": access_model_refit(request.user),
        **_progress_context(model),
    }
    return render(request, "web/insight_models_detail.html", context)


@require_GET
@page(access_insight)
def model_progress(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(PredictionModel, pk=pk)
    context = {**_progress_context(model), "was_polling": True}
    # 286: htmx stops polling once the fit is done or failed (and shows this last answer).
    return render(
        request, "web/insight_models_progress.html", context, status=200 if context["poll"] else 286
    )


@require_POST
@page(access_model_refit)
def model_refit(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a refit. From the page's button (htmx): the progress again, polling; a refit
    while one runs shows why in its place (200: htmx swaps no error answers). Without htmx:
    back to the page, with a message."""
    model = get_object_or_404(PredictionModel, pk=pk)
    refused = ""
    try:
        services.model_refit(model=model, actor=_user(request))
    except services.FitAlreadyRunning as exc:
        refused = exc.messages[0]
    if is_htmx(request):
        context = {**_progress_context(model), "refused": refused}
        return render(request, "web/insight_models_progress.html", context)
    if refused:
        messages.error(request, refused)
    else:
        messages.success(request, "Refit queued: the worker fits the model and scores everyone.")
    return redirect("web:insight_model", pk=pk)


@require_POST
@page(access_model_refit)
def model_field(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(PredictionModel, pk=pk)
    field = request.POST.get("field", "")
    choice = request.POST.get("choice", "")
    try:
        services.model_fields_set(model=model, field=field, choice=choice, actor=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("web:insight_model", pk=pk)
    said = {
        "use": f"“{field}” will be used anyway",
        "leave_out": f"“{field}” will be left out",
        "auto": f"The leakage guard decides about “{field}” again",
    }[choice]
    messages.success(request, f"{said} from the next refit.")
    return redirect("web:insight_model", pk=pk)


def predictions_context(
    request: HttpRequest, *, person: Person | None = None, account: Account | None = None
) -> dict[str, Any]:
    """What a person's or an account's page needs for its Chances card (empty without the
    role, so the card is not drawn)."""
    if not access_prediction(request.user):
        return {"chances": None}
    return {"chances": selectors.predictions_for(person=person, account=account)}


urlpatterns: list[URLPattern] = [
    path("insight/models/", models_list, name="insight_models"),
    path("insight/models/<int:pk>/", model_detail, name="insight_model"),
    path("insight/models/<int:pk>/progress/", model_progress, name="insight_model_progress"),
    path("insight/models/<int:pk>/refit/", model_refit, name="insight_model_refit"),
    path("insight/models/<int:pk>/fields/", model_field, name="insight_model_field"),
]
