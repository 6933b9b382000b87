"""`leadline backup` / `leadline restore`: a round trip on each database, and the refusals.

The round trip runs the real commands as subprocesses against a database of their own (a SQLite
file, or a PostgreSQL database named h7_backup_<pid>), made from this test run's migrated schema:
make data → back up → change and delete → restore → every row and every uploaded file is back.
It runs in the pass of the database it checks (SQLite pass: SQLite; PostgreSQL pass: PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from leadline import cli
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def _drive(step: str) -> None:
    """Run inside the subprocess (`python -c`): make, change or read the data."""
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from leadline.core.models import Person

    media = Path(settings.MEDIA_ROOT)
    if step == "make":
        for n in range(3):
            factories.person(email=f"kept{n}@acme.example")
        factories.form(slug="guide")  # its asset is an uploaded file under media/assets/
        (media / "imports").mkdir(parents=True, exist_ok=True)
        (media / "imports" / "leads.csv").write_text("Email\nann@acme.example\n")
    elif step == "change":
        Person.objects.filter(emails__email="kept0@acme.example").delete()
        Person.objects.update(first_name="Changed")
        factories.person(email="new@acme.example")
        (media / "imports" / "leads.csv").unlink()
        from leadline.capture.models import Asset

        Asset.objects.first().file.save("other.pdf", ContentFile(b"%PDF-1.4 other"))  # type: ignore[union-attr]
    out = io.StringIO()
    call_command("dumpdata", "--exclude=contenttypes", "--exclude=auth.permission", stdout=out)
    files = {
        str(path.relative_to(media)): path.read_bytes().hex()
        for path in sorted(media.rglob("*"))
        if path.is_file()
    }
    print(json.dumps({"rows": json.loads(out.getvalue()), "files": files}))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _step(env: dict[str, str], step: str) -> dict[str, Any]:
    setup = "import django; django.setup()"
    result = _run(env, "-c", f"{setup}; from tests.test_backup import _drive; _drive({step!r})")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _run(env, "-m", "leadline.cli", *args)


def _round_trip(env: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    before = _step(env, "make")
    assert len([r for r in before["rows"] if r["model"] == "core.person"]) == 3
    assert any(name.startswith("assets/") for name in before["files"]), before["files"]
    made = _cli(env, "backup")
    assert made.returncode == 0, made.stderr
    assert "Backed up the" in made.stdout, made.stdout
    assert "2 uploaded files" in made.stdout, made.stdout
    path = Path(made.stdout.split(" to ", 1)[1].splitlines()[0])
    assert path.parent == Path(env["LEADLINE_DATA_DIR"]) / "backups"
    assert path.is_file()
    assert "Size: " in made.stdout
    assert "Restore with: leadline restore" in made.stdout
    changed = _step(env, "change")
    assert changed != before
    refused = _cli(env, "restore", str(path))
    assert refused.returncode == 2, refused.stdout
    assert "already holds data; add --yes" in refused.stderr
    restored = _cli(env, "restore", str(path), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Restored the" in restored.stdout
    assert "Uploaded files: 2 restored." in restored.stdout
    after = _step(env, "read")
    assert after["files"] == before["files"]
    assert after["rows"] == before["rows"], "the restored rows differ from the backed-up ones"
    kept = list(Path(env["LEADLINE_DATA_DIR"]).glob("media.before-restore-*"))
    assert len(kept) == 1
    assert (kept[0] / "assets").is_dir()
    took = time.monotonic() - started
    print(f"backup round trip ({connection.vendor}): {took:.1f}s, {path.stat().st_size} bytes,"
          f" {len(before['rows'])} rows", file=sys.stderr)  # fmt: skip


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLINE_")}
    env.update(
        LEADLINE_DATA_DIR=str(tmp_path / "data"),
        LEADLINE_SECRET_KEY="backup-tests",
        PYTHONPATH=f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}",
        DJANGO_SETTINGS_MODULE="leadline.settings",
        **extra,
    )
    return env


@pytest.mark.django_db
def test_sqlite_round_trip_brings_every_row_and_file_back(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite round trip runs in the SQLite pass")
    data = tmp_path / "data"
    data.mkdir()
    # This run's migrated (and still empty) database, as the file the commands will use.
    # (Copied as SQL: the backup API would wait forever on the test's open transaction.)
    connection.ensure_connection()
    target = sqlite3.connect(data / "leadline.sqlite3")
    target.executescript("\n".join(connection.connection.iterdump()))
    target.close()
    _round_trip(_env(tmp_path), tmp_path)


@pytest.fixture
def own_postgres_database(tmp_path: Path) -> Iterator[str]:
    """A database of our own (h7_backup_<pid>) holding this run's migrated schema."""
    import psycopg

    database = settings.DATABASES["default"]
    name = f"h7_backup_{os.getpid()}"
    params = {
        k: v
        for k, v in {
            "host": database.get("HOST"),
            "port": database.get("PORT"),
            "user": database.get("USER"),
            "password": database.get("PASSWORD"),
        }.items()
        if v
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    schema = tmp_path / "schema.dump"
    env = {**os.environ, **{f"PG{k.upper()}": str(v) for k, v in params.items()}}
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={schema}", str(database["NAME"])],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={name}", str(schema)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    host = str(params.get("host", "")).replace("/", "%2F")
    auth = params.get("user", "") + (f":{params['password']}" if params.get("password") else "")
    port = f":{params['port']}" if params.get("port") else ""
    try:
        yield f"postgres://{auth}@{host}{port}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db
def test_postgresql_round_trip_brings_every_row_and_file_back(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL round trip runs in the PostgreSQL pass")
    url = request.getfixturevalue("own_postgres_database")
    _round_trip(_env(tmp_path, LEADLINE_DATABASE_URL=url), tmp_path)


# The refusals: clear messages, exit 2, nothing touched ------------------------------------------


@pytest.mark.django_db
def test_restore_refuses_what_is_not_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["restore", str(tmp_path / "missing.tar")]) == 2
    assert "missing.tar: no such file" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert cli.main(["restore", str(text)]) == 2
    assert "is not a Leadline backup" in capsys.readouterr().err
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as archive:
        archive.add(text, arcname="notes.txt")
    assert cli.main(["restore", str(other)]) == 2
    assert "is a tar file but not a Leadline backup" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["restore"])
    assert exit_.value.code == 2


