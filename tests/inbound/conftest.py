"""A real IMAP server (dovecot) for the inbound tests."""

from __future__ import annotations

from tests.imap import imap_server

__all__ = ["imap_server"]
