"""Figures a test measured (requests made, counts after a fault, routes covered), shown in the
test run's summary whether or not the test passed: CI runs pytest without `-s`, and the
issues ask for these numbers in its output."""

from __future__ import annotations

import sys

MEASURED: list[str] = []


def report(line: str) -> None:
    MEASURED.append(line)
    print(line, file=sys.stderr, flush=True)
