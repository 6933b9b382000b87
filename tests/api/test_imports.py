"""The imports API: POST a CSV with a mapping or a preset → 201 queued; read jobs and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leadline.core.models import Person, Role
from leadline.imports.models import ImportJob, ImportStatus
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

CSV = b"Id,Email,Visits\nL1,ann@acme.example,5\nL2,bob@beta.example,three\nL3,cy@c.example,1\n"
MAPPING = {
    "kind": "people",
    "source": "crm",
    "columns": {"Id": "external_id", "Email": "email", "Visits": {"type": "number"}},
}


def _post(api: Client, body: bytes = CSV, **fields: str) -> Any:
    upload = SimpleUploadedFile("leads.csv", body, content_type="text/csv")
    return api.post("/api/v1/imports", {"file": upload, **fields})


def test_post_a_file_with_a_mapping_queues_it_then_read_it_and_its_errors(
    api: Client, run_worker: Callable[[], None], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api, mapping=json.dumps(MAPPING))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["rows_total"], body["kind"]) == ("queued", 3, "people")
    job_id = body["id"]

    run_worker()

    job = api.get(f"/api/v1/imports/{job_id}").json()
    assert (job["status"], job["rows_ok"], job["rows_failed"]) == ("done", 2, 1)
    assert Person.objects.count() == 2
    errors = api.get(f"/api/v1/imports/{job_id}/errors").json()
    assert errors == {
        "items": [{"row_number": 2, "column": "Visits", "message": "not a number: 'three'"}],
        "count": 1,
    }
    listing = api.get("/api/v1/imports").json()
    assert [item["id"] for item in listing["items"]] == [job_id]


def test_post_with_a_preset(api: Client) -> None:
    body = b"account,sector\nAcme,retail\n"
    response = _post(api, body, preset="maven-accounts")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "maven-crm"


def test_a_mapping_that_does_not_fit_answers_422_naming_the_column(api: Client) -> None:
    wrong = {**MAPPING, "columns": {**MAPPING["columns"], "Phone": "phone"}}
    response = _post(api, mapping=json.dumps(wrong))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail == [
        {"type": "invalid", "loc": ["form", "mapping"], "msg": "column 'Phone' is not in the file"}
    ]
    bad_role = {**MAPPING, "columns": {"Email": "stage"}}
    response = _post(api, mapping=json.dumps(bad_role))
    assert response.status_code == 422
    assert "column 'Email': 'stage' is not a role for people" in response.json()["detail"][0]["msg"]
    response = _post(api, mapping="{not json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"].startswith("not JSON")
    response = _post(api, preset="no-such-preset")
    assert response.json()["detail"][0]["loc"] == ["form", "preset"]
    response = _post(api)
    assert response.status_code == 422  # neither mapping nor preset
    # Nothing is left behind by the refusals.
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_answers_413(api: Client, settings: pytest.FixtureRequest) -> None:
    settings.IMPORTS_MAX_UPLOAD_BYTES = 10  # type: ignore[attr-defined]
    assert _post(api, mapping=json.dumps(MAPPING)).status_code == 413


def test_unknown_job_is_404(api: Client) -> None:
    assert api.get("/api/v1/imports/999").status_code == 404
    assert api.get("/api/v1/imports/999/errors").status_code == 404


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER])
def test_other_roles_get_403(role: str, api_as: ApiClient) -> None:
    client = api_as(role)
    job = ImportJob.objects.create(
        kind="people", file_name="x.csv", file_path="/x", source="s", status=ImportStatus.DONE
    )
    assert client.get("/api/v1/imports").status_code == 403
    assert client.get(f"/api/v1/imports/{job.pk}").status_code == 403
    assert client.get(f"/api/v1/imports/{job.pk}/errors").status_code == 403
    assert _post(client, mapping=json.dumps(MAPPING)).status_code == 403
    assert ImportJob.objects.count() == 1


def test_no_credentials_is_401(client: Client) -> None:
    assert client.get("/api/v1/imports").status_code == 401
