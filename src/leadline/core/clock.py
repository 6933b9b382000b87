"""The one clock. Everything that asks "what time is it?" asks here, so tests can move time.

In one process, tests stop the clock with `frozen_at`. Tests that drive a running server and
worker move the clock of every process at once through a file: when the environment names one in
LEADLINE_CLOCK_FILE, its content (seconds, a float) is added to the real time. The product never
sets that variable; it exists so a browser test can let a deadline pass without waiting an hour.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

from django.utils import timezone

_frozen: dt.datetime | None = None
_OFFSET_FILE = os.environ.get("LEADLINE_CLOCK_FILE", "")
_offset_seen: tuple[tuple[int, int], dt.timedelta] = ((-1, -1), dt.timedelta(0))


def _file_offset() -> dt.timedelta:
    """The offset in LEADLINE_CLOCK_FILE, read again only when the file changes."""
    global _offset_seen
    try:
        stat = os.stat(_OFFSET_FILE)
    except OSError:
        return dt.timedelta(0)
    # A new file replaces the old one (see offset_file_write), so its inode tells a change
    # even within one tick of a coarse file-system clock.
    changed = (stat.st_ino, stat.st_mtime_ns)
    if changed != _offset_seen[0]:
        text = Path(_OFFSET_FILE).read_text().strip()
        _offset_seen = (changed, dt.timedelta(seconds=float(text or 0)))
    return _offset_seen[1]


def now() -> dt.datetime:
    if _frozen is not None:
        return _frozen
    if _OFFSET_FILE:
        return timezone.now() + _file_offset()
    return timezone.now()


def offset_file_write(path: Path, offset: dt.timedelta) -> None:
    """Move the clock of every process started with LEADLINE_CLOCK_FILE=path (tests)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{offset.total_seconds()}\n")
    temporary.replace(path)


@contextlib.contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Stop the clock at `moment` inside the block (tests)."""
    global _frozen
    previous = _frozen
    _frozen = moment
    try:
        yield
    finally:
        _frozen = previous
