"""Demo booking pages: every seller takes meetings in the mornings and afternoons of their week and
has a page of their own (/book/<username>/); every team with sellers has a round-robin page
(/book/<team>/). Idempotent: pages and hours that exist are kept."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.text import slugify

from leadline.booking.models import BookableHours, BookingPage
from leadline.booking.selectors import HOST_ROLES
from leadline.core.models import Team, User

DEMO_HOURS = "Mon-Thu 09:30-12:00, 14:00-17:00; Fri 09:30-12:00"


def booking_demo(*, now: dt.datetime) -> int:
    """The demo's pages; how many were made."""
    made = 0
    with transaction.atomic():
        sellers = list(User.objects.filter(is_active=True, role__in=HOST_ROLES).order_by("pk"))
        for seller in sellers:
            BookableHours.objects.get_or_create(
                user=seller, defaults={"hours": DEMO_HOURS, "updated_at": now}
            )
            _, created = BookingPage.objects.get_or_create(
                slug=slugify(seller.username),
                defaults={
                    "user": seller,
                    "title": f"Meet {seller}",
                    "intro": "A first conversation about closing the books faster: your process, "
                    "where the days go, and whether we can help.",
                    "location": "Video call (the link comes with the invitation)",
                    "created_at": now,
                },
            )
            made += created
        for team in Team.objects.filter(members__in=sellers).distinct().order_by("pk"):
            _, created = BookingPage.objects.get_or_create(
                slug=slugify(team.name),
                defaults={
                    "team": team,
                    "title": f"Talk to {team.name}",
                    "intro": "Pick a time; whoever on the team is free takes the call.",
                    "location": "Video call",
                    "created_at": now,
                },
            )
            made += created
    return made
