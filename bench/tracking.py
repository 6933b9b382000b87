"""Web tracking's hot path (POST /t/collect) against a bare endpoint on the same server.

    python bench/tracking.py                 # starts its own server (SQLite unless
                                             # LEADLINE_DATABASE_URL says otherwise)
    python bench/tracking.py --database-url postgres://...
                                             # its own server on a fresh PostgreSQL database
    python bench/tracking.py --worker        # the worker processes the batches meanwhile
    python bench/tracking.py --insert-floor  # also against /bench/bare/: one insert, no checks
    python bench/tracking.py --url http://127.0.0.1:8000/ --site demo-site
                                             # a running server started with
                                             # LEADLINE_BENCH_ENDPOINTS=1 and a high
                                             # LEADLINE_TRACKING_RATE_LIMIT

Posts batches of 10 events, as t.js sends them (text/plain JSON: a visitor id and 10 page views),
to `/t/collect` and the very same bodies to `/bench/bare-204/` (reads the body, answers 204; mounted
with LEADLINE_BENCH_ENDPOINTS=1), in alternating rounds, as bench/capture.py's ratio phase does
(its helpers are used here). Prints JSON lines {"metric": ..., "value": ..., "unit": ...}: p50 and
p99 latency, requests/s and events/s for each; the last line is
{"metric": "tracking_vs_bare", "value": R}, tracking events/s over bare events/s.

Without `--worker` nothing processes the stored batches while the bench runs (the drain task
stays queued), so what is measured is the hot path alone. With it, the worker turns the batches
into visitors and events meanwhile, and afterwards the bench waits for it to finish and says how
long that took.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture import Phase, _django_for, _run_phase, load_arguments
from common import (
    FRESH_DATABASE_HELP,
    add_database_argument,
    database_from,
    database_kind,
    emit,
    percentile,
)

BARE_PATH = "/bench/bare-204/"
BARE_INSERT_PATH = "/bench/bare/"  # bench/capture.py's floor: reads the body, inserts one row
TRACKING_PATH = "/t/collect"
EVENTS_PER_BATCH = 10
VISITORS = 2000  # distinct visitor ids the batches come from
PAGES = ["/", "/pricing", "/solutions/finance", "/blog/month-end-close", "/customers", "/contact"]
OK = {"tracking": 202, "bare": 204, "bare_insert": 201}
DRAIN_STALL = 60.0  # seconds without the worker processing one more batch: give up


def _body(site: str, run_id: str, n: int) -> bytes:
    now = dt.datetime.now(dt.UTC)
    events = []
    for i in range(EVENTS_PER_BATCH):
        path = PAGES[(n + i) % len(PAGES)]
        events.append(
            {
                "name": "page_view",
                "url": f"https://www.bench.example{path}?utm_source=bench",
                "path": path,
                "title": f"Bench page {path}",
                "referrer": "https://search.example/",
                "occurred_at": (now - dt.timedelta(seconds=EVENTS_PER_BATCH - i)).isoformat(),
                "properties": {"n": n, "i": i},
            }
        )
    data = {"site": site, "visitor_id": f"bench-{run_id}-{n % VISITORS}", "events": events}
    return json.dumps(data).encode()


def measure(url: str, site: str, args: argparse.Namespace) -> int:
    parts = urlsplit(url)
    target = (parts.hostname or "127.0.0.1", parts.port or 80)
    run_id = uuid.uuid4().hex[:8]
    bare = Phase("bare", BARE_PATH)
    tracking = Phase("tracking", TRACKING_PATH)
    phases = [bare, tracking]
    if args.insert_floor:
        phases.append(Phase("bare_insert", BARE_INSERT_PATH))
    processes = args.processes
    threads = max(1, args.concurrency // processes)
    per_round = max(1, args.requests // args.rounds)
    print(
        f"bench: {url} — {args.requests} batches of {EVENTS_PER_BATCH} events per endpoint "
        f"({', '.join(p.path for p in phases)}) in {args.rounds} alternating rounds, "
        f"concurrency {processes}×{threads}, after {args.warmup} warm-up batches each; machine "
        f"load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    with ProcessPoolExecutor(max_workers=processes) as pool:
        # As t.js sends them: text/plain, so that a beacon needs no CORS preflight.
        options = {
            "body": functools.partial(_body, site, run_id),
            "content_type": "text/plain;charset=UTF-8",
            "processes": processes,
            "threads": threads,
            "per_connection": args.requests_per_connection,
        }
        for phase in phases:
            _run_phase(pool, target, phase, count=args.warmup, record=False, **options)
        for round_number in range(args.rounds):
            # Alternate who goes first, so neither always follows the other's backlog.
            order = phases if round_number % 2 == 0 else phases[::-1]
            for phase in order:
                _run_phase(pool, target, phase, count=per_round, record=True, **options)

    failures = 0
    rates = {}
    for phase in phases:
        bad = {s: n for s, n in phase.statuses.items() if s != OK[phase.kind]}
        if bad:
            failures += sum(bad.values())
            print(f"bench: {phase.kind}: unexpected answers by status {bad}", file=sys.stderr)
        good = len(phase.latencies) - sum(bad.values())
        rates[phase.kind] = good * EVENTS_PER_BATCH / phase.seconds
        emit(f"{phase.kind}_p50_latency", statistics.median(phase.latencies), "ms")
        emit(f"{phase.kind}_p99_latency", percentile(phase.latencies, 0.99), "ms")
        emit(f"{phase.kind}_throughput", len(phase.latencies) / phase.seconds, "req/s")
        emit(f"{phase.kind}_events_per_s", rates[phase.kind], "events/s")
        emit(f"{phase.kind}_errors", sum(bad.values()), "requests")
    if args.drain_env is not None:
        failures += _drain(run_id, args.drain_env)
    if args.insert_floor:
        emit("bare_insert_vs_bare", rates["bare_insert"] / rates["bare"])
        emit("tracking_vs_bare_insert", rates["tracking"] / rates["bare_insert"])
    emit("tracking_vs_bare", rates["tracking"] / rates["bare"])
    return 1 if failures else 0


def _drain(run_id: str, env: dict[str, str]) -> int:
    """With the worker running: wait until it processed every batch of this run; print how long
    that took after the load ended. Returns the number of batches left unprocessed."""
    _django_for(env)
    from django.db import connections

    from leadline.journeys.models import Event, EventBatch

    batches = EventBatch.objects.filter(visitor_id__startswith=f"bench-{run_id}-")
    began = progressed = time.monotonic()
    last = -1
    try:
        while (waiting := batches.exclude(status="processed").count()) > 0:
            if waiting != last:
                last, progressed = waiting, time.monotonic()
            elif time.monotonic() - progressed > DRAIN_STALL:
                print(f"bench: the worker left {waiting} batches unprocessed", file=sys.stderr)
                return waiting
            time.sleep(0.5)
        events = Event.objects.filter(visitor__visitor_id__startswith=f"bench-{run_id}-").count()
    finally:
        connections.close_all()
    emit("tracking_worker_caught_up_after", time.monotonic() - began, "s")
    emit("tracking_worker_events", events, "events")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (else one is started for the run)")
    parser.add_argument("--site", default="demo-site", help="the tracking site's key")
    load_arguments(parser, what="batches per endpoint")
    parser.add_argument(
        "--insert-floor",
        action="store_true",
        help="also post the bodies to /bench/bare/ (reads the body, inserts one row), in the same "
        "rounds: what one SQLite insert per request costs on its own",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="own server: run the background worker meanwhile, and wait for it to catch up",
    )
    add_database_argument(
        parser,
        what=f"{FRESH_DATABASE_HELP}. With --url: the running server's database, used as it is "
        "(not read unless the worker is waited for)",
    )
    args = parser.parse_args(argv)
    database_url = database_from(args)
    args.drain_env = None
    if args.url:
        return measure(args.url, args.site, args)

    # The server is the one the tests start (tests/server.py), from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.server import running_leadline

    print(
        f"bench: starting Leadline on {database_kind(database_url)} with "
        f"{args.web_processes} web processes…",
        file=sys.stderr,
    )
    with running_leadline(
        web_workers=args.web_processes,
        worker=args.worker,
        extra_env={
            "LEADLINE_BENCH_ENDPOINTS": "1",
            "LEADLINE_TRACKING_RATE_LIMIT": "100000000/60",
        },
    ) as server:
        if args.worker:
            args.drain_env = server.env
        return measure(server.url, args.site, args)


if __name__ == "__main__":
    sys.exit(main())
