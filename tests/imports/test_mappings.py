"""Mappings: parsing, checking a file's header, presets, and turning cells into values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from leadline.imports.mappings import (
    Column,
    MappingError,
    ValueProblem,
    guess_role,
    mapping_check,
    mapping_complete,
    mapping_load,
    mapping_parse,
    mapping_presets,
    preset_file,
    value_convert,
)

PEOPLE = {
    "name": "crm",
    "kind": "people",
    "source": "crm",
    "missing": ["Select", "n/a"],
    "columns": {
        "Id": {"to": "external_id"},
        "E-mail": "email",
        "Visits": {"type": "number", "known_at": "Seen"},
        "Won?": {"to": "outcome", "won": ["yes"], "lost": ["no"]},
    },
}


def test_a_mapping_parses_with_roles_types_and_outcome_values() -> None:
    mapping = mapping_parse(PEOPLE)
    assert mapping.kind == "people"
    assert mapping.missing == frozenset({"Select", "n/a"})
    assert mapping.columns["E-mail"].to == "email"
    assert mapping.columns["Visits"].to == "attribute"
    assert mapping.columns["Visits"].known_at == "Seen"
    assert mapping.columns["Won?"].won == ("yes",)
    # What a job stores reads back as the same mapping.
    assert mapping_parse(mapping.as_dict()) == mapping


def test_every_problem_of_a_mapping_is_reported_naming_its_column() -> None:
    bad = {
        "kind": "people",
        "source": "crm",
        "columns": {
            "Stage": {"to": "status"},  # a role of opportunities, not people
            "Visits": {"type": "integer"},
            "Mail": "email",
            "Mail 2": "email",
            "Won?": {"to": "outcome"},
        },
    }
    with pytest.raises(MappingError) as caught:
        mapping_parse(bad)
    problems = caught.value.problems
    assert any("'Stage'" in p and "'status' is not a role for people" in p for p in problems)
    assert any("'Visits'" in p and "integer" in p for p in problems)
    assert any("'Mail 2'" in p and "email is already column 'Mail'" in p for p in problems)
    assert any("'Won?'" in p and "won and lost" in p for p in problems)


def test_an_unknown_kind_or_missing_source_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        mapping_parse({"kind": "leads", "columns": {}})
    assert any(p.startswith("kind:") for p in caught.value.problems)
    assert any(p.startswith("source:") for p in caught.value.problems)


def test_checking_a_header_names_each_missing_column_and_needed_role() -> None:
    mapping = mapping_parse(PEOPLE)
    problems = mapping_check(mapping, ["Id", "E-mail", "Won?"])
    assert "column 'Visits' is not in the file" in problems
    assert any("'Seen'" in p for p in problems)
    opportunities = mapping_parse({"kind": "opportunities", "source": "s", "columns": {}})
    problems = mapping_check(opportunities, ["deal", "stage"])
    assert "opportunities: map a column to status" in problems
    assert "opportunities: map a column to person or account" in problems
    assert mapping_check(mapping, ["Id", "E-mail", "Visits", "Won?", "Seen"]) == []


def test_columns_left_unmapped_become_attributes_typed_by_their_values() -> None:
    mapping = mapping_parse(PEOPLE)
    header = ["Id", "E-mail", "Visits", "Won?", "Seen", "Score", "City", "Pages"]
    sample = [
        ["1", "a@x.example", "3", "yes", "2024-01-01", "7.5", "Paris", "Select"],
        ["2", "b@x.example", "4", "no", "2024-01-02", "12", "Rome", "2"],
    ]
    complete = mapping_complete(mapping, header, sample)
    assert complete.columns["Score"].type == "number"
    assert complete.columns["Pages"].type == "number"  # "Select" is missing, not text
    assert complete.columns["City"].type == "text"
    assert complete.columns["Visits"].type == "number"  # declared, so not inferred
    assert not complete.columns["Visits"].inferred
    # An inferred number that does not parse later stays text; a declared one is an error.
    assert value_convert(complete.columns["Score"], "lots", mapping.missing) == "lots"
    with pytest.raises(ValueProblem, match="not a number: 'lots'"):
        value_convert(complete.columns["Visits"], "lots", mapping.missing)


def test_cells_become_typed_values() -> None:
    missing = frozenset({"Select"})
    number = Column(header="n", type="number")
    assert value_convert(number, " 5 ", missing) == 5
    assert value_convert(number, "2.5", missing) == 2.5
    assert value_convert(number, "1,234.5", missing) == 1234.5
    assert value_convert(number, "Select", missing) is None
    assert value_convert(number, "", missing) is None
    with pytest.raises(ValueProblem):
        value_convert(number, "nan", missing)
    date = Column(header="d", type="date")
    assert value_convert(date, "2024-03-01", missing) == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert value_convert(date, "2024-03-01T10:00:00+02:00", missing) == dt.datetime(
        2024, 3, 1, 8, tzinfo=dt.UTC
    )
    with pytest.raises(ValueProblem, match="not a date"):
        value_convert(date, "01/03/2024", missing)
    european = Column(header="d", type="date", format="%d/%m/%Y")
    assert value_convert(european, "01/03/2024", missing) == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    yes_no = Column(header="b", type="bool")
    assert value_convert(yes_no, "Yes", missing) is True
    assert value_convert(yes_no, "0", missing) is False
    with pytest.raises(ValueProblem):
        value_convert(yes_no, "maybe", missing)
    mapped = Column(header="s", to="status", values={"Won": "won", "Gone": ""})
    assert value_convert(mapped, "Won", missing) == "won"
    assert value_convert(mapped, "Gone", missing) is None


def test_headers_are_guessed_into_roles() -> None:
    assert guess_role("E-mail", "people") == "email"
    assert guess_role("First Name", "people") == "first_name"
    assert guess_role("Company", "people") == "account"
    assert guess_role("Lead Origin", "people") == "attribute"
    assert guess_role("Stage", "opportunities") == "status"
    assert guess_role("Name", "accounts") == "name"
    assert guess_role("Campaign", "events") == "campaign"
    assert guess_role("Whatever", "events") == "property"


def test_the_four_presets_load_and_name_their_shared_files() -> None:
    assert set(mapping_presets()) >= {
        "x-education-leads",
        "uci-bank-marketing",
        "maven-accounts",
        "maven-pipeline",
    }
    x_education = mapping_load("x-education-leads")
    assert x_education.kind == "people"
    assert x_education.columns["Prospect ID"].to == "external_id"
    assert x_education.columns["Converted"].won == ("1",)
    assert "Select" in x_education.missing
    bank = mapping_load("uci-bank-marketing")
    assert bank.delimiter == ";"
    assert bank.columns["y"].won == ("yes",)
    assert mapping_load("maven-accounts").source == mapping_load("maven-pipeline").source
    pipeline = mapping_load("maven-pipeline")
    assert pipeline.columns["deal_stage"].values["Engaging"] == "open"
    path = preset_file(pipeline)
    assert path is not None
    assert path.parts[-2:] == ("maven-crm-pipeline", "sales_pipeline.csv")


def test_a_mapping_file_loads_from_a_path_and_an_unknown_name_lists_the_presets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("kind: accounts\nsource: crm\ncolumns:\n  Company: name\n")
    mapping = mapping_load(str(path))
    assert mapping.name == "mine"
    assert mapping.columns["Company"].to == "name"
    with pytest.raises(MappingError, match="x-education-leads"):
        mapping_load("no-such-preset")
    path.write_text("kind: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        mapping_load(str(path))
