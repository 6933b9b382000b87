"""The worker's side of web tracking: batches become visitors and events, joined to people.

Batches go in through the real endpoint (/t/collect) and out through the real task worker, except
where a test needs a batch the endpoint would never store.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from leadline.core import clock
from leadline.core.models import Person, TimelineEvent
from leadline.core.services import person_merge
from leadline.journeys import tracking
from leadline.journeys.models import (
    BatchStatus,
    Event,
    EventBatch,
    Journey,
    JourneyPosition,
    Visitor,
)
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
VISITOR = "5f0c1a52-8f0e-4d8e-b1f4-1c2d3e4f5a6b"


@pytest.fixture
def site() -> Any:
    return factories.tracking_site()


def send(client: Client, site: Any, *events: dict[str, Any], visitor_id: str = VISITOR) -> int:
    """Post a batch as t.js does; the stored batch's id."""
    response = client.post(
        "/t/collect",
        data=json.dumps({"site": site.key, "visitor_id": visitor_id, "events": list(events)}),
        content_type="text/plain",
    )
    assert response.status_code == 202, response.content
    return EventBatch.objects.latest("pk").pk


def view(path: str, title: str, at: dt.datetime) -> dict[str, Any]:
    return factories.page_view_data(path=path, title=title, occurred_at=at.isoformat())


def timeline(person: Person) -> list[tuple[str, str, dt.datetime]]:
    return list(
        TimelineEvent.objects.filter(person=person, kind__startswith="web.")
        .order_by("occurred_at", "pk")
        .values_list("kind", "summary", "occurred_at")
    )


def test_an_anonymous_visitor_gets_events_and_no_timeline(
    client: Client, site: Any, run_worker: Any
) -> None:
    first, later = NOW - dt.timedelta(hours=2), NOW - dt.timedelta(minutes=5)
    batch_id = send(client, site, view("/pricing", "Pricing", later), view("/", "Home", first))
    run_worker()

    visitor = Visitor.objects.get(visitor_id=VISITOR)
    assert (visitor.person, visitor.first_seen_at, visitor.last_seen_at) == (None, first, later)
    events = Event.objects.filter(visitor=visitor).order_by("occurred_at")
    assert [(e.path, e.occurred_at, e.person_id, e.recorded_at) for e in events] == [
        ("/", first, None, NOW),
        ("/pricing", later, None, NOW),
    ]
    assert not TimelineEvent.objects.filter(kind__startswith="web.").exists()
    batch = EventBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.attempts, batch.processed_at) == ("processed", 1, NOW)


def test_a_later_batch_widens_when_the_visitor_was_seen(
    client: Client, site: Any, run_worker: Any
) -> None:
    send(client, site, view("/a", "A", NOW - dt.timedelta(days=1)))
    run_worker()
    send(client, site, view("/b", "B", NOW - dt.timedelta(days=2)), view("/c", "C", NOW))
    run_worker()
    visitor = Visitor.objects.get()
    assert (visitor.first_seen_at, visitor.last_seen_at) == (NOW - dt.timedelta(days=2), NOW)
    assert visitor.events.count() == 3


def test_an_identified_visitors_events_are_their_persons_and_on_their_timeline(
    client: Client, site: Any, run_worker: Any
) -> None:
    person = factories.person()
    factories.visitor(visitor_id=VISITOR, person=person)
    at = NOW - dt.timedelta(minutes=3)
    send(
        client,
        site,
        view("/pricing", "Pricing", at),
        factories.page_view_data(name="demo_clicked", path="/pricing", occurred_at=at.isoformat()),
        factories.page_view_data(path="/blog/close", title="", occurred_at=at.isoformat()),
    )
    run_worker()

    assert Event.objects.filter(person=person).count() == 3
    assert timeline(person) == [
        ("web.page_view", "Viewed Pricing (/pricing)", at),
        ("web.event", "Web event “demo_clicked” on /pricing", at),
        ("web.page_view", "Viewed /blog/close", at),
    ]
    row = TimelineEvent.objects.filter(person=person, kind="web.event").get()
    assert row.data["event_id"] == Event.objects.get(name="demo_clicked").pk


def test_processing_a_batch_again_adds_nothing(client: Client, site: Any, run_worker: Any) -> None:
    person = factories.person()
    factories.visitor(visitor_id=VISITOR, person=person)
    batch_id = send(client, site, view("/a", "A", NOW), view("/b", "B", NOW))
    run_worker()
    assert Event.objects.count() == 2

    # Done already: asked again by id, nothing happens.
    assert tracking.event_batches_process(batch_ids=[batch_id]) == set()
    # Its status lost (as if the worker died after writing the events): the dedupe keys hold.
    EventBatch.objects.filter(pk=batch_id).update(status=BatchStatus.RECEIVED)
    assert tracking.event_batches_process() == set()
    assert Event.objects.count() == 2
    assert len(timeline(person)) == 2
    assert EventBatch.objects.get(pk=batch_id).status == "processed"


