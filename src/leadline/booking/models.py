"""Bookable hours, free slots, meetings: data and invariants, no workflows."""

from __future__ import annotations
