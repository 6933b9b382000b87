"""Sequences of emails, calls and tasks: data and invariants, no workflows."""

from __future__ import annotations
