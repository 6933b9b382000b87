"""The SMTP server goes away while mails are due: they wait (stored, retried, none given up, none
lost), and when it is back every one goes out exactly once (counted by Message-ID on the server).

Real processes (the package's `faulty` Leadline); its mail retries a second apart
(LEADLINE_MAIL_RETRY_DELAYS) so the test takes seconds.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import (
    ONLY_POSTGRES,
    Database,
    mail_counts,
    report,
    stream_post,
    wait_until,
)
from tests.server import LiveLeadline

pytestmark = [pytest.mark.server, ONLY_POSTGRES]

SUBMISSIONS = 30


def test_mail_waits_while_the_smtp_server_is_down_and_goes_once_when_it_is_back(
    faulty: LiveLeadline,
) -> None:
    server, smtp = faulty, faulty.smtp
    db = Database(server)
    try:
        before = db.one("SELECT coalesce(max(id), 0) FROM notify_outgoingmail")
        smtp.stop()
        try:
            stream, _, finish = stream_post(
                server, count=SUBMISSIONS, tag=f"smtpdown{int(time.time())}", rate=100.0
            )
            finish()
            assert len(stream.accepted) == SUBMISSIONS, stream.summary()

            def retried() -> bool:
                # Every mail of the requests made, tried more than once and still waiting.
                rows = db.rows(
                    "SELECT status, attempts FROM notify_outgoingmail WHERE id > %s", before
                )
                return len(rows) > 0 and all(
                    status == "queued" and attempts >= 2 for status, attempts in rows
                )

            wait_until("mails tried while the SMTP server is down", retried, timeout=60)
            down = mail_counts(db, smtp, after_id=before)
            errors = db.rows(
                "SELECT DISTINCT last_error FROM notify_outgoingmail WHERE id > %s", before
            )
            report(f"SMTP down: mails {down}, errors {errors}")
        finally:
            smtp.start()
        assert down["by_status"] == {"queued": down["stored"]}, down
        assert down["received"] == 0, down

        def all_sent() -> bool:
            waiting: int = db.one(
                "SELECT count(*) FROM notify_outgoingmail WHERE id > %s AND status <> 'sent'",
                before,
            )
            return waiting == 0

        took = wait_until("every mail sent once the SMTP server is back", all_sent, timeout=60)
        sent = db.one("SELECT count(*) FROM notify_outgoingmail WHERE id > %s", before)
        wait_until(
            "the SMTP server receiving them",
            lambda: mail_counts(db, smtp, after_id=before)["received"] >= sent,
            timeout=30,
        )
        time.sleep(2.0)  # a second retry round: anything sent twice would arrive now
        up = mail_counts(db, smtp, after_id=before)
        attempts = db.one("SELECT max(attempts) FROM notify_outgoingmail WHERE id > %s", before)
        figures = (
            f"stored {up['stored']} while down, sent {up['sent']} in {took:.1f}s after the SMTP"
            f" server came back, received {up['received']} (unique {up['received_unique']}),"
            f" received twice {len(up['received_twice'])}, most attempts {attempts}"
        )
        report(figures)
        assert up["stored"] == down["stored"] == up["sent"] == up["received_unique"], figures
        assert up["received"] == up["received_unique"], figures
        assert up["received_twice"] == [], figures
    finally:
        db.close()
