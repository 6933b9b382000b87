"""`leadline leaks`: every open request that could be dropped. Exit 1 when there is any."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from leadline.routing.selectors import leaks


class Command(BaseCommand):
    help = (
        "List every open request without a current owner, or without a pending first-touch "
        "deadline or a recorded first touch. Exits 1 when there is any."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        found = leaks()
        for leak in found:
            request = leak.request
            self.stdout.write(
                f"request {request.pk}  {request.person}  {request.get_kind_display()}  "
                f"since {request.created_at:%Y-%m-%d %H:%M}  — {leak.why}"
            )
        self.stdout.write(f"{len(found)} dropped leads")
        if found:
            sys.exit(1)
