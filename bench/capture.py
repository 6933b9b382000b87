"""Capture under a steady load with the worker routing, then capture throughput against a bare
Django view that inserts one row, on the same server.

    python bench/capture.py                  # starts its own server (SQLite unless
                                             # LEADLINE_DATABASE_URL says otherwise)
    python bench/capture.py --database-url postgres://... --web-processes 4
                                             # its own server on a fresh PostgreSQL database
                                             # (dropped afterwards), 4 web processes
    python bench/capture.py --url http://127.0.0.1:8000/ --slug cfo-guide
                                             # a running server started with
                                             # LEADLINE_BENCH_ENDPOINTS=1 and a high
                                             # LEADLINE_CAPTURE_RATE_LIMIT; run the bench with
                                             # that server's LEADLINE_DATA_DIR or
                                             # LEADLINE_DATABASE_URL (the paced phase reads it)

First the paced phase: with the worker running (routing, deadlines, timers and notifications
happen for real meanwhile), submissions with the contact box ticked are sent on a fixed schedule
(open loop: at `--paced-rate` a second, whatever the answers) for `--paced-seconds`; it prints the
capture latency (from each request's planned moment) and, from the database afterwards, the time
from a submission being received to its request having an owner, and whether every request got an
owner and a first-touch deadline. Then the worker stops (unless `--worker`) and the ratio phase
runs.

Prints JSON lines {"metric": ..., "value": ..., "unit": ...}; the last one is
{"metric": "capture_vs_bare_throughput", "value": R}. Bare and capture run in alternating rounds,
so both meet the same background work (the worker catching up, the database's checkpoints).
The client is several processes of plain keep-alive HTTP connections, far cheaper per request than
the server, so it is not what is measured.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import (
    FRESH_DATABASE_HELP,
    add_database_argument,
    database_from,
    database_kind,
    emit,
    percentile,
)

BARE_PATH = "/bench/bare/"
DOMAINS = 50  # companies the bench's people work at; the worker makes one account per domain
PACED_KIND = "paced"  # in the e-mail addresses of the paced phase's people
ROUTED_STALL = 60.0  # seconds without the worker routing one more paced request: give up


def _body(run_id: str, kind: str, n: int, *, contact: bool | None = None) -> bytes:
    email = f"bench-{run_id}-{kind}-{n}@bench{n % DOMAINS}.example"
    data = {
        "email": email,
        "first_name": f"Bench{n}",
        "last_name": "Runner",
        "company": f"Bench {n % DOMAINS}",
        "role_own_words": "I keep the numbers honest",
        "contact_me": n % 2 == 0 if contact is None else contact,
        "consent": True,
        "utm_source": "bench",
    }
    return json.dumps(data).encode()


def _client_process(
    host: str,
    port: int,
    path: str,
    body: Callable[[int], bytes],
    content_type: str,
    first: int,
    count: int,
    threads: int,
    per_connection: int,
) -> tuple[list[float], float, float, dict[int, int]]:
    """Post `count` bodies (`body(n)` for n from `first`) over `threads` keep-alive connections,
    each used for `per_connection` requests, then closed and opened again.
    `body` is a module-level function or a partial of one, so it crosses to the client process.

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
        headers = {"Content-Type": content_type, "Connection": "keep-alive"}
        for n in range(start, start + n_requests):
            sent = body(n)
            if n > start and (n - start) % per_connection == 0:
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
            began = time.perf_counter()
            try:
                connection.request("POST", path, body=sent, headers=headers)
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
    body: Callable[[int], bytes],
    content_type: str = "application/json",
    count: int,
    processes: int,
    threads: int,
    per_connection: int,
    record: bool,
) -> None:
    """Send `count` more of the phase's requests from `processes` client processes; with
    `record`, add their figures to the phase. bench/tracking.py runs its phases with it too."""
    shares = [count // processes + (1 if p < count % processes else 0) for p in range(processes)]
    futures = []
    first = phase.sent
    for share in shares:
        futures.append(
            pool.submit(
                _client_process,
                *target,
                phase.path,
                body,
                content_type,
                first,
                share,
                threads,
                per_connection,
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


# Requests a client connection carries before it is closed and opened again. Browsers send a
# form or a few beacons over a connection, then it idles out (gunicorn's keep-alive is 2 s). And
# with connections that live for a whole phase, which web worker accepted each at the phase's
# start decided the figures: one worker could get 14 of the 16 while the other idled (py-spy).
REQUESTS_PER_CONNECTION = 10


def load_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """The options of the load, the same in each bench; `what` is sent ("requests")."""
    parser.add_argument("--requests", type=int, default=8000, help=f"measured {what}")
    parser.add_argument("--warmup", type=int, default=200, help=f"unmeasured {what}")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16, help="connections in flight")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument(
        "--web-processes",
        "--web-workers",
        dest="web_processes",
        type=int,
        default=2,
        help="own server: web processes (`leadline serve --workers N`, gunicorn's workers)",
    )
    parser.add_argument(
        "--requests-per-connection",
        type=int,
        default=REQUESTS_PER_CONNECTION,
        help="requests over one client connection before it is opened again, as browsers do",
    )


# The paced phase ---------------------------------------------------------------------------


def _paced_client(
    host: str, port: int, path: str, run_id: str, kind: str, rate: float, seconds: float
) -> tuple[list[tuple[float, float, int]], float, float]:
    """Send `rate` submissions a second for `seconds`, each at its planned moment whether or not
    earlier ones were answered (open loop), over enough keep-alive connections that a slow
    answer never holds back the next send.

    Returns ((latency from the planned moment in ms, delay of the send in ms, status) per
    request, moment of the first send, moment of the last send).
    """
    total = round(rate * seconds)
    # Enough connections for a second of sends in flight at once: the schedule is kept even
    # when answers take that long.
    connections = max(16, round(rate))
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    results: list[tuple[float, float, int]] = []
    sent: list[float] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}

    def sender() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        while (job := jobs.get()) is not None:
            n, planned = job
            body = _body(run_id, kind, n, contact=True)
            began = time.perf_counter()
            status = 0
            # A keep-alive connection the server closed while idle (gunicorn's keep-alive is
            # 2 s) fails before the server read anything: send again on a new one, once.
            for attempt in range(2):
                try:
                    connection.request("POST", path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                    break
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=60)
                    if attempt:
                        status = 0
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=60)
                    break
            done = time.perf_counter()
            with lock:
                results.append(((done - planned) * 1000, (began - planned) * 1000, status))
                sent.append(began)
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.1
    for n in range(total):
        planned = start + n / rate
        pause = planned - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        jobs.put((n, planned))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return results, min(sent), max(sent)


