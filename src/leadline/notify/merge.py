"""Merge fields in mail a user writes ("Hi {{ first_name }}"): filled in by plain substitution,
never by a template engine, so nothing a marketer or seller writes can reach into the product.
Which fields there are, and their values, is the caller's (a newsletter's, a cadence's)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from django.utils.html import escape

# Wide on purpose: "{{ first_name|upper }}" is found, and refused as unknown, rather than sent as
# it stands.
MERGE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.|:\"' ]*?)\s*\}\}")


def merge_fields_unknown(text: str, known: Collection[str]) -> list[str]:
    """The fields `text` names that are not `known`, each once, in order."""
    return sorted({name for name in MERGE_FIELD.findall(text) if name not in known})


def merge_render(text: str, values: Mapping[str, str], *, html: bool = False) -> str:
    """Put the values in place of {{ field }}; a field without a value stays as written. In HTML
    the values are escaped."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return str(escape(values[name])) if html else values[name]

    return MERGE_FIELD.sub(fill, text)
