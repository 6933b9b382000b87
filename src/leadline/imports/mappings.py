"""Mappings: what each column of a CSV file becomes. Pure: parsing, checking, values; no ORM.

A mapping is a YAML or JSON dict::

    name: x-education-leads
    kind: people            # people | accounts | opportunities | events | journey_history
    source: x-education     # namespace of the file's own ids
    file: x-education-leads/Leads.csv   # presets: relative to the shared data directory
    delimiter: ","
    encoding: utf-8
    missing: ["Select"]     # values that mean "no value" (the empty cell always does)
    columns:
      Prospect ID: {to: external_id}
      Converted: {to: outcome, won: ["1"], lost: ["0"]}
      TotalVisits: {to: attribute, type: number, known_at: Visited at}
      Lead Origin: {}       # an attribute; type inferred from the values

A column the mapping does not name becomes an attribute (people, accounts, opportunities) or an
event property (events), with its type inferred: number when every value in the sample parses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

PRESETS_DIR = Path(__file__).resolve().parent / "mappings"
KINDS = ("people", "accounts", "opportunities", "events", "journey_history")
TYPES = ("text", "number", "date", "bool")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# Every role a column can have, per kind. "attribute" keeps the value as a custom field
# (events: "property", a property of the event); "ignore" drops the column.
ROLES: dict[str, tuple[str, ...]] = {
    "people": (
        "external_id", "email", "first_name", "last_name", "full_name", "title",
        "role_own_words", "phone", "country", "account", "created_at", "attribute",
        "outcome", "outcome_at", "ignore",
    ),
    "accounts": (
        "external_id", "name", "domain", "industry", "employees", "country", "attribute",
        "ignore",
    ),
    "opportunities": (
        "external_id", "name", "person", "account", "amount", "status", "opened_at",
        "closed_at", "attribute", "ignore",
    ),
    "events": (
        "external_id", "person", "name", "occurred_at", "campaign", "channel", "content",
        *UTM, "property", "ignore",
    ),
    "journey_history": ("person", "account", "journey", "step", "at", "ignore"),
}  # fmt: skip
# Roles a column may hold once per mapping (attributes, properties and ignored ones: any number).
MANY = {"attribute", "property", "ignore"}
# The role each role's values have, when the column does not say.
ROLE_TYPES = {
    "created_at": "date", "outcome_at": "date", "opened_at": "date", "closed_at": "date",
    "occurred_at": "date", "at": "date", "employees": "number", "amount": "number",
}  # fmt: skip
# Which columns each kind cannot do without: one of each tuple.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "people": (),
    "accounts": (("name", "external_id"),),
    "opportunities": (("status",), ("person", "account")),
    "events": (("person",), ("name",), ("occurred_at",)),
    "journey_history": (("person", "account"), ("step",), ("at",)),
}
STATUSES = ("open", "won", "lost")
TRUE_WORDS = {"1", "true", "yes", "y", "t", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "off"}
# Header words → the role a column most likely has, for the mapping page's first guess.
GUESSES: dict[str, str] = {
    "email": "email", "e-mail": "email", "email address": "email", "mail": "email",
    "first name": "first_name", "firstname": "first_name", "given name": "first_name",
    "last name": "last_name", "lastname": "last_name", "surname": "last_name",
    "family name": "last_name", "name": "full_name", "full name": "full_name",
    "title": "title", "job title": "title", "phone": "phone", "telephone": "phone",
    "mobile": "phone", "phone number": "phone", "country": "country", "company": "account",
    "account": "account", "organisation": "account", "organization": "account",
    "id": "external_id", "external id": "external_id", "created": "created_at",
    "created at": "created_at", "domain": "domain", "website": "domain",
    "industry": "industry", "sector": "industry", "employees": "employees",
    "amount": "amount", "value": "amount", "status": "status", "stage": "status",
    "opened": "opened_at", "opened at": "opened_at", "closed": "closed_at",
    "closed at": "closed_at", "close date": "closed_at", "person": "person",
    "event": "name", "occurred at": "occurred_at", "timestamp": "occurred_at",
    "date": "occurred_at", "time": "occurred_at", "campaign": "campaign",
    "channel": "channel", "content": "content", "journey": "journey", "step": "step",
    "at": "at", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "utm_content": "utm_content", "utm_term": "utm_term",
}  # fmt: skip


def _words(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


_GUESSES = {_words(k): v for k, v in GUESSES.items()}
INFER_SAMPLE = 1000  # rows read to infer the type of a column the mapping does not type


class MappingError(ValueError):
    """A mapping that cannot be used; `problems` are sentences, each naming its column."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ValueProblem(ValueError):
    """A cell that does not fit its column ("not a number: 'abc'")."""


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    to: str = "attribute"
    type: str | None = None  # None: inferred from the values (soft: a misfit stays text)
    known_at: str | None = None  # the column that says when this value became known
    values: dict[str, str] = dataclasses.field(default_factory=dict)  # value map, applied first
    name: str | None = None  # the attribute's / property's name (default: the header)
    won: tuple[str, ...] = ()  # outcome: the values that mean won
    lost: tuple[str, ...] = ()  # outcome: the values that mean lost
    format: str | None = None  # dates: a strptime format, when not ISO 8601
    inferred: bool = False  # the type was guessed from a sample: a misfit stays text

    @property
    def field_name(self) -> str:
        return self.name or self.header

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"to": self.to}
        for key in ("known_at", "name", "format"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.type:
            data["type"] = self.type
        if self.inferred:
            data["inferred"] = True
        if self.values:
            data["values"] = dict(self.values)
        if self.won:
            data["won"] = list(self.won)
        if self.lost:
            data["lost"] = list(self.lost)
        return data


@dataclasses.dataclass(frozen=True)
class Mapping:
    kind: str
    source: str
    columns: dict[str, Column]
    name: str = ""
    delimiter: str = ","
    encoding: str = "utf-8"
    missing: frozenset[str] = frozenset()
    file: str | None = None  # presets: the file, relative to the shared data directory
    journey: str | None = None  # journey_history: the journey when no column names it
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "missing": sorted(self.missing),
            "columns": {header: column.as_dict() for header, column in self.columns.items()},
        }
        for key in ("file", "journey", "description"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def role_column(self, role: str) -> Column | None:
        return next((c for c in self.columns.values() if c.to == role), None)

    def with_columns(self, columns: dict[str, Column]) -> Mapping:
        return dataclasses.replace(self, columns=columns)


def _strings(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str | int | float | bool):
        raw = [raw]
    if not isinstance(raw, list):
        problems.append(f"{where}: give a list of values")
        return ()
    return tuple(_text(v) for v in raw)


def _text(value: Any) -> str:
    """A YAML scalar as the text a CSV cell would hold (YAML reads 1 as int, yes as True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def mapping_parse(data: Any) -> Mapping:
    """A mapping from its dict form (as read from YAML or JSON, or stored on a job).

    Raises MappingError listing every problem, each naming the key or column."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingError(["the mapping must be a dict with kind, source and columns"])
    known = {"name", "kind", "source", "file", "delimiter", "encoding", "missing", "columns",
             "journey", "description"}  # fmt: skip
    for key in data:
        if key not in known:
            problems.append(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
        kind = None
    source = _text(data.get("source") or data.get("name") or "").strip()
    if not source:
        problems.append("source: give a name for the file's ids (e.g. 'crm-export')")
    delimiter = _text(data.get("delimiter", ",")) or ","
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1:
        problems.append(f"delimiter: {delimiter!r} must be one character")
    encoding = _text(data.get("encoding", "utf-8")) or "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        problems.append(f"encoding: {encoding!r} is not an encoding Python knows")
    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, dict):
        problems.append("columns: give a dict of {CSV header: {to: role, ...}}")
        raw_columns = {}
    columns: dict[str, Column] = {}
    for header, spec in raw_columns.items():
        column = _column_parse(str(header), spec, kind, problems)
        if column is not None:
            columns[str(header)] = column
    if kind is not None:
        seen: dict[str, str] = {}
        for column in columns.values():
            if column.to in MANY:
                continue
            if column.to in seen:
                problems.append(
                    f"column {column.header!r}: {column.to} is already column {seen[column.to]!r}"
                )
            seen[column.to] = column.header
    journey = data.get("journey")
    if problems:
        raise MappingError(problems)
    assert kind is not None
    return Mapping(
        kind=kind,
        source=source,
        columns=columns,
        name=_text(data.get("name", "")),
        delimiter=delimiter,
        encoding=encoding,
        missing=frozenset(_strings(data.get("missing"), "missing", problems)),
        file=_text(data["file"]) if data.get("file") else None,
        journey=_text(journey) if journey else None,
        description=_text(data.get("description", "")),
    )


def _column_parse(header: str, spec: Any, kind: str | None, problems: list[str]) -> Column | None:
    where = f"column {header!r}"
    if spec is None:
        spec = {}
    if isinstance(spec, str):
        spec = {"to": spec}
    if not isinstance(spec, dict):
        problems.append(f"{where}: give {{to: role}} or a role name")
        return None
    known = {"to", "type", "known_at", "values", "name", "won", "lost", "format", "inferred"}
    for key in spec:
        if key not in known:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    to = _text(spec.get("to") or ("property" if kind == "events" else "attribute"))
    if to == "attribute" and kind == "events":
        to = "property"
    if kind is not None and to not in ROLES[kind]:
        problems.append(f"{where}: {to!r} is not a role for {kind} ({', '.join(ROLES[kind])})")
    kind_of_value = spec.get("type")
    if kind_of_value is not None and kind_of_value not in TYPES:
        problems.append(f"{where}: type {kind_of_value!r} is not one of {', '.join(TYPES)}")
    values = spec.get("values") or {}
    if not isinstance(values, dict):
        problems.append(f"{where}: values must map a value in the file to what it means")
        values = {}
    values = {_text(k): _text(v) for k, v in values.items()}
    won = _strings(spec.get("won"), f"{where}: won", problems)
    lost = _strings(spec.get("lost"), f"{where}: lost", problems)
    if to == "outcome":
        meant = {*won, *lost, *(v for v in values.values() if v in ("won", "lost"))}
        if not meant:
            problems.append(f"{where}: an outcome needs the values that mean won and lost")
        for value in (*values.values(),):
            if value and value not in ("won", "lost"):
                problems.append(f"{where}: an outcome value maps to won or lost, not {value!r}")
    if to == "status":
        for value in values.values():
            if value and value not in STATUSES:
                problems.append(f"{where}: status {value!r} is not one of {', '.join(STATUSES)}")
    known_at = spec.get("known_at")
    return Column(
        header=header,
        to=to,
        type=kind_of_value,
        known_at=_text(known_at) if known_at else None,
        values=values,
        name=_text(spec["name"]) if spec.get("name") else None,
        won=won,
        lost=lost,
        format=_text(spec["format"]) if spec.get("format") else None,
        inferred=bool(spec.get("inferred")),
    )


def mapping_presets() -> dict[str, Path]:
    """The shipped presets by name."""
    return {path.stem: path for path in sorted(PRESETS_DIR.glob("*.yaml"))}


def mapping_load(name_or_path: str) -> Mapping:
    """A preset by name ("x-education-leads") or a mapping file (YAML or JSON) by path."""
    presets = mapping_presets()
    if name_or_path in presets:
        path = presets[name_or_path]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise MappingError(
                [
                    f"no preset or mapping file {name_or_path!r} "
                    f"(presets: {', '.join(presets) or 'none'})"
                ]
            )
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise MappingError([f"{path.name} is not valid YAML/JSON: {exc}"]) from exc
    if isinstance(data, dict) and not data.get("name"):
        data["name"] = path.stem
    return mapping_parse(data)


def shared_data_dir() -> Path:
    """The public data sets: $LEADLINE_SHARED_DATA, else ../shared/data next to the project."""
    if configured := os.environ.get("LEADLINE_SHARED_DATA"):
        return Path(configured)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def preset_file(mapping: Mapping) -> Path | None:
    """The file a preset names, resolved against the shared data directory."""
    if not mapping.file:
        return None
    path = Path(mapping.file)
    return path if path.is_absolute() else shared_data_dir() / path


def mapping_check(mapping: Mapping, header: Sequence[str]) -> list[str]:
    """What stops this mapping from reading a file with this header; each problem names its
    column. Empty: the file can be imported."""
    problems: list[str] = []
    present = set(header)
    duplicates = sorted({h for h in header if list(header).count(h) > 1})
    problems += [f"column {h!r} appears more than once in the header" for h in duplicates]
    for column in mapping.columns.values():
        if column.header not in present:
            problems.append(f"column {column.header!r} is not in the file")
        if column.known_at and column.known_at not in present:
            problems.append(
                f"column {column.header!r}: its known_at column {column.known_at!r} "
                "is not in the file"
            )
    roles = {c.to for c in mapping.columns.values() if c.header in present}
    for needed in REQUIRED[mapping.kind]:
        if not roles.intersection(needed):
            problems.append(f"{mapping.kind}: map a column to {' or '.join(needed)}")
    if mapping.kind == "journey_history" and "journey" not in roles and not mapping.journey:
        problems.append("journey history needs a column mapped to journey, or `journey:` set")
    return problems


def mapping_complete(
    mapping: Mapping, header: Sequence[str], sample: Iterable[Sequence[str]]
) -> Mapping:
    """The mapping with a column for every header: the ones it does not name become attributes
    (events: properties; journey history: ignored), typed by what the sample rows hold."""
    rows = list(sample)
    columns = dict(mapping.columns)
    for index, head in enumerate(header):
        column = columns.get(head)
        if column is None:
            column = Column(header=head, to=guess_role("", mapping.kind))
        if column.type is None and column.to in MANY and column.to != "ignore":
            values = (row[index] for row in rows if index < len(row))
            mapped = (column.values.get(v.strip(), v) for v in values)
            inferred = infer_type(mapped, mapping.missing)
            column = dataclasses.replace(column, type=inferred, inferred=True)
        columns[head] = column
    return mapping.with_columns(columns)


def infer_type(values: Iterable[str], missing: frozenset[str]) -> str:
    """number when every value that is not missing parses as one (and there is at least one)."""
    seen = False
    for value in values:
        value = value.strip()
        if not value or value in missing:
            continue
        try:
            number_parse(value)
        except ValueProblem:
            return "text"
        seen = True
    return "number" if seen else "text"


def guess_role(header: str, kind: str) -> str:
    """The role a header most likely means ("E-mail" → email), else attribute."""
    role = _GUESSES.get(_words(header))
    if kind == "events" and role == "full_name":
        role = "name"
    if kind in ("accounts", "opportunities") and role == "full_name":
        role = "name"
    if role and role in ROLES[kind]:
        return role
    return {"events": "property", "journey_history": "ignore"}.get(kind, "attribute")


# Values ------------------------------------------------------------------------------------------


def number_parse(value: str) -> int | float:
    """ "5" → 5, "2.5" → 2.5, "1,234.5" → 1234.5; NaN and infinity are refused."""
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    try:
        if re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        number = float(text)
    except ValueError:
        raise ValueProblem(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueProblem(f"not a number: {value!r}")
    return number


def bool_parse(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueProblem(f"not yes or no: {value!r}")


def date_parse(value: str, fmt: str | None = None) -> dt.datetime:
    """ISO 8601 (a date, or a time with or without a zone; none given: UTC), or `fmt`."""
    text = value.strip()
    try:
        if fmt:
            moment = dt.datetime.strptime(text, fmt)  # naive: UTC, below
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        how = f"in the form {fmt}" if fmt else "in ISO 8601 form (2024-05-31 or 2024-05-31T10:00Z)"
        raise ValueProblem(f"not a date {how}: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def value_convert(column: Column, raw: str, missing: frozenset[str]) -> Any:
    """A cell's value as its column's type; None when missing. Raises ValueProblem.

    Types the mapping declares are strict; an inferred number that does not parse stays text."""
    text = raw.strip()
    if text in column.values:
        text = column.values[text]
    if not text or text in missing:
        return None
    kind_of_value = column.type or ROLE_TYPES.get(column.to)
    if kind_of_value == "number":
        if column.inferred:
            try:
                return number_parse(text)
            except ValueProblem:
                return text
        return number_parse(text)
    if kind_of_value == "date":
        return date_parse(text, column.format)
    if kind_of_value == "bool":
        return bool_parse(text)
    return text
