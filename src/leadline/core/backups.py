"""`leadline backup` and `leadline restore`: the database and the uploaded files, in one file.

A backup is a tar archive holding `manifest.json`, the database (`database.sqlite3`, made with
SQLite's online backup API, or `database.dump`, made with `pg_dump --format=custom`) and the
media directory (`media/…`: form assets, uploaded import files). Both database copies are
consistent snapshots taken while the web and the worker go on writing.

`restore` also takes a bare SQLite file or a bare `pg_dump --format=custom` file (what the
deployment guide told people to make before these commands existed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from leadline.core import clock

FORMAT = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# Tables `leadline migrate` fills by itself: rows there are not the users' data.
BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission", "sqlite_sequence"}


class BackupError(Exception):
    """Something the person running the command can fix (the message says what)."""


@dataclass(frozen=True)
class Made:
    path: Path
    size: int
    database: str
    media_files: int


@dataclass(frozen=True)
class Restored:
    database: str
    kind: str
    created_at: str | None
    media_files: int | None
    media_kept: Path | None


def vendor() -> str:
    return "sqlite" if connection.vendor == "sqlite" else connection.vendor


def _sqlite_path() -> str:
    return str(settings.DATABASES["default"]["NAME"])


def _pg_env() -> dict[str, str]:
    """libpq's environment for the configured database (no password on a command line)."""
    database = settings.DATABASES["default"]
    env = dict(os.environ)
    for key, name in (
        ("NAME", "PGDATABASE"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
    ):
        if database.get(key):
            env[name] = str(database[key])
    for option, value in (database.get("OPTIONS") or {}).items():
        if option in {"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"}:
            env[f"PG{option.upper()}"] = str(value)
    return env


def _run(command: list[str], *, what: str) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL's client tools are needed)")
    result = subprocess.run(command, env=_pg_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _media_files() -> list[Path]:
    root = _media_root()
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


def default_path() -> Path:
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return Path(settings.DATA_DIR) / "backups" / f"leadline-{stamp}.tar"


def backup(*, path: Path | None = None) -> Made:
    """Write a backup of the configured database and the media directory to `path`."""
    path = path or default_path()
    if path.is_dir():
        path = path / default_path().name
    if path.exists():
        raise BackupError(f"{path} exists already; name another file")
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = vendor()
    if kind not in {"sqlite", "postgresql"}:
        raise BackupError(f"backups of a {kind} database are not supported")
    media = _media_files()
    partial = path.with_name(path.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="leadline-backup-") as work:
        if kind == "sqlite":
            database_file = Path(work) / "database.sqlite3"
            source = sqlite3.connect(_sqlite_path())
            target = sqlite3.connect(database_file)
            try:
                # One step (pages=-1): a consistent snapshot while other processes write.
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            database_file = Path(work) / "database.dump"
            _run(["pg_dump", "--format=custom", f"--file={database_file}"], what="pg_dump")
        manifest = {
            "format": FORMAT,
            "product": "leadline",
            "database": kind,
            "created_at": clock.now().isoformat(),
            "media_files": len(media),
        }
        try:
            with tarfile.open(partial, "w") as archive:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size = len(data)
                info.mtime = int(clock.now().timestamp())
                archive.addfile(info, io.BytesIO(data))
                archive.add(database_file, arcname=database_file.name)
                root = _media_root()
                for file in media:
                    archive.add(file, arcname=f"media/{file.relative_to(root).as_posix()}")
            partial.replace(path)  # a backup file is complete or absent
        finally:
            partial.unlink(missing_ok=True)
    return Made(path=path, size=path.stat().st_size, database=kind, media_files=len(media))


def has_data() -> bool:
    """Whether the configured database holds anything besides what `migrate` puts there."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in BOOKKEEPING:
                continue
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608
            if cursor.fetchone() is not None:
                return True
    return False


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[str, dict[str, Any], Path, Path | None]]:
    """(kind, manifest, database file, media dir or None) from any file restore accepts."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as file:
        head = file.read(16)
    if head.startswith(SQLITE_MAGIC):
        yield "sqlite", {}, path, None
        return
    if head.startswith(PGDUMP_MAGIC):
        yield "postgresql", {}, path, None
        return
    if not tarfile.is_tarfile(path):
        raise BackupError(
            f"{path} is not a Leadline backup (nor a SQLite file, nor a pg_dump custom-format file)"
        )
    with tempfile.TemporaryDirectory(prefix="leadline-restore-") as work:
        with tarfile.open(path) as archive:
            try:
                manifest = json.load(archive.extractfile("manifest.json") or io.BytesIO(b""))
            except (KeyError, ValueError) as exc:
                raise BackupError(f"{path} is a tar file but not a Leadline backup") from exc
            if manifest.get("product") != "leadline" or manifest.get("format") != FORMAT:
                raise BackupError(f"{path} is not a Leadline backup this version can read")
            archive.extractall(work, filter="data")
        kind = str(manifest.get("database"))
        name = "database.sqlite3" if kind == "sqlite" else "database.dump"
        database_file = Path(work) / name
        if not database_file.is_file():
            raise BackupError(f"{path} is damaged: it has no {name}")
        media = Path(work) / "media"
        yield kind, manifest, database_file, media if media.is_dir() else Path(work) / "none"


def _restore_sqlite(source_file: Path) -> None:
    source = sqlite3.connect(f"file:{source_file}?mode=ro", uri=True)
    try:
        check = source.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"{source_file} is a damaged SQLite database: {check}")
        tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
        if "django_migrations" not in tables:
            raise BackupError(f"{source_file} is a SQLite database, but not Leadline's")
        connection.close()  # our own connection must not hold the database open
        target = sqlite3.connect(_sqlite_path(), timeout=30)
        try:
            # Page by page into the live file, under its write lock: readers see the old
            # database or the restored one, never a mixture, and the WAL stays consistent.
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgresql(dump: Path) -> None:
    connection.close()
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ],
        what="pg_restore",
    )


