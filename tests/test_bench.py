"""The benchmarks' shared command line (bench/common.py): `--database-url` on every bench, the
environment variable still working, and the scripts running from any directory."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
BENCHES = (
    "business_hours.py",
    "capture.py",
    "insight_accuracy.py",
    "insight_scale.py",
    "sla.py",
    "tracking.py",
)


def _common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parse(common: ModuleType, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    common.add_database_argument(parser, what="the database")
    return parser.parse_args(list(argv))


def test_the_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    common = _common()
    monkeypatch.setenv("LEADLINE_DATABASE_URL", "postgres://root@host/from_env")
    args = _parse(common, "--database-url", "postgres://root@host/from_flag")
    assert common.database_from(args) == "postgres://root@host/from_flag"
    # Set for Leadline's settings and for every process the bench starts.
    assert os.environ["LEADLINE_DATABASE_URL"] == "postgres://root@host/from_flag"


def test_the_environment_still_names_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    common = _common()
    monkeypatch.setenv("LEADLINE_DATABASE_URL", "postgres://root@host/from_env")
    assert common.database_from(_parse(common)) == "postgres://root@host/from_env"
    monkeypatch.delenv("LEADLINE_DATABASE_URL")
    assert common.database_from(_parse(common)) is None
    assert common.database_kind(None) == "SQLite"
    assert common.database_kind("postgresql://h/d") == "PostgreSQL"


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_takes_the_option_from_any_directory(bench: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / bench), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--database-url" in done.stdout
    if bench in ("capture.py", "tracking.py"):
        assert "--web-processes" in done.stdout


def test_a_bench_without_a_database_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "business_hours.py"),
            "--batch",
            "20",
            "--rounds",
            "1",
            "--database-url",
            "postgres://root@nowhere.invalid/none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1]["metric"] == "first_touch_due_per_s"
    assert lines[-1]["value"] > 0
    assert "uses no database" in done.stderr
