"""What the benchmarks in bench/ share: their output, their percentile, and `--database-url`.

Each bench is a script run as `python bench/<name>.py` from any directory; Python puts the
script's own directory first on `sys.path`, so `from common import …` finds this file. Import it
before Leadline (and before Django is set up): `database_from(args)` names the database in the
environment, where Leadline's settings read it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

DATABASE_VARIABLE = "LEADLINE_DATABASE_URL"


def emit(metric: str, value: float, unit: str | None = None, **extra: Any) -> None:
    """One result on standard output as a JSON line: {"metric", "value", "unit", …extra}."""
    line: dict[str, Any] = {"metric": metric, "value": round(value, 3)}
    if unit:
        line["unit"] = unit
    line.update(extra)
    print(json.dumps(line), flush=True)


def say(text: str) -> None:
    """Progress, or a problem, on standard error."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at `fraction` (0.99 for p99) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def add_database_argument(parser: argparse.ArgumentParser, *, what: str | None = None) -> None:
    """`--database-url URL`: the database the bench runs against, in place of the
    LEADLINE_DATABASE_URL variable (the flag wins when both are given). `what` says, in the
    bench's --help, what the bench does with it; None for a bench that uses no database."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=what
        or "accepted for the same command lines as the other benches, but this bench uses no "
        "database (it says so on standard error)",
    )


def database_from(args: argparse.Namespace) -> str | None:
    """The database URL for this run: `--database-url`, else LEADLINE_DATABASE_URL, else None
    (SQLite). The flag is put in the environment, so that Leadline's settings in this process
    and in every process the bench starts see it."""
    url: str | None = getattr(args, "database_url", None)
    if url:
        os.environ[DATABASE_VARIABLE] = url
    return os.environ.get(DATABASE_VARIABLE) or None


def database_unused(args: argparse.Namespace, bench: str) -> None:
    """For a bench that uses no database: say so once when one was named anyway."""
    named = getattr(args, "database_url", None) or os.environ.get(DATABASE_VARIABLE)
    if named:
        say(f"{bench} uses no database: the database named ({database_kind(named)}) is not used")


def database_kind(url: str | None) -> str:
    """'PostgreSQL' or 'SQLite', for stderr."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "PostgreSQL"
    return "SQLite"


def is_postgres(url: str | None) -> bool:
    return database_kind(url) == "PostgreSQL"


# What the benches that start a server of their own (or load a database of their own) do with
# a PostgreSQL URL, for their --help.
FRESH_DATABASE_HELP = (
    "the database to run on (default: LEADLINE_DATABASE_URL, else SQLite in a temporary "
    "directory). postgres://…: a fresh database of its own is created on that server (named "
    "leadline_e2e_<pid>_<random>) and dropped after the run; the database named in the URL is "
    "only used for the server's address and credentials and is never touched. sqlite:///path: "
    "that file is used as it is"
)
