"""Server time of the SLA board and the funnel reports, on the database you name.

    python bench/reports.py --database-url postgres://root@%2Fvar%2Frun%2Fpostgresql/scale100k
    python bench/reports.py --database-url postgres://... --runs 10 --page sla
    python bench/reports.py --database-url postgres://... --refresh   # report summaries first

Each page is asked for in this process through Django's test client, logged in (force_login) as
a user whose role the page lets in: `/sla/` as a sales manager (the demo's `sam` when there,
else the first manager) on the team it opens on, and on all teams as the admin; the funnel
reports as the admin. One warm-up request,
then `--runs` measured ones; the time is from the request to the answer's last byte, in the
process, so it is the server's time without a network. The database named is only read, but
for the report snapshots (decision 15): a big database's page shows the snapshot the worker
computed, and asks for one when it is missing or stale; `--refresh` computes those the pages
open on first (`insight.snapshots.snapshots_rebuild`), for a data set loaded without a worker.
A page still waiting for its first snapshot is a failure (exit 1), not a measurement. Each
line says whether the page computed its report (`"source": "live"`) or showed a snapshot.

Prints one JSON line per page: {"metric": "report_<page>_p95_ms", "value", "unit": "ms",
"p50_ms", "max_ms", "queries", "runs", "path"}; the last line is
{"metric": "reports_worst_p95_ms", "value": X}. The target (issue 8) is X ≤ 2000 on the
1M-people data set. Exits 1 when a page answers anything but 200.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import add_database_argument, database_from, database_kind, emit, percentile, say

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 2000.0

# (name, role wanted, how to build the path)
PAGES = ("sla", "sla_all_teams", "journey", "lead_quality", "attribution", "winning")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_argument(
        parser,
        what="the database to measure, read as it is (default: LEADLINE_DATABASE_URL, else the "
        "SQLite database in LEADLINE_DATA_DIR)",
    )
    parser.add_argument("--runs", type=int, default=5, help="measured requests per page (5)")
    parser.add_argument(
        "--page", action="append", choices=PAGES, help="only these pages (repeatable)"
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="compute the report snapshots the pages open on before the warm-up "
        "(insight.snapshots.snapshots_rebuild: writes only their own rows)",
    )
    args = parser.parse_args()
    url = database_from(args)
    say(f"database: {database_kind(url)}")

    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from leadline.core.models import Role, User
    from leadline.journeys.models import Journey

    setup_test_environment()  # lets the test client's host in; nothing else here is a test

    if args.refresh:
        from leadline.insight.snapshots import snapshots_rebuild

        started = time.perf_counter()
        snapshots_rebuild(progress=lambda stage, share: say(f"rebuild {share:.0%}: {stage}"))
        say(f"report snapshots rebuilt in {time.perf_counter() - started:.1f} s")

    manager = (
        User.objects.filter(username="sam", role=Role.SALES_MANAGER).first()
        or User.objects.filter(role=Role.SALES_MANAGER, is_active=True).order_by("pk").first()
    )
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    if manager is None or admin is None:
        say("the database has no sales manager or no admin: load a data set first")
        return 1
    journey = Journey.objects.filter(is_default=True).first() or Journey.objects.first()

    targets: dict[str, tuple[User, str]] = {
        "sla": (manager, reverse("web:sla")),
        "sla_all_teams": (admin, reverse("web:sla") + "?team=all"),
        "lead_quality": (admin, reverse("web:lead_quality")),
        "attribution": (admin, reverse("web:attribution")),
        "winning": (admin, reverse("web:insight_winning")),
    }
    if journey is not None:
        targets["journey"] = (
            admin,
            reverse("web:insight_journey", kwargs={"slug": journey.slug}),
        )
    else:
        say("no journey: the journey report is not measured")

    chosen = [name for name in PAGES if name in targets and (not args.page or name in args.page)]
    worst = 0.0
    failed = False
    for name in chosen:
        user, path = targets[name]
        client = Client()
        client.force_login(user)
        timings: list[float] = []
        queries = 0
        for run in range(args.runs + 1):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                body: Any = response.content
                elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                say(f"{name}: {path} answered {response.status_code}")
                failed = True
                break
            del body
            shown = response.context.get("shown") if response.context else None
            source = "live" if shown is None or shown.live else "snapshot"
            if shown is not None and shown.pending:
                say(f"{name}: no snapshot yet (the page shows its progress): run with --refresh")
                failed = True
                break
            if run == 0:
                say(f"{name}: warm-up {elapsed:.0f} ms ({path})")
                continue
            timings.append(elapsed)
            queries = len(captured.captured_queries)
            say(f"{name}: run {run}/{args.runs} {elapsed:.0f} ms, {queries} queries")
        if not timings:
            continue
        p95 = percentile(timings, 0.95)
        worst = max(worst, p95)
        emit(
            f"report_{name}_p95_ms",
            p95,
            "ms",
            p50_ms=round(percentile(timings, 0.5), 1),
            max_ms=round(max(timings), 1),
            queries=queries,
            runs=len(timings),
            path=path,
            source=source,
        )
    emit("reports_worst_p95_ms", worst, "ms", target_ms=TARGET_MS)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
