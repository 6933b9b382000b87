"""Operations the migrations share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def postgres_only(*, forward: Sequence[str], backward: Sequence[str]) -> migrations.RunPython:
    """SQL run on PostgreSQL only, nothing elsewhere: the indexes the scale work needs that a
    model's `Meta.indexes` cannot say for every database (trigram GIN, INCLUDE, raw partial
    conditions), and that SQLite's small data sets do not need."""

    def run(statements: Sequence[str]) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            for statement in statements:
                schema_editor.execute(statement)

        return apply

    return migrations.RunPython(run(forward), run(backward), elidable=False)
