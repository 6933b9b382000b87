"""Touches read from requests and events, and the attribution report on the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadline.insight.attribution import MODELS
from leadline.insight.touches import attribution_report, channel_of, touches_frame
from tests import factories

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def test_channels_in_plain_words() -> None:
    assert channel_of("cpc", "google", "") == "paid search"
    assert channel_of("", "linkedin", "") == "social"
    assert channel_of("", "", "events") == "events"
    assert channel_of("display", "", "") == "display"
    assert channel_of("", "", "") == "other"
    assert channel_of("paid-social", "linkedin", "events") == "social"  # the UTM says more


def test_requests_and_events_become_touches() -> None:
    ann = factories.person()
    form = factories.form()  # its campaign: "Q4 finance push"
    factories.person_request(person=ann, created_at=day(0), form=form, asset=form.asset)
    factories.person_request(
        person=ann, created_at=day(1), utm_campaign="brand", utm_medium="cpc", utm_source="google"
    )
    factories.person_request(person=ann, created_at=day(2))  # no campaign: not a touch
    factories.campaign_touch(person=ann, campaign="Trade show", at=day(3), channel="events")
    factories.buyer_event(
        person=ann,
        name="page_view",
        at=day(4),
        url="https://site.example/p?utm_source=newsletter&utm_medium=email&utm_campaign=Finance+digest",
        path="/p",
    )
    factories.buyer_event(person=ann, name="page_view", at=day(5), path="/x")  # no campaign

    frame = touches_frame()

    assert list(frame["campaign"]) == ["Q4 finance push", "brand", "Trade show", "Finance digest"]
    assert list(frame["channel"]) == ["other", "paid search", "events", "email"]
    assert list(frame["lead"]) == [True, True, False, False]
    assert list(frame["kind"]) == ["request", "request", "event", "event"]
    assert frame["content"].iloc[0] == "The CFO's guide to closing faster"
    assert frame["content"].iloc[3] == "/p"
    assert set(frame["person_id"]) == {ann.pk}


def test_a_landing_with_utm_and_the_form_in_the_same_visit_are_one_touch() -> None:
    ann = factories.person()
    url = "https://site.example/demo?utm_campaign=brand&utm_medium=cpc"
    factories.buyer_event(person=ann, name="page_view", at=day(0), url=url)
    factories.person_request(person=ann, created_at=day(0) + dt.timedelta(minutes=3),
                             utm_campaign="Brand", utm_medium="cpc")  # fmt: skip
    # The next day, the same campaign again: a second touch.
    factories.buyer_event(person=ann, name="page_view", at=day(1), url=url)

    frame = touches_frame()

    assert len(frame) == 2
    assert frame["lead"].tolist() == [True, False]  # the request was kept for the visit
    assert frame["touch_id"].iloc[0].startswith("r")


def test_a_campaigns_own_channel_is_used_when_the_touch_has_no_utm() -> None:
    factories.campaign(name="Trade show", channel="events")
    ann = factories.person()
    factories.campaign_touch(person=ann, campaign="TRADE SHOW", at=day(0))
    assert touches_frame()["channel"].tolist() == ["events"]


def test_the_report_reads_the_buying_group_and_sums_to_the_revenue() -> None:
    acme = factories.account(name="Acme")
    ann, vera, solo = factories.person(), factories.person(), factories.person()
    for someone in (ann, vera):
        factories.membership(person=someone, account=acme)
    factories.campaign(name="Webinar", channel="webinar", cost=Decimal("400"))
    factories.campaign(name="Never ran", cost=Decimal("100"))
    factories.person_request(person=ann, created_at=day(0), campaign="Webinar")
    factories.campaign_touch(person=vera, campaign="Ads", at=day(2), channel="cpc")
    factories.campaign_touch(person=solo, campaign="Ads", at=day(1))
    factories.campaign_touch(person=ann, campaign="Late", at=day(40))  # after the close
    factories.deal(person=ann, status="won", opened_at=day(5), days_open=10, amount=1000)
    factories.deal(person=solo, status="lost", opened_at=day(5), amount=300)
    factories.deal(person=factories.person(), status="won", opened_at=day(6), amount=50)

    with CaptureQueriesContext(connection) as queries:
        found = attribution_report(since=day(0), until=day(30))
    assert len(queries) <= 8  # fixed: campaigns, merges, requests, events, deals, members

    rows = {row.key: row for row in found.rows}
    assert set(rows) == {"webinar", "ads", "never ran", "late"}
    # Ann's deal: Webinar (Ann, day 0) and Ads (Vera, her colleague, day 2): linear 500 each.
    assert rows["webinar"].revenue["linear"] == pytest.approx(500)
    assert rows["ads"].revenue["linear"] == pytest.approx(500)
    # Ads touched both deals: influenced pipeline 1000 + 300.
    assert rows["ads"].influenced_pipeline == 1300
    assert rows["ads"].channel == "paid search"
    assert rows["webinar"].gain("linear") == pytest.approx((500 - 400) / 400)
    assert rows["never ran"].influenced_pipeline == 0
    assert rows["never ran"].cost == 100
    assert rows["late"].influenced_revenue == 0
    assert (found.pipeline, found.revenue, found.untouched_revenue) == (1350, 1050, 50)
    for model in MODELS:
        assert found.attributed("revenue", model) + 50 == pytest.approx(1050)
        assert found.attributed("pipeline", model) + 50 == pytest.approx(1350)


def test_an_empty_database_gives_an_empty_report() -> None:
    found = attribution_report()
    assert found.rows == []
    assert found.deals == 0
    assert found.revenue == 0
