"""First-touch deadline arithmetic: how many deadlines a second, and how long 1000 take.

    python bench/business_hours.py              # 1000 requests a batch, 20 batches
    python bench/business_hours.py --batch 5000 --rounds 5

Pure computation, no database or server: a Berlin team with a lunch break, a Saturday and German
holidays, requests arriving at random moments over 2026-2027 with every request kind. The first
batch runs with empty caches (holiday tables, parsed hours) and is reported on its own; the rest
are warm, which is what routing sees after its first request. Prints JSON lines; the last one is
{"metric": "first_touch_due_per_s", "value": N} (warm, median batch). `--database-url` is
accepted, like every bench's, and said on standard error to be unused.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import add_database_argument, database_unused, emit
from leadline.routing import business_hours
from leadline.routing.business_hours import DEFAULT_FIRST_TOUCH, WorkingHours, first_touch_due

HOURS_TEXT = "Mon-Fri 09:00-12:30, 13:30-17:30; Sat 10:00-14:00"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = int(timedelta(days=730).total_seconds())


def requests(n: int, seed: int) -> list[tuple[datetime, str, bool]]:
    rng = random.Random(seed)
    kinds = list(DEFAULT_FIRST_TOUCH)
    return [
        (START + timedelta(seconds=rng.randrange(SPAN_S)), rng.choice(kinds), rng.random() < 0.3)
        for _ in range(n)
    ]


def batch_seconds(batch: list[tuple[datetime, str, bool]]) -> float:
    began = time.perf_counter()
    for received_at, kind, wants_contact in batch:
        # As routing does it: the team's stored text read for every request.
        hours = WorkingHours.parse(HOURS_TEXT, time_zone="Europe/Berlin", holiday_country="DE")
        first_touch_due(
            received_at=received_at, kind=kind, wants_contact=wants_contact, hours=hours
        )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1000, help="deadlines per batch")
    parser.add_argument("--rounds", type=int, default=20, help="warm batches")
    add_database_argument(parser)
    args = parser.parse_args()
    database_unused(args, "business_hours.py")

    business_hours._public_holidays.cache_clear()
    business_hours._parse_week.cache_clear()
    cold = batch_seconds(requests(args.batch, seed=0))
    warm = [batch_seconds(requests(args.batch, seed=n)) for n in range(1, args.rounds + 1)]
    median = statistics.median(warm)

    emit(f"first_touch_due_{args.batch}_cold_ms", cold * 1000, "ms")
    emit(f"first_touch_due_{args.batch}_ms", median * 1000, "ms")
    emit(f"first_touch_due_{args.batch}_max_ms", max(warm) * 1000, "ms")
    emit("first_touch_due_per_s", args.batch / median, "1/s")


if __name__ == "__main__":
    main()
