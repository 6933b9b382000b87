"""Human capacity: each seller's active relationships against their cap, and the alert a seller
and their manager get when the load reaches `settings.RELATIONSHIP_ALERT_SHARE` of it.

"Active" is decided in one place, `selectors.ownerships_current` (routing counts through the
same rule), so the team page, the alerts and routing never disagree about a seller's load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery

from leadline.core import clock
from leadline.core.models import Role, Team, User
from leadline.notify.services import Note, notify_users
from leadline.relationships.models import CapacityAlert
from leadline.relationships.selectors import ownerships_current, relationship_cap
from leadline.routing.models import Ownership

ALERT_KIND = "capacity.alert"


@dataclasses.dataclass(frozen=True)
class SellerLoad:
    """One seller's active relationships against their cap. `alert`: at or over the alert share
    of the cap; `over`: more than the cap (routing gives them nothing new from the cap on)."""

    user: User
    team: Team | None
    load: int
    cap: int
    share: float
    alert: bool
    over: bool
    owned: int = 0  # every current relationship, active or dormant
    alert_since: dt.datetime | None = None  # when their open capacity alert was raised

    @property
    def alert_at(self) -> int:
        return alert_threshold(self.cap)

    @property
    def free(self) -> int:
        return max(self.cap - self.load, 0)


def alert_threshold(cap: int) -> int:
    """The load at which a seller with this cap is alerted (135 of 150 at 90%)."""
    # The small tolerance keeps 0.9 of 150 at 135, not 136, whatever the float rounding.
    return max(math.ceil(cap * settings.RELATIONSHIP_ALERT_SHARE - 1e-9), 1)


def seller_load(
    *,
    user: User,
    load: int,
    owned: int = 0,
    alert_since: dt.datetime | None = None,
) -> SellerLoad:
    cap = relationship_cap(user)
    return SellerLoad(
        user=user,
        team=user.team,
        load=load,
        cap=cap,
        share=load / cap,
        alert=load >= alert_threshold(cap),
        over=load > cap,
        owned=owned,
        alert_since=alert_since,
    )


def team_loads(
    *, team: Team | None = None, at: dt.datetime | None = None, user_ids: list[int] | None = None
) -> list[SellerLoad]:
    """Every seller's load against their cap, in two queries: the active sales reps and anyone
    else (a manager, a deactivated leaver) who still owns a relationship. `team`: only its
    members; `user_ids`: only these users. By team, then the fullest first."""
    counts = (
        ownerships_current(at=at)
        .values("owner")
        .annotate(load=Count("id", filter=Q(is_active=True)), owned=Count("id"))
        .values_list("owner", "load", "owned")
    )
    if user_ids is not None:
        counts = counts.filter(owner__in=user_ids)
    if team is not None:
        counts = counts.filter(owner__team=team)
    loads = {owner: (load, owned) for owner, load, owned in counts}

    open_alert = CapacityAlert.objects.filter(user=OuterRef("pk"), cleared_at__isnull=True)
    users = (
        User.objects.select_related("team", "team__manager")
        .annotate(
            alert_since=Subquery(open_alert.values("raised_at")[:1]),
            owns=Exists(Ownership.objects.filter(owner=OuterRef("pk"), ended_at__isnull=True)),
        )
        .filter(Q(is_active=True, role=Role.SALES_REP) | Q(owns=True))
    )
    if team is not None:
        users = users.filter(team=team)
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    found = [
        seller_load(
            user=user,
            load=loads.get(user.pk, (0, 0))[0],
            owned=loads.get(user.pk, (0, 0))[1],
            alert_since=getattr(user, "alert_since", None),
        )
        for user in users
    ]
    found.sort(
        key=lambda s: (
            s.team is None,
            s.team.name.lower() if s.team else "",
            -s.share,
            str(s.user).lower(),
        )
    )
    return found


def _alert_notes(seller: SellerLoad) -> list[Note]:
    from django.urls import reverse

    user = seller.user
    percent = f"{seller.share:.0%}"
    body = (
        f"{seller.load} active relationships of a cap of {seller.cap} ({percent}). "
        f"Routing gives no new leads from {seller.cap} on. "
        "Hand some relationships over, or let dormant ones rest, to make room."
    )
    notes = [
        Note(
            user=user,
            kind=ALERT_KIND,
            title=f"You hold {seller.load} of your {seller.cap} relationships",
            body=body,
            subject_ref=f"capacity:{user.pk}",
        )
    ]
    manager = seller.team.manager if seller.team else None
    if manager is not None and manager.is_active and manager.pk != user.pk:
        link = reverse("web:relationships_team")
        if seller.team is not None:
            link += f"?team={seller.team.pk}"
        notes.append(
            Note(
                user=manager,
                kind=ALERT_KIND,
                title=f"{user} holds {seller.load} of {seller.cap} relationships ({percent})",
                body=body,
                link=link,
                subject_ref=f"capacity:{user.pk}",
            )
        )
    return notes


def capacity_alerts_check() -> int:
    """The worker's sweep: raise a capacity alert for each active seller who reached the alert
    share of their cap and has none open (they and their team's manager hear of it), and clear
    the open alerts of those back below it (or no longer active), so a later rise alerts again.
    Idempotent; answers how many alerts it raised or cleared."""
    at = clock.now()
    alerting = {s.user.pk: s for s in team_loads(at=at) if s.alert and s.user.is_active}
    with transaction.atomic():
        # Two sweeps at once: the second waits here, then sees the first one's alerts.
        list(User.objects.select_for_update().filter(pk__in=list(alerting)).values_list("pk"))
        open_alerts = {
            alert.user_id: alert
            for alert in CapacityAlert.objects.select_for_update().filter(cleared_at__isnull=True)
        }
        cleared = [alert.pk for alert in open_alerts.values() if alert.user_id not in alerting]
        CapacityAlert.objects.filter(pk__in=cleared).update(cleared_at=at)
        raised = [alerting[pk] for pk in alerting if pk not in open_alerts]
        CapacityAlert.objects.bulk_create(
            CapacityAlert(user=s.user, raised_at=at, load=s.load, cap=s.cap) for s in raised
        )
        notify_users(notes=[note for seller in raised for note in _alert_notes(seller)])
    return len(raised) + len(cleared)


def open_alerts(*, team: Team | None = None) -> list[CapacityAlert]:
    """The capacity alerts open now, the longest open first."""
    found = CapacityAlert.objects.filter(cleared_at__isnull=True).select_related("user")
    if team is not None:
        found = found.filter(user__team=team)
    return list(found.order_by("raised_at", "pk"))


__all__ = [
    "SellerLoad",
    "alert_threshold",
    "capacity_alerts_check",
    "open_alerts",
    "seller_load",
    "team_loads",
]
