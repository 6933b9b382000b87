"""The public tracking endpoint (/t/collect) and the script (/t.js), over real HTTP.

Every refusal answers with its status and a message naming what is wrong, and stores nothing;
a batch with some bad events keeps the good ones and says which were left out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.journeys import tracking
from leadline.journeys.models import Event, EventBatch, Visitor
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
VISITOR = "0b6e4c36-6f55-4e0b-9c55-8f9a3d1f2e11"


def batch(site: Any, *events: dict[str, Any], visitor_id: str = VISITOR) -> dict[str, Any]:
    return {
        "site": site if isinstance(site, str) else site.key,
        "visitor_id": visitor_id,
        "events": list(events) or [factories.page_view_data()],
    }


def post(
    client: Client, data: Any, *, content_type: str = "text/plain", origin: str = "", **meta: str
) -> Any:
    """POST a batch as t.js does (text/plain); `meta` as in the WSGI environ (REMOTE_ADDR)."""
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    headers = {"Origin": origin} if origin else {}
    return client.post("/t/collect", data=body, content_type=content_type, headers=headers, **meta)


def nothing_stored() -> bool:
    return not EventBatch.objects.exists()


def test_a_batch_is_stored_as_sent_then_the_worker_makes_events(
    client: Client, run_worker: Any
) -> None:
    site = factories.tracking_site()
    signup = factories.page_view_data(
        name="signup_started", path="/trial", title="Start a trial", properties={"plan": "team"}
    )
    response = post(
        client,
        batch(site, factories.page_view_data(), signup),
        HTTP_USER_AGENT="Mozilla/5.0 (test)",
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "rejected": []}
    stored = EventBatch.objects.get()
    assert (stored.site_id, stored.visitor_id, stored.status) == (site.pk, VISITOR, "received")
    assert stored.received_at == NOW
    assert [e["name"] for e in stored.events] == ["page_view", "signup_started"]
    assert stored.events[1]["properties"] == {"plan": "team"}
    assert stored.meta == {"ip": "127.0.0.1", "user_agent": "Mozilla/5.0 (test)", "origin": ""}
    assert not Event.objects.exists()  # the rest waits for the worker

    run_worker()

    stored.refresh_from_db()
    assert stored.status == "processed"
    visitor = Visitor.objects.get(visitor_id=VISITOR)
    assert visitor.person is None
    assert list(
        Event.objects.order_by("dedupe_key").values_list("name", "path", "source", "dedupe_key")
    ) == [
        ("page_view", "/pricing", "web", f"{stored.pk}:0"),
        ("signup_started", "/trial", "web", f"{stored.pk}:1"),
    ]


def test_application_json_is_taken_as_well_as_text_plain(client: Client) -> None:
    site = factories.tracking_site()
    response = post(client, batch(site), content_type="application/json")
    assert response.status_code == 202
    assert EventBatch.objects.count() == 1


def test_other_content_types_get_400(client: Client) -> None:
    site = factories.tracking_site()
    response = post(client, batch(site), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"].startswith("body: send JSON")
    assert nothing_stored()


def test_a_preflight_is_answered_for_a_listed_origin_only(client: Client) -> None:
    factories.tracking_site(allowed_origins="https://www.customer.example")
    response = client.options("/t/collect", headers={"Origin": "https://www.customer.example"})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://www.customer.example"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    other = client.options("/t/collect", headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other


def test_only_post_is_taken(client: Client) -> None:
    response = client.get("/t/collect")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]


def test_an_allowed_origin_gets_its_cors_answer(client: Client) -> None:
    site = factories.tracking_site(allowed_origins="https://www.customer.example\n")
    response = post(client, batch(site), origin="https://www.customer.example")
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == "https://www.customer.example"
    assert EventBatch.objects.get().meta["origin"] == "https://www.customer.example"


def test_an_origin_the_site_does_not_allow_gets_403(client: Client) -> None:
    site = factories.tracking_site(allowed_origins="https://www.customer.example")
    response = post(client, batch(site), origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"] == (
        "origin https://evil.example may not send events for this site"
    )
    assert "Access-Control-Allow-Origin" not in response
    assert nothing_stored()


@pytest.mark.parametrize("key", ["no-such-site", "", None, 7, "a b", "nul\u0000", "k" * 41])
def test_an_unknown_site_key_gets_403(client: Client, key: Any) -> None:
    factories.tracking_site()
    response = post(client, {**batch("x"), "site": key})
    assert response.status_code == 403
    assert response.json()["error"] == "site: no active tracking site has this key"
    assert nothing_stored()


def test_an_inactive_site_gets_403(client: Client) -> None:
    site = factories.tracking_site(is_active=False)
    response = post(client, batch(site))
    assert response.status_code == 403
    assert response.json()["error"].startswith("site:")
    assert nothing_stored()


def test_an_oversized_body_gets_413(client: Client, settings: Any) -> None:
    settings.TRACKING_MAX_BODY_BYTES = 2048
    site = factories.tracking_site()
    big = factories.page_view_data(title="x" * 290, properties={"note": "y" * 3000})
    response = post(client, batch(site, big))
    assert response.status_code == 413
    assert response.json()["error"] == "body: over 2048 bytes"
    assert nothing_stored()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "body: not JSON"),
        ("   ", "body: not JSON"),
        ("[1, 2]", "body: must be a JSON object"),
        ('"a string"', "body: must be a JSON object"),
    ],
)
def test_unreadable_bodies_get_400(client: Client, body: str, message: str) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert nothing_stored()


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (None, "events: must be a non-empty list"),
        ([], "events: must be a non-empty list"),
        ({"name": "page_view"}, "events: must be a non-empty list"),
        ("page_view", "events: must be a non-empty list"),
        ([{"name": "page_view"}] * 101, "events: at most 100 in one batch, got 101"),
    ],
)
def test_events_must_be_a_list_of_1_to_100(client: Client, events: Any, message: str) -> None:
    site = factories.tracking_site()
    response = post(client, {**batch(site), "events": events})
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert nothing_stored()


def test_a_hundred_events_are_taken(client: Client) -> None:
    site = factories.tracking_site()
    response = post(client, {**batch(site), "events": [{"name": "scrolled"}] * 100})
    assert response.status_code == 202
    assert len(EventBatch.objects.get().events) == 100


@pytest.mark.parametrize("visitor_id", [None, "", "x" * 65, "has space", "ä-umlaut", 12, ["a"]])
def test_a_bad_visitor_id_gets_400(client: Client, visitor_id: Any) -> None:
    site = factories.tracking_site()
    response = post(client, {**batch(site), "visitor_id": visitor_id})
    assert response.status_code == 400
    assert response.json()["error"].startswith("visitor_id: 1 to 64 characters")
    assert nothing_stored()


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"url": "https://www.customer.example/"}, "name: required"),
        ({"name": "   "}, "name: required"),
        ({"name": 5}, "name: required"),
        ({"name": "x" * 81}, "name: at most 80 characters"),
        ({"name": "clicked button!"}, "name: only a-z, 0-9 and _ . : -"),
        ({"name": "page_view", "url": "https://a.example/" + "x" * 2000}, "url: at most 2000"),
        ({"name": "page_view", "url": ["https://a.example/"]}, "url: must be text"),
        ({"name": "page_view", "path": "/" + "p" * 500}, "path: at most 500 characters"),
        ({"name": "page_view", "title": "t" * 301}, "title: at most 300 characters"),
        ({"name": "page_view", "referrer": "r" * 2001}, "referrer: at most 2000 characters"),
        ({"name": "page_view", "occurred_at": "yesterday"}, "occurred_at: not an ISO 8601 time"),
        ({"name": "page_view", "occurred_at": 1764000000}, "occurred_at: must be an ISO 8601"),
        ({"name": "page_view", "properties": ["a"]}, "properties: must be a JSON object"),
        (
            {"name": "page_view", "properties": {"note": "n" * 4090}},
            "properties: at most 4096 bytes as JSON",
        ),
        ("page_view", "event: must be a JSON object"),
    ],
)
def test_a_mixed_batch_keeps_the_good_events_and_reports_the_bad_one(
    client: Client, event: Any, error: str
) -> None:
    site = factories.tracking_site()
    good = factories.page_view_data()
    response = post(client, batch(site, good, event, {"name": "scrolled"}))
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert len(body["rejected"]) == 1
    assert body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["error"].startswith(error)
    assert [e["name"] for e in EventBatch.objects.get().events] == ["page_view", "scrolled"]


def test_an_event_with_a_nul_character_is_left_out(client: Client) -> None:
    """PostgreSQL's JSON cannot hold one: the event is reported, the others kept."""
    site = factories.tracking_site()
    nul = factories.page_view_data(properties={"note": "a\u0000b"})
    response = post(client, batch(site, factories.page_view_data(), nul))
    assert response.status_code == 202
    assert response.json()["rejected"] == [
        {"index": 1, "error": "event: the NUL character (\\u0000) is not allowed"}
    ]
    assert len(EventBatch.objects.get().events) == 1


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "page_view", "properties": {"ratio": NaN}}',
        '{"name": "page_view", "properties": {"ratio": -Infinity}}',
        '{"name": "page_view", "title": "Caf\\ud83d"}',  # an emoji cut in half
    ],
)
def test_an_event_no_database_could_store_is_left_out_and_the_others_kept(
    client: Client, raw: str, run_worker: Any
) -> None:
    """Python's JSON reads NaN, Infinity and lone surrogates; neither SQLite's nor PostgreSQL's
    JSON stores them. The event is reported, the others kept (they once failed the insert)."""
    site = factories.tracking_site()
    good = json.dumps(factories.page_view_data())
    body = f'{{"site": "{site.key}", "visitor_id": "{VISITOR}", "events": [{good}, {raw}]}}'
    response = post(client, body)
    assert response.status_code == 202
    assert response.json()["rejected"] == [
        {
            "index": 1,
            "error": "event: NaN, Infinity or a lone surrogate (\\ud800-\\udfff) cannot be stored",
        }
    ]
    run_worker()
    assert list(Event.objects.values_list("name", flat=True)) == ["page_view"]


