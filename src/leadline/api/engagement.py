"""The API for qualification, lifecycle and handoffs."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Qualification"])
