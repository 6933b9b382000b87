"""The `leadline` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leadline import cli
from tests import factories


def test_help_lists_our_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadline.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("demo", "serve", "worker", "demo-data", "token", "doctor", "leaks"):
        assert f"  {command} " in result.stdout
    assert "Django's management commands" in result.stdout


def test_unknown_command_fails_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadline.cli", "no-such-command"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "no_such_command" in result.stderr or "no-such-command" in result.stderr


# `leadline doctor`: tests/test_doctor.py.


# `leadline import` (issue 6) ---------------------------------------------------------------------


def _leads_csv(tmp_path: object) -> object:
    from pathlib import Path

    return factories.csv_file(
        path=Path(str(tmp_path)) / "leads.csv",
        header=["Id", "Email", "Visits", "Converted"],
        rows=[
            ["L1", "ann@acme.example", "5", "1"],
            ["L2", "bob@beta.example", "three", "0"],
            ["L3", "cy@acme.example", "2", "0"],
        ],
    )


def _mapping_yaml(tmp_path: object, columns: str, name: str = "leads") -> str:
    from pathlib import Path

    path = Path(str(tmp_path)) / f"{name}.yaml"
    path.write_text(f"kind: people\nsource: crm\ncolumns:\n{columns}")
    return str(path)


LEADS_COLUMNS = (
    "  Id: external_id\n  Email: email\n  Visits: {type: number}\n"
    "  Converted: {to: outcome, won: ['1'], lost: ['0']}\n"
)


@pytest.mark.django_db
def test_import_a_file_prints_a_summary_with_the_first_errors(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadline.core.models import Person

    mapping = _mapping_yaml(tmp_path, LEADS_COLUMNS)
    assert cli.main(["import", str(_leads_csv(tmp_path)), "--mapping", mapping]) == 0
    out = capsys.readouterr().out
    assert "2 imported, 1 with errors, 0 duplicates, of 3 rows (done)" in out
    assert "row 2 Visits: not a number: 'three'" in out
    assert Person.objects.count() == 2
    # Again: nothing new.
    assert cli.main(["import", str(_leads_csv(tmp_path)), "--mapping", mapping]) == 0
    assert "0 imported, 1 with errors, 2 duplicates" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_dry_run_writes_nothing(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadline.core.models import Person
    from leadline.imports.models import ImportJob

    mapping = _mapping_yaml(tmp_path, LEADS_COLUMNS)
    args = ["import", str(_leads_csv(tmp_path)), "--mapping", mapping, "--dry-run"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "Would import (dry run, nothing written): 2 imported, 1 with errors" in out
    assert "row 2 Visits" in out
    assert not Person.objects.exists()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_import_with_a_bad_mapping_exits_2_naming_the_column(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = _mapping_yaml(tmp_path, LEADS_COLUMNS + "  Phone: phone\n")
    assert cli.main(["import", str(_leads_csv(tmp_path)), "--mapping", mapping]) == 2
    assert "column 'Phone' is not in the file" in capsys.readouterr().err
    wrong_role = _mapping_yaml(tmp_path, "  Email: stage\n", name="wrong")
    assert cli.main(["import", str(_leads_csv(tmp_path)), "--mapping", wrong_role]) == 2
    assert "column 'Email': 'stage' is not a role for people" in capsys.readouterr().err
    assert cli.main(["import", "/no/such/file.csv", "--mapping", mapping]) == 2
    assert "cannot open /no/such/file.csv" in capsys.readouterr().err
    assert cli.main(["import", "x.csv", "--mapping", "no-such-preset"]) == 2
    assert "x-education-leads" in capsys.readouterr().err


@pytest.mark.django_db
def test_import_resume_goes_on_with_a_stopped_job(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadline.core.models import Person
    from leadline.imports import services
    from leadline.imports.mappings import mapping_load

    monkeypatch.setattr(services, "CHUNK", 1)

    def power_cut(done: int, total: int) -> None:
        raise RuntimeError("power cut")

    mapping = mapping_load(_mapping_yaml(tmp_path, LEADS_COLUMNS))
    with pytest.raises(RuntimeError):
        services.import_file(path=_leads_csv(tmp_path), mapping=mapping, progress=power_cut)  # type: ignore[arg-type]
    from leadline.imports.models import ImportJob

    job = ImportJob.objects.get()
    assert job.rows_done == 1
    assert cli.main(["import", "--resume", str(job.pk)]) == 0
    out = capsys.readouterr().out
    assert "2 imported, 1 with errors, 0 duplicates, of 3 rows (done)" in out
    assert "1 row was not imported; the first errors:" in out
    assert Person.objects.count() == 2
    assert cli.main(["import", "--resume", "999999"]) == 2


def test_import_lists_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "--list-presets"]) == 0
    out = capsys.readouterr().out
    for name in ("x-education-leads", "uci-bank-marketing", "maven-accounts", "maven-pipeline"):
        assert name in out
    assert "x-education-leads/Leads.csv" in out
