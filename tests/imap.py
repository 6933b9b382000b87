"""A real IMAP server on loopback (Debian's dovecot-imapd) with one user and an empty Maildir.

In a test module or conftest: `from tests.imap import imap_server  # noqa: F401`, then ask for the
`imap_server` fixture. It starts a dovecot of its own (its own config, Maildir, logs and sockets
in a temporary directory; plain IMAP on 127.0.0.1 and a free port) and points Leadline at it
(`settings.INBOUND_IMAP_URL = server.url`); for a subprocess (`live_leadline`) pass
`LEADLINE_IMAP_URL=server.url`.

    server.append(message)          # an EmailMessage (or bytes) into INBOX, unread
    server.unseen()                 # the unread messages' Message-IDs
    server.messages()               # every message in INBOX, parsed

Dovecot runs unprivileged: as the current user, or as `nobody` when the tests run as root. It is
installed by scripts/setup-system (`apt-get install dovecot-imapd`); without it the tests that ask
for the fixture are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.server import free_port

DOVECOT = "/usr/sbin/dovecot"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

_CONFIG = """\
# Written by tests/imap.py: a throwaway dovecot, plain IMAP on loopback, one user.
base_dir = {root}/run
state_dir = {root}/state
instance_name = leadline-imap-{port}
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclasses.dataclass
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    root: Path = dataclasses.field(default_factory=Path)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What LEADLINE_IMAP_URL takes: imap://user:password@host:port/MAILBOX (plain IMAP)."""
        return f"imap://{self.user}:{self.password}@{self.host}:{self.port}/{self.mailbox}"

    @contextlib.contextmanager
    def connect(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in IMAP connection with the mailbox selected (read-write)."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            imap.select(self.mailbox)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def append(self, message: EmailMessage | bytes, *, seen: bool = False) -> None:
        """Put a message into the mailbox (unread unless `seen`), as a mail server would."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=email.policy.SMTP)
        with self.connect() as imap:
            status, detail = imap.append(self.mailbox, r"(\Seen)" if seen else None, None, raw)
            if status != "OK":
                raise AssertionError(f"APPEND failed: {detail!r}")

    def messages(self) -> list[EmailMessage]:
        """Every message in the mailbox, parsed (fetched with BODY.PEEK: nothing is marked read)."""
        return [message for message, _ in self._fetch("ALL")]

    def unseen(self) -> list[str]:
        """The Message-IDs of the messages not marked \\Seen."""
        return [str(message["Message-ID"]) for message, _ in self._fetch("UNSEEN")]

    def _fetch(self, criterion: str) -> list[tuple[EmailMessage, bytes]]:
        found: list[tuple[EmailMessage, bytes]] = []
        with self.connect() as imap:
            _, data = imap.uid("SEARCH", None, criterion)  # type: ignore[arg-type]
            for uid in (data[0] or b"").split():
                _, parts = imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                for part in parts:
                    if isinstance(part, tuple):
                        message = email.message_from_bytes(part[1], policy=email.policy.default)
                        assert isinstance(message, EmailMessage)
                        found.append((message, uid))
        return found

    # The server's life ------------------------------------------------------------------------

    def start(self) -> None:
        if shutil.which(DOVECOT) is None and not Path(DOVECOT).exists():
            pytest.skip("dovecot is not installed (scripts/setup-system installs dovecot-imapd)")
        runs_as = _unprivileged_user()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "config").write_text(
            _CONFIG.format(
                root=self.root, port=self.port, user=runs_as.pw_name, group=_group(runs_as)
            )
        )
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{runs_as.pw_uid}:{runs_as.pw_gid}"
            f"::{self.root}/home/{self.user}::\n"
        )
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, runs_as.pw_uid, runs_as.pw_gid)
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            as_user = {"user": runs_as.pw_uid, "group": runs_as.pw_gid, "extra_groups": []}
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "config")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "wb"),  # noqa: SIM115 - closed with the process
            **as_user,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"dovecot did not answer within {START_TIMEOUT} s:\n{self.log()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


def _unprivileged_user() -> pwd.struct_passwd:
    """Whom dovecot runs as: ourselves, or `nobody` when we are root (never root)."""
    if os.geteuid() == 0:
        return pwd.getpwnam("nobody")
    return pwd.getpwuid(os.geteuid())


def _group(user: pwd.struct_passwd) -> str:
    import grp

    return grp.getgrgid(user.pw_gid).gr_name


@contextlib.contextmanager
def imap_running(
    *,
    user: str = "leads",
    password: str = "imap-secret",  # noqa: S107 - a throwaway test server
) -> Iterator[ImapServer]:
    """A dovecot for the duration of the block (for use outside pytest fixtures too)."""
    root = Path(tempfile.mkdtemp(prefix="leadline-imap-"))
    server = ImapServer(host="127.0.0.1", port=free_port(), user=user, password=password, root=root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_server(settings: Any) -> Iterator[ImapServer]:
    """A real IMAP server with one empty mailbox; Leadline's poll reads it (INBOUND_IMAP_URL)."""
    with imap_running() as server:
        settings.INBOUND_IMAP_URL = server.url
        yield server
