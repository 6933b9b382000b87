"""Reads for the buyer's journey."""

from __future__ import annotations

from typing import Any

import yaml

from leadline.journeys.models import Journey

STEP_TEXT_FIELDS = ("buyer_words", "content_to_offer", "who_should_talk")


def journey_as_data(journey: Journey) -> dict[str, Any]:
    """The journey as plain data, the shape `journey_import` reads."""
    steps = []
    for step in journey.steps.order_by("position"):
        item: dict[str, Any] = {"name": step.name}
        for field in STEP_TEXT_FIELDS:
            if getattr(step, field):
                item[field] = getattr(step, field)
        item["exit_signals"] = list(step.exit_signals)
        steps.append(item)
    data: dict[str, Any] = {"name": journey.name, "slug": journey.slug}
    if journey.description:
        data["description"] = journey.description
    data["default"] = journey.is_default
    data["steps"] = steps
    return data


def journey_yaml(journey: Journey) -> str:
    return yaml.safe_dump(journey_as_data(journey), sort_keys=False, allow_unicode=True, width=100)
