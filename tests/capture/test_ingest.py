"""The public capture endpoint: every bad-input class answers with its status and stores nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client

from leadline.capture.models import Request, Submission
from leadline.core import clock
from leadline.core.models import Person
from tests import factories

pytestmark = pytest.mark.django_db


def post_json(client: Client, slug: str, data: Any, **headers: str) -> Any:
    return client.post(
        f"/f/{slug}/", data=json.dumps(data), content_type="application/json", headers=headers
    )


def hidden_fields(page: Any) -> dict[str, str]:
    """The hosted page's hidden fields (its idempotency key and render token), as posted back."""
    html = page.content.decode()
    return dict(re.findall(r'<input type="hidden" name="(_\w+)" value="([^"]*)"', html))


def nothing_stored() -> bool:
    return not Submission.objects.exists() and not Person.objects.exists()


def test_valid_submission_is_stored_raw_then_processed(client: Client, run_worker: Any) -> None:
    form = factories.form()
    response = post_json(client, form.slug, factories.submission_data(email="Ann@Acme.example"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "received"
    assert body["download_url"].startswith("http://testserver/d/")
    submission = Submission.objects.get(pk=body["id"])
    assert submission.status == "received"
    assert submission.payload["email"] == "Ann@Acme.example"
    assert not Request.objects.exists()  # processing waits for the worker

    run_worker()

    submission.refresh_from_db()
    assert submission.status == "processed"
    request = Request.objects.get()
    assert request.person.emails.get().email == "ann@acme.example"
    assert request.wants_contact is True
    assert request.campaign == "Q4 finance push"


def test_same_idempotency_key_stores_one_request(client: Client, run_worker: Any) -> None:
    form = factories.form()
    data = factories.submission_data()
    first = post_json(client, form.slug, data, **{"Idempotency-Key": "abc-123"})
    second = post_json(client, form.slug, data, **{"Idempotency-Key": "abc-123"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "duplicate": True}
    run_worker()
    assert Submission.objects.count() == 1
    assert Request.objects.count() == 1


def test_without_a_key_an_identical_repost_the_same_day_is_one_submission(client: Client) -> None:
    form = factories.form()
    data = factories.submission_data()
    assert post_json(client, form.slug, data).status_code == 201
    assert post_json(client, form.slug, data).status_code == 200
    assert post_json(client, form.slug, {**data, "message": "one more thing"}).status_code == 201
    assert Submission.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"first_name": "Ann"}, "email", "required"),
        ({"email": "not-an-address", "first_name": "Ann"}, "email", "valid email"),
        ({"email": "a@b.example"}, "first_name", "required"),
        ({"email": "a@b.example", "first_name": "Ann", "phone": "12"}, "phone", "phone"),
        ({"email": "a@b.example", "first_name": ["Ann"]}, "first_name", "text"),
        ({"email": "a@b.example", "first_name": "x" * 5001}, "first_name", "5000"),
    ],
)
def test_invalid_fields_get_400_naming_each_field(
    client: Client, data: dict[str, Any], field: str, message: str
) -> None:
    form = factories.form()
    response = post_json(client, form.slug, data)
    assert response.status_code == 400
    assert message in response.json()["fields"][field]
    assert nothing_stored()


def test_required_consent_must_be_given(client: Client) -> None:
    form = factories.form(consent_required=True)
    response = post_json(client, form.slug, factories.submission_data(consent=False))
    assert response.status_code == 400
    assert "consent" in response.json()["fields"]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("email=a@b.example", "text/plain"),
    ],
)
def test_unreadable_bodies_get_400(client: Client, body: str, content_type: str) -> None:
    form = factories.form()
    response = client.post(f"/f/{form.slug}/", data=body, content_type=content_type)
    assert response.status_code == 400
    assert "unreadable body" in response.json()["error"]
    assert nothing_stored()


def test_oversized_body_gets_413(client: Client, settings: Any) -> None:
    settings.CAPTURE_MAX_BODY_BYTES = 2048
    form = factories.form()
    response = post_json(client, form.slug, factories.submission_data(message="x" * 4000))
    assert response.status_code == 413
    assert nothing_stored()