def test_numbers_too_big_for_64_bits_are_kept_as_javascript_has_them(client: Client) -> None:
    site = factories.tracking_site()
    big = '{"name": "scrolled", "properties": {"n": 123456789012345678901234567890}}'
    body = f'{{"site": "{site.key}", "visitor_id": "{VISITOR}", "events": [{big}]}}'
    assert post(client, body).status_code == 202
    kept = EventBatch.objects.get().events[0]["properties"]["n"]
    # A double, as JavaScript has it (PostgreSQL's JSON gives it back written out in full).
    assert float(kept) == 1.2345678901234568e29
    assert kept != 123456789012345678901234567890


def test_a_batch_of_only_bad_events_gets_400_with_the_report(client: Client) -> None:
    site = factories.tracking_site()
    response = post(client, batch(site, {"name": ""}, {"name": "ok", "properties": 3}))
    assert response.status_code == 400
    assert response.json() == {
        "error": "events: none could be taken",
        "accepted": 0,
        "rejected": [
            {"index": 0, "error": "name: required"},
            {"index": 1, "error": "properties: must be a JSON object"},
        ],
    }
    assert nothing_stored()


def test_events_are_stored_clean(client: Client) -> None:
    site = factories.tracking_site()
    event = {
        "name": "  Demo.Clicked  ",
        "url": "https://www.customer.example/pricing?plan=team#top",
        "occurred_at": "2026-11-23T09:59:30.250Z",
        "extra": "dropped",
    }
    assert post(client, batch(site, event)).status_code == 202
    assert EventBatch.objects.get().events == [
        {
            "name": "demo.clicked",
            "url": "https://www.customer.example/pricing?plan=team#top",
            "path": "/pricing",  # from the URL, since none was given
            "title": "",
            "referrer": "",
            "occurred_at": "2026-11-23T09:59:30.250000+00:00",
            "properties": {},
        }
    ]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (NOW - dt.timedelta(days=6, hours=23), True),
        (NOW - dt.timedelta(days=7, minutes=1), False),
        (NOW + dt.timedelta(minutes=5), False),
    ],
)
def test_times_in_the_future_or_over_7_days_old_are_the_servers(
    client: Client, sent: dt.datetime, kept: bool
) -> None:
    site = factories.tracking_site()
    event = factories.page_view_data(occurred_at=sent.isoformat(), properties={"a": 1})
    assert post(client, batch(site, event)).status_code == 202
    stored = EventBatch.objects.get().events[0]
    if kept:
        assert stored["occurred_at"] == sent.isoformat()
        assert stored["properties"] == {"a": 1}
    else:
        assert stored["occurred_at"] == NOW.isoformat()
        assert stored["properties"] == {"a": 1, "client_occurred_at": sent.isoformat()}


