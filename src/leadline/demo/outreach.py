"""Demo contact pressure: a marketing email sent last week through the real contact gate (some
people held by the weekly limit, some unsubscribed, the rest sent), a draft for next week, a few
unsubscribes and a do-not-contact."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery

from leadline.capture.models import Consent
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.outreach.models import Audience, Newsletter
from leadline.outreach.services import (
    contact_unsubscribe,
    do_not_contact_set,
    newsletter_create,
    newsletter_deliver,
    newsletter_send,
)

AUDIENCE = 60
TEXT = (
    "Hi {{ first_name }},\n\n"
    "This month: how three finance teams cut their close from ten days to four, and a checklist "
    "{{ company }} can use at the next month-end.\n\n"
    "Read it in five minutes: https://closewise.example/blog/close-in-four-days\n\n"
    "The Closewise team"
)


def _next_id(model: type[OutgoingMail] | type[InboxItem]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def _weekday_morning(moment: dt.datetime) -> dt.datetime:
    moment = moment.replace(hour=9, minute=0, second=0, microsecond=0)
    while moment.weekday() >= 5:
        moment -= dt.timedelta(days=1)
    return moment


def outreach_demo(*, now: dt.datetime) -> int:
    """Once (a second run adds nothing). Returns how many people the sent email was for."""
    from leadline.demo.selling import history_settle, history_tasks_drop

    if Newsletter.objects.exists():
        return 0
    marketer = User.objects.filter(role=Role.MARKETING).order_by("pk").first()
    latest = Consent.objects.filter(person=OuterRef("pk"), purpose="marketing_email").order_by(
        "-captured_at", "-pk"
    )
    people = list(
        Person.objects.filter(merged_into__isnull=True, emails__isnull=False)
        .annotate(consent=Subquery(latest.values("granted")[:1]))
        .filter(consent=True)
        .distinct()
        .order_by("-created_at", "pk")[:AUDIENCE]
    )
    if len(people) < 4:
        return 0
    sent_at = _weekday_morning(now - dt.timedelta(days=8))
    first_mail, first_item = _next_id(OutgoingMail), _next_id(InboxItem)
    with transaction.atomic():
        with clock.frozen_at(sent_at - dt.timedelta(days=3)):
            contact_unsubscribe(person=people[0], method="one_click")
            contact_unsubscribe(person=people[1], method="link")
            do_not_contact_set(
                person=people[2],
                channel="phone",
                reason="Asked not to be called; email is fine",
                source="by_hand",
                actor=marketer,
            )
        with clock.frozen_at(sent_at - dt.timedelta(days=1)):
            sent = newsletter_create(
                name="October digest",
                subject="{{ first_name }}, a four-day close",
                text=TEXT,
                audience=Audience.PEOPLE,
                audience_ids=[p.pk for p in people],
                actor=marketer,
            )
            newsletter_send(newsletter=sent, actor=marketer)
        # Europe in the morning; the Americas when their quiet hours are over.
        for hours in (0, 6, 10):
            with clock.frozen_at(sent_at + dt.timedelta(hours=hours)):
                newsletter_deliver(newsletter_id=sent.pk)
        with clock.frozen_at(now - dt.timedelta(hours=2)):
            newsletter_create(
                name="November digest",
                subject="Month-end in {{ company }}: the checklist",
                text=TEXT.replace("This month", "Next month"),
                audience=Audience.CONSENTED,
                actor=marketer,
            )
        history_settle(first_mail_id=first_mail, first_item_id=first_item, now=now)
    history_tasks_drop(first_mail_id=first_mail)
    return len(people)
