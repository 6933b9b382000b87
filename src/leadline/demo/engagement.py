"""Demo handoffs and lifecycle: over the last weeks marketing handed leads to sales; sales
accepted most (some deals won, some lost), rejected others with a reason from the list, and a
few wait for a decision now. Then the most recently active are scored once on fit and
interest, as the worker's sweep would have, so the engaged and the newly qualified show.

Made at their own past moments; each handoff's reminder and deadline fired when it fell due;
the mail that went out back then is recorded as sent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Max

from leadline.capture.models import Request
from leadline.core import clock
from leadline.core.models import Role, User
from leadline.demo.selling import timers_replay
from leadline.engagement.models import (
    Handoff,
    HandoffTimer,
    QualificationMark,
    RejectionReason,
)
from leadline.engagement.services import (
    handoff_accept,
    handoff_create,
    handoff_reject,
    handoff_timer_fire,
    opportunity_close,
    qualification_evaluate,
)
from leadline.journeys.models import Event
from leadline.notify.models import InboxItem, OutgoingMail

HOW_MANY = 40
SCORED = 60  # the most recently active people the demo scores (the rest: when they act)
# The fate of each handoff, in turn.
FATES = ("won", "rejected", "accepted", "rejected", "lost", "won", "rejected", "open", "accepted")
WHY = {
    "Not a fit: company too small": "Twelve people; they need a spreadsheet, not us.",
    "Not a fit: wrong role": "An intern researching tools; no say in the choice.",
    "No budget / no project": "Budget frozen until next year; asked us to call in Q3.",
    "Already a customer or in a deal": "Their group signed last month through the partner.",
    "Could not reach them": "Four calls and two mails, no answer.",
    "Duplicate": "Same person as the one Tom is already working.",
}


def _next_id(model: type[OutgoingMail] | type[InboxItem]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def _fire_until(handoff: Handoff, *, until: dt.datetime) -> None:
    timers_replay(
        HandoffTimer.objects.filter(handoff=handoff), fire=handoff_timer_fire, until=until
    )


def engagement_demo(*, now: dt.datetime) -> int:
    """Handoffs of the recent requests with a seller, once (a second run adds nothing).
    Returns how many were made."""
    from leadline.demo.selling import history_settle, history_tasks_drop

    if Handoff.objects.exists():
        return 0
    marketer = User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()
    reasons = list(RejectionReason.objects.filter(is_active=True).order_by("position"))
    if not reasons:  # a database emptied after its migrations (as tests do) lost the default list
        reasons = [
            RejectionReason.objects.create(name="No budget / no project", sends_to_nurture=True),
            RejectionReason.objects.create(name="Duplicate", sends_to_nurture=False),
        ]
    requests = list(
        Request.objects.filter(
            created_at__lt=now - dt.timedelta(hours=2),
            created_at__gte=now - dt.timedelta(days=45),
            routing__owner__is_active=True,
            person__merged_into__isnull=True,
        )
        .select_related("person", "form", "routing__owner")
        .order_by("-created_at", "-pk")
    )
    first_mail, first_item = _next_id(OutgoingMail), _next_id(InboxItem)
    made = 0
    seen: set[int] = set()
    with transaction.atomic():
        for request in requests:
            if made >= HOW_MANY or request.person_id in seen:
                continue
            seen.add(request.person_id)
            n = made
            at = request.created_at + dt.timedelta(hours=1, minutes=7 * (n % 5))
            fate = FATES[n % len(FATES)] if at < now - dt.timedelta(days=2) else "open"
            with clock.frozen_at(at):
                handoff = handoff_create(
                    person=request.person,
                    trigger="marketing" if n % 3 else "threshold",
                    actor=marketer if n % 3 else None,
                    note="Downloaded the guide and asked for a call" if n % 3 else "",
                    request=request,
                )
            made += 1
            owner = handoff.owner
            decided_at = at + dt.timedelta(hours=3 + n % 20)
            if fate == "open" or owner is None or decided_at >= now:
                _fire_until(handoff, until=now)
                continue
            _fire_until(handoff, until=decided_at)
            with clock.frozen_at(decided_at):
                if fate == "rejected":
                    reason = reasons[n % len(reasons)]
                    handoff_reject(
                        handoff=handoff,
                        actor=owner,
                        reason=reason,
                        reason_text=WHY.get(reason.name, "Not for us now."),
                    )
                    continue
                opportunity = handoff_accept(
                    handoff=handoff, actor=owner, amount=Decimal(6000 + 1500 * (n % 9))
                )
            closed_at = decided_at + dt.timedelta(days=1 + n % 4)
            if fate in ("won", "lost") and closed_at < now:
                with clock.frozen_at(closed_at):
                    opportunity_close(
                        opportunity=opportunity,
                        outcome=fate,
                        actor=owner,
                        note="Signed the annual plan" if fate == "won" else "Chose a rival",
                    )
        # The most recently active scored once, as the sweep would have; it then reads only
        # what is new.
        recent = list(
            Request.objects.filter(created_at__lt=now, person__merged_into__isnull=True)
            .order_by("-created_at")
            .values_list("person_id", flat=True)[: SCORED * 2]
        )
        with clock.frozen_at(now):
            qualification_evaluate(person_ids=list(dict.fromkeys(recent))[:SCORED], at=now)
        QualificationMark.objects.all().delete()
        QualificationMark.objects.create(
            events_after=Event.objects.aggregate(top=Max("pk"))["top"] or 0,
            requests_after=Request.objects.aggregate(top=Max("pk"))["top"] or 0,
        )
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return made
