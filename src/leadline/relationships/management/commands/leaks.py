"""`leadline leaks`: every open request that could be dropped, and every record still held by
someone who has left or is deactivated. Exit 1 when there is any."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from leadline.relationships.leaks import inactive_owner_leaks
from leadline.routing.selectors import leaks


class Command(BaseCommand):
    help = (
        "List every open request without a current owner, or without a pending first-touch "
        "deadline or a recorded first touch; and every record (relationship, deal, handoff, "
        "cadence, promise, meeting, task, booking page) still held by someone who has left or "
        "is deactivated. Exits 1 when there is any."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        held = inactive_owner_leaks()
        for leak in held:
            self.stdout.write(leak.line())
        if held:
            self.stdout.write(f"{len(held)} records held by people who have left")
        found = leaks()
        for dropped in found:
            request = dropped.request
            self.stdout.write(
                f"request {request.pk}  {request.person}  {request.get_kind_display()}  "
                f"since {request.created_at:%Y-%m-%d %H:%M}  — {dropped.why}"
            )
        self.stdout.write(f"{len(found)} dropped leads")
        if found or held:
            sys.exit(1)
