"""The lead-quality report: marketing sees its leads as sales sees them.

Per source, per form and per campaign (each copied onto the handoff when it was made, so the
report does not shift when the person sends another form later): how many were handed over,
accepted, rejected — by reason —, still open, and won (count, share of those handed over, and
the revenue the won deals brought).
Filtered by the day the handoff was made. A fixed number of queries, whatever the volume.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from leadline.engagement.models import (
    UNDECIDED,
    Handoff,
    HandoffStatus,
    OpportunityStatus,
    RejectionReason,
)

NONE = "(none)"
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    # key, field on Handoff, heading
    ("source", "source", "Source"),
    ("form", "form_name", "Form"),
    ("campaign", "campaign", "Campaign"),
)


@dataclasses.dataclass
class Row:
    name: str
    handed_over: int = 0
    accepted: int = 0
    rejected: int = 0
    open: int = 0
    won: int = 0
    # What the won deals brought: sales' outcome fed back to the source that found the lead.
    won_revenue: Decimal = Decimal(0)
    rejected_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    # The same, in the order of Report.reasons (for a table's columns).
    reason_counts: list[int] = dataclasses.field(default_factory=list)

    @property
    def won_percent(self) -> int | None:
        """Won, as a whole percentage of those handed over (None: none handed over)."""
        if not self.handed_over:
            return None
        return round(100 * self.won / self.handed_over)

    @property
    def accepted_percent(self) -> int | None:
        if not self.handed_over:
            return None
        return round(100 * self.accepted / self.handed_over)

    def reasons_in(self, names: list[str]) -> list[int]:
        return [self.rejected_by_reason.get(name, 0) for name in names]


@dataclasses.dataclass
class Table:
    key: str
    heading: str
    rows: list[Row]


@dataclasses.dataclass
class Report:
    start: dt.date | None
    end: dt.date | None
    tables: list[Table]
    total: Row
    reasons: list[str]  # the reasons that occur, in the list's order

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def handoffs_between(*, start: dt.date | None, end: dt.date | None) -> QuerySet[Handoff]:
    """Handoffs made from `start` to `end` (whole days in the current time zone, both ends in)."""
    rows = Handoff.objects.all()
    if start is not None:
        rows = rows.filter(created_at__gte=_day_start(start))
    if end is not None:
        rows = rows.filter(created_at__lt=_day_start(end + dt.timedelta(days=1)))
    return rows


COUNTS = {
    "handed_over": Count("pk"),
    "accepted": Count("pk", filter=Q(status=HandoffStatus.ACCEPTED)),
    "rejected": Count("pk", filter=Q(status=HandoffStatus.REJECTED)),
    "open": Count("pk", filter=Q(status__in=UNDECIDED)),
    "won": Count("pk", filter=Q(opportunity__status=OpportunityStatus.WON)),
    "won_revenue": Sum("opportunity__amount", filter=Q(opportunity__status=OpportunityStatus.WON)),
}


def _fill(row: Row, counts: dict[str, Any]) -> None:
    for name in COUNTS:
        setattr(row, name, counts[name])
    row.won_revenue = counts["won_revenue"] or Decimal(0)  # Sum over no rows is None


def lead_quality(*, start: dt.date | None = None, end: dt.date | None = None) -> Report:
    handoffs = handoffs_between(start=start, end=end)
    tables: list[Table] = []
    used_reasons: set[str] = set()
    for key, field, heading in DIMENSIONS:
        rows: dict[str, Row] = {}
        for values in handoffs.values(field).annotate(**COUNTS).order_by():
            name = values[field] or NONE
            row = rows.setdefault(name, Row(name=name))
            _fill(row, values)
        by_reason: dict[str, dict[str, int]] = defaultdict(dict)
        for values in (
            handoffs.filter(status=HandoffStatus.REJECTED)
            .values(field, "reason__name")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            by_reason[values[field] or NONE][values["reason__name"]] = values["n"]
            used_reasons.add(values["reason__name"])
        for name, counted in by_reason.items():
            rows[name].rejected_by_reason = counted
        ordered = sorted(rows.values(), key=lambda r: (r.name == NONE, -r.handed_over, r.name))
        tables.append(Table(key=key, heading=heading, rows=ordered))
    total = Row(name="All handoffs")
    _fill(total, handoffs.aggregate(**COUNTS))
    reasons = [
        name
        for name in RejectionReason.objects.order_by("position", "name").values_list(
            "name", flat=True
        )
        if name in used_reasons
    ]
    for table in tables:
        for row in table.rows:
            row.reason_counts = row.reasons_in(reasons)
    return Report(start=start, end=end, tables=tables, total=total, reasons=reasons)
