"""Reports shown from the worker's snapshot (decision 15), through real HTTP: a big database's
page asks the worker instead of computing, shows progress, then the very figures the full
computation gives, as of when; a stale snapshot is shown while a fresh one is computed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import pandas as pd
import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.insight import snapshots
from leadline.insight.models import ReportSnapshot, SnapshotStatus
from tests import factories

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def wednesday_noon() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def big(settings: object) -> None:
    """Every report counts as too big to compute while someone waits."""
    settings.REPORTS_INLINE_MAX_PEOPLE = 0  # type: ignore[attr-defined]


def _admin() -> Client:
    client = Client()
    client.force_login(factories.user(role=Role.ADMIN, username="ada"))
    return client


def _text(response: object) -> str:
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _report_region(response: object, start: str) -> str:
    """The page's report from `start` on, without plots and the freshness line."""
    html = response.content.decode()  # type: ignore[attr-defined]
    html = html[html.index(start) :]
    html = re.sub(r"<svg.*?</svg>", "", html, flags=re.DOTALL)
    html = re.sub(r'<p class="report-freshness.*?</p>', "", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html)


def _run_queued_snapshots() -> int:
    """What the worker does with the queued snapshot tasks."""
    queued = list(ReportSnapshot.objects.filter(status=SnapshotStatus.QUEUED))
    for row in queued:
        snapshots.snapshot_refresh(snapshot_id=row.pk)
    return len(queued)


def test_a_big_database_shows_progress_then_the_full_computations_figures(
    big: None, django_capture_on_commit_callbacks: object
) -> None:
    factories.sla_history()
    client = _admin()
    params = snapshots.sla_params(weeks=12, team_id=None, tz="UTC")

    tasks_before = DBTaskResult.objects.count()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        first = client.get("/sla/?team=all")
    assert first.status_code == 200
    assert "Computing" in _text(first)
    assert 'hx-trigger="every 2s"' in first.content.decode()  # the page polls for the figures
    assert "sla-tile-value" not in first.content.decode()
    row = ReportSnapshot.objects.get(report=snapshots.SLA)
    assert row.params == params
    assert row.status == SnapshotStatus.QUEUED
    assert DBTaskResult.objects.count() == tasks_before + 1  # the worker was asked, once

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        again = client.get("/sla/?team=all")
    assert "Computing" in _text(again)
    assert DBTaskResult.objects.count() == tasks_before + 1  # not asked twice

    assert _run_queued_snapshots() == 1
    done = client.get("/sla/?team=all")
    text = _text(done)
    assert "Figures as of 25 Nov 2026, 12:00" in text
    assert "Computing" not in text

    # The snapshot holds exactly what the full computation gives.
    stored = snapshots.shown(snapshots.SLA, params).result
    full = snapshots.compute(snapshots.SLA, params)
    assert stored.headline == full.headline
    assert stored.headline.breaches == 2
    assert stored.headline.within == 1
    pd.testing.assert_frame_equal(stored.weekly, full.weekly)
    pd.testing.assert_frame_equal(stored.breaches_by_rep, full.breaches_by_rep)
    pd.testing.assert_frame_equal(stored.breaches_by_source, full.breaches_by_source)


