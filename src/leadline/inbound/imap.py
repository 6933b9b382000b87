"""Reading the mailbox that replies and bounces arrive in, over IMAP (the stdlib's imaplib).

One pass (`imap_poll`): log in, take the unread messages, store each (inbound_store: idempotent on
its Message-ID, processing queued on commit) and only then mark it \\Seen. A crash between the two
reads the message again next time, and storing it again does nothing: nothing is lost, nothing
counts twice. The worker runs a pass every LEADLINE_IMAP_POLL_SECONDS (`imap_poll_forever`);
`leadline inbound-poll` runs one.

LEADLINE_IMAP_URL: imaps://user:password@host:993/INBOX (TLS), imap://…?starttls=1 (STARTTLS), or
plain imap:// — which sends the password in the clear, so only to a server on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import imaplib
import ipaddress
import logging
import re
import ssl
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

from leadline.inbound.models import Source
from leadline.inbound.services import inbound_store

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30
# The most messages one pass takes: a mailbox flooded with thousands is read over several passes.
PASS_LIMIT = 200
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclasses.dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str
    mailbox: str
    tls: bool
    starttls: bool


@dataclasses.dataclass(frozen=True)
class PollResult:
    unread: int  # unread messages taken in this pass
    stored: int  # of which new
    duplicates: int  # of which already stored (read before, or arrived by the webhook)


def imap_config(url: str) -> ImapConfig:
    """Read LEADLINE_IMAP_URL; ValueError with the reason when it will not do."""
    parts = urlsplit(url)
    if parts.scheme not in {"imap", "imaps"}:
        raise ValueError("LEADLINE_IMAP_URL: the scheme must be imaps:// (or imap://)")
    if not parts.hostname or not parts.username:
        raise ValueError("LEADLINE_IMAP_URL: give the user and host, imaps://user:pass@host/INBOX")
    query = parse_qs(parts.query)
    tls = parts.scheme == "imaps"
    starttls = not tls and query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"}
    if not tls and not starttls and not _loopback(parts.hostname):
        raise ValueError(
            "LEADLINE_IMAP_URL: plain imap:// would send the password in the clear; use imaps:// "
            "or imap://…?starttls=1 (plain IMAP only to a server on this machine)"
        )
    return ImapConfig(
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        tls=tls,
        starttls=starttls,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _connected(config: ImapConfig) -> Iterator[imaplib.IMAP4]:
    imap: imaplib.IMAP4
    if config.tls:
        imap = imaplib.IMAP4_SSL(
            config.host,
            config.port,
            ssl_context=ssl.create_default_context(),
            timeout=TIMEOUT_SECONDS,
        )
    else:
        imap = imaplib.IMAP4(config.host, config.port, timeout=TIMEOUT_SECONDS)
        if config.starttls:
            imap.starttls(ssl_context=ssl.create_default_context())
    try:
        imap.login(config.user, config.password)
        status, detail = imap.select(_quoted(config.mailbox))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the mailbox {config.mailbox!r}: {detail!r}")
        yield imap
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_poll(*, url: str | None = None, limit: int = PASS_LIMIT) -> PollResult:
    """One pass over the mailbox's unread messages: store each, then mark it read."""
    config = imap_config(url if url is not None else settings.INBOUND_IMAP_URL)
    max_bytes = settings.INBOUND_MAX_BYTES
    stored = duplicates = 0
    with _connected(config) as imap:
        status, data = imap.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH UNSEEN failed: {data!r}")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            raw, size = _fetch(imap, uid.decode(), max_bytes)
            if raw is None:
                continue  # expunged meanwhile
            _, new = inbound_store(raw=raw, source=Source.IMAP, truncated=size > len(raw))
            stored += new
            duplicates += not new
            # Only now, with the mail committed: a crash before this reads it again next time.
            imap.uid("STORE", uid.decode(), "+FLAGS.SILENT", r"(\Seen)")
    if uids:
        logger.info(
            "mailbox read: %s unread, %s new, %s already stored", len(uids), stored, duplicates
        )
    return PollResult(unread=len(uids), stored=stored, duplicates=duplicates)


def _fetch(imap: imaplib.IMAP4, uid: str, max_bytes: int) -> tuple[bytes | None, int]:
    """The message's bytes (at most `max_bytes` of them) without marking it read, and its size."""
    status, data = imap.uid("FETCH", uid, f"(RFC822.SIZE BODY.PEEK[]<0.{max_bytes}>)")
    if status != "OK":
        raise imaplib.IMAP4.error(f"FETCH {uid} failed: {data!r}")
    for item in data:
        if isinstance(item, tuple):
            size_match = _SIZE.search(item[0])
            raw = item[1]
            return raw, int(size_match.group(1)) if size_match else len(raw)
    return None, 0


def imap_poll_forever(*, interval: float | None = None) -> None:
    """The worker's mailbox reader: a pass every LEADLINE_IMAP_POLL_SECONDS, for ever. A failed
    pass (server away, bad password) is logged and the next one tries again."""
    from django.db import close_old_connections

    while True:
        try:
            imap_poll()
        except Exception:
            logging.getLogger("leadline.worker").exception("reading the mailbox failed")
        finally:
            close_old_connections()
        time.sleep(interval if interval is not None else settings.INBOUND_IMAP_POLL_SECONDS)