@pytest.mark.django_db
def test_restore_refuses_a_backup_of_the_other_kind_of_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    path = tmp_path / "other.tar"
    manifest = json.dumps({"format": 1, "product": "leadline", "database": other}).encode()
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
        name = "database.sqlite3" if other == "sqlite" else "database.dump"
        info = tarfile.TarInfo(name)
        archive.addfile(info, io.BytesIO(b""))
    assert cli.main(["restore", str(path), "--yes"]) == 2
    assert f"holds a {other} database but Leadline is configured for" in capsys.readouterr().err


@pytest.mark.django_db
def test_restore_refuses_to_replace_data_without_yes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factories.person(email="here@acme.example")
    bare = tmp_path / "bare.sqlite3" if connection.vendor == "sqlite" else tmp_path / "bare.dump"
    bare.write_bytes(b"SQLite format 3\x00" if connection.vendor == "sqlite" else b"PGDMP")
    assert cli.main(["restore", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "the database already holds data; add --yes" in err


def test_backup_refuses_to_overwrite_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kept.tar"
    path.write_text("an earlier backup")
    assert cli.main(["backup", str(path)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert path.read_text() == "an earlier backup"


# The daily backup (issue 10): the worker's sweep, the last N kept ------------------------------


@pytest.fixture
def daily(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir of our own, daily backups on, and a real SQLite file as the database (the
    backup API would wait forever on the test database's open transaction)."""
    from leadline.core import backups

    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "data" / "media"
    settings.BACKUP_DAILY = True
    settings.BACKUP_KEEP = 3
    database = tmp_path / "live.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE django_migrations (id integer primary key, app text)")
        db.execute("CREATE TABLE person (id integer primary key, name text)")
        db.execute("INSERT INTO person (name) VALUES ('Ann')")
    db.close()
    monkeypatch.setattr(backups, "_sqlite_path", lambda: str(database))
    monkeypatch.setattr(backups, "vendor", lambda: "sqlite")
    return settings.DATA_DIR / "backups"  # type: ignore[no-any-return]


def test_the_daily_backup_runs_when_due_keeps_the_last_n_and_restores(daily: Path) -> None:
    from leadline.core import backups
    from leadline.core.clock import frozen_at

    daily.mkdir(parents=True)
    manual = daily / "leadline-20270101-000000.tar"  # `leadline backup`'s: never deleted
    manual.write_text("a manual backup")
    notes = daily / "notes.txt"
    notes.write_text("mine")
    start = dt.datetime(2027, 5, 1, 3, tzinfo=dt.UTC)
    made = []
    for hours in (0, 1, 23, 24, 30, 48, 72, 96):
        with frozen_at(start + dt.timedelta(hours=hours)):
            result = backups.backup_daily()
        made.append((hours, result.path.name if result else None))
    print(f"daily backups (hour, file): {made}", file=sys.stderr)
    taken = [hours for hours, name in made if name]
    assert taken == [0, 24, 48, 72, 96], f"a backup once 24 h have passed, not before: {made}"
    names = sorted(path.name for path in daily.iterdir())
    assert names == [
        ".daily.lock",
        "leadline-20270101-000000.tar",
        "leadline-daily-20270503-030000.tar",
        "leadline-daily-20270504-030000.tar",
        "leadline-daily-20270505-030000.tar",
        "notes.txt",
    ], f"the newest 3 daily backups, and the other files untouched: {names}"
    assert manual.read_text() == "a manual backup"
    assert notes.read_text() == "mine"
    with backups._opened(daily / "leadline-daily-20270505-030000.tar") as (kind, manifest, db, _):
        assert kind == "sqlite"
        assert manifest["database"] == "sqlite"
        restored = sqlite3.connect(db)
        try:
            assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert restored.execute("SELECT name FROM person").fetchall() == [("Ann",)]
        finally:
            restored.close()


def test_the_daily_backup_waits_for_another_process_and_can_be_off(
    daily: Path, settings: Any
) -> None:
    from leadline.core import backups
    from leadline.core.clock import frozen_at

    with frozen_at(dt.datetime(2027, 5, 1, tzinfo=dt.UTC)):
        with backups._daily_lock() as mine:  # another worker is backing up
            assert mine
            assert backups.backup_daily() is None
        settings.BACKUP_DAILY = False
        assert backups.backup_daily() is None
        assert not list(daily.glob("leadline-daily-*"))
        settings.BACKUP_DAILY = True
        assert backups.backup_daily() is not None


@pytest.mark.django_db
def test_no_daily_backup_on_postgresql_by_default(tmp_path: Path, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's default runs in the PostgreSQL pass")
    from leadline.core import backups
    from leadline.settings import BACKUP_DAILY

    assert BACKUP_DAILY is False, "daily backups are off by default on PostgreSQL"
    settings.DATA_DIR = tmp_path / "data"
    settings.BACKUP_DAILY = BACKUP_DAILY
    assert backups.backup_daily() is None
    assert not (tmp_path / "data" / "backups").exists()