def test_the_snapshot_page_equals_the_live_page(
    big: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    factories.sla_history()
    client = _admin()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        client.get("/sla/?team=all")
    _run_queued_snapshots()
    from_snapshot = client.get("/sla/?team=all")

    settings.REPORTS_INLINE_MAX_PEOPLE = 10**9  # type: ignore[attr-defined]
    live = client.get("/sla/?team=all")
    assert "Computed from all the data just now" in _text(live)
    assert _report_region(from_snapshot, 'id="sla-board"') == _report_region(live, 'id="sla-board"')
    assert "Within deadline" in _report_region(live, 'id="sla-board"')


def test_a_stale_snapshot_is_shown_while_a_fresh_one_is_computed(
    big: None, django_capture_on_commit_callbacks: object
) -> None:
    factories.sla_history()
    client = _admin()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        client.get("/sla/?team=all")
    _run_queued_snapshots()

    later = NOW + snapshots.max_age() + dt.timedelta(minutes=1)
    with clock.frozen_at(later):
        # A new request arrives and is never touched: the fresh snapshot will count it.
        factories.routed_request(at=later - dt.timedelta(minutes=5), owner=None)
        tasks_before = DBTaskResult.objects.count()
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            stale = client.get("/sla/?team=all")
        text = _text(stale)
        assert "Figures as of 25 Nov 2026, 12:00" in text
        assert "A newer computation is under way" in text
        assert DBTaskResult.objects.count() == tasks_before + 1

        _run_queued_snapshots()
        fresh = _text(client.get("/sla/?team=all"))
    assert "12:16" in fresh
    assert "under way" not in fresh


def test_a_failed_refresh_keeps_the_last_good_figures_and_says_why(big: None) -> None:
    journey, _ = factories.journey_history(n=60, seed=3, planted=False, noise_fields=0)
    params = snapshots.journey_params(journey_id=journey.pk, horizon=30)
    row = ReportSnapshot.objects.create(report=snapshots.JOURNEY, key=snapshots.key_of(params),
                                        params=params)  # fmt: skip
    snapshots.snapshot_refresh(snapshot_id=row.pk)
    row.refresh_from_db()
    assert row.status == SnapshotStatus.DONE
    assert row.result is not None

    ReportSnapshot.objects.filter(pk=row.pk).update(params={"journey": -1, "horizon": 30})
    with pytest.raises(Exception, match="does not exist"):
        snapshots.snapshot_refresh(snapshot_id=row.pk)
    row.refresh_from_db()
    assert row.status == SnapshotStatus.FAILED
    assert "DoesNotExist" in row.error
    assert row.result is not None  # the last good figures stay


def test_a_failed_first_computation_is_shown_and_not_queued_on_every_poll(
    big: None, django_capture_on_commit_callbacks: object
) -> None:
    client = _admin()
    factories.person()  # more people than the limit of none
    params = {"since": "not a moment", "until": "either"}
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        snapshots.snapshot_request(report=snapshots.ATTRIBUTION, params=params)
    row = ReportSnapshot.objects.get(report=snapshots.ATTRIBUTION)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        snapshots.snapshot_refresh(snapshot_id=row.pk)
    tasks_before = DBTaskResult.objects.count()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        shown = snapshots.shown(snapshots.ATTRIBUTION, params)
    assert shown.pending
    assert "Invalid isoformat" in shown.error
    assert DBTaskResult.objects.count() == tasks_before  # not queued again at once
    later = NOW + snapshots.max_age() + dt.timedelta(seconds=1)
    with clock.frozen_at(later), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        snapshots.shown(snapshots.ATTRIBUTION, params)
    assert DBTaskResult.objects.count() == tasks_before + 1  # tried again once it may
    assert client.get("/insight/attribution/").status_code == 200


@pytest.mark.parametrize("page", ["journey", "winning", "attribution"])
def test_each_report_from_its_snapshot_equals_the_live_one(
    page: str, big: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    journey, _ = factories.journey_history(n=120, seed=5, planted=True, noise_fields=1)
    acme = factories.account(name="Acme")
    ann = factories.person()
    factories.membership(person=ann, account=acme)
    factories.campaign(name="Webinar", channel="webinar", cost=Decimal("400"))
    factories.person_request(person=ann, created_at=NOW - dt.timedelta(days=60),
                             campaign="Webinar")  # fmt: skip
    factories.deal(person=ann, status="won", opened_at=NOW - dt.timedelta(days=50),
                   days_open=10, amount=1000)  # fmt: skip
    url, start = {
        "journey": (f"/insight/journeys/{journey.slug}/", "<h1>"),
        "winning": ("/insight/winning/", "<h1>"),
        "attribution": ("/insight/attribution/", 'id="attribution-status"'),
    }[page]
    client = _admin()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        pending = client.get(url)
    assert pending.status_code == 200
    assert "Computing" in _text(pending)
    assert _run_queued_snapshots() == 1
    from_snapshot = client.get(url)
    assert "Figures as of" in _text(from_snapshot)

    settings.REPORTS_INLINE_MAX_PEOPLE = 10**9  # type: ignore[attr-defined]
    live = client.get(url)
    assert "Computed from all the data just now" in _text(live)
    assert _report_region(from_snapshot, start) == _report_region(live, start)


def test_the_rebuild_computes_every_default_snapshot_with_progress(big: None) -> None:
    factories.sla_history()
    emea = Team.objects.get(name="EMEA")
    factories.user(role=Role.SALES_MANAGER, username="sam", team=emea, time_zone="Europe/Berlin")
    factories.user(role=Role.ADMIN, username="ada", time_zone="UTC")
    factories.user(role=Role.SALES_REP, username="rex", time_zone="Asia/Tokyo")  # not a reader
    seen: list[tuple[str, float]] = []
    rows = snapshots.snapshots_rebuild(progress=lambda stage, share: seen.append((stage, share)))
    assert {row.report for row in rows} == {"sla", "journey", "attribution", "winning"}
    # All teams in each reader's zone, and EMEA in its manager's zone; as the pages ask.
    assert sorted(row.key for row in rows if row.report == "sla") == sorted(
        snapshots.key_of(snapshots.sla_params(weeks=12, team_id=team, tz=zone))
        for team, zone in [(None, "UTC"), (None, "Europe/Berlin"), (emea.pk, "Europe/Berlin")]
    )
    assert sum(row.report == "attribution" for row in rows) == 2
    assert all(row.status == SnapshotStatus.DONE and row.computed_at == NOW for row in rows)
    assert seen[-1] == ("Done", 1.0)
    assert [share for _, share in seen] == sorted(share for _, share in seen)

    # The manager's board opens on their snapshot: no computation asked for.
    client = Client()
    client.force_login(User.objects.get(username="sam"))
    page = client.get("/sla/")
    assert "Figures as of 25 Nov 2026, 13:00" in _text(page)  # Berlin time
    assert not ReportSnapshot.objects.exclude(status=SnapshotStatus.DONE).exists()


def test_the_campaign_list_reads_influence_from_the_snapshot_and_costs_live(big: None) -> None:
    from leadline.campaigns.models import Campaign
    from leadline.campaigns.services import campaign_save

    person = factories.person()
    factories.campaign_touch(person=person, campaign="Spring webinar", at=_at(20, 9))
    spring = factories.campaign(name="Spring webinar", cost=Decimal("1000"))
    client = _admin()

    first = _text(client.get("/campaigns/"))
    assert "Computing" in first  # nothing counted yet: the worker is asked
    assert "Spring webinar" in first
    assert "not counted yet" in first
    assert _run_queued_snapshots() == 1

    counted = _text(client.get("/campaigns/"))
    assert "Figures as of" in counted
    assert "not counted yet" not in counted
    # A cost edited now shows at once; a campaign entered now is listed, not yet counted.
    spring.cost = Decimal("2500")
    campaign_save(campaign=spring, actor=None)
    campaign_save(campaign=Campaign(name="Autumn fair"), actor=None)
    after = _text(client.get("/campaigns/"))
    assert "2,500" in after or "2500" in after
    assert "Autumn fair" in after
    assert "not counted yet" in after
    assert ReportSnapshot.objects.filter(status=SnapshotStatus.QUEUED).count() == 0
