"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

In a test module or conftest: `from tests.smtp import smtp_server  # noqa: F401`, then ask for the
`smtp_server` fixture. It points Django's SMTP email backend at the server; for a subprocess
(`live_leadline`) pass `LEADLINE_EMAIL_URL=server.url`. `refuse_data` / `refuse_rcpt` make it
answer with an error (e.g. "451 4.3.0 Try again later"); `stop()` / `start()` take it away and
bring it back on the same port.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.server import free_port


@dataclasses.dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[EmailMessage] = dataclasses.field(default_factory=list)
    # (MAIL FROM, RCPT TO addresses) of each accepted message, in order.
    envelopes: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)
    refuse_data: str | None = None
    refuse_rcpt: str | None = None
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        self._controller = Controller(_Collector(self), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages, once at least `count` have arrived (for senders in other processes)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} messages arrived")
            time.sleep(0.05)
        return self.messages


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.server.refuse_rcpt:
            return self.server.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.refuse_data:
            return self.server.refuse_data
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        self.server.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer(host="127.0.0.1", port=free_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()
