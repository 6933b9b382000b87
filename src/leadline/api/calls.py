"""The API for call tasks."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Call tasks"])
