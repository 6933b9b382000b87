"""Capture throughput against a bare Django view that inserts one row, on the same server.

    python bench/capture.py                  # starts its own server (SQLite unless
                                             # LEADLINE_DATABASE_URL says otherwise), no worker
    python bench/capture.py --url http://127.0.0.1:8000/ --slug cfo-guide
                                             # a running server started with
                                             # LEADLINE_BENCH_ENDPOINTS=1 and a high
                                             # LEADLINE_CAPTURE_RATE_LIMIT

Prints JSON lines {"metric": ..., "value": ..., "unit": ...}; the last one is
{"metric": "capture_vs_bare_throughput", "value": R}. Bare and capture run in alternating rounds,
so both meet the same background work (the worker catching up, the database's checkpoints).
The client is several processes of plain keep-alive HTTP connections, far cheaper per request than
the server, so it is not what is measured.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BARE_PATH = "/bench/bare/"
DOMAINS = 50  # companies the bench's people work at; the worker makes one account per domain


def _body(run_id: str, kind: str, n: int) -> bytes:
    email = f"bench-{run_id}-{kind}-{n}@bench{n % DOMAINS}.example"
    data = {
        "email": email,
        "first_name": f"Bench{n}",
        "last_name": "Runner",
        "company": f"Bench {n % DOMAINS}",
        "role_own_words": "I keep the numbers honest",
        "contact_me": n % 2 == 0,
        "consent": True,
        "utm_source": "bench",
    }
    return json.dumps(data).encode()


def _client_process(
    host: str, port: int, path: str, kind: str, run_id: str, first: int, count: int, threads: int
) -> tuple[list[float], float, float, dict[int, int]]:
    """Post `count` submissions over `threads` keep-alive connections.

    Returns (latencies in ms, start, end, responses by status).
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    share = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
    starts = [first + sum(share[:t]) for t in range(threads)]

    def run(start: int, n_requests: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        mine: list[float] = []
        seen: dict[int, int] = {}
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for n in range(start, start + n_requests):
            body = _body(run_id, kind, n)
            began = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
                status = 0
            mine.append((time.perf_counter() - began) * 1000)
            seen[status] = seen.get(status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, number in seen.items():
                statuses[status] = statuses.get(status, 0) + number

    workers = [
        threading.Thread(target=run, args=(starts[t], share[t])) for t in range(threads) if share[t]
    ]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, began, time.monotonic(), statuses


class Phase:
    """Everything measured for one endpoint across the rounds."""

    def __init__(self, kind: str, path: str) -> None:
        self.kind = kind
        self.path = path
        self.latencies: list[float] = []
        self.seconds = 0.0
        self.statuses: dict[int, int] = {}
        self.sent = 0


def _run_phase(
    pool: ProcessPoolExecutor,
    target: tuple[str, int],
    phase: Phase,
    *,
    run_id: str,
    count: int,
    processes: int,
    threads: int,
    record: bool,
) -> None:
    shares = [count // processes + (1 if p < count % processes else 0) for p in range(processes)]
    futures = []
    first = phase.sent
    for share in shares:
        futures.append(
            pool.submit(
                _client_process, *target, phase.path, phase.kind, run_id, first, share, threads
            )
        )
        first += share
    phase.sent = first
    results = [future.result() for future in futures]
    if not record:
        return
    phase.seconds += max(r[2] for r in results) - min(r[1] for r in results)
    for latencies, _, _, statuses in results:
        phase.latencies.extend(latencies)
        for status, number in statuses.items():
            phase.statuses[status] = phase.statuses.get(status, 0) + number


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _emit(metric: str, value: float, unit: str | None = None) -> None:
    line: dict[str, Any] = {"metric": metric, "value": round(value, 3)}
    if unit:
        line["unit"] = unit
    print(json.dumps(line), flush=True)


def measure(url: str, slug: str, args: argparse.Namespace) -> int:
    parts = urlsplit(url)
    target = (parts.hostname or "127.0.0.1", parts.port or 80)
    run_id = uuid.uuid4().hex[:8]
    bare = Phase("bare", BARE_PATH)
    capture = Phase("capture", f"/f/{slug}/")
    processes = args.processes
    threads = max(1, args.concurrency // processes)
    per_round = max(1, args.requests // args.rounds)
    print(
        f"bench: {url} — {args.requests} requests per endpoint in {args.rounds} alternating "
        f"rounds, concurrency {processes}×{threads}, after {args.warmup} warm-up requests each",
        file=sys.stderr,
    )
    with ProcessPoolExecutor(max_workers=processes) as pool:
        options = {"run_id": run_id, "processes": processes, "threads": threads}
        for phase in (bare, capture):
            _run_phase(pool, target, phase, count=args.warmup, record=False, **options)
        for round_number in range(args.rounds):
            # Alternate who goes first, so neither always follows the other's backlog.
            order = (bare, capture) if round_number % 2 == 0 else (capture, bare)
            for phase in order:
                _run_phase(pool, target, phase, count=per_round, record=True, **options)

    failures = 0
    for phase in (bare, capture):
        bad = {s: n for s, n in phase.statuses.items() if s != 201}
        if bad:
            failures += sum(bad.values())
            print(f"bench: {phase.kind}: non-201 answers by status {bad}", file=sys.stderr)
        _emit(f"{phase.kind}_p50_latency", statistics.median(phase.latencies), "ms")
        _emit(f"{phase.kind}_p99_latency", _percentile(phase.latencies, 0.99), "ms")
        _emit(f"{phase.kind}_throughput", len(phase.latencies) / phase.seconds, "req/s")
        _emit(f"{phase.kind}_errors", sum(bad.values()), "requests")
    bare_rate = len(bare.latencies) / bare.seconds
    capture_rate = len(capture.latencies) / capture.seconds
    _emit("capture_vs_bare_throughput", capture_rate / bare_rate)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (else one is started for the run)")
    parser.add_argument("--slug", default="cfo-guide", help="the form to post to")
    parser.add_argument("--requests", type=int, default=2000, help="measured, per endpoint")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured, per endpoint")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16, help="connections in flight")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--web-workers", type=int, default=2, help="own server: gunicorn workers")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="own server: run the background worker too (it then competes for the database "
        "while processing what capture stored, so the figures vary much more)",
    )
    args = parser.parse_args(argv)
    if args.url:
        return measure(args.url, args.slug, args)

    # The server is the one the tests start (tests/server.py), from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.server import running_leadline

    database = "PostgreSQL" if os.environ.get("LEADLINE_DATABASE_URL") else "SQLite"
    print(f"bench: starting Leadline on {database}…", file=sys.stderr)
    with running_leadline(
        web_workers=args.web_workers,
        worker=args.worker,
        extra_env={"LEADLINE_BENCH_ENDPOINTS": "1"},
    ) as server:
        return measure(server.url, args.slug, args)


if __name__ == "__main__":
    sys.exit(main())
