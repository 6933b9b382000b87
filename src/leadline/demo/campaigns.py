"""Demo campaigns: what marketing spent on the campaigns the demo's forms and UTM links carry,
and an imported trade show whose visitors' touches sit on the path of some deals (and of some
people with no deal yet), so attribution has costs, returns and offline touches to show.

One campaign ("partner-ledgerworks") is left without a row on purpose: it shows on the
campaigns page as seen in touches, cost unknown, one click from being added."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from leadline.campaigns.models import Campaign
from leadline.campaigns.services import campaign_save
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.engagement.models import Opportunity
from leadline.journeys.models import Event, EventSource

SUMMIT = "Finance Leaders Summit"
# name: (channel, cost, starts days before now, runs for days, notes)
CAMPAIGNS: dict[str, tuple[str, str, int, int, str]] = {
    "Q4 finance push": ("content", "18000", 240, 200, "The CFO guide and the webinar"),
    "close-software-emea": ("paid search", "9500", 270, 270, "Google Ads, EMEA"),
    "close-software-na": ("paid search", "7200", 270, 270, "Google Ads, North America"),
    "brand": ("paid search", "2400", 270, 270, "Brand keywords"),
    "q4-finance-push": ("social", "6000", 200, 150, "LinkedIn carousel and video"),
    "finance-digest": ("email", "800", 270, 270, "The monthly newsletter"),
    "partner-northbridge-advisory": ("partner", "3000", 270, 270, "Referral fee"),
    SUMMIT: ("events", "12000", 80, 2, "Booth and a talk; badge scans imported"),
}
SUMMIT_PEOPLE_WITHOUT_DEAL = 15


def campaigns_demo(*, now: dt.datetime) -> int:
    """The campaigns (those missing) and the summit's touches, once. Returns how many touches
    were added."""
    marketer = User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()
    today = now.date()
    existing = {name.casefold() for name in Campaign.objects.values_list("name", flat=True)}
    with transaction.atomic():
        for n, (name, (channel, cost, before, days, notes)) in enumerate(CAMPAIGNS.items()):
            if name.casefold() in existing:
                continue
            starts = today - dt.timedelta(days=before)
            with clock.frozen_at(now - dt.timedelta(days=before + 7, hours=n)):
                campaign_save(
                    campaign=Campaign(
                        name=name,
                        channel=channel,
                        cost=Decimal(cost),
                        starts_on=starts,
                        ends_on=min(starts + dt.timedelta(days=days - 1), today),
                        notes=notes,
                    ),
                    actor=marketer,
                )
        if Event.objects.filter(dedupe_key__startswith="import:demo-summit:").exists():
            return 0
        summit_day = now - dt.timedelta(days=80)
        touches = []
        deals = Opportunity.objects.filter(person__isnull=False).order_by("pk")
        for n, (pk, person_id, opened_at) in enumerate(
            deals.values_list("pk", "person_id", "opened_at")
        ):
            if n % 3:
                continue
            at = opened_at - dt.timedelta(days=9 + n % 5, hours=n % 7)
            touches.append(_touch(person_id, at, f"deal-{pk}"))
        in_deals = Opportunity.objects.filter(person__isnull=False).values("person_id")
        others = (
            Person.objects.filter(merged_into__isnull=True, created_at__lt=summit_day)
            .exclude(pk__in=in_deals)
            .order_by("pk")
            .values_list("pk", flat=True)[:SUMMIT_PEOPLE_WITHOUT_DEAL]
        )
        for n, person_id in enumerate(others):
            touches.append(
                _touch(person_id, summit_day + dt.timedelta(hours=n % 9), f"p-{person_id}")
            )
        Event.objects.bulk_create(touches)
    return len(touches)


def _touch(person_id: int, at: dt.datetime, key: str) -> Event:
    return Event(
        source=EventSource.IMPORT,
        name="event_attended",
        person_id=person_id,
        occurred_at=at,
        recorded_at=at,
        properties={"campaign": SUMMIT, "channel": "events", "content": "Badge scan at the booth"},
        dedupe_key=f"import:demo-summit:{key}",
    )
