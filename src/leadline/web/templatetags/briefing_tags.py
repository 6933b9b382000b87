"""{% briefing_for_page user person=… account=… as handed %}: the briefing the viewer has on the
relationship whose page this is (web/briefing_notice.html shows "Handed over from X")."""

from __future__ import annotations

from typing import Any

from django import template

from leadline.relationships.briefings import briefing_waiting
from leadline.relationships.models import Briefing

register = template.Library()


@register.simple_tag
def briefing_for_page(user: Any, person: Any = None, account: Any = None) -> Briefing | None:
    return briefing_waiting(user=user, person=person or None, account=account or None)
