"""The leakage guard on the public data sets, imported through their presets: it must find the
fields filled in after the outcome by itself (the acceptance of issue 6; bench/insight_accuracy.py
prints the models' figures)."""

from __future__ import annotations

import os

import pytest

from leadline.imports.mappings import mapping_load, preset_file, shared_data_dir
from leadline.imports.services import import_file
from leadline.insight import features, prediction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not (shared_data_dir() / "README.md").exists(),
        reason=f"the shared data sets are not at {shared_data_dir()}",
    ),
    # The guard reads pandas frames, the same on either database; the imports it needs are
    # tested on both (tests/imports/test_public_data.py). Once is enough for CI's 25 minutes.
    pytest.mark.skipif(
        os.environ.get("LEADLINE_DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="the leakage guard on the public data runs in the SQLite pass",
    ),
]


def _flagged(*presets: str) -> dict[str, str]:
    for preset in presets:
        mapping = mapping_load(preset)
        import_file(path=preset_file(mapping), mapping=mapping)  # type: ignore[arg-type]
    checks = prediction.leakage_check(features.win_examples())
    return {check.name: check.why for check in checks if check.flagged}


def test_x_education_tags_and_lead_quality_are_flagged_and_honest_fields_are_not() -> None:
    flagged = _flagged("x-education-leads")

    assert {"Tags", "Lead Quality"} <= set(flagged)
    assert "by itself" in flagged["Tags"] or "alone" in flagged["Tags"], flagged["Tags"]
    for honest in ("Total Time Spent on Website", "Lead Source", "Lead Origin", "TotalVisits"):
        assert honest not in flagged, flagged.get(honest)


def test_bank_marketing_duration_is_flagged_and_the_economy_is_not() -> None:
    flagged = _flagged("uci-bank-marketing")

    assert "duration" in flagged
    # Not only by its name: the figures show it carries what no honest field does.
    assert "Carries most of the signal" in flagged["duration"], flagged
    for honest in ("euribor3m", "nr.employed", "age", "job", "contact"):
        assert honest not in flagged, flagged.get(honest)


def test_maven_static_fields_raise_no_flag() -> None:
    assert _flagged("maven-accounts", "maven-pipeline") == {}
