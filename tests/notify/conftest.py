"""A real SMTP server and a real webhook receiver, both on loopback."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.smtp import smtp_server

__all__ = ["smtp_server"]


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclasses.dataclass
class Receiver:
    """Records every POST; answers with the next status in `answers`, then 200."""

    url: str = ""
    requests: list[Received] = dataclasses.field(default_factory=list)
    answers: list[int] = dataclasses.field(default_factory=list)
    delay_s: float = 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay_s)
            status = state.answers.pop(0) if state.answers else 200
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting, as the timeout test means it to

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/leadline"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
