"""The worker heartbeat: each `leadline worker` process says, every few seconds, that it is alive
and when each of its loops last finished a pass (`WorkerHeartbeat`, one row per process).

The loops only note the time in memory (`pass_done`); the heartbeat thread writes all of it in
one small UPDATE per beat, so a deadline loop that turns twice a second does not write twice a
second. The row is deleted when the worker stops cleanly (`heartbeat_end`); a killed or frozen
worker leaves it behind, and its `beat_at` grows old: that is what `leadline doctor` reports.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from importlib import metadata

from django.db import DatabaseError, close_old_connections

from leadline.core import clock
from leadline.core.models import WorkerHeartbeat

# What a worker's loops are called on its row ("sweeps" → sweeps_at, ...).
LOOPS = ("sweeps", "timers", "cadences")

# A worker silent this long is forgotten (its row deleted) when another one starts.
FORGET_AFTER = dt.timedelta(days=1)
FORGET_EVERY_SECONDS = 3600.0

_passes: dict[str, dt.datetime] = {}
_passes_lock = threading.Lock()
# The heartbeat thread beats under this lock and not at all once the worker is stopping, so a
# beat can never write the row again just after the stop deleted it.
_beat_lock = threading.Lock()
_stopping = threading.Event()


def worker_name(*, host: str | None = None, pid: int | None = None) -> str:
    """This process's name on its heartbeat row: "worker@host:pid"."""
    return f"worker@{host or socket.gethostname()}:{pid or os.getpid()}"


def _version() -> str:
    try:
        return metadata.version("leadline")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return ""


def pass_done(loop: str) -> None:
    """Note that `loop` ("sweeps", "timers", "cadences") has just finished a pass; the next
    beat writes it."""
    if loop not in LOOPS:
        raise ValueError(f"unknown worker loop {loop!r}")
    with _passes_lock:
        _passes[loop] = clock.now()


def heartbeat_beat(*, name: str, runs: str = "") -> WorkerHeartbeat:
    """Write this worker's row: alive now, and its loops' last passes. Makes the row on the
    first beat (and again if someone deleted it)."""
    with _passes_lock:
        passes = {f"{loop}_at": at for loop, at in _passes.items()}
    now = clock.now()
    host, _, pid = name.removeprefix("worker@").rpartition(":")
    updated = WorkerHeartbeat.objects.filter(name=name).update(beat_at=now, **passes)
    if updated:
        return WorkerHeartbeat.objects.get(name=name)
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={"beat_at": now, **passes},
        create_defaults={
            "host": host,
            "pid": int(pid) if pid.isdigit() else 0,
            "version": _version(),
            "runs": runs,
            "started_at": now,
            "beat_at": now,
            **passes,
        },
    )
    return beat


def heartbeats_forget(*, name: str) -> int:
    """Worker `name` (at its start, then hourly) forgets the rows of workers that cannot be
    running any more,
    those of this host whose process is gone (a crash, then a restart) and those silent for
    FORGET_AFTER (a worker moved away for good). Returns how many rows went."""
    host = name.removeprefix("worker@").rpartition(":")[0]
    gone = []
    for other, pid in WorkerHeartbeat.objects.filter(host=host).values_list("name", "pid"):
        if other != name and not _process_alive(pid):
            gone.append(other)
    old = WorkerHeartbeat.objects.filter(beat_at__lt=clock.now() - FORGET_AFTER)
    deleted, _ = (WorkerHeartbeat.objects.filter(name__in=gone) | old).delete()
    return deleted


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def heartbeat_end(*, name: str) -> None:
    """The worker stops cleanly: its row goes (a worker that is not running is not stuck), and
    this process's heartbeat thread beats no more."""
    _stopping.set()
    with _beat_lock:
        WorkerHeartbeat.objects.filter(name=name).delete()


def heartbeat_forever(*, name: str, runs: str, every: float) -> None:
    """The heartbeat thread: beat every `every` seconds; a database that is away for a while
    is tried again at the next beat, never the end of the thread."""
    log = logging.getLogger("leadline.worker")
    forgotten_at = 0.0
    while True:
        try:
            with _beat_lock:
                if _stopping.is_set():
                    return
                if time.monotonic() - forgotten_at > FORGET_EVERY_SECONDS:
                    heartbeats_forget(name=name)  # at the start, then hourly
                    forgotten_at = time.monotonic()
                heartbeat_beat(name=name, runs=runs)
        except DatabaseError as exc:
            log.warning("heartbeat not written (%s: %s)", type(exc).__name__, exc)
        except Exception:  # the heartbeat must never die quietly while the worker runs on
            log.exception("heartbeat failed")
        finally:
            close_old_connections()
        time.sleep(every)
