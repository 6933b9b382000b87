"""Requests, raw submissions and forms through the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.capture.models import (
    Form,
    Request,
    RequestKind,
    RequestStatus,
    Submission,
    SubmissionStatus,
)
from leadline.capture.services import submission_process as process
from leadline.core import clock
from leadline.core.models import AuditEntry, Role
from tests import factories
from tests.api.conftest import ApiClient


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


# `process` is what the worker's task does; called directly because the db_worker fixture
# closes the test's connection on PostgreSQL.


def _field_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {str(e["loc"][-1]): e["msg"] for e in response.json()["detail"]}


# Requests


def test_requests_filter_by_what_was_asked_and_by_whom(api: Client) -> None:
    account = factories.account()
    ann = factories.person()
    demo = factories.person_request(
        person=ann, account=account, kind=RequestKind.DEMO, wants_contact=True
    )
    download = factories.person_request(person=ann, campaign="Q4 finance push")
    other = factories.person_request(
        person=factories.person(), status=RequestStatus.CLOSED, utm_campaign="spring"
    )

    assert _ids(api.get("/api/v1/requests", {"kind": "demo"})) == [demo.pk]
    assert _ids(api.get("/api/v1/requests", {"wants_contact": "true"})) == [demo.pk]
    assert _ids(api.get("/api/v1/requests", {"status": "closed"})) == [other.pk]
    assert _ids(api.get("/api/v1/requests", {"person_id": ann.pk})) == [download.pk, demo.pk]
    assert _ids(api.get("/api/v1/requests", {"account_id": account.pk})) == [demo.pk]
    assert _ids(api.get("/api/v1/requests", {"campaign": "Q4 finance push"})) == [download.pk]
    assert _ids(api.get("/api/v1/requests", {"campaign": "spring"})) == [other.pk]
    assert api.get("/api/v1/requests", {"limit": 1}).json()["count"] == 3


def test_requests_filter_by_creation_time(api: Client) -> None:
    person = factories.person()
    old = factories.person_request(person=person, created_at=clock.now() - dt.timedelta(days=9))
    new = factories.person_request(person=person)
    since = (clock.now() - dt.timedelta(days=1)).isoformat()

    ids = _ids(api.get("/api/v1/requests", {"created_after": since}))

    assert new.pk in ids
    assert old.pk not in ids


def test_requests_bad_filter_names_it(api: Client) -> None:
    assert "kind" in _field_errors(api.get("/api/v1/requests", {"kind": "bribe"}))


def test_request_get_shows_its_source(api: Client) -> None:
    form = factories.form(slug="cfo-guide")
    request = factories.person_request(
        person=factories.person(),
        form=form,
        message="Can you integrate with SAP?",
        utm_source="linkedin",
        page_url="https://www.example.com/guide",
    )

    response = api.get(f"/api/v1/requests/{request.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["form"] == "cfo-guide"
    assert body["message"] == "Can you integrate with SAP?"
    assert body["utm_source"] == "linkedin"
    assert body["kind"] == "download"
    assert api.get("/api/v1/requests/55555").status_code == 404


# Submissions


def test_submissions_filter_by_form_and_status(api: Client) -> None:
    guide = factories.form(slug="cfo-guide")
    demo = factories.form(slug="demo", with_asset=False)
    received = factories.submission(form=guide)
    failed = factories.submission(form=guide, status=SubmissionStatus.FAILED, attempts=2)
    elsewhere = factories.submission(form=demo)

    assert _ids(api.get("/api/v1/submissions", {"form": "demo"})) == [elsewhere.pk]
    assert _ids(api.get("/api/v1/submissions", {"form": "cfo-guide"})) == [failed.pk, received.pk]
    assert _ids(api.get("/api/v1/submissions", {"status": "failed"})) == [failed.pk]


def test_submission_get_shows_the_raw_payload_and_processing_state(api: Client) -> None:
    form = factories.form(slug="cfo-guide")
    data = factories.submission_data(email="ann@acme-widgets.example")
    posted = Client().post("/f/cfo-guide/", data, content_type="application/json")
    assert posted.status_code == 201
    submission_id = posted.json()["id"]
    process(submission_id=submission_id)

    response = api.get(f"/api/v1/submissions/{submission_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["form"] == form.slug
    assert body["payload"]["email"] == "ann@acme-widgets.example"
    assert body["meta"]["channel"] == "json"
    assert body["status"] == "processed"
    assert body["attempts"] == 1
    assert body["last_error"] == ""
    assert body["person_id"] is not None
    request = api.get(f"/api/v1/requests/{body['request_id']}").json()
    assert request["person_id"] == body["person_id"]
    assert request["submission_id"] == submission_id


def test_a_failed_submission_shows_its_error(api: Client) -> None:
    submission = factories.submission(
        form=factories.form(),
        status=SubmissionStatus.FAILED,
        attempts=3,
        last_error="OperationalError: database is locked",
    )

    body = api.get(f"/api/v1/submissions/{submission.pk}").json()

    assert (body["status"], body["attempts"]) == ("failed", 3)
    assert "database is locked" in body["last_error"]
    assert body["request_id"] is None
    assert body["person_id"] is None


def test_unknown_submission_is_404(api: Client) -> None:
    assert api.get("/api/v1/submissions/31337").status_code == 404


def test_a_sales_manager_reads_submissions(api_as: ApiClient) -> None:
    factories.submission(form=factories.form())

    assert api_as(Role.SALES_MANAGER).get("/api/v1/submissions").json()["count"] == 1


# Forms

NEW_FORM = {
    "slug": "pricing",
    "name": "Pricing page",
    "title": "Talk to us about pricing",
    "fields": [
        {"name": "email", "required": True},
        {"name": "first_name"},
        {"name": "team_size", "label": "How many people?", "type": "number"},
    ],
    "request_kind": "pricing",
    "allowed_origins": ["https://www.example.com"],
}


def test_forms_list_and_get_with_fields_and_embed_snippet(api: Client) -> None:
    form = factories.form(slug="cfo-guide")
    factories.form(slug="demo", with_asset=False)

    listed = api.get("/api/v1/forms")
    response = api.get("/api/v1/forms/cfo-guide")

    assert listed.json()["count"] == 2
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == form.pk
    email = next(f for f in body["fields"] if f["name"] == "email")
    assert email == {
        "name": "email",
        "label": "Work email",
        "type": "email",
        "required": True,
        "options": [],
        "help": "",
    }
    assert body["asset_id"] == form.asset_id
    assert body["hosted_url"] == "http://testserver/f/cfo-guide/"
    assert body["embed_snippet"] == (
        '<script src="http://testserver/embed.js" data-form="cfo-guide" async></script>'
    )


def test_the_embed_snippet_names_the_public_address(api: Client, settings: Any) -> None:
    settings.PUBLIC_URL = "https://leads.example.com"
    factories.form(slug="cfo-guide")

    body = api.get("/api/v1/forms/cfo-guide").json()

    assert body["embed_snippet"].startswith('<script src="https://leads.example.com/embed.js"')


def test_unknown_form_is_404(api: Client) -> None:
    assert api.get("/api/v1/forms/nope").status_code == 404


def test_create_a_form_that_captures_at_once(api: Client) -> None:
    response = api.post("/api/v1/forms", NEW_FORM, content_type="application/json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "pricing"
    assert body["request_kind"] == "pricing"
    assert body["allowed_origins"] == ["https://www.example.com"]
    assert body["contact_box"] is True  # the model's default, as in the web UI
    form = Form.objects.get(slug="pricing")
    assert form.fields[2] == {"name": "team_size", "label": "How many people?", "type": "number"}
    assert form.created_by is not None
    assert AuditEntry.objects.filter(action="form.create", object_id=str(form.pk)).exists()
    posted = Client().post(
        "/f/pricing/",
        {"email": "bo@example.com", "team_size": "12"},
        content_type="application/json",
    )
    assert posted.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fields": [{"name": "first_name"}]}, "fields"),
        ({"fields": [{"name": "email"}, {"name": "size", "type": "slider"}]}, "fields"),
        ({"fields": []}, "fields"),
        ({"fields": "email"}, "fields"),
        ({"slug": "no spaces please"}, "slug"),
        ({"asset_id": 424242}, "asset_id"),
        ({"thank_you_url": "not a url"}, "thank_you_url"),
        ({"request_kind": "bribe"}, "request_kind"),
        ({"title": None}, "title"),
        ({"fields": [{"name": "email", "colour": "red"}]}, "colour"),
        ({"owner": "maria"}, "owner"),
    ],
)
def test_create_with_bad_input_names_the_field_and_stores_nothing(
    api: Client, change: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/forms", {**NEW_FORM, **change}, content_type="application/json")

    assert field in _field_errors(response)
    assert not Form.objects.exists()
    assert not AuditEntry.objects.filter(action="form.create").exists()


def test_create_with_a_taken_slug_names_slug(api: Client) -> None:
    factories.form(slug="pricing")

    response = api.post("/api/v1/forms", NEW_FORM, content_type="application/json")

    assert "slug" in _field_errors(response)
    assert Form.objects.count() == 1


def test_patch_changes_only_what_is_sent(api: Client) -> None:
    form = factories.form(slug="cfo-guide")  # campaign "Q4 finance push"

    response = api.patch(
        "/api/v1/forms/cfo-guide",
        {"title": "The CFO's guide, 2nd edition", "asset_id": None, "is_active": False},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    form.refresh_from_db()
    assert form.title == "The CFO's guide, 2nd edition"
    assert form.asset_id is None
    assert form.is_active is False
    assert form.campaign == "Q4 finance push"
    assert AuditEntry.objects.filter(action="form.update", object_id=str(form.pk)).exists()


def test_patch_with_fields_missing_email_names_fields_and_changes_nothing(api: Client) -> None:
    form = factories.form(slug="cfo-guide")
    before = form.fields

    response = api.patch(
        "/api/v1/forms/cfo-guide",
        {"fields": [{"name": "first_name"}], "title": "Changed"},
        content_type="application/json",
    )

    assert "fields" in _field_errors(response)
    form.refresh_from_db()
    assert form.fields == before
    assert form.title != "Changed"


def test_the_slug_cannot_be_changed(api: Client) -> None:
    factories.form(slug="cfo-guide")

    response = api.patch(
        "/api/v1/forms/cfo-guide", {"slug": "moved"}, content_type="application/json"
    )

    assert "slug" in _field_errors(response)
    assert Form.objects.filter(slug="cfo-guide").exists()


def test_sales_cannot_change_forms(api_as: ApiClient) -> None:
    response = api_as(Role.SALES_MANAGER).post(
        "/api/v1/forms", NEW_FORM, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "access_forms"
    assert not Form.objects.exists()


# Submitting through the API


def test_submit_through_the_api_stores_first_then_the_worker_makes_the_request(
    api: Client,
) -> None:
    factories.form(slug="cfo-guide")
    data = factories.submission_data(email="Ann@Acme-Widgets.example", utm_source="crm")

    response = api.post(
        "/api/v1/forms/cfo-guide/submissions",
        data,
        content_type="application/json",
        headers={"Idempotency-Key": "crm-42"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duplicate"] is False
    assert body["download_url"].startswith("http://testserver/d/")
    submission = Submission.objects.get(pk=body["id"])
    assert submission.status == SubmissionStatus.RECEIVED
    assert submission.idempotency_key == "crm-42"
    assert submission.meta["channel"] == "api"
    process(submission_id=body["id"])
    request = Request.objects.get(submission_id=body["id"])
    assert request.utm_source == "crm"
    assert request.person.emails.get().email == "ann@acme-widgets.example"
    assert Client().get(body["download_url"]).status_code == 200


def test_the_same_idempotency_key_stores_one_submission(api: Client) -> None:
    factories.form(slug="cfo-guide")
    data = factories.submission_data()
    headers = {"Idempotency-Key": "retry-me"}

    first = api.post(
        "/api/v1/forms/cfo-guide/submissions", data, "application/json", headers=headers
    )
    again = api.post(
        "/api/v1/forms/cfo-guide/submissions", data, "application/json", headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 200)
    # The download link is signed with the time it was made (to the second), so the retry's
    # may differ from the first; both must work.
    first_body, again_body = first.json(), again.json()
    links = first_body.pop("download_url"), again_body.pop("download_url")
    assert again_body == {**first_body, "duplicate": True}
    assert [Client().get(link).status_code for link in links] == [200, 200]
    assert Submission.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"phone": "12"}, "phone"),
    ],
)
def test_submit_with_bad_fields_names_them_and_stores_nothing(
    api: Client, change: dict[str, str], field: str
) -> None:
    factories.form(slug="cfo-guide")

    response = api.post(
        "/api/v1/forms/cfo-guide/submissions",
        factories.submission_data(**change),
        content_type="application/json",
    )

    assert field in _field_errors(response)
    assert not Submission.objects.exists()


def test_submit_to_an_unknown_or_inactive_form_is_404(api: Client) -> None:
    factories.form(slug="retired", is_active=False)

    for slug in ("nope", "retired"):
        response = api.post(
            f"/api/v1/forms/{slug}/submissions",
            factories.submission_data(),
            content_type="application/json",
        )
        assert response.status_code == 404
    assert not Submission.objects.exists()


def test_submitting_needs_the_submissions_permission(api_as: ApiClient) -> None:
    factories.form(slug="cfo-guide")

    response = api_as(Role.SALES_REP).post(
        "/api/v1/forms/cfo-guide/submissions",
        factories.submission_data(),
        content_type="application/json",
    )

    assert response.status_code == 403
    assert response.json()["missing"] == "access_submissions"
    assert not Submission.objects.exists()
