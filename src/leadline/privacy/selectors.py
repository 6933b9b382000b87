"""Privacy's reads: consent per purpose with its history, the access log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from leadline.capture.models import Consent
from leadline.core.models import Person
from leadline.privacy.models import AccessEntry, Erasure, Purpose


@dataclass
class PurposeConsent:
    code: str
    name: str
    latest: Consent | None
    history: list[Consent] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.latest is None:
            return "unknown"
        return "granted" if self.latest.granted else "withdrawn"


def person_consents(*, person: Person) -> list[PurposeConsent]:
    """Each purpose (the active ones, and any other a row was recorded for) with the latest
    answer first and the whole history, newest first."""
    rows = list(
        Consent.objects.filter(person=person)
        .select_related("form", "recorded_by")
        .order_by("-captured_at", "-pk")
    )
    purposes = {p.code: p.name for p in Purpose.objects.filter(is_active=True)}
    for row in rows:
        purposes.setdefault(row.purpose, row.purpose.replace("_", " ").capitalize())
    out = []
    for code, name in purposes.items():
        history = [row for row in rows if row.purpose == code]
        out.append(PurposeConsent(code, name, history[0] if history else None, history))
    return out


def person_access(*, person: Person, limit: int = 20) -> QuerySet[AccessEntry]:
    return AccessEntry.objects.filter(person_id=person.pk).select_related("user")[:limit]


def access_log(
    *,
    user_id: int | None = None,
    person_id: int | None = None,
    action: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AccessEntry]:
    entries = AccessEntry.objects.select_related("user")
    filters: dict[str, Any] = {}
    if user_id:
        filters["user_id"] = user_id
    if person_id:
        filters["person_id"] = person_id
    if action:
        filters["action"] = action
    if since:
        filters["at__date__gte"] = since
    if until:
        filters["at__date__lte"] = until
    return entries.filter(**filters)


def person_erasure(*, person: Person) -> Erasure | None:
    return Erasure.objects.filter(person=person).select_related("erased_by").first()


def purposes_all() -> QuerySet[Purpose]:
    return Purpose.objects.all()