def test_a_time_without_a_zone_is_taken_as_utc(client: Client) -> None:
    site = factories.tracking_site()
    event = factories.page_view_data(occurred_at="2026-11-23T09:00:00")
    assert post(client, batch(site, event)).status_code == 202
    assert EventBatch.objects.get().events[0]["occurred_at"] == "2026-11-23T09:00:00+00:00"


def test_too_many_batches_from_one_address_get_429(client: Client, settings: Any) -> None:
    settings.TRACKING_RATE_LIMIT = "2/60"
    site = factories.tracking_site()
    assert post(client, batch(site)).status_code == 202
    assert post(client, batch(site)).status_code == 202
    response = post(client, batch(site))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "too many" in response.json()["error"]
    assert EventBatch.objects.count() == 2
    other = post(client, batch(site), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 202  # per address


def test_a_failure_to_queue_keeps_the_batch_and_the_sweep_processes_it(
    client: Client, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError

    from leadline.journeys import ingest

    def queue_down() -> None:
        raise DatabaseError("task table locked")

    site = factories.tracking_site()
    with monkeypatch.context() as patched:
        patched.setattr(ingest, "event_batches_process_queue", queue_down)
        response = post(client, batch(site))
    assert response.status_code == 202  # stored is what the browser needs to hear
    run_worker()
    assert EventBatch.objects.get().status == "received"  # nothing was queued

    assert tracking.event_batches_requeue_stale(older_than=dt.timedelta(minutes=2)) == 0
    with clock.frozen_at(NOW + dt.timedelta(minutes=3)):
        assert tracking.event_batches_requeue_stale() == 1
    run_worker()
    assert EventBatch.objects.get().status == "processed"
    assert Event.objects.count() == 1


def test_batches_stored_while_a_drain_task_waits_share_it(client: Client, run_worker: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    from leadline.journeys.tasks import event_batch_process_pending_task

    site = factories.tracking_site()
    for n in range(3):
        assert post(client, batch(site, visitor_id=f"visitor-{n}")).status_code == 202
    waiting = DBTaskResult.objects.filter(task_path=event_batch_process_pending_task.module_path)
    assert waiting.count() == 1
    run_worker()
    assert set(EventBatch.objects.values_list("status", flat=True)) == {"processed"}
    assert Visitor.objects.count() == 3


def test_the_script_is_served_to_any_site_and_cached(client: Client) -> None:
    response = client.get("/t.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in response["Cache-Control"]
    script = response.content.decode()
    assert "ll_vid" in script
    assert "/t/collect" in script
    assert "sendBeacon" in script


def test_nothing_about_a_visitor_is_kept_on_leadlines_own_domain(client: Client) -> None:
    site = factories.tracking_site()
    response = post(client, batch(site))
    assert response.status_code == 202
    assert not response.cookies
