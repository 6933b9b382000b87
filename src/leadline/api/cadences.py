"""The API for cadences and enrolments."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Cadences"])