def test_unknown_or_inactive_form_gets_404(client: Client) -> None:
    assert post_json(client, "no-such-form", factories.submission_data()).status_code == 404
    form = factories.form(is_active=False)
    assert post_json(client, form.slug, factories.submission_data()).status_code == 404
    assert client.get(f"/f/{form.slug}/").status_code == 404
    assert nothing_stored()


def test_filled_honeypot_is_rejected_and_not_stored(client: Client) -> None:
    form = factories.form()
    response = post_json(client, form.slug, factories.submission_data(website_url="http://spam"))
    assert response.status_code == 400
    assert "website_url" in response.json()["fields"]
    assert nothing_stored()


def test_rate_limit_per_address_gets_429(client: Client, settings: Any) -> None:
    settings.CAPTURE_RATE_LIMIT = "3/60"
    form = factories.form()
    statuses = [
        post_json(client, form.slug, factories.submission_data()).status_code for _ in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    limited = post_json(client, form.slug, factories.submission_data())
    assert 0 < int(limited["Retry-After"]) <= 60
    assert Submission.objects.count() == 3
    other_address = client.post(
        f"/f/{form.slug}/",
        data=json.dumps(factories.submission_data()),
        content_type="application/json",
        REMOTE_ADDR="10.9.8.7",
    )
    assert other_address.status_code == 201


def test_cross_origin_json_is_allowed_for_listed_origins_only(client: Client) -> None:
    form = factories.form(allowed_origins="https://www.acme.example")
    preflight = client.options(f"/f/{form.slug}/", headers={"Origin": "https://www.acme.example"})
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://www.acme.example"
    assert "Idempotency-Key" in preflight["Access-Control-Allow-Headers"]
    allowed = post_json(
        client,
        form.slug,
        factories.submission_data(),
        Origin="https://www.acme.example",
        **{"Idempotency-Key": "acme-1"},
    )
    assert allowed.status_code == 201
    assert allowed["Access-Control-Allow-Origin"] == "https://www.acme.example"
    refused = post_json(
        client, form.slug, factories.submission_data(), Origin="https://evil.example"
    )
    assert refused.status_code == 403
    assert Submission.objects.count() == 1


class TestBrowserFormPost:
    """The hosted page posts a classic form: CSRF-protected, errors shown inline."""

    def test_post_without_csrf_token_is_refused(self) -> None:
        form = factories.form()
        client = Client(enforce_csrf_checks=True)
        response = client.post(f"/f/{form.slug}/", data=factories.submission_data())
        assert response.status_code == 403
        assert nothing_stored()

    def test_valid_post_redirects_to_thanks_with_download(self, run_worker: Any) -> None:
        form = factories.form()
        client = Client(enforce_csrf_checks=True)
        with clock.frozen_at(factories.MONDAY_10):
            page = client.get(f"/f/{form.slug}/?utm_source=linkedin&utm_campaign=close-faster")
        assert page.status_code == 200
        token = page.cookies["csrftoken"].value
        data = {
            **factories.submission_data(contact_me="on"),
            "csrfmiddlewaretoken": token,
            **hidden_fields(page),
        }
        data["utm_source"] = "linkedin"
        with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(seconds=20)):
            response = client.post(f"/f/{form.slug}/", data=data)
        assert response.status_code == 302
        thanks = client.get(response["Location"])
        assert thanks.status_code == 200
        assert "Download" in thanks.content.decode()
        run_worker()
        request = Request.objects.get()
        assert request.wants_contact is True
        assert request.utm_source == "linkedin"

    def test_invalid_post_shows_the_form_again_with_inline_errors(self) -> None:
        form = factories.form()
        client = Client(enforce_csrf_checks=True)
        with clock.frozen_at(factories.MONDAY_10):
            page = client.get(f"/f/{form.slug}/")
        token = page.cookies["csrftoken"].value
        with clock.frozen_at(factories.MONDAY_10 + dt.timedelta(seconds=20)):
            response = client.post(
                f"/f/{form.slug}/",
                data={
                    "email": "nope",
                    "first_name": "",
                    "csrfmiddlewaretoken": token,
                    **hidden_fields(page),
                },
            )
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="e-email"' in html
        assert 'id="e-first_name"' in html
        assert 'value="nope"' in html  # what they typed is kept
        assert nothing_stored()


