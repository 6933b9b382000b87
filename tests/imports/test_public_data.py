"""The public data sets in ../shared/data, each through its shipped preset (bulk: seconds each).

The expected figures are counted from the files here, independently of the importer."""

from __future__ import annotations

import csv
import time

import pytest
from django.db import connection

from leadline.core.models import Account, Person
from leadline.engagement.models import Opportunity
from leadline.imports.mappings import mapping_load, preset_file, shared_data_dir
from leadline.imports.models import ExternalRef
from leadline.imports.services import import_file

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not (shared_data_dir() / "README.md").exists(),
        reason=f"the shared data sets are not at {shared_data_dir()}",
    ),
]


def _rows(preset: str) -> list[dict[str, str]]:
    mapping = mapping_load(preset)
    path = preset_file(mapping)
    assert path is not None
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=mapping.delimiter))


def test_x_education_leads() -> None:
    rows = _rows("x-education-leads")
    won = sum(row["Converted"] == "1" for row in rows)
    assert (len(rows), won) == (9240, 3561)
    mapping = mapping_load("x-education-leads")
    started = time.process_time()
    job = import_file(path=preset_file(mapping), mapping=mapping)  # type: ignore[arg-type]
    took = time.process_time() - started

    assert (job.status, job.rows_ok, job.rows_failed, job.rows_duplicate) == ("done", 9240, 0, 0)
    assert Person.objects.count() == 9240
    assert Opportunity.objects.exclude(status="open").count() == 9240
    assert Opportunity.objects.filter(status="won").count() == won
    ref = ExternalRef.objects.get(
        source="x-education", kind="person", external_id="7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    )
    lead = Person.objects.get(pk=ref.object_id)
    assert lead.attributes["Lead Number"] == 660737
    assert lead.attributes["Lead Origin"] == "API"
    assert lead.attributes["TotalVisits"] == 0  # a number, not "0"
    assert "Specialization" not in lead.attributes  # "Select" is no value
    assert "Converted" not in lead.attributes  # the outcome is the opportunity
    assert Person.objects.filter(country="IN").count() == sum(r["Country"] == "India" for r in rows)
    if connection.vendor == "sqlite":
        assert took < 60


def test_uci_bank_marketing() -> None:
    rows = _rows("uci-bank-marketing")
    distinct = {tuple(row.values()): row["y"] for row in rows}
    assert (len(rows), len(rows) - len(distinct)) == (41188, 12)
    mapping = mapping_load("uci-bank-marketing")
    started = time.process_time()
    job = import_file(path=preset_file(mapping), mapping=mapping)  # type: ignore[arg-type]
    took = time.process_time() - started

    assert (job.rows_total, job.rows_ok, job.rows_failed) == (41188, 41176, 0)
    assert job.rows_duplicate == 12
    assert Person.objects.count() == 41176
    assert Opportunity.objects.filter(status="won").count() == sum(
        y == "yes" for y in distinct.values()
    )
    assert Person.objects.filter(attributes__duration=261, attributes__age=56).exists()
    # The embedded default must do it in well under a minute. CPU time, not wall time: the
    # machine running the suite may be shared (SQLite works inside this process, so it counts).
    if connection.vendor == "sqlite":
        assert took < 60, f"41,188 rows took {took:.1f} s of CPU"


def test_maven_accounts_and_pipeline() -> None:
    accounts = mapping_load("maven-accounts")
    job = import_file(path=preset_file(accounts), mapping=accounts)  # type: ignore[arg-type]
    assert (job.rows_ok, Account.objects.count()) == (85, 85)
    acme = Account.objects.get(name="Acme Corporation")
    assert acme.attributes["sector"] == "technolgy"  # as published
    assert acme.attributes["employees"] == 2822
    assert set(acme.attributes) == {
        "sector",
        "year_established",
        "revenue",
        "employees",
        "office_location",
    }  # fmt: skip  (subsidiary_of is empty for Acme)

    rows = _rows("maven-pipeline")
    with_account = [row for row in rows if row["account"]]
    pipeline = mapping_load("maven-pipeline")
    job = import_file(path=preset_file(pipeline), mapping=pipeline)  # type: ignore[arg-type]

    # 1,425 open deals name no account: an opportunity needs a person or an account.
    assert (job.rows_total, job.rows_ok, job.rows_failed) == (8800, len(with_account), 1425)
    assert len(with_account) == 7375
    for status, stage in (("won", "Won"), ("lost", "Lost")):
        assert Opportunity.objects.filter(status=status).count() == sum(
            row["deal_stage"] == stage for row in rows
        )
    ref = ExternalRef.objects.get(source="maven-crm", kind="opportunity", external_id="1C1I7A6R")
    deal = Opportunity.objects.select_related("account").get(pk=ref.object_id)
    assert deal.account is not None
    assert (deal.account.name, deal.status, str(deal.amount)) == ("Cancity", "won", "1054.00")
    assert deal.attributes == {"sales_agent": "Moses Frase", "product": "GTX Plus Basic"}
