"""The API for contact pressure, do-not-contact, marketing emails."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Contact pressure"])
