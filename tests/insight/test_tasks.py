"""The demo's prediction part: past deals made deterministically from the people, and the
models' first fits queued for the real worker, which fits and scores them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from leadline.core import clock
from leadline.demo.insight import insight_demo, past_deals_make
from leadline.engagement.models import Opportunity
from leadline.insight.models import FitStatus, ModelFit, Prediction, Question
from leadline.insight.tasks import model_fit_task
from tests import factories

pytestmark = pytest.mark.django_db

NOW = factories.MONDAY_10


def _people(n: int) -> list[Any]:
    """People first seen months ago; every third showed a keen signal early on."""
    people = []
    for i in range(n):
        seen = NOW - dt.timedelta(days=200 - i % 60)
        someone = factories.person(email=f"buyer{i}@demo{i}.example", created_at=seen)
        if i % 3 == 0:
            factories.buyer_event(person=someone, name="webinar_attended", at=seen)
        people.append(someone)
    return people


def _fates() -> dict[str, str]:
    return {
        email: status
        for email, status in Opportunity.objects.filter(person__emails__is_primary=True)
        .values_list("person__emails__email", "status")
        .order_by()
    }


def test_past_deals_depend_on_the_people_alone() -> None:
    _people(60)

    made = past_deals_make(now=NOW)
    first = _fates()
    Opportunity.objects.all().delete()
    past_deals_make(now=NOW)

    assert made == len(first)
    assert 20 < made < 60
    assert _fates() == first
    assert set(first.values()) == {"won", "lost"}
    deal = Opportunity.objects.first()
    assert deal is not None
    assert deal.closed_at is not None
    assert deal.closed_at < NOW
    # The close reason was written after the deal closed: the guard's to find.
    written = dt.datetime.fromisoformat(deal.attributes_at["Close reason"])
    assert written == deal.closed_at + dt.timedelta(days=1)


def test_the_demo_queues_first_fits_and_the_worker_runs_them(
    run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = _people(90)
    with clock.frozen_at(NOW), django_capture_on_commit_callbacks(execute=True):
        said = insight_demo(now=NOW)

    assert said["Winning"] == FitStatus.QUEUED
    queued = DBTaskResult.objects.filter(task_path=model_fit_task.module_path)
    assert queued.count() == len(said) - 1  # one per model, beside "seconds"

    run_worker()

    winning = ModelFit.objects.get(model__question=Question.WIN)
    assert winning.status == FitStatus.DONE, winning.error
    assert "Close reason" in winning.data_summary["fields_flagged"]
    close_reason = next(c for c in winning.fields if c["name"] == "Close reason")
    assert close_reason["after_outcome"] == 1.0
    assert Prediction.objects.filter(fit=winning, person=people[0]).exists()
