"""Saving campaigns: names unique in any case, validation naming the field, an audit row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from leadline.campaigns.models import Campaign
from leadline.campaigns.selectors import campaign_find, campaigns_by_key
from leadline.campaigns.services import campaign_save
from leadline.core.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_campaign_is_saved_tidied_and_audited() -> None:
    marketer = factories.user(role="marketing")
    saved = campaign_save(
        campaign=Campaign(name="  Q4   finance push ", channel="Paid Search", cost=Decimal("1200")),
        actor=marketer,
    )
    assert saved.name == "Q4 finance push"
    assert saved.channel == "paid search"
    assert saved.currency == "EUR"
    entry = AuditEntry.objects.get(object_id=str(saved.pk))
    assert entry.action == "campaign.created"
    assert entry.actor == marketer
    assert entry.data["cost"] == "1200"
    assert campaign_find("q4 FINANCE push") == saved
    assert list(campaigns_by_key()) == ["q4 finance push"]


def test_a_name_is_unique_whatever_its_case() -> None:
    factories.campaign(name="Brand")
    with pytest.raises(ValidationError) as caught:
        campaign_save(campaign=Campaign(name="BRAND"), actor=None)
    assert caught.value.message_dict == {"name": ["There is already a campaign called “Brand”."]}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cost": Decimal("-1")}, "cost"),
        ({"starts_on": dt.date(2026, 5, 1), "ends_on": dt.date(2026, 4, 30)}, "ends_on"),
        ({"currency": "E1"}, "currency"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(fields: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"name": "Spring", **fields}
    with pytest.raises(ValidationError) as caught:
        campaign_save(campaign=Campaign(**values), actor=None)
    assert field in caught.value.message_dict
    assert not Campaign.objects.exists()


def test_a_change_is_audited_as_a_change() -> None:
    made = factories.campaign(name="Spring")
    made.cost = Decimal("300.50")
    campaign_save(campaign=made, actor=None)
    assert list(
        AuditEntry.objects.filter(object_id=str(made.pk)).values_list("action", flat=True)
    ) == ["campaign.created", "campaign.changed"]
    made.refresh_from_db()
    assert made.cost == Decimal("300.50")
