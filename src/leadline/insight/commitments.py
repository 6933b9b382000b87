"""The promises report: per seller, how many promises they made to prospects in a period and
what became of them.

Of the promises made in the period (by when they were made, in the reader's time zone):
- kept on time: marked kept by their due time;
- kept late: marked kept after it;
- broken: passed their due time unkept, whatever happened after (kept late, cancelled, or
  still not done) — so kept on time + broken are the promises that fell due;
- open, overdue: past their due time and still not kept nor cancelled;
- kept rate: kept on time out of those that fell due (kept on time + broken). Promises not yet
  due, and ones cancelled before their due time, do not count either way.

One query, grouped by seller.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import Count, F, Q

from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.core import clock
from leadline.core.models import User

DEFAULT_DAYS = 90
# The longest period the report reads at once.
MAX_DAYS = 3 * 366


@dataclasses.dataclass(frozen=True)
class SellerPromises:
    seller: User | None  # None: the total row
    made: int
    kept_on_time: int
    kept_late: int
    broken: int
    open_overdue: int
    open_not_due: int
    cancelled: int

    @property
    def fell_due(self) -> int:
        return self.kept_on_time + self.broken

    @property
    def kept_rate(self) -> float | None:
        """Kept on time out of those that fell due; None when none did."""
        return self.kept_on_time / self.fell_due if self.fell_due else None


@dataclasses.dataclass(frozen=True)
class CommitmentsReport:
    start: dt.date
    end: dt.date  # inclusive
    rows: list[SellerPromises]
    total: SellerPromises


def default_period(*, tz: dt.tzinfo, at: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The last DEFAULT_DAYS days up to today, in `tz`."""
    today = (at or clock.now()).astimezone(tz).date()
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def commitments_report(
    *, start: dt.date, end: dt.date, tz: dt.tzinfo, at: dt.datetime | None = None
) -> CommitmentsReport:
    """The figures for promises made from `start` to `end` (both included, days in `tz`), as
    they stand at `at` (now), one row per seller who made any, most promises first."""
    if end < start:
        raise ValueError("end: the period ends before it starts")
    at = at or clock.now()
    since = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    still_to_do = Q(status__in=[CommitmentStatus.OPEN, CommitmentStatus.BROKEN])
    past_due = Q(due_at__lte=at)
    kept = Q(status=CommitmentStatus.KEPT)
    counts = {
        "made": Count("pk"),
        "kept_on_time": Count("pk", filter=kept & Q(kept_at__lte=F("due_at"))),
        "kept_late": Count("pk", filter=kept & Q(kept_at__gt=F("due_at"))),
        "broken": Count(
            "pk",
            filter=Q(broken_at__isnull=False) | (Q(status=CommitmentStatus.OPEN) & past_due),
        ),
        "open_overdue": Count("pk", filter=still_to_do & past_due),
        "open_not_due": Count("pk", filter=still_to_do & Q(due_at__gt=at)),
        "cancelled": Count("pk", filter=Q(status=CommitmentStatus.CANCELLED)),
    }
    # Named n_*: the model has properties called kept_on_time and kept_late.
    figures = (
        Commitment.objects.filter(made_at__gte=since, made_at__lt=until)
        .values("promised_by")
        .annotate(**{f"n_{name}": count for name, count in counts.items()})
        .order_by()
    )
    by_seller: dict[int, dict[str, int]] = {}
    for row in figures:
        found: dict[str, int] = dict(row)  # type: ignore[arg-type]
        by_seller[found["promised_by"]] = {name: found[f"n_{name}"] for name in counts}
    sellers = User.objects.in_bulk(list(by_seller))
    rows = [SellerPromises(seller=sellers[pk], **numbers) for pk, numbers in by_seller.items()]
    rows.sort(key=lambda r: (-r.made, str(r.seller).lower()))
    names = [f.name for f in dataclasses.fields(SellerPromises) if f.name != "seller"]
    total = SellerPromises(
        seller=None, **{name: sum(getattr(r, name) for r in rows) for name in names}
    )
    return CommitmentsReport(start=start, end=end, rows=rows, total=total)
