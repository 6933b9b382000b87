"""Promises made to prospects: data and invariants, no workflows."""

from __future__ import annotations
