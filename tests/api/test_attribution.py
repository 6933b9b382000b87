"""The attribution and campaigns API, as an integration calls it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client

from leadline.campaigns.models import Campaign
from leadline.core import clock
from leadline.core.models import AuditEntry, Role
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _now() -> object:
    with clock.frozen_at(NOW):
        yield


def history() -> None:
    """Ann came by the Webinar (cost 400) and then by Ads; her deal of 800 was won."""
    ann = factories.person()
    factories.campaign(name="Webinar", channel="webinar", cost=Decimal("400"))
    start = NOW - dt.timedelta(days=30)
    factories.person_request(person=ann, created_at=start, campaign="Webinar")
    factories.campaign_touch(person=ann, campaign="Ads", at=start + dt.timedelta(days=1))
    factories.deal(person=ann, status="won", opened_at=start + dt.timedelta(days=2),
                   days_open=5, amount=800)  # fmt: skip


def test_attribution_per_campaign_by_model(api: Client) -> None:
    history()
    response = api.get("/api/v1/insight/attribution?model=first_touch")
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "first_touch"
    assert (body["deals"], body["won"], body["revenue"]) == (1, 1, 800)
    rows = {r["campaign"]: r for r in body["campaigns"]}
    # First touch: all 800 to the Webinar; return (800 - 400) / 400 = 1.
    assert rows["Webinar"]["attributed_revenue"] == 800
    assert rows["Webinar"]["return_on_cost"] == pytest.approx(1.0)
    assert rows["Ads"]["attributed_revenue"] == 0
    assert rows["Ads"]["influenced_won_revenue"] == 800
    assert rows["Ads"]["campaign_id"] is None
    assert rows["Ads"]["return_on_cost"] is None

    linear = api.get("/api/v1/insight/attribution?model=linear").json()
    assert {r["campaign"]: r["attributed_revenue"] for r in linear["campaigns"]} == {
        "Webinar": 400,
        "Ads": 400,
    }


def test_the_period_filters_by_when_the_deal_opened(api: Client) -> None:
    history()
    body = api.get("/api/v1/insight/attribution?since=2026-05-10&until=2026-06-01").json()
    assert body["deals"] == 0
    assert all(r["attributed_revenue"] == 0 for r in body["campaigns"])
    response = api.get("/api/v1/insight/attribution?since=2026-06-01&until=2026-05-01")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "since"


def test_an_unknown_model_is_422_naming_the_field(api: Client) -> None:
    response = api.get("/api/v1/insight/attribution?model=v_shaped")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][-1] == "model"
    assert "v_shaped" in detail["msg"]


def test_attribution_as_csv(api: Client) -> None:
    history()
    response = api.get("/api/v1/insight/attribution?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2 * 7
    assert {r["model"] for r in rows} >= {"markov", "w_shaped"}


def test_a_sales_rep_may_not_read_attribution_or_campaigns(api_as: ApiClient) -> None:
    rep = api_as(Role.SALES_REP)
    assert rep.get("/api/v1/insight/attribution").status_code == 403
    assert rep.get("/api/v1/campaigns").status_code == 403
    manager = api_as(Role.SALES_MANAGER)
    assert manager.get("/api/v1/insight/attribution").status_code == 200
    assert manager.get("/api/v1/campaigns").status_code == 403


def test_campaigns_are_made_read_and_changed(api: Client) -> None:
    response = api.post(
        "/api/v1/campaigns",
        {"name": "Trade show", "channel": "events", "cost": "5000.00", "starts_on": "2026-04-01"},
        content_type="application/json",
    )
    assert response.status_code == 201
    made = response.json()
    assert made["currency"] == "EUR"
    assert made["cost"] == "5000.00"
    pk = made["id"]

    assert api.get(f"/api/v1/campaigns/{pk}").json()["name"] == "Trade show"
    listed = api.get("/api/v1/campaigns").json()
    assert listed["count"] == 1

    changed = api.patch(
        f"/api/v1/campaigns/{pk}", {"cost": None, "ends_on": "2026-04-03"},
        content_type="application/json",
    )  # fmt: skip
    assert changed.status_code == 200
    assert changed.json()["cost"] is None
    assert changed.json()["channel"] == "events"
    assert Campaign.objects.get(pk=pk).ends_on == dt.date(2026, 4, 3)
    assert AuditEntry.objects.filter(object_id=str(pk), action="campaign.changed").exists()


def test_campaign_errors_name_the_field(api: Client) -> None:
    factories.campaign(name="Brand")
    response = api.post("/api/v1/campaigns", {"name": "BRAND"}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "name"

    other = factories.campaign(name="Spring", starts_on=dt.date(2026, 3, 1))
    response = api.patch(
        f"/api/v1/campaigns/{other.pk}", {"ends_on": "2026-02-01"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "ends_on"
    response = api.patch(
        f"/api/v1/campaigns/{other.pk}", {"cost": "-1"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "cost"
    assert api.get("/api/v1/campaigns/999999").status_code == 404
