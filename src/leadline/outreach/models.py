"""Contact pressure, do-not-contact, unsubscribe, marketing emails: data, no workflows."""

from __future__ import annotations
