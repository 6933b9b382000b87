"""Rows in bulk: `COPY` on PostgreSQL, multi-row inserts on SQLite, no model instance per row.

Used where the services' one-row-at-a-time path would take hours: the million-people demo data
(`demo.scale`) and the benchmarks' loaders (`bench/sla.py`). The rows are what the services would
have written; the caller is responsible for that, this module only for writing them fast and with
each column adapted as Django would adapt it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from django.core.management.color import no_style
from django.db import connection, models

_PG_NAMES = {
    "timestamp with time zone": "timestamptz",
    "double precision": "float8",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "boolean": "bool",
}


_NEEDED = object()


def _json_adapter(encoder: Any) -> Callable[[Any], Any]:
    """How a JSON column's value is adapted, decided once per table, not per row."""
    if connection.vendor == "postgresql" and encoder is None:
        # orjson writes the same JSON as the standard library's, several times faster; at
        # tens of millions of rows the encoding was a tenth of the load's time.
        from psycopg.types.json import Jsonb

        return functools.partial(Jsonb, dumps=_orjson_text)
    return functools.partial(connection.ops.adapt_json_value, encoder=encoder)


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class Table:
    """Rows of one model, inserted in bulk with the model's own columns, defaults and database
    adaptation (a datetime as the backend stores it, JSON as JSON), without building a model
    instance per row. Ids are given here, counting on from the table's highest."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.name: str = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        pk = model._meta.pk
        assert pk is not None
        self.pk = pk
        self.auto_pk = isinstance(pk, models.AutoField)
        ops = connection.ops
        # Per column: the field, how its value is adapted, whether a row must give it (a moment:
        # the default would be the real time, not the simulated one).
        self.columns: list[tuple[Any, Any, bool]] = []
        for field in self.fields:
            convert: Any = None
            if isinstance(field, models.DateTimeField):
                convert = ops.adapt_datetimefield_value
            elif isinstance(field, models.JSONField):
                convert = _json_adapter(field.encoder)
            required = isinstance(field, models.DateTimeField) and not field.null
            self.columns.append((field, convert, required))
        # Each column's default, adapted once (a callable default such as `dict` gives the
        # same value every time; a moment has none: the row must give it).
        self.defaults: list[Any] = []
        self.slots: dict[str, tuple[int, Any]] = {}
        self.required: list[int] = []
        for slot, (field, convert, required) in enumerate(self.columns):
            self.slots[field.attname] = (slot, convert)
            if required:
                self.required.append(slot)
                self.defaults.append(_NEEDED)
                continue
            value = field.get_default()
            self.defaults.append(value if convert is None or value is None else convert(value))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX({pk.column}) FROM {self.name}")  # noqa: S608
            row = cursor.fetchone()
            self.next_id: int = ((row[0] if row else None) or 0) + 1
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0

    def add(self, **values: Any) -> int:
        """Queue a row; returns its id (the primary key's value)."""
        if self.auto_pk:
            pk = values[self.pk.attname] = self.next_id
            self.next_id += 1
        else:
            pk = values[self.pk.attname]
        row = self.defaults.copy()
        for name, value in values.items():
            slot, convert = self.slots[name]
            row[slot] = value if convert is None or value is None else convert(value)
        for slot in self.required:
            if row[slot] is _NEEDED:
                raise ValueError(f"{self.name}.{self.fields[slot].attname}: a moment is needed")
        self.rows.append(tuple(row))
        return int(pk)

    def maker(self, *names: str) -> Callable[..., int]:
        """A faster `add` for the hottest tables: a function taking the values of `names`, in
        that order, every other column its default (worked out once, not per row)."""
        assert self.auto_pk, "maker() counts the ids itself"
        for slot in self.required:
            if self.fields[slot].attname not in names:
                raise ValueError(f"{self.name}.{self.fields[slot].attname}: a moment is needed")
        template = self.defaults.copy()
        slots = [self.slots[name] for name in names]
        pk_slot = self.slots[self.pk.attname][0]
        rows = self.rows

        def make(*values: Any) -> int:
            row = template.copy()
            pk = row[pk_slot] = self.next_id
            self.next_id += 1
            for (slot, convert), value in zip(slots, values, strict=True):
                row[slot] = value if convert is None or value is None else convert(value)
            rows.append(tuple(row))
            return pk

        return make

    def flush(self) -> int:
        """Write the queued rows; returns how many."""
        rows = self.rows[:]
        self.rows.clear()  # the same list: a `maker` holds it
        if not rows:
            return 0
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        table = quote(self.name)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Binary: the server reads a moment as 8 bytes instead of parsing its text,
                # which about doubled the rows a second in a trial on this machine.
                types = self._binary_types()
                form = " (FORMAT BINARY)" if types else ""
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN{form}") as copy:
                    if types:
                        copy.set_types(types)
                    for row in rows:
                        copy.write_row(row)
            else:
                # SQLite allows 32,766 parameters a statement: as many rows as fit.
                per = max(1, 32_000 // len(self.fields))
                marks = "(" + ", ".join("%s" for _ in self.fields) + ")"
                for start in range(0, len(rows), per):
                    part = rows[start : start + per]
                    values = ", ".join(marks for _ in part)
                    cursor.execute(
                        f"INSERT INTO {table} ({columns}) VALUES {values}",  # noqa: S608
                        [value for row in part for value in row],
                    )
        self.written += len(rows)
        return len(rows)

    def _binary_types(self) -> list[str] | None:
        """The columns' PostgreSQL type names for a binary COPY; None when one has no binary
        form psycopg knows (the rows then go as text)."""
        if not hasattr(self, "_types"):
            names: list[str] | None = []
            known = connection.connection.adapters.types
            for field in self.fields:
                db_type = (field.db_type(connection) or "").split("(")[0].strip()
                name = _PG_NAMES.get(db_type, db_type)
                if names is None or name not in known:
                    names = None
                    break
                names.append(name)
            self._types = names
        return self._types

    def sequence_reset(self) -> None:
        """After ids given here, PostgreSQL's sequence must continue after the highest."""
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [self.model]):
                cursor.execute(statement)


@contextlib.contextmanager
def indexes_set_aside(
    models_: Iterable[type[models.Model]], *, say: Callable[[str], None] = lambda text: None
) -> Iterator[None]:
    """On PostgreSQL, load without the tables' secondary indexes, unique and foreign-key
    constraints, and build them once at the end (what `pg_restore` does): kept up to date row by
    row they halved the rows a second, and each foreign key is a trigger per row at commit.
    Put back in `finally`, so a failed load still leaves the schema whole. Elsewhere: nothing.

    Only for loading into a database nobody is using: while set aside, nothing checks the rows.
    """
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in models_]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u')",
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            [tables],
        )
        indexes = cursor.fetchall()
        quote = connection.ops.quote_name
        # Foreign keys first: a unique constraint may be what one of them points at.
        for table, name, _, _ in sorted(constraints, key=lambda c: c[2] != "f"):
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    say(f"set aside {len(indexes)} indexes and {len(constraints)} constraints while loading")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for number, (name, definition) in enumerate(indexes, 1):
                say(f"building index {number} of {len(indexes)}: {name}")
                cursor.execute(definition)
            for table, name, _, definition in sorted(constraints, key=lambda c: c[2] == "f"):
                say(f"checking constraint {name}")
                cursor.execute(
                    f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
                )
            cursor.execute("RESET maintenance_work_mem")
