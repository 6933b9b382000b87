"""The import pages: upload → map the columns → start → progress → done, with row errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from leadline.core.models import Person, Role
from leadline.engagement.models import Opportunity
from leadline.imports.models import ImportJob, ImportStatus
from tests import factories

pytestmark = pytest.mark.django_db

CSV = (
    "Id,E-mail,First name,Visits,Won?\n"
    "L1,ann@acme.example,Ann,5,yes\n"
    "L2,bob@beta.example,Bob,three,no\n"
    "L3,cy@acme.example,Cy,2,maybe\n"
    "L4,dee@d.example,Dee,7,no\n"
)


def _upload(client: Client, text: str = CSV, **fields: str) -> Any:
    upload = SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv")
    return client.post(reverse("web:imports_new"), {"file": upload, "kind": "people", **fields})


def _mapping_post(columns: list[tuple[str, str]], **extra: str) -> dict[str, str]:
    data = {"source": "crm", "delimiter": ",", "missing": "", **extra}
    for index, (role, kind_of_value) in enumerate(columns):
        data[f"role-{index}"] = role
        data[f"type-{index}"] = kind_of_value
    return data


def test_upload_map_start_and_watch_an_import(
    marketing_client: Client,
    run_worker: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = marketing_client.get(reverse("web:imports_new"))
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' in page.content
    assert b"x-education-leads" in page.content  # the presets are offered

    response = _upload(marketing_client)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:imports_mapping", args=[job.pk])
    assert job.status == ImportStatus.DRAFT

    # The mapping page: each column with its first values, roles guessed from the headers.
    page = marketing_client.get(response["Location"])
    html = page.content.decode()
    assert "ann@acme.example" in html
    assert "bob@beta.example" in html
    assert '<option value="email" selected>' in html  # "E-mail" → email
    assert '<option value="first_name" selected>' in html

    # A mistake is shown beside its column, and nothing starts.
    wrong = _mapping_post(
        [
            ("external_id", ""),
            ("email", ""),
            ("email", ""),
            ("attribute", "number"),
            ("attribute", ""),
        ],
        action="start",
    )
    page = marketing_client.post(response["Location"], wrong)
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="problem-2"' in html
    assert "column &#x27;First name&#x27;: email is already column &#x27;E-mail&#x27;" in html
    assert ImportJob.objects.get().status == ImportStatus.DRAFT

    right = _mapping_post(
        [
            ("external_id", ""),
            ("email", ""),
            ("first_name", ""),
            ("attribute", "number"),
            ("outcome", ""),
        ],
        action="start",
    )
    right |= {"won-4": "yes", "lost-4": "no"}
    with django_capture_on_commit_callbacks(execute=True):
        started = marketing_client.post(response["Location"], right)
    assert started.status_code == 302
    assert started["Location"] == reverse("web:imports_detail", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.rows_total) == (ImportStatus.QUEUED, 4)

    # Queued: the page polls its progress every second.
    page = marketing_client.get(started["Location"])
    html = page.content.decode()
    assert f'hx-get="{reverse("web:imports_progress", args=[job.pk])}"' in html
    assert 'hx-trigger="every 1s"' in html
    progress = marketing_client.get(reverse("web:imports_progress", args=[job.pk]))
    assert progress.status_code == 200  # still polling

    run_worker()

    job.refresh_from_db()
    assert (job.status, job.rows_ok, job.rows_failed) == (ImportStatus.DONE, 2, 2)
    assert Person.objects.count() == 2
    assert Opportunity.objects.filter(status="won").count() == 1
    progress = marketing_client.get(reverse("web:imports_progress", args=[job.pk]))
    assert progress.status_code == 286  # done: htmx stops polling
    assert b'<progress max="4" value="4"' in progress.content
    page = marketing_client.get(started["Location"])
    html = page.content.decode()
    assert "hx-trigger" not in html
    assert "not a number: &#x27;three&#x27;" in html
    assert "not an outcome value: &#x27;maybe&#x27;" in html
    errors = marketing_client.get(reverse("web:imports_errors_csv", args=[job.pk]))
    body = b"".join(errors.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.splitlines() == [
        "row,column,error",
        "2,Visits,not a number: 'three'",
        "3,Won?,not an outcome value: 'maybe' (won: yes; lost: no)",
    ]
    listing = marketing_client.get(reverse("web:imports"))
    assert b"leads.csv" in listing.content
    assert b"Done" in listing.content


def test_a_preset_fills_the_mapping(marketing_client: Client) -> None:
    text = "Prospect ID,Converted,Country,Lead Origin\nP1,1,India,API\n"
    response = _upload(marketing_client, text, preset="x-education-leads")
    job = ImportJob.objects.get()
    assert job.source == "x-education"
    html = marketing_client.get(response["Location"]).content.decode()
    assert '<option value="external_id" selected>' in html
    assert '<option value="outcome" selected>' in html
    assert 'value="1"' in html  # the won values of the preset's outcome


def test_an_upload_needs_a_file_and_a_header(marketing_client: Client) -> None:
    assert marketing_client.post(reverse("web:imports_new"), {"kind": "people"}).status_code == 400
    assert _upload(marketing_client, "").status_code == 400
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused(
    marketing_client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.IMPORTS_MAX_UPLOAD_BYTES = 10  # type: ignore[attr-defined]
    response = _upload(marketing_client)
    assert response.status_code == 413
    assert not ImportJob.objects.exists()


def test_the_upload_checks_the_csrf_token(marketer: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert _upload(client).status_code == 403


def test_a_failed_job_can_be_resumed_from_its_page(
    marketing_client: Client,
    tmp_path: Any,
    run_worker: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    path = factories.csv_file(
        path=tmp_path / "people.csv", header=["Email"], rows=[["a@x.example"], ["b@x.example"]]
    )
    job = ImportJob.objects.create(
        kind="people",
        file_name="people.csv",
        file_path=str(path),
        mapping={"kind": "people", "source": "s", "columns": {"Email": {"to": "email"}}},
        source="s",
        status=ImportStatus.FAILED,
        rows_total=2,
        error="stopped: the power went out",
    )
    page = marketing_client.get(reverse("web:imports_detail", args=[job.pk]))
    assert b"Resume from row 1" in page.content
    assert b"the power went out" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = marketing_client.post(reverse("web:imports_resume", args=[job.pk]))
    assert response.status_code == 302
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.rows_ok) == (ImportStatus.DONE, 2)


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.OUTSIDE_CALLER])
def test_other_roles_get_403(role: str, role_client: Callable[[str], Client]) -> None:
    client = role_client(role)
    job = ImportJob.objects.create(kind="people", file_name="x.csv", file_path="/x", source="s")
    for url in (
        reverse("web:imports"),
        reverse("web:imports_new"),
        reverse("web:imports_detail", args=[job.pk]),
        reverse("web:imports_progress", args=[job.pk]),
        reverse("web:imports_errors_csv", args=[job.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("web:imports_resume", args=[job.pk])).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(reverse("web:imports"))
    assert response.status_code == 302
    assert "login" in response["Location"]