def test_a_known_select_field_takes_its_usual_options(client: Client, run_worker: Any) -> None:
    form = factories.form(fields=[{"name": "email"}, {"name": "preferred_channel"}])
    bad = post_json(client, form.slug, {"email": "a@b.example", "preferred_channel": "pigeon"})
    assert bad.status_code == 400
    assert "email, phone" in bad.json()["fields"]["preferred_channel"]
    good = post_json(client, form.slug, {"email": "a@b.example", "preferred_channel": "phone"})
    assert good.status_code == 201
    run_worker()
    assert Person.objects.get().preferred_channel == "phone"


def test_a_failure_to_queue_keeps_the_submission_and_the_sweep_processes_it(
    client: Client, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError

    from leadline.capture import ingest, services

    def queue_down() -> None:
        raise DatabaseError("task table locked")

    form = factories.form()
    with monkeypatch.context() as patched:
        patched.setattr(ingest, "submissions_process_queue", queue_down)
        response = post_json(client, form.slug, factories.submission_data())
    assert response.status_code == 201  # stored is what the visitor needs to hear
    run_worker()
    assert Submission.objects.get().status == "received"  # nothing was queued

    assert services.submissions_requeue_stale(older_than=dt.timedelta(0)) == 1
    run_worker()
    assert Submission.objects.get().status == "processed"
    assert Request.objects.count() == 1


def test_submissions_stored_while_a_drain_task_waits_share_it(
    client: Client, run_worker: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    from leadline.capture.tasks import submissions_process_pending_task

    form = factories.form()
    for n in range(3):
        response = post_json(
            client, form.slug, factories.submission_data(email=f"p{n}@acme.example")
        )
        assert response.status_code == 201
    waiting = DBTaskResult.objects.filter(task_path=submissions_process_pending_task.module_path)
    assert waiting.count() == 1  # one task for the three, queued by the first

    run_worker()

    assert Submission.objects.filter(status="processed").count() == 3
    assert Request.objects.count() == 3
    assert waiting.get().status == "SUCCESSFUL"
    # Once it has run, the next submission queues a task of its own.
    post_json(client, form.slug, factories.submission_data(email="p3@acme.example"))
    assert waiting.filter(status="READY").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_drain_task_seen_waiting_is_trusted_for_half_its_linger(
    client: Client, run_worker: Any
) -> None:
    """It has not started, and once started it lingers before reading what waits: stores in
    that time need not look for it again, and it still processes them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    from leadline.capture import services
    from leadline.capture.tasks import submissions_process_pending_task

    form = factories.form()

    def store(n: int) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = post_json(
                client, form.slug, factories.submission_data(email=f"p{n}@acme.example")
            )
        assert response.status_code == 201
        return [q["sql"] for q in queries if DBTaskResult._meta.db_table in q["sql"]]

    assert store(0)  # looked, found none, queued one
    assert store(1)  # looked, found it waiting
    assert store(2) == []  # trusted: not looked for
    services.SUBMISSIONS_DRAIN.seen_waiting_at -= services.SUBMISSIONS_DRAIN.trusted_for
    assert store(3)  # trusted no longer: looked again

    run_worker()

    waiting = DBTaskResult.objects.filter(task_path=submissions_process_pending_task.module_path)
    assert list(waiting.values_list("status", flat=True)) == ["SUCCESSFUL"]
    assert Submission.objects.filter(status="processed").count() == 4
    assert Request.objects.count() == 4


def test_a_drain_task_seen_inside_a_transaction_is_not_trusted(client: Client) -> None:
    """It may be the transaction's own, and roll back with it."""
    from leadline.capture import services

    form = factories.form()
    before = services.SUBMISSIONS_DRAIN.seen_waiting_at
    for n in range(3):
        post_json(client, form.slug, factories.submission_data(email=f"p{n}@acme.example"))
    assert services.SUBMISSIONS_DRAIN.seen_waiting_at == before
