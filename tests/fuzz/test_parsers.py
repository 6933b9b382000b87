"""Property tests of the parsers that read what outsiders send: form fields, CSV files, cells.

Each property: never an exception but the documented one, normalising twice changes nothing,
and a value written out and read back is the same value. Bounded (max_examples) to run in
seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadline.api.common import email_checked
from leadline.capture.ingest import form_spec
from leadline.capture.services import email_normalise
from leadline.capture.validation import phone_e164, submission_clean
from leadline.imports.mappings import (
    Column,
    ValueProblem,
    date_parse,
    mapping_parse,
    number_parse,
    value_convert,
)
from leadline.imports.services import ImportFileError, file_preview
from tests import factories

FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True)
IN_DB = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FORM_KEYS = st.sampled_from(
    ["email", "first_name", "last_name", "company", "phone", "country", "consent", "contact_me",
     "utm_source", "utm_medium", "utm_campaign", "page_url", "referrer", "_key", "website_url"]
)  # fmt: skip
BODIES = st.dictionaries(FORM_KEYS | st.text(max_size=12), JSON, max_size=10)


# Email -------------------------------------------------------------------------------------------


@FAST
@given(st.text(max_size=60))
def test_email_normalising_is_idempotent(text: str) -> None:
    once = email_normalise(text)
    assert email_normalise(once) == once
    assert once == once.strip().lower()


@FAST
@given(st.text(max_size=60) | st.emails())
def test_email_checking_refuses_with_value_error_only_and_keeps_a_normal_form(text: str) -> None:
    problem = None
    try:
        checked = email_checked(text)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        assert problem == "enter a valid email address"
        return
    assert checked == email_normalise(text)
    assert email_checked(checked) == checked  # a checked address passes again, unchanged


# Phone numbers -----------------------------------------------------------------------------------

PHONE_TEXT = st.text(alphabet=string.digits + " +-()./xext", max_size=24) | st.text(max_size=24)


@FAST
@given(PHONE_TEXT, st.sampled_from([None, "GB", "US", "DE", "FR", "XX", ""]))
def test_phone_e164_never_raises_and_its_answer_reads_back_as_itself(
    text: str, region: str | None
) -> None:
    number = phone_e164(text, region=region)
    if number is None:
        return
    assert number.startswith("+"), number
    assert number[1:].isdigit(), number
    assert phone_e164(number) == number  # E.164 is a fixed point, whatever the region


# Import cells ------------------------------------------------------------------------------------


@FAST
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_numbers_read_back_as_written(n: int) -> None:
    assert number_parse(str(n)) == n
    assert number_parse(f"{n:,}") == n  # thousands separators
    assert number_parse(f" {n} ") == n


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_read_back_as_written(x: float) -> None:
    assert number_parse(repr(x)) == x


@FAST
@given(st.datetimes(timezones=st.timezones() | st.just(dt.UTC)))
def test_dates_read_back_as_the_same_moment_in_utc(moment: dt.datetime) -> None:
    if moment.utcoffset() is None:
        return
    read = date_parse(moment.isoformat())
    assert read == moment
    assert read.utcoffset() == dt.timedelta(0)


COLUMNS = st.builds(
    Column,
    header=st.just("Cell"),
    to=st.sampled_from(["attribute", "email", "external_id", "created_at"]),
    type=st.sampled_from([None, "number", "date", "bool", "text"]),
    format=st.sampled_from([None, "%d/%m/%Y", "%Y-%m-%d %H:%M"]),
    inferred=st.booleans(),
    values=st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


@FAST
@given(COLUMNS, st.text(max_size=40))
def test_a_cell_converts_or_says_why_never_anything_else(column: Column, raw: str) -> None:
    problem = None
    try:
        value = value_convert(column, raw, frozenset({"", "NA", "-"}))
    except ValueProblem as exc:
        problem = str(exc)
    if problem is not None:
        assert problem.startswith("not "), problem  # "not a number: …", "not a date …"
        return
    assert value is None or isinstance(value, int | float | str | bool | dt.datetime)


# CSV files ---------------------------------------------------------------------------------------

MAPPING = mapping_parse({"kind": "people", "source": "crm", "columns": {"Email": "email"}})
CELLS = st.text(alphabet=st.characters(blacklist_characters="\x00\r", codec="utf-8"), max_size=12)


@FAST
@given(data=st.binary(max_size=300))
def test_any_file_reads_or_says_why(data: bytes, tmp_path_factory: Any) -> None:
    path = Path(tmp_path_factory.mktemp("csv")) / "any.csv"
    path.write_bytes(data)
    try:
        header, rows = file_preview(path=path, mapping=MAPPING, rows=50)
    except ImportFileError:
        return
    assert all(isinstance(cell, str) for row in [header, *rows] for cell in row)


@FAST
@given(
    header=st.lists(CELLS.map(str.strip).filter(bool), min_size=1, max_size=5),
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=5), max_size=8),
)
def test_a_written_csv_reads_back_the_same(
    header: list[str], rows: list[list[str]], tmp_path_factory: Any
) -> None:
    path = Path(tmp_path_factory.mktemp("csv")) / "round.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    read_header, read_rows = file_preview(path=path, mapping=MAPPING, rows=50)
    assert read_header == header
    assert read_rows == rows


# Form submissions --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_any_json_body_cleans_to_values_or_field_errors() -> None:
    form = factories.form(slug="fuzz-form")
    spec = form_spec(form.slug)
    assert spec is not None
    names = {field["name"] for field in spec.fields}

    @IN_DB
    @given(BODIES)
    def check(body: dict[str, Any]) -> None:
        clean, errors = submission_clean(spec, body)
        assert set(errors) <= names | set(body), errors
        assert all(isinstance(message, str) and message for message in errors.values())
        if not errors and clean.get("email"):
            assert clean["email"] == email_normalise(clean["email"])

    check()


@pytest.mark.django_db
def test_no_json_body_makes_the_capture_endpoints_fail(settings: Any) -> None:
    settings.CAPTURE_RATE_LIMIT = settings.CAPTURE_FORM_RATE_LIMIT = "1000000/60"
    settings.CAPTURE_MIN_FILL_SECONDS = 0
    factories.form(slug="fuzz-form")
    from leadline.core.models import Role
    from tests.api.conftest import bearer

    api = bearer(factories.user(role=Role.ADMIN))
    public = Client()
    statuses: set[int] = set()

    @IN_DB
    @given(BODIES | JSON)
    @example({"email": "Ann@Acme.example", "first_name": "Ann", "consent": True})
    def check(body: Any) -> None:
        data = json.dumps(body)
        answer = public.post("/f/fuzz-form/", data, content_type="application/json")
        assert answer.status_code < 500, (body, answer.content[:300])
        statuses.add(answer.status_code)
        answer = api.post(
            "/api/v1/forms/fuzz-form/submissions", data, content_type="application/json"
        )
        assert answer.status_code < 500, (body, answer.content[:300])
        statuses.add(answer.status_code)

    check()
    assert statuses & {200, 201}, statuses  # a good body is taken
    assert statuses & {400, 422}, statuses
