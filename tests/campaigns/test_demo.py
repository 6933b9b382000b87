"""The demo's campaigns: costs, deals with amounts and touches, an imported trade show; quick,
and a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from leadline.campaigns.models import Campaign
from leadline.demo.campaigns import CAMPAIGNS, SUMMIT, campaigns_demo
from leadline.engagement.models import Opportunity
from leadline.insight.attribution import MODELS
from leadline.insight.touches import attribution_report
from leadline.journeys.models import Event

UNTIL = "2025-06-01"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_has_costed_campaigns_and_deals_with_touches(db: None) -> None:
    call_command("demo_data", people=120, seed=5, until=UNTIL, stdout=StringIO(), stderr=StringIO())

    assert Campaign.objects.count() == len(CAMPAIGNS)
    assert all(c.cost is not None and c.cost > 0 for c in Campaign.objects.all())
    deals = Opportunity.objects.all()
    assert deals.exists()
    assert not deals.filter(amount__isnull=True).exists()
    summit = Event.objects.filter(properties__campaign=SUMMIT)
    assert summit.exists()

    report = attribution_report()
    assert report.won > 0
    assert report.revenue > 0
    rows = {row.name: row for row in report.rows}
    # Touches the demo's forms and UTM links carry, costed; one left only in touches.
    assert rows["Q4 finance push"].cost == 18000
    assert rows["Q4 finance push"].influenced_pipeline > 0
    assert rows[SUMMIT].influenced_pipeline > 0
    # Most of the revenue reaches a campaign, and every model shares out all of that.
    assert report.untouched_revenue < report.revenue
    for model in MODELS:
        assert report.attributed("revenue", model) + report.untouched_revenue == pytest.approx(
            report.revenue
        )

    # Made again from scratch: quick; and once more: nothing new.
    made = summit.count()
    summit.delete()
    Campaign.objects.all().delete()
    started = time.perf_counter()
    assert campaigns_demo(now=dt.datetime(2025, 6, 2, tzinfo=dt.UTC)) == made
    assert time.perf_counter() - started < 1.0
    assert Campaign.objects.count() == len(CAMPAIGNS)
    assert campaigns_demo(now=dt.datetime(2025, 6, 2, tzinfo=dt.UTC)) == 0
    assert Campaign.objects.count() == len(CAMPAIGNS)
