"""Qualification, lifecycle, marketing-to-sales handoff: data and invariants, no workflows."""

from __future__ import annotations