def _restore_media(media: Path) -> Path | None:
    """Put the backup's media in place; what was there is kept beside it, never deleted."""
    root = _media_root()
    kept: Path | None = None
    if root.exists() and any(root.iterdir()):
        stamp = clock.now().strftime("%Y%m%d-%H%M%S")
        kept = root.with_name(f"{root.name}.before-restore-{stamp}")
        root.rename(kept)
    elif root.exists():
        root.rmdir()
    root.parent.mkdir(parents=True, exist_ok=True)
    if media.is_dir():
        shutil.copytree(media, root)
    else:
        root.mkdir()
    return kept


def restore(*, path: Path, overwrite: bool) -> Restored:
    """Replace the configured database (and the media, when the backup has it) with `path`'s."""
    target = vendor()
    with _opened(path) as (kind, manifest, database_file, media):
        if kind != target:
            raise BackupError(
                f"{path} holds a {kind} database but Leadline is configured for {target}; "
                "restore it into a database of the same kind"
            )
        if not overwrite and has_data():
            raise BackupError(
                "the database already holds data; add --yes to replace it with the backup "
                "(stop `leadline serve` and `leadline worker` first)"
            )
        if kind == "sqlite":
            _restore_sqlite(database_file)
        else:
            _restore_postgresql(database_file)
        media_files = None
        kept = None
        if media is not None:
            kept = _restore_media(media)
            media_files = len(_media_files())
    return Restored(
        database=kind,
        kind="Leadline backup" if manifest else f"bare {kind} file",
        created_at=manifest.get("created_at"),
        media_files=media_files,
        media_kept=kept,
    )


# The daily backup (the worker's sweep) ------------------------------------------------------
DAILY_PREFIX = "leadline-daily-"
DAILY_FORMAT = "%Y%m%d-%H%M%S"
DAILY_EVERY = dt.timedelta(hours=24)


def daily_dir() -> Path:
    return Path(settings.DATA_DIR) / "backups"


def daily_backups() -> list[tuple[dt.datetime, Path]]:
    """The daily backups this module made (by their name: leadline-daily-<stamp>.tar), oldest
    first. Other files in the directory — `leadline backup`'s, anyone's — are not among them."""
    found = []
    folder = daily_dir()
    if not folder.is_dir():
        return []
    for path in folder.glob(f"{DAILY_PREFIX}*.tar"):
        stamp = path.name[len(DAILY_PREFIX) : -len(".tar")]
        try:
            made = dt.datetime.strptime(stamp, DAILY_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        found.append((made, path))
    return sorted(found)


def daily_due(*, now: dt.datetime | None = None) -> bool:
    """Whether the daily backup should run: it is on, and the newest daily backup is at least
    24 hours old (or there is none)."""
    if not settings.BACKUP_DAILY or vendor() not in {"sqlite", "postgresql"}:
        return False
    made = daily_backups()
    return not made or made[-1][0] <= (now or clock.now()) - DAILY_EVERY


@contextlib.contextmanager
def _daily_lock() -> Iterator[bool]:
    """An exclusive lock on a file in the backups directory, not waited for: True when this
    process holds it (several workers never back up at once), False when another one does."""
    import fcntl

    folder = daily_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".daily.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backup_daily(*, now: dt.datetime | None = None) -> Made | None:
    """The worker's daily backup: when due, one backup (database and media, as `leadline
    backup` makes it) into DATA_DIR/backups/leadline-daily-<UTC stamp>.tar, then the daily
    backups beyond the newest BACKUP_KEEP deleted. None when not due, or another process is at
    it. Only files named like a daily backup are ever deleted."""
    now = now or clock.now()
    if not daily_due(now=now):
        return None
    with _daily_lock() as mine:
        if not mine or not daily_due(now=now):  # another worker made it meanwhile
            return None
        # One left half-written by a killed worker (none is being written: the lock is ours).
        for partial in daily_dir().glob(f"{DAILY_PREFIX}*.tar.partial"):
            partial.unlink(missing_ok=True)
        stamp = now.astimezone(dt.UTC).strftime(DAILY_FORMAT)
        made = backup(path=daily_dir() / f"{DAILY_PREFIX}{stamp}.tar")
        for _, old in daily_backups()[: -settings.BACKUP_KEEP]:
            old.unlink(missing_ok=True)
    return made
