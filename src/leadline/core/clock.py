"""The one clock. Everything that asks "what time is it?" asks here, so tests can move time."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

_offset = dt.timedelta(0)
_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    if _frozen is not None:
        return _frozen
    return timezone.now() + _offset


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
