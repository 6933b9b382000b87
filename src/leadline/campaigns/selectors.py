"""Reads for campaigns."""

from __future__ import annotations

from django.db.models import QuerySet

from leadline.campaigns.models import Campaign


def campaigns_query() -> QuerySet[Campaign]:
    """Every campaign, by name."""
    return Campaign.objects.order_by("name", "pk")


def campaign_find(name: str) -> Campaign | None:
    """The campaign with this name, whatever its case and spacing."""
    return Campaign.objects.filter(name__iexact=" ".join(name.split())).first()


def campaigns_by_key() -> dict[str, Campaign]:
    """Every campaign by its matching key: its name, case-folded, spaces collapsed."""
    return {" ".join(c.name.split()).casefold(): c for c in campaigns_query()}
