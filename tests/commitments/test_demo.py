"""The demo's promises: made in its conversations, with every fate, and nothing left for the
worker to catch up on (no overdue timer, no mail about the past waiting to go out)."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from leadline.commitments.models import Commitment, CommitmentStatus, CommitmentTimer
from leadline.core import clock
from leadline.demo.commitments import commitments_demo
from leadline.notify.models import OutgoingMail, SendStatus

pytestmark = pytest.mark.django_db


def test_the_demo_has_promises_of_every_fate() -> None:
    call_command("demo_data", people=40, seed=3, stdout=io.StringIO())

    promises = list(Commitment.objects.select_related("conversation"))
    assert len(promises) >= 10
    assert all(p.conversation is not None for p in promises)
    assert all(p.person in p.conversation.people.all() for p in promises)  # type: ignore[union-attr]
    statuses = {p.status for p in promises}
    assert {CommitmentStatus.KEPT, CommitmentStatus.BROKEN} <= statuses
    assert any(p.kept_late for p in promises)
    assert any(p.kept_on_time for p in promises)
    assert not CommitmentTimer.objects.filter(
        done_at__isnull=True, due_at__lte=clock.now()
    ).exists()
    assert not OutgoingMail.objects.filter(
        reason__startswith="commitment.", status=SendStatus.QUEUED
    ).exists()
    # Once: a second run adds nothing, and quickly.
    started = time.perf_counter()
    assert commitments_demo(now=clock.now()) == 0
    assert time.perf_counter() - started < 1
