"""Rows in bulk: `COPY` on PostgreSQL, multi-row inserts on SQLite, no model instance per row.

Used where the services' one-row-at-a-time path would take hours: the million-people demo data
(`demo.scale`) and the benchmarks' loaders (`bench/sla.py`). The rows are what the services would
have written; the caller is responsible for that, this module only for writing them fast and with
each column adapted as Django would adapt it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models


def _json(ops: Any, encoder: Any, value: Any) -> Any:
    return ops.adapt_json_value(value, encoder)


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
                convert = functools.partial(_json, ops, field.encoder)
            required = isinstance(field, models.DateTimeField) and not field.null
            self.columns.append((field, convert, required))
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
        row = []
        for field, convert, required in self.columns:
            if field.attname in values:
                value = values[field.attname]
            elif required:
                raise ValueError(f"{self.name}.{field.attname}: a moment is needed")
            else:
                value = field.get_default()
            row.append(value if convert is None or value is None else convert(value))
        self.rows.append(tuple(row))
        return int(pk)

    def flush(self) -> int:
        """Write the queued rows; returns how many."""
        rows, self.rows = self.rows, []
        if not rows:
            return 0
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        table = quote(self.name)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
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

    def sequence_reset(self) -> None:
        """After ids given here, PostgreSQL's sequence must continue after the highest."""
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [self.model]):
                cursor.execute(statement)
