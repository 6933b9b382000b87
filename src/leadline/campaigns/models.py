"""A campaign: what marketing ran, through which channel, when, and what it cost.

Its name is the one touches carry (a request's campaign or utm_campaign, an event's "campaign"
property), matched without regard to case; campaigns seen in touches with no row here still
show in attribution, with their cost unknown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from leadline.core import clock

# What people pick from; any other channel may be typed.
CHANNELS = (
    "email",
    "paid search",
    "social",
    "events",
    "webinar",
    "content",
    "partner",
    "direct",
    "other",
)


def default_currency() -> str:
    return str(settings.CURRENCY)


class Campaign(models.Model):
    name = models.CharField(
        max_length=200, help_text="As touches carry it (utm_campaign, a form's campaign)"
    )
    channel = models.CharField(max_length=60, blank=True, help_text="email, paid search, ...")
    cost = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="What it cost in all"
    )
    currency = models.CharField(max_length=3, default=default_currency)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="campaign_name_unique"),
            models.CheckConstraint(
                condition=models.Q(cost__isnull=True) | models.Q(cost__gte=0),
                name="campaign_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel,
            "cost": str(self.cost) if self.cost is not None else None,
            "currency": self.currency,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
        }