def test_the_people_with_new_events_are_returned(site: Any) -> None:
    person = factories.person()
    factories.visitor(visitor_id="known", person=person)
    for visitor_id in ("known", "anonymous"):
        EventBatch.objects.create(
            site=site, visitor_id=visitor_id, events=[_stored("page_view", "/x")]
        )
    assert tracking.event_batches_process() == {person.pk}


def test_new_events_move_an_identified_person_along_their_journey(
    client: Client, site: Any, run_worker: Any
) -> None:
    person = factories.person()
    factories.visitor(visitor_id=VISITOR, person=person)
    send(
        client,
        site,
        view("/solutions/finance", "Solutions", NOW - dt.timedelta(hours=1)),
        view("/pricing", "Pricing", NOW - dt.timedelta(minutes=30)),
        view("/pricing", "Pricing", NOW - dt.timedelta(minutes=10)),
    )
    run_worker()
    journey = Journey.objects.get(is_default=True)
    position = JourneyPosition.objects.get(journey=journey, person=person)
    assert position.step.name == "Comparing vendors"


def test_identifying_a_visitor_joins_their_earlier_visits(
    client: Client, site: Any, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    earlier = NOW - dt.timedelta(days=3)
    send(
        client,
        site,
        view("/solutions", "Solutions", earlier),
        view("/pricing", "Pricing", earlier + dt.timedelta(minutes=1)),
    )
    run_worker()
    person = factories.person()

    with django_capture_on_commit_callbacks(execute=True):
        tracking.visitor_identify(visitor_id=VISITOR, person_id=person.pk, at=NOW)

    visitor = Visitor.objects.get(visitor_id=VISITOR)
    assert (visitor.person_id, visitor.identified_at) == (person.pk, NOW)
    assert Event.objects.filter(person=person).count() == 2
    assert timeline(person) == [
        ("web.page_view", "Viewed Solutions (/solutions)", earlier),
        ("web.page_view", "Viewed Pricing (/pricing)", earlier + dt.timedelta(minutes=1)),
    ]
    # Their journey moved on what they did before we knew them.
    position = JourneyPosition.objects.get(journey__is_default=True, person=person)
    assert position.step.name == "Exploring ways to solve it"

    # Idempotent: nothing more.
    tracking.visitor_identify(visitor_id=VISITOR, person_id=person.pk, at=NOW)
    assert len(timeline(person)) == 2

    # From now on their visits are theirs at once.
    send(client, site, view("/contact", "Contact", NOW))
    run_worker()
    assert len(timeline(person)) == 3
    assert Event.objects.filter(person__isnull=True).count() == 0


def test_identifying_an_unknown_visitor_makes_it(site: Any) -> None:
    person = factories.person()
    tracking.visitor_identify(visitor_id="never-seen", person_id=person.pk, at=NOW)
    visitor = Visitor.objects.get(visitor_id="never-seen")
    assert (visitor.person_id, visitor.first_seen_at, visitor.identified_at) == (
        person.pk,
        NOW,
        NOW,
    )
    assert not timeline(person)


def test_a_batch_stored_before_identifying_and_processed_after_joins_the_person(
    client: Client, site: Any, run_worker: Any
) -> None:
    send(client, site, view("/pricing", "Pricing", NOW - dt.timedelta(minutes=1)))
    person = factories.person()
    tracking.visitor_identify(visitor_id=VISITOR, person_id=person.pk, at=NOW)
    run_worker()
    assert timeline(person) == [
        ("web.page_view", "Viewed Pricing (/pricing)", NOW - dt.timedelta(minutes=1))
    ]


def test_a_shared_browser_goes_to_the_latest_person_and_keeps_the_first_ones_events(
    client: Client, site: Any, run_worker: Any
) -> None:
    ann, ben = factories.person(), factories.person()
    send(client, site, view("/a", "A", NOW - dt.timedelta(hours=2)))
    run_worker()
    tracking.visitor_identify(visitor_id=VISITOR, person_id=ann.pk, at=NOW - dt.timedelta(hours=1))
    send(client, site, view("/b", "B", NOW - dt.timedelta(minutes=1)))
    run_worker()
    tracking.visitor_identify(visitor_id=VISITOR, person_id=ben.pk, at=NOW)
    assert Visitor.objects.get().person_id == ben.pk
    assert Event.objects.filter(person=ann).count() == 2
    assert not Event.objects.filter(person=ben).exists()


def test_an_id_t_js_could_not_have_made_is_not_joined(site: Any) -> None:
    person = factories.person()
    tracking.visitor_identify(visitor_id="not a cookie; value", person_id=person.pk, at=NOW)
    assert not Visitor.objects.exists()


def test_a_merged_persons_visitor_follows_the_merge(site: Any) -> None:
    survivor, loser = factories.person(), factories.person()
    visitor = factories.visitor(visitor_id=VISITOR, person=loser)
    person_merge(survivor=survivor, loser=loser)
    # The merge moves the visitor already; one that was missed is moved when seen.
    Visitor.objects.filter(pk=visitor.pk).update(person=loser)
    EventBatch.objects.create(site=site, visitor_id=VISITOR, events=[_stored("page_view", "/x")])
    assert tracking.event_batches_process() == {survivor.pk}
    assert Visitor.objects.get().person_id == survivor.pk


def _stored(name: str, path: str) -> dict[str, Any]:
    """An event as the hot path stores it."""
    return {
        "name": name,
        "url": "",
        "path": path,
        "title": "",
        "referrer": "",
        "occurred_at": clock.now().isoformat(),
        "properties": {},
    }


def test_a_bad_batch_fails_alone_and_the_sweep_retries_it(site: Any, run_worker: Any) -> None:
    good = EventBatch.objects.create(
        site=site, visitor_id="good", events=[_stored("page_view", "/")]
    )
    bad = EventBatch.objects.create(site=site, visitor_id="bad", events=[{"path": "/no-name"}])

    done = tracking.event_batches_process_pending()

    assert done.batches == 2
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "processed"
    assert (bad.status, bad.attempts) == ("failed", 1)
    assert "KeyError" in bad.last_error
    assert Event.objects.count() == 1

    # The sweep queues it again (one task for it alone) once it is stale...
    with clock.frozen_at(NOW + dt.timedelta(minutes=3)):
        assert tracking.event_batches_requeue_stale() == 1
        run_worker()
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("failed", 2)
    # ...and gives up after MAX_ATTEMPTS, leaving it for an operator.
    EventBatch.objects.filter(pk=bad.pk).update(attempts=tracking.MAX_ATTEMPTS)
    with clock.frozen_at(NOW + dt.timedelta(minutes=3)):
        assert tracking.event_batches_requeue_stale() == 0


def test_a_fixed_batch_is_processed_by_the_sweeps_retry(site: Any, run_worker: Any) -> None:
    bad = EventBatch.objects.create(site=site, visitor_id="v", events=[{"path": "/no-name"}])
    tracking.event_batches_process_pending()
    EventBatch.objects.filter(pk=bad.pk).update(events=[_stored("page_view", "/fixed")])
    with clock.frozen_at(NOW + dt.timedelta(minutes=3)):
        assert tracking.event_batches_requeue_stale() == 1
        run_worker()
    bad.refresh_from_db()
    assert (bad.status, bad.last_error) == ("processed", "")
    assert Event.objects.get().path == "/fixed"


def test_a_pass_takes_batches_while_their_events_fit_and_the_drain_goes_on(
    site: Any, run_worker: Any
) -> None:
    """On SQLite a pass holds the write lock: about 100 events, not 10 batches of 100."""
    budget = tracking.process_events()
    sizes = [budget * 6 // 10, budget * 6 // 10, budget // 10, budget // 10]
    for n, size in enumerate(sizes):
        EventBatch.objects.create(
            site=site, visitor_id=f"v{n}", events=[_stored("page_view", "/")] * size
        )

    first = tracking.event_batches_process_pending()
    assert (first.batches, first.full) == (1, True)  # the second would not fit
    second = tracking.event_batches_process_pending()
    assert (second.batches, second.full) == (3, False)  # 60 + 10 + 10: all that waited
    assert Event.objects.count() == sum(sizes)

    # The drain task goes on while its passes come full.
    for n, size in enumerate(sizes):
        EventBatch.objects.create(
            site=site, visitor_id=f"w{n}", events=[_stored("page_view", "/")] * size
        )
    tracking.event_batches_process_queue()
    run_worker()
    assert not EventBatch.objects.exclude(status="processed").exists()
    assert Event.objects.count() == 2 * sum(sizes)


def test_a_form_from_a_tracked_visitor_joins_their_visits_and_moves_their_journey(
    client: Client, site: Any, run_worker: Any
) -> None:
    """Capture's side of the stitch: the embed form sends t.js's visitor id with the form."""
    send(
        client,
        site,
        view("/solutions", "Solutions", NOW - dt.timedelta(hours=3)),
        view("/pricing", "Pricing", NOW - dt.timedelta(hours=2)),
        view("/pricing", "Pricing", NOW - dt.timedelta(hours=1)),
    )
    run_worker()
    form = factories.form()
    data = {**factories.submission_data(email="ines@duarte.example"), "visitor_id": VISITOR}
    response = client.post(
        f"/f/{form.slug}/", data=json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 201
    run_worker()

    person = Person.objects.get(emails__email="ines@duarte.example")
    assert [summary for _, summary, _ in timeline(person)] == [
        "Viewed Solutions (/solutions)",
        "Viewed Pricing (/pricing)",
        "Viewed Pricing (/pricing)",
    ]
    position = JourneyPosition.objects.get(
        journey=Journey.objects.get(is_default=True), person=person
    )
    assert position.step.name == "Comparing vendors"
    assert TimelineEvent.objects.filter(
        person=person, summary__endswith="signal: Visited pricing twice"
    ).exists()


# A click on a link in a mail ----------------------------------------------------------------------


def test_links_to_tracked_sites_carry_the_persons_token_and_others_do_not() -> None:
    factories.tracking_site(allowed_origins="https://www.acme.example\nhttps://shop.acme.example")
    person = factories.person()
    text = (
        "Prices: https://www.acme.example/pricing?plan=pro&ll_t=old.\n"
        "Docs (https://docs.other.example/guide) and https://shop.acme.example"
    )

    tagged = tracking.links_tag(text, person_id=person.pk)

    pricing, docs, shop = (
        word.strip("().") for word in tagged.split() if word.strip("(").startswith("https://")
    )
    assert pricing.startswith("https://www.acme.example/pricing?plan=pro&ll_t=")
    assert docs == "https://docs.other.example/guide"  # not ours to track
    assert shop.startswith("https://shop.acme.example?ll_t=")
    token = parse_qs(urlsplit(pricing).query)["ll_t"]
    assert token != ["old"]
    assert tracking.identify_token_read(token[0]) == person.pk
    assert tagged.endswith(shop)  # the text around the links is as it was
    assert tagged.startswith("Prices: https://")
    assert ".\nDocs (https://docs" in tagged


def test_a_forged_or_altered_token_names_nobody() -> None:
    token = tracking.identify_token(person_id=42)
    assert tracking.identify_token_read(token) == 42
    assert tracking.identify_token_read(token[:-2] + "xx") is None
    assert tracking.identify_token_read("42") is None
    assert tracking.identify_token_read(token.replace("NDI", "NDM", 1)) is None


def send_clicked(client: Client, site: Any, token: str, *events: dict[str, Any]) -> int:
    body = {"site": site.key, "visitor_id": VISITOR, "identify": token, "events": list(events)}
    response = client.post("/t/collect", data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 202, response.content
    return EventBatch.objects.latest("pk").pk


def test_a_page_opened_from_a_mail_joins_the_visitor_and_its_earlier_visits_to_the_person(
    client: Client, site: Any, run_worker: Any
) -> None:
    earlier = NOW - dt.timedelta(days=2)
    send(client, site, view("/pricing", "Pricing", earlier))
    run_worker()
    person = factories.person()
    token = tracking.identify_token(person_id=person.pk)

    batch_id = send_clicked(client, site, token, view("/case-studies", "Case studies", NOW))
    run_worker()

    assert Visitor.objects.get(visitor_id=VISITOR).person == person
    assert [summary for _, summary, _ in timeline(person)] == [
        "Viewed Pricing (/pricing)",
        "Viewed Case studies (/case-studies)",
    ]
    clicks = TimelineEvent.objects.filter(person=person, kind="mail.clicked")
    assert list(clicks.values_list("summary", flat=True)) == [
        "Clicked a link in an email, to /case-studies"
    ]
    clicked = Event.objects.get(person=person, name="email_clicked")
    assert (clicked.path, clicked.occurred_at, clicked.source) == ("/case-studies", NOW, "mail")
    assert EventBatch.objects.get(pk=batch_id).meta["identify"] == token
    # Processed again: nothing more.
    tracking.event_batches_process(batch_ids=[batch_id])
    EventBatch.objects.filter(pk=batch_id).update(status="received")
    tracking.event_batches_process(batch_ids=[batch_id])
    assert Event.objects.filter(name="email_clicked").count() == 1


def test_a_bad_token_joins_nobody_and_loses_no_event(
    client: Client, site: Any, run_worker: Any
) -> None:
    send_clicked(client, site, "MQ:forged:token", view("/pricing", "Pricing", NOW))
    run_worker()
    assert Visitor.objects.get(visitor_id=VISITOR).person is None
    assert list(Event.objects.values_list("name", flat=True)) == ["page_view"]


@pytest.mark.parametrize("identify", [42, "", "has spaces", "x" * 201])
def test_a_malformed_token_gets_400_naming_the_field(
    client: Client, site: Any, identify: Any
) -> None:
    body = {
        "site": site.key,
        "visitor_id": VISITOR,
        "identify": identify,
        "events": [{"name": "x"}],
    }
    response = client.post("/t/collect", data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 400
    assert response.json()["error"].startswith("identify:")
    assert not EventBatch.objects.exists()
