"""The real worker reads the mailbox on its own (LEADLINE_IMAP_URL), every few seconds."""

from __future__ import annotations

import json
import time

import pytest

from tests.imap import imap_running
from tests.server import running_leadline

pytestmark = [pytest.mark.server]

SHOW = (
    "import json; from leadline.inbound.models import InboundMessage as M; "
    "print(json.dumps(list(M.objects.filter(message_id='<worker-test@nowhere.example>')"
    ".values_list('subject', 'source', 'kind', 'status'))))"
)


def test_the_worker_polls_the_mailbox_and_processes_what_it_reads() -> None:
    with (
        imap_running() as imap,
        running_leadline(
            people=5,
            web_workers=1,
            extra_env={"LEADLINE_IMAP_URL": imap.url, "LEADLINE_IMAP_POLL_SECONDS": "1"},
        ) as server,
    ):
        imap.append(
            b"From: Someone <someone@nowhere.example>\r\nTo: leads@localhost\r\n"
            b"Subject: Is this the right address?\r\nMessage-ID: <worker-test@nowhere.example>\r\n"
            b"\r\nHello\r\n"
        )
        deadline = time.monotonic() + 60
        rows: list[list[str]] = []
        while time.monotonic() < deadline:
            rows = json.loads(server.run("shell", "-c", SHOW).stdout.strip().splitlines()[-1])
            if rows and rows[0][3] == "processed":
                break
            time.sleep(1)
        assert rows == [["Is this the right address?", "imap", "unmatched", "processed"]], (
            server.logs_tail()
        )
        assert imap.unseen() == []
