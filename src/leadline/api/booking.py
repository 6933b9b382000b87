"""The API for bookable hours and meetings."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Bookable hours"])
