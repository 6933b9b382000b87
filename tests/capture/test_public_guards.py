"""Issue 9 on the public capture and tracking endpoints: a database that cannot store answers 503
with Retry-After (a real fault: another connection holds the lock), rate limits per form and per
site, the time-to-fill check against bots, and CORS for listed origins only."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from leadline.capture.ingest import RENDERED_FIELD, dropped_count, fill_token
from leadline.capture.models import Submission
from leadline.core import clock
from leadline.journeys.models import EventBatch
from tests import factories

NOW = factories.MONDAY_10
LATER = NOW + dt.timedelta(seconds=30)


def post_json(client: Client, slug: str, data: Any, **headers: str) -> Any:
    return client.post(
        f"/f/{slug}/", data=json.dumps(data), content_type="application/json", headers=headers
    )


@contextlib.contextmanager
def database_locked() -> Iterator[None]:
    """Another connection holds the database's write lock (a real fault, not a mock): on SQLite
    BEGIN IMMEDIATE (the test database is in memory, shared-cache: this is what EXCLUSIVE is to
    a WAL file, writers wait and readers read); on PostgreSQL an ACCESS EXCLUSIVE lock on the
    two tables, with this connection's lock_timeout short so that its insert gives up as
    SQLite's does after its lock wait."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], uri=True, timeout=0)
        other.isolation_level = None
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    import psycopg

    db = connection.settings_dict
    kwargs = {"dbname": db["NAME"], "user": db["USER"] or None, "host": db["HOST"] or None}
    kwargs |= {"port": db["PORT"] or None, "password": db["PASSWORD"] or None}
    with psycopg.connect(**kwargs, autocommit=False) as other:
        other.execute("LOCK TABLE capture_submission, journeys_eventbatch IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        try:
            yield
        finally:
            other.rollback()
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")


@pytest.mark.django_db(transaction=True)
def test_a_locked_database_answers_503_with_retry_after_then_the_same_key_stores_once(
    client: Client, settings: Any
) -> None:
    settings.PUBLIC_DB_LOCK_WAIT_SECONDS = 0.3
    settings.PUBLIC_RETRY_AFTER_SECONDS = 7
    form = factories.form()
    site = factories.tracking_site()
    data = factories.submission_data()
    key = {"Idempotency-Key": "while-down-1"}
    batch = {"site": site.key, "visitor_id": "v-down", "events": [{"name": "page_view"}]}
    with database_locked():
        down = post_json(client, form.slug, data, **key)
        tracked = client.post("/t/collect", data=json.dumps(batch), content_type="text/plain")
    assert down.status_code == 503, down.content
    assert down["Retry-After"] == "7"
    assert "send it again" in down.json()["error"]
    assert tracked.status_code == 503, tracked.content
    assert tracked["Retry-After"] == "7"
    assert not Submission.objects.exists()
    assert not EventBatch.objects.exists()

    again = post_json(client, form.slug, data, **key)
    twice = post_json(client, form.slug, data, **key)
    assert (again.status_code, twice.status_code) == (201, 200)
    assert Submission.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_hosted_form_post_while_locked_gets_a_page_that_sends_it_again(settings: Any) -> None:
    settings.PUBLIC_DB_LOCK_WAIT_SECONDS = 0.3
    form = factories.form()
    client = Client(enforce_csrf_checks=True)
    with clock.frozen_at(NOW):
        page = client.get(f"/f/{form.slug}/")
    data = {
        **factories.submission_data(),
        "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        **hidden(page),
    }
    with clock.frozen_at(LATER), database_locked():
        down = client.post(f"/f/{form.slug}/", data=data)
    assert down.status_code == 503
    assert down["Retry-After"] == str(settings.PUBLIC_RETRY_AFTER_SECONDS)
    html = down.content.decode()
    assert "Send again" in html
    assert not Submission.objects.exists()
    again = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert again["_key"] == data["_key"]
    with clock.frozen_at(LATER):
        stored = client.post(f"/f/{form.slug}/", data=again)
    assert stored.status_code == 302
    assert Submission.objects.get().idempotency_key == data["_key"]


def hidden(page: Any) -> dict[str, str]:
    return dict(
        re.findall(r'<input type="hidden" name="(_\w+)" value="([^"]*)"', page.content.decode())
    )


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_a_flood_to_one_form_from_many_addresses_gets_429(client: Client, settings: Any) -> None:
    settings.CAPTURE_FORM_RATE_LIMIT = "3/60"
    form, other = factories.form(), factories.form()
    statuses = [post_json_from(client, form.slug, f"10.0.0.{n}").status_code for n in range(5)]
    assert statuses == [201, 201, 201, 429, 429], statuses
    limited = post_json_from(client, form.slug, "10.0.1.1")
    assert 0 < int(limited["Retry-After"]) <= 60
    assert post_json_from(client, other.slug, "10.0.1.2").status_code == 201  # its own count
    assert Submission.objects.filter(form=form).count() == 3


def post_json_from(client: Client, slug: str, ip: str) -> Any:
    return client.post(
        f"/f/{slug}/",
        data=json.dumps(factories.submission_data(email=f"x{ip.replace('.', '')}@acme.example")),
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


@pytestmark_db
def test_a_flood_for_one_site_key_from_many_addresses_gets_429(
    client: Client, settings: Any
) -> None:
    settings.TRACKING_SITE_RATE_LIMIT = "2/60"
    site = factories.tracking_site()
    batch = {"site": site.key, "visitor_id": "v-1", "events": [{"name": "page_view"}]}
    statuses = [
        client.post(
            "/t/collect",
            data=json.dumps(batch),
            content_type="text/plain",
            REMOTE_ADDR=f"10.1.0.{n}",
        )
        for n in range(3)
    ]
    assert [r.status_code for r in statuses] == [202, 202, 429]
    assert 0 < int(statuses[-1]["Retry-After"]) <= 60
    assert EventBatch.objects.count() == 2


class TestTimeToFill:
    pytestmark = pytest.mark.django_db

    def post(
        self, client: Client, form: Any, token: str | None, *, at: dt.datetime, **h: str
    ) -> Any:
        data = factories.submission_data()
        if token is not None:
            data[RENDERED_FIELD] = token
        with clock.frozen_at(at):
            return post_json(client, form.slug, data, **h)

    def test_the_embeds_schema_gives_a_token_and_a_person_pace_is_stored(
        self, client: Client
    ) -> None:
        form = factories.form()
        with clock.frozen_at(NOW):
            schema = client.get(f"/f/{form.slug}/schema.json").json()
        assert schema["rendered_field"] == RENDERED_FIELD
        answer = self.post(client, form, schema["rendered"], at=LATER, **{"Idempotency-Key": "k1"})
        assert answer.status_code == 201
        assert Submission.objects.count() == 1
        assert RENDERED_FIELD not in Submission.objects.get().payload

    @pytest.mark.parametrize(
        ("case", "seconds"),
        [("too fast", 0.5), ("expired", 3 * 24 * 3600), ("forged", 30), ("other form", 30)],
    )
    def test_a_bots_submission_looks_accepted_but_is_not_stored(
        self, client: Client, case: str, seconds: float
    ) -> None:
        form, other = factories.form(), factories.form()
        with clock.frozen_at(NOW):
            token = fill_token(other.pk if case == "other form" else form.pk)
        if case == "forged":
            token = token[:-3] + "abc"
        answer = self.post(
            client, form, token, at=NOW + dt.timedelta(seconds=seconds), **{"Idempotency-Key": "b"}
        )
        assert answer.status_code == 201, case
        assert answer.json()["status"] == "received"
        assert not Submission.objects.exists(), case
        assert dropped_count(form.pk) == 1

    def test_api_posts_with_a_key_and_no_token_are_stored_as_before(self, client: Client) -> None:
        form = factories.form()
        answer = self.post(client, form, None, at=NOW, **{"Idempotency-Key": "server-1"})
        assert answer.status_code == 201
        plain = self.post(client, form, None, at=NOW)  # no key, no Origin: a server, as today
        assert plain.status_code == 201
        assert Submission.objects.count() == 2

    def test_a_browser_post_without_token_or_key_is_a_bots(self, client: Client) -> None:
        form = factories.form()
        answer = self.post(client, form, None, at=NOW, Origin="http://testserver")
        assert answer.status_code == 201
        assert not Submission.objects.exists()

    def test_a_hosted_form_post_without_its_token_is_a_bots(self, client: Client) -> None:
        form = factories.form()
        answer = client.post(f"/f/{form.slug}/", data=factories.submission_data())
        assert answer.status_code == 200
        assert "received your details" in answer.content.decode()
        assert not Submission.objects.exists()


class TestStrictCors:
    pytestmark = pytest.mark.django_db

    def test_a_form_listing_no_origin_takes_only_its_own_hosted_page(self, client: Client) -> None:
        form = factories.form()
        key = {"Idempotency-Key": "own-1"}
        own = post_json(
            client, form.slug, factories.submission_data(), Origin="http://testserver", **key
        )
        assert own.status_code == 201
        other = post_json(
            client, form.slug, factories.submission_data(), Origin="https://evil.example", **key
        )
        assert other.status_code == 403
        assert "Access-Control-Allow-Origin" not in other
        preflight = client.options(f"/f/{form.slug}/", headers={"Origin": "https://evil.example"})
        assert preflight.status_code == 403

    def test_the_schema_never_echoes_an_unlisted_origin(self, client: Client) -> None:
        form = factories.form(allowed_origins="https://www.acme.example\nhttp://localhost:*")
        plain = client.get(f"/f/{form.slug}/schema.json")
        assert plain.status_code == 200
        assert "Access-Control-Allow-Origin" not in plain
        assert "no-store" in plain["Cache-Control"]
        evil = client.get(f"/f/{form.slug}/schema.json", headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        assert "Access-Control-Allow-Origin" not in evil
        for origin in ("https://www.acme.example", "http://localhost:8123"):
            listed = client.get(f"/f/{form.slug}/schema.json", headers={"Origin": origin})
            assert listed["Access-Control-Allow-Origin"] == origin
        near = client.get(
            f"/f/{form.slug}/schema.json", headers={"Origin": "http://localhost.evil:80"}
        )
        assert near.status_code == 403

    def test_a_site_listing_no_origin_takes_no_other_sites_events(self, client: Client) -> None:
        site = factories.tracking_site()
        batch = {"site": site.key, "visitor_id": "v-2", "events": [{"name": "page_view"}]}
        refused = client.post(
            "/t/collect",
            data=json.dumps(batch),
            content_type="text/plain",
            headers={"Origin": "https://www.customer.example"},
        )
        assert refused.status_code == 403
        assert not EventBatch.objects.exists()

    def test_the_demo_forms_and_site_list_the_demo_origins(self) -> None:
        from leadline.demo.generator import DEMO_ORIGINS

        assert "http://localhost:*" in DEMO_ORIGINS.split()
