"""The promises report's figures (insight.commitments) on a small known set of promises."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.commitments.services import (
    commitment_cancel,
    commitment_keep,
    commitment_timers_fire_due,
)
from leadline.core import clock
from leadline.core.models import User
from leadline.insight.commitments import commitments_report
from tests import factories

pytestmark = pytest.mark.django_db
MONDAY_10 = factories.MONDAY_10  # Mon 23 Nov 2026, 10:00 UTC
DAY = dt.timedelta(days=1)
NOW = MONDAY_10 + 10 * DAY  # Thu 3 Dec: when the report is read


def known_promises() -> tuple[User, User]:
    """Rita: 6 promises (one of each fate), Sam: 2, and one of Rita's made before the period."""
    rita = factories.user(username="rita", first_name="Rita")
    sam = factories.user(username="sam", first_name="Sam")
    with clock.frozen_at(MONDAY_10 - 30 * DAY):
        factories.commitment(promised_by=rita, what="Long ago", due_at=MONDAY_10 - 29 * DAY)
    with clock.frozen_at(MONDAY_10):
        on_time = factories.commitment(promised_by=rita, due_at=MONDAY_10 + DAY)
        late = factories.commitment(promised_by=rita, due_at=MONDAY_10 + DAY)
        factories.commitment(promised_by=rita, what="Still not done", due_at=MONDAY_10 + 2 * DAY)
        factories.commitment(promised_by=rita, what="Not yet due", due_at=NOW + DAY)
        dropped = factories.commitment(promised_by=rita, due_at=MONDAY_10 + 5 * DAY)
        broken_then_dropped = factories.commitment(promised_by=rita, due_at=MONDAY_10 + DAY)
        sams_on_time = factories.commitment(promised_by=sam, due_at=MONDAY_10 + 3 * DAY)
        # The worker has not reached this one yet: open, but past due.
        unseen = factories.commitment(promised_by=sam, due_at=MONDAY_10 + 9 * DAY)
    with clock.frozen_at(MONDAY_10 + 2 * 3600 * dt.timedelta(seconds=1)):
        commitment_keep(commitment=on_time, actor=rita)
        commitment_keep(commitment=sams_on_time, actor=sam)
        commitment_cancel(commitment=dropped, actor=rita, reason="They went elsewhere")
    with clock.frozen_at(MONDAY_10 + 3 * DAY):
        commitment_timers_fire_due()  # breaks `late`, `broken_then_dropped`, "Still not done"
        commitment_keep(commitment=late, actor=rita)
        commitment_cancel(commitment=broken_then_dropped, actor=rita, reason="No longer needed")
    assert unseen.status == "open"
    return rita, sam


def test_the_figures_per_seller_and_in_total() -> None:
    rita, sam = known_promises()

    report = commitments_report(
        start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 3), tz=dt.UTC, at=NOW
    )

    rows = {row.seller: row for row in report.rows}
    assert [row.seller for row in report.rows] == [rita, sam]  # most promises first
    r, s = rows[rita], rows[sam]
    assert (r.made, r.kept_on_time, r.kept_late, r.broken, r.open_overdue) == (6, 1, 1, 3, 1)
    assert (r.open_not_due, r.cancelled) == (1, 2)
    assert r.kept_rate == pytest.approx(1 / 4)  # 1 on time of the 4 that fell due
    assert (s.made, s.kept_on_time, s.kept_late, s.broken, s.open_overdue) == (2, 1, 0, 1, 1)
    assert s.kept_rate == pytest.approx(1 / 2)
    assert report.total.made == 8
    assert report.total.broken == 4
    assert report.total.kept_rate == pytest.approx(2 / 6)


def test_the_period_counts_promises_by_the_day_they_were_made() -> None:
    rita, _sam = known_promises()

    before = commitments_report(
        start=dt.date(2026, 10, 1), end=dt.date(2026, 11, 22), tz=dt.UTC, at=NOW
    )
    assert [(row.seller, row.made, row.broken) for row in before.rows] == [(rita, 1, 1)]
    # Days are the reader's: Monday 23 Nov 10:00 UTC is still Sunday twelve hours west.
    west = commitments_report(
        start=dt.date(2026, 11, 22),
        end=dt.date(2026, 11, 22),
        tz=dt.timezone(dt.timedelta(hours=-12)),
        at=NOW,
    )
    assert west.total.made == 8
    empty = commitments_report(
        start=dt.date(2026, 11, 25), end=dt.date(2026, 12, 3), tz=dt.UTC, at=NOW
    )
    assert empty.rows == []
    assert empty.total.kept_rate is None


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end"):
        commitments_report(start=dt.date(2026, 12, 1), end=dt.date(2026, 11, 1), tz=dt.UTC)
