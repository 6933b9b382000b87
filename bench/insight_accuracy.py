"""How well the product's own prediction pipeline does on the public data sets, imported through
the product's own importer.

    python bench/insight_accuracy.py                     # all three data sets
    python bench/insight_accuracy.py --dataset bank      # one of x-education, bank, maven
    python bench/insight_accuracy.py --database-url postgres://...
                                                         # each data set in a fresh PostgreSQL
                                                         # database on that server, then dropped

For each data set, in a child process of its own: a fresh database is migrated (a temporary
SQLite file; with `--database-url postgres://…` or LEADLINE_DATABASE_URL naming a PostgreSQL
server, a database of its own on that server, dropped afterwards — the database named in the URL
is not touched; a SQLite URL is not used, each data set still gets a file of its own),
the data set is imported with its preset (`leadline.imports.services.import_file`), the winning
examples are built (`insight.features.win_examples`: every closed opportunity, y = won) and
`insight.prediction.fit` runs on them — leakage guard, model choice by 5-fold cross-validated
AUC, calibration — with no per-data-set code. Prints one JSON line per data set:

    {"metric": "insight_accuracy", "dataset": ..., "n": ..., "auc": ..., "brier": ...,
     "model": ..., "flagged": [...], "reference_auc": ..., "import_s": ..., "fit_s": ...}

`auc` and `brier` are the calibrated model's, out of fold. Reference figures (plain
scikit-learn, honest fields only, see ../shared/data/README.md): X Education 0.875, bank 0.80,
Maven won vs lost 0.51. Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import add_database_argument, database_from, database_kind, is_postgres, say

ROOT = Path(__file__).resolve().parents[1]
DATASETS: dict[str, dict[str, Any]] = {
    "x-education": {"presets": ["x-education-leads"], "reference_auc": 0.875},
    "bank": {"presets": ["uci-bank-marketing"], "reference_auc": 0.80},
    "maven": {"presets": ["maven-accounts", "maven-pipeline"], "reference_auc": 0.51},
}


def shared_data() -> Path:
    env = os.environ.get("LEADLINE_SHARED_DATA")
    return Path(env) if env else (ROOT / ".." / "shared" / "data").resolve()


def _every_5_s(preset: str) -> Any:
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5:
            last[0] = now
            say(f"  {preset}: {done:,} of {total:,}")

    return progress


def one(name: str) -> dict[str, Any]:
    """Import one data set into this process's (fresh) database and fit. Django is set up by
    the caller's environment (LEADLINE_DATA_DIR)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--no-input", verbosity=0)

    from leadline.imports.mappings import mapping_load
    from leadline.imports.services import import_file
    from leadline.insight import features, prediction

    started = time.perf_counter()
    for preset in DATASETS[name]["presets"]:
        mapping = mapping_load(preset)
        path = shared_data() / mapping.file
        say(f"{name}: importing {path.name} with {preset}…")

        job = import_file(path=path, mapping=mapping, progress=_every_5_s(preset))
        say(f"  {preset}: {job.status}, {job.rows_ok:,} rows imported, {job.rows_failed:,} failed")
    import_s = time.perf_counter() - started

    started = time.perf_counter()
    examples = features.win_examples()
    examples_s = time.perf_counter() - started
    say(f"{name}: {len(examples):,} closed opportunities, {examples.X.shape[1]} fields")

    def progress_fit(stage: str, share: float) -> None:
        say(f"  {stage} {share:.0%} ({time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    fitted = prediction.fit(examples, progress=progress_fit)
    fit_s = time.perf_counter() - started
    for check in fitted.fields:
        single = "-" if check.single_auc is None else f"{check.single_auc:.3f}"
        gain = "-" if check.gain is None else f"{check.gain:.3f}"
        mark = "FLAGGED " if check.flagged else "        "
        say(f"  {mark}{check.name}: single AUC {single}, gain {gain}: {check.why}")
    m = fitted.metrics
    say(
        f"{name}: {fitted.kind} (gradient boosting {m['auc_gradient_boosting']:.3f}, logistic "
        f"{m['auc_logistic']:.3f}), calibrated {fitted.calibration_method}, on {fitted.fitted_on}"
    )
    return {
        "metric": "insight_accuracy",
        "dataset": name,
        "n": len(examples),
        "positives": int(m["positives"]),
        "auc": round(m["auc"], 4),
        "brier": round(m["brier"], 4),
        "brier_base_rate": round(m["brier_base_rate"], 4),
        "model": fitted.kind,
        "auc_gradient_boosting": round(m["auc_gradient_boosting"], 4),
        "auc_logistic": round(m["auc_logistic"], 4),
        "flagged": [c.name for c in fitted.fields if c.flagged],
        "used": len(fitted.used),
        "reference_auc": DATASETS[name]["reference_auc"],
        "import_s": round(import_s, 1),
        "examples_s": round(examples_s, 1),
        "fit_s": round(fit_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_database_argument(
        parser,
        what="postgres://…: each data set gets a fresh database of its own on that server "
        "(named leadline_e2e_<pid>_<random>), dropped after it; the database named in the URL "
        "is only used for the server's address and credentials. Otherwise (no URL, or a SQLite "
        "one) each data set gets a fresh SQLite file in a temporary directory. Default: "
        "LEADLINE_DATABASE_URL",
    )
    args = parser.parse_args()
    names = args.dataset or list(DATASETS)
    if args.child:
        print(json.dumps(one(names[0])), flush=True)
        return 0
    url = database_from(args)
    server_url = url if is_postgres(url) else None
    if server_url:
        sys.path.insert(0, str(ROOT))
        from tests.server import _postgres_admin, _postgres_database_create, _with_database_name
    say(f"each data set in a fresh {database_kind(server_url)} database of its own")
    failed = 0
    for name in names:
        data_dir = Path(tempfile.mkdtemp(prefix=f"leadline-insight-{name}-"))
        env = {k: v for k, v in os.environ.items() if k != "LEADLINE_DATABASE_URL"} | {
            "LEADLINE_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "leadline.settings",
        }
        database = None
        try:
            if server_url:
                database = _postgres_database_create(server_url)
                env["LEADLINE_DATABASE_URL"] = _with_database_name(server_url, database)
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--dataset", name], env=env, check=False
            )
            failed += done.returncode != 0
        finally:
            if server_url and database:
                _postgres_admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
