"""Importing CSV files: each kind, dedup, per-row errors, resuming after an interruption."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from leadline.core.models import Account, AuditEntry, Membership, Person
from leadline.core.selectors import people_search, people_search_stale
from leadline.engagement.models import Opportunity
from leadline.imports import services
from leadline.imports.mappings import MappingError, mapping_parse
from leadline.imports.models import ExternalRef, ImportJob, ImportRowError, ImportStatus
from leadline.imports.services import import_dry_run, import_file, import_run
from leadline.journeys.models import (
    Event,
    EventSource,
    Journey,
    JourneyPosition,
    JourneyTransition,
    TransitionCause,
)
from tests import factories

pytestmark = pytest.mark.django_db

LEADS_HEADER = ["Id", "Email", "Name", "Company", "Visits", "Seen", "Source", "Converted"]
LEADS = [
    ["L1", "ann@acme.example", "Ann Lee", "Acme", "5", "2024-01-02", "Web", "1"],
    ["L2", "bob@beta.example", "Bob Stone", "Beta", "3", "2024-01-03", "Select", "0"],
    ["L3", "cy@acme.example", "Cy Young", "Acme", "0", "", "Fair", "0"],
]


def leads_mapping(**extra: Any) -> Any:
    return mapping_parse(
        {
            "kind": "people",
            "source": "crm",
            "missing": ["Select"],
            "columns": {
                "Id": "external_id",
                "Email": "email",
                "Name": "full_name",
                "Company": "account",
                "Visits": {"type": "number", "known_at": "Seen"},
                "Converted": {"to": "outcome", "won": ["1"], "lost": ["0"]},
            },
            **extra,
        }
    )


def leads_file(tmp_path: Path, rows: list[list[Any]] | None = None) -> Path:
    return factories.csv_file(
        path=tmp_path / "leads.csv", header=LEADS_HEADER, rows=LEADS if rows is None else rows
    )


def test_people_are_imported_with_attributes_accounts_and_an_outcome(tmp_path: Path) -> None:
    job = import_file(path=leads_file(tmp_path), mapping=leads_mapping())

    assert (job.status, job.rows_total, job.rows_ok, job.rows_failed) == ("done", 3, 3, 0)
    ann = Person.objects.get(emails__email="ann@acme.example")
    assert (ann.first_name, ann.last_name) == ("Ann", "Lee")
    # Typed values; "Select" is missing, so Bob has no Source; unmapped columns are attributes.
    assert ann.attributes == {"Visits": 5, "Seen": "2024-01-02", "Source": "Web"}
    assert ann.attributes_at == {"Visits": "2024-01-02T00:00:00+00:00"}
    bob = Person.objects.get(emails__email="bob@beta.example")
    assert "Source" not in bob.attributes
    cy = Person.objects.get(emails__email="cy@acme.example")
    assert "Visits" not in cy.attributes_at  # no "Seen" for Cy: unknown time
    # One company per name, shared; a membership each.
    acme = Account.objects.get(name="Acme")
    assert set(Membership.objects.filter(account=acme).values_list("person", flat=True)) == {
        ann.pk,
        cy.pk,
    }
    assert set(people_search(query="acme").values_list("pk", flat=True)) == {ann.pk, cy.pk}
    assert people_search_stale() == []
    # One closed opportunity per lead, won where Converted is 1.
    assert Opportunity.objects.get(person=ann).status == "won"
    assert Opportunity.objects.get(person=bob).status == "lost"
    assert Opportunity.objects.filter(closed_at__isnull=False).count() == 3
    # One audit row for the start and one for the end, not one per row.
    actions = AuditEntry.objects.filter(object_id=str(job.pk)).values_list("action", flat=True)
    assert sorted(actions) == ["import.done", "import.start"]


def test_the_same_file_imported_twice_adds_nothing(tmp_path: Path) -> None:
    path = leads_file(tmp_path)
    import_file(path=path, mapping=leads_mapping())
    again = import_file(path=path, mapping=leads_mapping())

    assert (again.rows_ok, again.rows_duplicate) == (0, 3)
    assert Person.objects.count() == 3
    assert Opportunity.objects.count() == 3
    assert Account.objects.count() == 2


def test_a_known_email_is_the_same_person_and_gets_the_fields(tmp_path: Path) -> None:
    known = factories.person(email="ann@acme.example", first_name="Ann", last_name="")
    job = import_file(path=leads_file(tmp_path), mapping=leads_mapping())

    assert job.rows_ok == 3
    assert Person.objects.count() == 3
    known.refresh_from_db()
    assert known.last_name == "Lee"  # a blank filled; what was there stays
    assert known.attributes["Visits"] == 5
    assert ExternalRef.objects.get(source="crm", kind="person", external_id="L1").object_id == (
        known.pk
    )


def test_rows_without_ids_are_deduplicated_by_their_values(tmp_path: Path) -> None:
    path = factories.csv_file(
        path=tmp_path / "calls.csv",
        header=["age", "job", "y"],
        rows=[["30", "admin.", "no"], ["41", "services", "yes"], ["30", "admin.", "no"]],
        delimiter=";",
    )
    mapping = mapping_parse(
        {
            "kind": "people",
            "source": "bank",
            "delimiter": ";",
            "columns": {"y": {"to": "outcome", "won": ["yes"], "lost": ["no"]}},
        }
    )
    job = import_file(path=path, mapping=mapping)

    assert (job.rows_ok, job.rows_duplicate) == (2, 1)
    assert sorted(p.attributes["age"] for p in Person.objects.all()) == [30, 41]
    assert import_file(path=path, mapping=mapping).rows_duplicate == 3


def test_bad_rows_are_reported_with_row_number_and_column_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    rows = [
        LEADS[0],
        ["L2", "bob@beta.example", "Bob", "Beta", "three", "", "", "0"],  # row 2: bad number
        ["L3", "not-an-address", "Cy", "", "1", "", "", "0"],  # row 3: bad email
        ["L4", "dee@d.example", "Dee", "", "1", "yesterday", "", "0"],  # row 4: bad known_at date
        ["L5", "eve@e.example", "Eve", "", "1", "", "", "maybe"],  # row 5: unknown outcome
        ["L6", "fay@f.example", "Fay"],  # row 6: too few values
        ["L7", "gus@g.example", "Gus", "", "2", "", "", "1"],
    ]
    job = import_file(path=leads_file(tmp_path, rows), mapping=leads_mapping())

    assert (job.rows_ok, job.rows_failed) == (2, 5)
    errors = {(e.row_number, e.column): e.message for e in ImportRowError.objects.filter(job=job)}
    assert errors[(2, "Visits")] == "not a number: 'three'"
    assert errors[(3, "Email")] == "not an email address: 'not-an-address'"
    assert "not a date" in errors[(4, "Seen")]
    assert errors[(5, "Converted")].startswith("not an outcome value: 'maybe'")
    assert "has 3 values; the header has 8 columns" in errors[(6, "")]
    assert set(Person.objects.values_list("emails__email", flat=True)) == {
        "ann@acme.example",
        "gus@g.example",
    }


def test_accounts_then_their_opportunities(tmp_path: Path) -> None:
    accounts = factories.csv_file(
        path=tmp_path / "accounts.csv",
        header=["account", "sector", "employees", "website"],
        rows=[["Acme", "retail", "2822", "https://www.acme.example/about"], ["Beta", "", "", ""]],
    )
    accounts_mapping = mapping_parse(
        {
            "kind": "accounts",
            "source": "crm",
            "columns": {"account": "name", "employees": "employees", "website": "domain"},
        }
    )
    job = import_file(path=accounts, mapping=accounts_mapping)
    assert job.rows_ok == 2
    acme = Account.objects.get(name="Acme")
    assert (acme.employees, acme.attributes) == (2822, {"sector": "retail"})
    assert acme.domains.get().domain == "acme.example"

    deals = factories.csv_file(
        path=tmp_path / "deals.csv",
        header=["id", "account", "stage", "engaged", "closed", "value", "agent"],
        rows=[
            ["D1", "Acme", "Won", "2024-01-05", "2024-03-01", "1054", "Moses"],
            ["D2", "beta", "Engaging", "2024-02-01", "", "", "Anna"],  # names match any case
            ["D3", "Gamma", "Lost", "2024-01-05", "2024-02-01", "0", "Anna"],  # no such account
            ["D4", "Acme", "Parked", "2024-01-05", "", "", "Anna"],  # a stage nobody mapped
            ["D5", "", "Prospecting", "", "", "", "Anna"],  # no account
            ["D6", "Acme", "Lost", "2024-01-05", "2024-02-01", "-5", "Anna"],
        ],
    )
    deals_mapping = mapping_parse(
        {
            "kind": "opportunities",
            "source": "crm",
            "columns": {
                "id": "external_id",
                "account": "account",
                "stage": {
                    "to": "status",
                    "values": {
                        "Won": "won",
                        "Lost": "lost",
                        "Engaging": "open",
                        "Prospecting": "open",
                    },
                },
                "engaged": "opened_at",
                "closed": "closed_at",
                "value": "amount",
            },
        }
    )
    job = import_file(path=deals, mapping=deals_mapping)

    assert (job.rows_ok, job.rows_failed) == (2, 4)
    won = Opportunity.objects.get(account=acme)
    assert (won.status, won.amount) == ("won", Decimal("1054.00"))
    assert won.opened_at == dt.datetime(2024, 1, 5, tzinfo=dt.UTC)
    assert won.closed_at == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert won.attributes == {"agent": "Moses"}
    assert Opportunity.objects.get(account__name="Beta").status == "open"
    errors = {e.row_number: (e.column, e.message) for e in job.row_errors.all()}
    assert errors[3] == ("account", "no account 'Gamma' (import accounts first)")
    assert errors[4][0] == "stage"
    assert "not a status: 'Parked'" in errors[4][1]
    assert errors[5] == ("account", "no account or person: an opportunity belongs to one")
    assert errors[6] == ("value", "not an amount: -5")


def test_events_are_recorded_once_on_their_people(tmp_path: Path) -> None:
    ann = factories.person(email="ann@acme.example")
    path = factories.csv_file(
        path=tmp_path / "touches.csv",
        header=["who", "what", "when", "utm_campaign", "cost"],
        rows=[
            ["ann@acme.example", "webinar_attended", "2024-01-02T10:00:00Z", "spring", "12.5"],
            ["ANN@acme.example", "email_clicked", "2024-01-03T10:00:00Z", "", ""],
            ["nobody@x.example", "email_clicked", "2024-01-03T10:00:00Z", "", ""],
        ],
    )
    mapping = mapping_parse(
        {
            "kind": "events",
            "source": "crm",
            "columns": {
                "who": "person",
                "what": "name",
                "when": "occurred_at",
                "utm_campaign": "utm_campaign",
            },
        }
    )
    job = import_file(path=path, mapping=mapping)

    assert (job.rows_ok, job.rows_failed) == (2, 1)
    webinar = Event.objects.get(name="webinar_attended")
    assert webinar.person == ann
    assert webinar.source == EventSource.IMPORT
    assert webinar.properties == {"utm_campaign": "spring", "cost": 12.5}
    assert webinar.occurred_at == dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)
    assert job.row_errors.get().message == "no person with id or email 'nobody@x.example'"
    assert import_file(path=path, mapping=mapping).rows_duplicate == 2
    assert Event.objects.count() == 2


def test_journey_history_moves_people_to_their_latest_step(tmp_path: Path) -> None:
    journey = Journey.objects.get(slug="buyers-journey")
    first, second, third = journey.steps.order_by("position")[:3]
    ann = factories.person(email="ann@acme.example")
    path = factories.csv_file(
        path=tmp_path / "history.csv",
        header=["who", "step", "at"],
        rows=[
            ["ann@acme.example", second.name, "2024-02-01"],
            ["ann@acme.example", first.name, "2024-01-01"],
            ["ann@acme.example", third.name.upper(), "2024-03-01"],  # names in any case
            ["ann@acme.example", "No such step", "2024-03-02"],
        ],
    )
    mapping = mapping_parse(
        {
            "kind": "journey_history",
            "source": "crm",
            "journey": "buyers-journey",
            "columns": {"who": "person", "step": "step", "at": "at"},
        }
    )
    job = import_file(path=path, mapping=mapping)

    assert (job.rows_ok, job.rows_failed) == (3, 1)
    moves = JourneyTransition.objects.filter(person=ann).order_by("at")
    assert [(m.from_step, m.to_step) for m in moves] == [
        (None, first),
        (first, second),
        (second, third),
    ]
    assert {m.cause for m in moves} == {TransitionCause.IMPORT}
    position = JourneyPosition.objects.get(journey=journey, person=ann)
    assert (position.step, position.since) == (third, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert "no step 'No such step'" in job.row_errors.get().message
    again = import_file(path=path, mapping=mapping)
    assert (again.rows_ok, again.rows_duplicate) == (0, 3)
    assert JourneyTransition.objects.filter(person=ann).count() == 3


def test_an_interrupted_import_resumes_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "CHUNK", 2)
    rows = [
        [f"L{n}", f"p{n}@x.example", f"P {n}", "", str(n), "", "", str(n % 2)] for n in range(9)
    ]
    rows.append(rows[3])  # a duplicate of row 4, in a later chunk
    rows.append(["L99", "bad", "Bad", "", "1", "", "", "0"])
    path = leads_file(tmp_path, rows)
    seen: list[tuple[int, int]] = []

    def stop_after_two_chunks(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise RuntimeError("the power went out")

    with pytest.raises(RuntimeError, match="power"):
        import_file(path=path, mapping=leads_mapping(), progress=stop_after_two_chunks)
    job = ImportJob.objects.get()
    assert (job.status, job.rows_done, job.rows_ok) == (ImportStatus.FAILED, 4, 4)
    assert "power went out" in job.error
    assert seen == [(2, 11), (4, 11)]
    assert Person.objects.count() == 4  # the two committed chunks, nothing half-written

    job = import_run(job_id=job.pk, progress=lambda done, total: seen.append((done, total)))

    assert job.status == ImportStatus.DONE
    assert (job.rows_done, job.rows_ok, job.rows_duplicate, job.rows_failed) == (11, 9, 1, 1)
    assert seen[-1] == (11, 11)
    assert Person.objects.count() == 9
    assert Opportunity.objects.count() == 9
    assert ImportRowError.objects.get().row_number == 11
    # Running a finished job again does nothing.
    assert import_run(job_id=job.pk).rows_ok == 9


def test_ctrl_c_pauses_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "CHUNK", 1)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(path=leads_file(tmp_path), mapping=leads_mapping(), progress=interrupt)
    job = ImportJob.objects.get()
    assert (job.status, job.rows_done) == (ImportStatus.PAUSED, 1)
    assert import_run(job_id=job.pk).rows_ok == 3


def test_a_mapping_that_does_not_fit_the_file_stores_nothing(tmp_path: Path) -> None:
    path = factories.csv_file(path=tmp_path / "x.csv", header=["Id", "Mail"], rows=[["1", "a"]])
    with pytest.raises(MappingError) as caught:
        import_file(path=path, mapping=leads_mapping())
    assert "column 'Email' is not in the file" in caught.value.problems
    assert not ImportJob.objects.exists()


def test_errors_past_the_limit_are_counted_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "MAX_ERRORS", 2)
    rows = [[f"L{n}", "bad", "X", "", "1", "", "", "0"] for n in range(5)]
    job = import_file(path=leads_file(tmp_path, rows), mapping=leads_mapping())
    assert job.rows_failed == 5
    assert job.row_errors.count() == 2
    assert job.errors_not_kept == 3


def test_a_dry_run_counts_but_writes_nothing(tmp_path: Path) -> None:
    job = import_dry_run(path=leads_file(tmp_path), mapping=leads_mapping())
    assert (job.rows_ok, job.rows_failed) == (3, 0)
    assert not Person.objects.exists()
    assert not ImportJob.objects.exists()
