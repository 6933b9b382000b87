"""Writes for campaigns: make one (or adopt a name seen in touches), change its cost, dates,
channel and notes. Each write is one transaction with an audit row."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from leadline.campaigns.models import Campaign
from leadline.core import clock
from leadline.core.models import User
from leadline.core.services import audit_record

NOTES_MAX = 5000


def campaign_save(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Check and store a campaign, new or changed. Problems are raised as a ValidationError
    naming the field: a name already used (in any case), a negative cost, an end before the
    start, a currency that is not three letters."""
    campaign.name = " ".join(campaign.name.split())
    campaign.channel = " ".join(campaign.channel.split()).lower()
    campaign.currency = campaign.currency.strip().upper()
    campaign.notes = campaign.notes.strip()
    errors: dict[str, list[str]] = {}
    try:
        campaign.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if campaign.name and "name" not in errors:
        taken = Campaign.objects.filter(name__iexact=campaign.name).exclude(pk=campaign.pk)
        if taken.exists():
            errors["name"] = [f"There is already a campaign called “{taken[0].name}”."]
    if campaign.cost is not None and campaign.cost < 0:
        errors.setdefault("cost", []).append("The cost cannot be negative.")
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors.setdefault("ends_on", []).append("The campaign cannot end before it starts.")
    if campaign.currency and not (len(campaign.currency) == 3 and campaign.currency.isalpha()):
        errors.setdefault("currency", []).append("Give a three-letter code, such as EUR.")
    if len(campaign.notes) > NOTES_MAX:
        errors.setdefault("notes", []).append(f"At most {NOTES_MAX} characters.")
    if errors:
        raise ValidationError(errors)
    created = campaign.pk is None
    with transaction.atomic():
        campaign.updated_at = clock.now()
        if created:
            campaign.created_at = campaign.updated_at
        campaign.save()
        audit_record(
            actor=actor,
            action="campaign.created" if created else "campaign.changed",
            obj=campaign,
            data=campaign.as_dict(),
        )
    return campaign
