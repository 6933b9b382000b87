"""Tracking events past the retention are rolled up into days, then the raw rows go (issue 10).

The reports that read events — the person's event counts (prediction's features), the events
frame every insight analysis starts from, attribution's touches and report — must give the same
answers for an old period before and after the roll-up and prune.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pandas as pd
import pytest

from leadline.core import clock
from leadline.insight import features, history
from leadline.insight.touches import attribution_report, touches_frame
from leadline.journeys.models import Event, EventDay, EventSource
from leadline.journeys.rollup import events_roll_up
from leadline.privacy import services as privacy
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2028, 3, 1, 12, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=500)  # well past the default 395 days


def day(n: float, hour: float = 9) -> dt.datetime:
    return OLD + dt.timedelta(days=n, hours=hour)


def _web(person: Any, at: dt.datetime, path: str, url: str = "", **properties: Any) -> Any:
    return factories.buyer_event(
        person=person,
        name="page_view",
        at=at,
        recorded_at=at,
        path=path,
        url=url or f"https://www.acme.example{path}",
        source=EventSource.WEB,
        properties=properties,
    )


def _history() -> dict[str, Any]:
    """Two people with web visits, imported touches and a won deal, all 500 days ago; and one
    recent event that must stay raw."""
    ann, bo = factories.person(), factories.person()
    factories.campaign(name="Spring ads", channel="paid search")
    factories.campaign(name="Summit", channel="events")
    # Ann lands from an ad (the UTM in the address), reads pricing twice that day, an hour
    # apart, and three blog pages the next day (one day's row of three).
    _web(ann, day(0), "/", url="https://www.acme.example/?utm_campaign=Spring+ads&utm_medium=cpc")
    _web(ann, day(0, 10), "/pricing")
    _web(ann, day(0, 11), "/pricing")
    for minute in (0, 5, 50):
        _web(ann, day(1) + dt.timedelta(minutes=minute), "/blog")
    # An imported badge scan (a campaign in its properties), and a webinar signal.
    factories.campaign_touch(person=ann, campaign="Summit", at=day(3), content="Badge scan")
    Event.objects.filter(name="campaign_touch").update(recorded_at=day(3))
    factories.buyer_event(person=bo, name="webinar_attended", at=day(2), recorded_at=day(2))
    factories.campaign_touch(person=bo, campaign="Spring ads", at=day(2, 15), channel="cpc")
    Event.objects.filter(person=bo, name="campaign_touch").update(recorded_at=day(2, 15))
    # An anonymous visitor's page view: rolled up too, read by nobody.
    Event.objects.create(
        source="web", name="page_view", path="/", occurred_at=day(1), recorded_at=day(1),
        visitor=factories.visitor(), dedupe_key="anon:1",
    )  # fmt: skip
    factories.deal(person=ann, status="won", opened_at=day(5), days_open=10, amount=1000)
    factories.deal(person=bo, status="lost", opened_at=day(6), days_open=3, amount=400)
    recent = _web(ann, NOW - dt.timedelta(days=2), "/pricing")
    return {"ann": ann, "bo": bo, "recent": recent}


def _reports(people: dict[str, Any]) -> dict[str, Any]:
    # A rolled-up day keeps its first and last moment: the frame's moments of a day with more
    # than two events of one kind are the day's, not their own (decision 0025).
    frame = history.events_frame()
    frame = frame.assign(name=frame["name"].astype(str), at=frame["at"].dt.floor("D"))
    frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    touches = touches_frame().drop(columns=["touch_id"])
    touches = touches.sort_values(list(touches.columns)).reset_index(drop=True)
    # Each person's event counts before moments inside and after the old period.
    cases = pd.DataFrame(
        {
            "person_id": pd.array([people["ann"].pk, people["ann"].pk, people["bo"].pk], "Int64"),
            "cutoff": pd.to_datetime([day(1, 0), day(30), day(2, 12)], utc=True),
        }
    )
    counts = features.event_counts(cases, history.events_frame())
    counts = counts.reindex(sorted(counts.columns), axis=1)
    report = attribution_report(since=day(0), until=day(30))
    revenue = {row.key: (row.revenue, row.influenced_pipeline) for row in report.rows}
    until = history.events_frame(until=day(1, 0))
    return {
        "frame": frame,
        "touches": touches,
        "counts": counts,
        "revenue": revenue,
        "until": len(until),
    }


def test_reports_over_an_old_period_give_the_same_answers_after_roll_up_and_prune() -> None:
    people = _history()
    raw = Event.objects.count()
    before = _reports(people)
    with clock.frozen_at(NOW):
        pruned = privacy.retention_prune()
    after = _reports(people)
    rows = EventDay.objects.count()
    print(f"roll-up: {raw} raw events → {pruned['events']} rolled into {rows} day rows, "
          f"{Event.objects.count()} raw left", file=sys.stderr)  # fmt: skip
    assert pruned["events"] == raw - 1, f"every old event rolled up: {pruned}"
    assert list(Event.objects.values_list("pk", flat=True)) == [people["recent"].pk]
    assert rows < raw - 1, f"{rows} day rows for {raw - 1} events: not rolled up by day"
    blog = EventDay.objects.get(path="/blog")
    assert (blog.count, blog.first_at) == (3, day(1))
    assert blog.last_at == day(1) + dt.timedelta(minutes=50)
    assert EventDay.objects.get(person=None).count == 1, "the anonymous view is a day row too"
    pd.testing.assert_frame_equal(after["frame"], before["frame"], check_dtype=False)
    pd.testing.assert_frame_equal(after["touches"], before["touches"], check_dtype=False)
    pd.testing.assert_frame_equal(after["counts"], before["counts"], check_dtype=False)
    assert after["revenue"] == before["revenue"], f"{after['revenue']} != {before['revenue']}"
    assert after["until"] == before["until"] == 3
    assert len(before["touches"]) == 3, before["touches"]
    assert set(before["touches"]["channel"]) == {"paid search", "events"}


def test_rolling_up_twice_counts_nothing_twice_and_only_rolled_up_events_go() -> None:
    person = factories.person()
    old = [_web(person, day(n), f"/page-{n % 3}") for n in range(12)]
    young = _web(person, NOW - dt.timedelta(days=10), "/young")
    late = _web(person, day(0), "/imported-late")  # happened long ago, recorded just now
    Event.objects.filter(pk=late.pk).update(recorded_at=NOW - dt.timedelta(hours=1))
    totals: list[int] = []
    first = events_roll_up(before=NOW - dt.timedelta(days=395), batch=5, progress=totals.append)
    second = events_roll_up(before=NOW - dt.timedelta(days=395), batch=5)
    print(f"roll-up batches: running totals {totals}, second run {second}", file=sys.stderr)
    assert first == len(old), f"rolled up {first} of {len(old)} old events"
    assert totals == [5, 10, 12], f"progress after each batch of 5: {totals}"
    assert second == 0, "nothing is left to roll up the second time"
    counted = sum(EventDay.objects.values_list("count", flat=True))
    assert counted == len(old), f"day rows count {counted} events, {len(old)} were rolled up"
    left = set(Event.objects.values_list("pk", flat=True))
    assert left == {young.pk, late.pk}, "events recorded inside the retention stay raw"
    # Raw and rolled up together: every event counted exactly once.
    frame = history.events_frame(person_ids=[person.pk])
    assert len(frame) == len(old) + 2, f"events frame has {len(frame)} rows, not {len(old) + 2}"


def test_the_retention_setting_decides_what_is_rolled_up(settings: Any) -> None:
    settings.TRACKING_RETENTION_DAYS = 30
    person = factories.person()
    forty = _web(person, NOW - dt.timedelta(days=40), "/forty")
    twenty = _web(person, NOW - dt.timedelta(days=20), "/twenty")
    assert privacy.retention_prune(now=NOW)["events"] == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [twenty.pk]
    assert EventDay.objects.get().path == forty.path
    settings.TRACKING_RETENTION_DAYS = 10
    assert privacy.retention_prune(now=NOW)["events"] == 1
    assert not Event.objects.exists()
    assert sum(EventDay.objects.values_list("count", flat=True)) == 2


def test_erasure_clears_what_a_rolled_up_day_says_of_campaigns() -> None:
    person = factories.person()
    factories.campaign_touch(person=person, campaign="Summit", at=day(0), content="Badge scan")
    Event.objects.update(recorded_at=day(0))
    events_roll_up(before=NOW)
    privacy.person_erase(person=person, actor=factories.user(), reason="asked")
    row = EventDay.objects.get()
    assert (row.campaign, row.content, row.count) == ("", "", 1)