def _django_for(env: dict[str, str] | None) -> None:
    """Set Django up in this process on the server's database (its environment, when ours)."""
    if env is not None:
        for name in set(os.environ) - set(env):
            del os.environ[name]
        os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    import django

    django.setup()


def _commits() -> int | None:
    """PostgreSQL's count of commits in this database so far (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    time.sleep(1.5)  # the server publishes its backends' counts about once a second
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _routed(run_id: str, kind: str, expected: int, stall: float) -> list[Any]:
    """Wait until the worker has routed the `expected` requests of this run's `kind`; their
    (request id, received, first assigned, owner, first-touch deadline, breach step waiting)."""
    from django.db.models import Exists, Min, OuterRef

    from leadline.capture.models import Request
    from leadline.routing.models import Step, Timer

    requests = Request.objects.filter(
        person__emails__email__startswith=f"bench-{run_id}-{kind}-"
    ).distinct()
    began = progressed = time.monotonic()
    last = -1
    while (routed := requests.filter(routing__isnull=False).count()) < expected:
        if routed > last:
            last, progressed = routed, time.monotonic()
        elif time.monotonic() - progressed > stall:
            raise RuntimeError(
                f"{routed} of {expected} paced requests routed ({requests.count()} stored), "
                f"none more in {stall:.0f} s: is the worker running?"
            )
        time.sleep(0.5)
    print(
        f"bench: paced: all routed {time.monotonic() - began:.1f} s after the phase ended",
        file=sys.stderr,
    )
    return list(
        requests.annotate(
            first_assigned=Min("assignments__at"),
            breach_waiting=Exists(
                Timer.objects.filter(request=OuterRef("pk"), step=Step.BREACH, done_at=None)
            ),
        ).values_list(
            "pk",
            "created_at",
            "first_assigned",
            "routing__owner_id",
            "routing__first_touch_due",
            "breach_waiting",
        )
    )


def paced(
    url: str, slug: str, args: argparse.Namespace, env: dict[str, str] | None
) -> tuple[int, dict[str, int]]:
    """The paced phase; returns the number of problems and the requests by queue."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    run_id = uuid.uuid4().hex[:8]
    path = f"/f/{slug}/"
    rate, seconds = args.paced_rate, args.paced_seconds
    print(
        f"bench: paced phase — {rate:g} submissions/s for {seconds:g} s to {path}, contact box "
        f"ticked, worker routing meanwhile (after {args.paced_warmup:g} s of warm-up); machine "
        f"load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    _django_for(env)
    from django.db import connections

    from leadline.notify.models import InboxItem
    from leadline.routing.models import RequestRouting
    from leadline.routing.selectors import leaks

    if args.paced_warmup > 0:
        with ProcessPoolExecutor(max_workers=1) as pool:
            pool.submit(
                _paced_client, host, port, path, run_id, "warmup", rate, args.paced_warmup
            ).result()
    commits_before = _commits()
    connections.close_all()  # before the client process is forked
    with ProcessPoolExecutor(max_workers=1) as pool:
        results, first, last = pool.submit(
            _paced_client, host, port, path, run_id, PACED_KIND, rate, seconds
        ).result()
    latencies = [latency for latency, _, _ in results]
    late_sends = [late for _, late, _ in results]
    statuses: dict[int, int] = {}
    for _, _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    accepted = statuses.get(201, 0)
    problems = len(results) - accepted
    if problems:
        bad = {s: n for s, n in statuses.items() if s != 201}
        print(f"bench: paced: non-201 answers by status {bad}", file=sys.stderr)
    achieved = (len(results) - 1) / (last - first) if len(results) > 1 else 0.0
    print(
        f"bench: paced: sends left {statistics.median(late_sends):.1f} ms after their planned "
        f"moment (median), {percentile(late_sends, 0.99):.1f} ms (p99); waiting for the "
        f"worker to route {accepted} requests…",
        file=sys.stderr,
    )

    try:
        rows = _routed(run_id, PACED_KIND, accepted, ROUTED_STALL)
        ids = {pk for pk, *_ in rows}
        to_owner = [
            (assigned - received).total_seconds() * 1000
            for _, received, assigned, _, _, _ in rows
            if assigned is not None
        ]
        assigned_at = sorted(assigned for _, _, assigned, _, _, _ in rows if assigned is not None)
        span = (assigned_at[-1] - assigned_at[0]).total_seconds() if len(assigned_at) > 1 else 0.0
        routed_rate = (len(assigned_at) - 1) / span if span else 0.0
        owned = sum(
            1
            for _, _, _, owner, due, waiting in rows
            if owner is not None and due is not None and waiting
        )
        leaked = [leak for leak in leaks() if leak.request.pk in ids]
        notified = (
            InboxItem.objects.filter(
                kind="request.assigned", subject_ref__in=[f"request:{pk}" for pk in ids]
            )
            .values("subject_ref")
            .distinct()
            .count()
        )
        queues: dict[str, int] = {}
        for queue_name in RequestRouting.objects.filter(request_id__in=ids).values_list(
            "queue", flat=True
        ):
            queues[queue_name] = queues.get(queue_name, 0) + 1
        commits = _commits()
        if commits is not None and commits_before is not None and rows:
            print(
                f"bench: paced: {(commits - commits_before) / len(rows):.1f} database commits "
                f"per request (capture, worker and all, from pg_stat_database)",
                file=sys.stderr,
            )
    finally:
        connections.close_all()  # before any client process is forked
    if owned != len(rows) or leaked or notified != len(rows):
        problems += len(rows) - owned + len(leaked) + len(rows) - notified
        print(
            f"bench: paced: {len(rows) - owned} requests without an owner, a first-touch "
            f"deadline and a waiting breach step; {len(leaked)} in `leadline leaks`; "
            f"{len(rows) - notified} whose owner was not notified",
            file=sys.stderr,
        )
    emit("capture_paced_rate", achieved, "req/s")
    emit("capture_paced_p50_ms", statistics.median(latencies), "ms")
    emit("capture_paced_p99_ms", percentile(latencies, 0.99), "ms")
    emit("capture_paced_max_ms", max(latencies), "ms")
    emit("capture_paced_errors", len(results) - accepted, "requests")
    emit("capture_to_owner_p50_ms", statistics.median(to_owner), "ms")
    emit("capture_to_owner_p99_ms", percentile(to_owner, 0.99), "ms")
    emit("capture_to_owner_max_ms", max(to_owner), "ms")
    emit("capture_paced_routed_rate", routed_rate, "req/s")
    emit("capture_paced_owned_with_deadline", owned, "requests")
    emit("capture_paced_owner_notified", notified, "requests")
    emit("capture_paced_leaks", len(leaked), "requests")
    return problems, queues


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
        options = {
            "processes": processes,
            "threads": threads,
            "per_connection": args.requests_per_connection,
        }
        bodies = {
            phase.kind: functools.partial(_body, run_id, phase.kind) for phase in (bare, capture)
        }
        for phase in (bare, capture):
            body = bodies[phase.kind]
            _run_phase(pool, target, phase, body=body, count=args.warmup, record=False, **options)
        for round_number in range(args.rounds):
            # Alternate who goes first, so neither always follows the other's backlog.
            order = (bare, capture) if round_number % 2 == 0 else (capture, bare)
            for phase in order:
                body = bodies[phase.kind]
                _run_phase(pool, target, phase, body=body, count=per_round, record=True, **options)

    failures = 0
    for phase in (bare, capture):
        bad = {s: n for s, n in phase.statuses.items() if s != 201}
        if bad:
            failures += sum(bad.values())
            print(f"bench: {phase.kind}: non-201 answers by status {bad}", file=sys.stderr)
        emit(f"{phase.kind}_p50_latency", statistics.median(phase.latencies), "ms")
        emit(f"{phase.kind}_p99_latency", percentile(phase.latencies, 0.99), "ms")
        emit(f"{phase.kind}_throughput", len(phase.latencies) / phase.seconds, "req/s")
        emit(f"{phase.kind}_errors", sum(bad.values()), "requests")
    bare_rate = len(bare.latencies) / bare.seconds
    capture_rate = len(capture.latencies) / capture.seconds
    emit("capture_vs_bare_throughput", capture_rate / bare_rate)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (else one is started for the run)")
    parser.add_argument("--slug", default="cfo-guide", help="the form to post to")
    load_arguments(parser, what="requests per endpoint")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="own server: keep the background worker running for the ratio phase too (it then "
        "competes for the database while processing what capture stored, so the figures vary "
        "much more)",
    )
    parser.add_argument(
        "--paced-rate", type=float, default=100.0, help="paced phase: submissions/s (0: skip it)"
    )
    parser.add_argument("--paced-seconds", type=float, default=30.0, help="paced phase: measured")
    parser.add_argument(
        "--paced-warmup", type=float, default=3.0, help="paced phase: seconds sent unmeasured first"
    )
    add_database_argument(
        parser,
        what=f"{FRESH_DATABASE_HELP}. With --url: the running server's database, used as it is "
        "(the paced phase reads it)",
    )
    args = parser.parse_args(argv)
    database_url = database_from(args)
    if args.url:
        problems = paced(args.url, args.slug, args, None)[0] if args.paced_rate > 0 else 0
        return 1 if measure(args.url, args.slug, args) or problems else 0

    # The server is the one the tests start (tests/server.py), from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.server import _stop_process, running_leadline

    print(
        f"bench: starting Leadline on {database_kind(database_url)} with "
        f"{args.web_processes} web processes…",
        file=sys.stderr,
    )
    with running_leadline(
        web_workers=args.web_processes,
        worker=args.worker or args.paced_rate > 0,
        extra_env={
            "LEADLINE_BENCH_ENDPOINTS": "1",
            # Room for every bench lead with the demo's four reps; at the default cap of 150
            # most of them would go to the manager's fallback queue.
            "LEADLINE_RELATIONSHIP_CAP": "1000000",
        },
    ) as server:
        problems = 0
        if args.paced_rate > 0:
            problems, queues = paced(server.url, args.slug, args, server.env)
            print(f"bench: paced: requests by queue {queues}", file=sys.stderr)
            if not args.worker:
                _stop_process(server.processes["worker"])
        return 1 if measure(server.url, args.slug, args) or problems else 0


if __name__ == "__main__":
    sys.exit(main())
