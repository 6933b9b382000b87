"""Replies and bounces, read and matched: data and invariants, no workflows."""

from __future__ import annotations
