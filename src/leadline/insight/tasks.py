"""Background work for insight: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def model_fit_task(fit_id: int) -> None:
    """Fit a model, score everyone it predicts for, and make the fit current (or mark it
    failed, with why)."""
    from leadline.insight.services import model_fit_run

    model_fit_run(fit_id=fit_id)


@task()
def report_snapshot_task(snapshot_id: int) -> None:
    """Compute a report from the whole history for the pages to show (decision 15)."""
    from leadline.insight.snapshots import snapshot_refresh

    snapshot_refresh(snapshot_id=snapshot_id)
