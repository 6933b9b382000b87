"""The `leadline` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leadline import cli
from leadline.capture.models import Submission
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


@pytest.mark.django_db
def test_doctor_says_ok_then_flags_unprocessed_submissions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["doctor"]) == 0
    assert "every submission processed" in capsys.readouterr().out
    Submission.objects.create(
        form=factories.form(), idempotency_key="k", payload={"email": "a@b.example"}
    )
    assert cli.main(["doctor"]) == 1
    assert "1 submissions waiting or failed" in capsys.readouterr().out
