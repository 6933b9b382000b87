"""Reading a received mail: what it is (a reply, a bounce, an automatic reply), which of our mails
it answers, and the first lines of what the person wrote. Pure functions, no database.

Bounces are read from delivery status notifications (RFC 3464: multipart/report;
report-type=delivery-status), with the original message's headers (text/rfc822-headers or
message/rfc822) naming the mail that bounced, and each failed recipient's status: 5.x.x is a
hard bounce (the address will not work), 4.x.x a soft one (it may, later). Bounces from servers
that send no DSN are recognised by their sender and subject, and read as far as their text allows.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import hashlib
import html
import re
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

MESSAGE_ID_MAX = 255
EXCERPT_LINES = 3
EXCERPT_CHARS = 280

_MSGID = re.compile(r"<[^<>\s]+>")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclasses.dataclass(frozen=True)
class Received:
    """A received mail, parsed, with the fields stored beside its bytes."""

    message: EmailMessage
    message_id: str
    from_address: str
    to: str
    subject: str

    @property
    def looks_like_mail(self) -> bool:
        """False for bytes that are not a mail at all (no header a mail has)."""
        return any(
            _header(self.message, name) for name in ("From", "Message-ID", "Subject", "Date")
        )


@dataclasses.dataclass(frozen=True)
class Failure:
    """One recipient a delivery status notification reports on."""

    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded ("failed" when unknown)
    status: str  # "5.1.1"; "" when the report does not say
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        """The address will not work: a permanent failure (5.x.x)."""
        return self.action == "failed" and self.status.startswith("5")

    @property
    def failed(self) -> bool:
        return self.action in {"failed", "delayed"}


@dataclasses.dataclass(frozen=True)
class Bounce:
    original_message_id: str  # "" when the report does not carry the original's headers
    failures: tuple[Failure, ...]
    standard: bool  # an RFC 3464 report (else read from a server's own wording)


def received_parse(raw: bytes) -> Received:
    """Parse a mail's bytes. Never raises: a mail is read as far as it can be."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = _first_msgid(_header(message, "Message-ID"))
    if not message_id or len(message_id) > MESSAGE_ID_MAX:
        # No usable Message-ID: the same bytes read twice still count as one mail.
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Received(
        message=message,
        message_id=message_id,
        from_address=sender_address(message),
        to=", ".join(address for _, address in _addresses(message, "To"))[:2000],
        subject=_one_line(_header(message, "Subject"))[:300],
    )


def sender_address(message: Message) -> str:
    """The From address, lower case ("" when there is none)."""
    address = parseaddr(_header(message, "From"))[1].strip().lower()
    return address if "@" in address else ""


def referenced_ids(message: Message) -> list[str]:
    """The Message-IDs this mail answers, nearest first: In-Reply-To, then References from the
    last (the mail answered) to the first (the thread's start)."""
    ids = _MSGID.findall(_header(message, "In-Reply-To"))
    ids += reversed(_MSGID.findall(_header(message, "References")))
    return list(dict.fromkeys(ids))


# Automatic replies ------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)"
    r"|autoreply|auto:|abwesenheit|automatische antwort|r[ée]ponse automatique|absence"
    r"|respuesta autom[áa]tica|fuera de la oficina|ooo\b)",
    re.IGNORECASE,
)
_OUT_OF_OFFICE = re.compile(
    r"out of (?:the )?office|\booo\b|abwesenheit|absence|fuera de la oficina|vacation|holiday",
    re.IGNORECASE,
)


def auto_reply_reason(message: Message) -> str:
    """Why this is an automatic reply ("out of office", "automatic reply"), or "" when a person
    wrote it. Auto-Submitted (RFC 3834), the X-Autoreply family and the usual subjects."""
    subject = _header(message, "Subject")
    automatic = (
        _header(message, "Auto-Submitted").strip().lower() not in {"", "no"}
        or any(
            _header(message, name)
            for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Autoresponder")
        )
        or _header(message, "Precedence").strip().lower() == "auto_reply"
        or bool(_AUTO_SUBJECT.match(subject))
    )
    if not automatic:
        return ""
    return "out of office" if _OUT_OF_OFFICE.search(subject) else "automatic reply"


# Bounces ----------------------------------------------------------------------------------------

_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status )?notification|failure notice|returned mail"
    r"|mail delivery (?:failed|failure|subsystem)|delivery failure|non[- ]?delivery",
    re.IGNORECASE,
)


def bounce_read(message: EmailMessage) -> Bounce | None:
    """The bounce this mail reports, or None when it is no bounce."""
    if message.get_content_type() == "multipart/report" and (
        message.get_param("report-type", "", header="content-type") == "delivery-status"
    ):
        return _dsn_read(message)
    if _BOUNCE_SENDER.match(sender_address(message)) or (
        _BOUNCE_SUBJECT.search(_header(message, "Subject"))
        and _header(message, "Auto-Submitted").strip().lower() not in {"", "no"}
    ):
        return _bounce_guess(message)
    return None


def _dsn_read(message: EmailMessage) -> Bounce:
    failures: list[Failure] = []
    original = ""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in {"message/delivery-status", "message/global-delivery-status"}:
            failures += _dsn_recipients(part)
        elif content_type in {"text/rfc822-headers", "text/global-headers"} and not original:
            headers = email.message_from_string(_text(part), policy=email.policy.default)
            original = _first_msgid(_header(headers, "Message-ID"))
        elif content_type in {"message/rfc822", "message/global"} and not original:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                original = _first_msgid(_header(inner[0], "Message-ID"))
    if not failures:
        failures = [
            Failure(recipient=r, action="failed", status="") for r in _failed_header(message)
        ]
    return Bounce(original_message_id=original, failures=tuple(failures), standard=True)


def _dsn_recipients(part: Message) -> list[Failure]:
    """The per-recipient blocks of a message/delivery-status part (the first block is about the
    message; each after it names a recipient)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        # Not split into blocks by the parser (e.g. base64-encoded): read the text ourselves.
        text = _text(part)
        blocks = [
            email.message_from_string(block, policy=email.policy.default)
            for block in re.split(r"\r?\n\s*\r?\n", text)
            if block.strip()
        ]
    failures = []
    for block in blocks:
        recipient = _dsn_address(_header(block, "Final-Recipient")) or _dsn_address(
            _header(block, "Original-Recipient")
        )
        if not recipient:
            continue
        status_match = _STATUS.search(_header(block, "Status"))
        failures.append(
            Failure(
                recipient=recipient,
                action=_header(block, "Action").strip().lower() or "failed",
                status=status_match.group(1) if status_match else "",
                diagnostic=_diagnostic(_header(block, "Diagnostic-Code")),
            )
        )
    return failures


def _diagnostic(value: str) -> str:
    """ "smtp; 550 5.1.1 <x@y>: User unknown" → "550 5.1.1 <x@y>: User unknown"."""
    kind, semicolon, text = value.partition(";")
    if semicolon and kind.strip().lower() in {"smtp", "x-unix", "x-postfix", "x-local"}:
        value = text
    return _one_line(value)[:500]


def _dsn_address(value: str) -> str:
    """ "rfc822; someone@example.com" → "someone@example.com"."""
    address = value.partition(";")[2] if ";" in value else value
    address = address.strip().strip("<>").strip().lower()
    return address if "@" in address else ""


def _failed_header(message: Message) -> list[str]:
    return [
        a.strip().lower() for a in _header(message, "X-Failed-Recipients").split(",") if "@" in a
    ]


def _bounce_guess(message: EmailMessage) -> Bounce:
    """A bounce in a server's own words: the original's Message-ID where it is quoted, the failed
    address from X-Failed-Recipients or the text, the status code if the text has one."""
    original = ""
    for part in message.walk():
        if part.get_content_type() in {"message/rfc822", "message/global"}:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                original = _first_msgid(_header(inner[0], "Message-ID"))
                break
    text = _plain_text(message)
    if not original:
        quoted = re.search(r"^\s*Message-ID:\s*(<[^<>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
        original = quoted.group(1) if quoted else ""
    recipients = _failed_header(message)
    if not recipients:
        ours = _header(message, "To").lower()
        recipients = [
            a.lower() for a in dict.fromkeys(_ADDRESS.findall(text)) if a.lower() not in ours
        ]
        recipients = recipients[:1]
    status_match = _STATUS.search(text)
    status = status_match.group(1) if status_match else ""
    return Bounce(
        original_message_id=original,
        failures=tuple(Failure(recipient=r, action="failed", status=status) for r in recipients),
        standard=False,
    )


# The text of a reply ----------------------------------------------------------------------------

_QUOTE_STARTS = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht)\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^-- ?$"),  # a signature follows
]
_HEADER_BLOCK = re.compile(r"^\s*(?:From|Von|De):\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*(?:Sent|Date|To|Gesendet|Datum|An|Envoyé|Subject):\s", re.I)


# A reply that asks to hear no more: a short one that starts with "stop" or "unsubscribe" (as
# people answer an automated mail), or one that says so in words anywhere. Conservative on
# purpose: "don't stop" or a question about unsubscribing must not end someone's mail.
_STOP_START = re.compile(
    r"^\W*(stop|unsubscribe|opt[ -]?out|remove\s+me)\b(?!\s+(?:by|at|on)\b)", re.I
)
_STOP_SAID = re.compile(
    r"\b(?:please\s+)?(?:"
    r"unsubscribe\s+me|remove\s+me\s+from|take\s+me\s+off|"
    r"stop\s+(?:e-?mailing|contacting|mailing|calling|sending)\s+(?:me|us)|"
    r"(?:do\s+not|don'?t|never)\s+(?:e-?mail|contact|call|write\s+to)\s+(?:me|us)"
    r")\b",
    re.I,
)
STOP_SHORT_CHARS = 80


def asks_to_stop(text: str) -> bool:
    """Whether a reply (its own words, quotes removed: `reply_text`) asks to hear no more."""
    words = " ".join(text.split())
    if not words:
        return False
    if len(words) <= STOP_SHORT_CHARS and _STOP_START.match(words):
        return True
    return bool(_STOP_SAID.search(words))


def reply_text(message: EmailMessage) -> str:
    """What the person wrote, without the quoted history below it (or inline quotes)."""
    lines = _plain_text(message).splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        two = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if any(p.match(line) or p.match(two) for p in _QUOTE_STARTS[:4]) or any(
            p.match(line) for p in _QUOTE_STARTS[4:]
        ):
            break
        following = next((later for later in lines[index + 1 :] if later.strip()), "")
        if _HEADER_BLOCK.match(line) and _HEADER_NEXT.match(following):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def excerpt(text: str, *, lines: int = EXCERPT_LINES, max_chars: int = EXCERPT_CHARS) -> str:
    """The first non-empty lines of a text, joined, shortened to `max_chars`."""
    first = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    joined = " / ".join(first)
    return joined if len(joined) <= max_chars else joined[: max_chars - 1].rstrip() + "…"


def _plain_text(message: EmailMessage) -> str:
    """The message's text: its text/plain body, else its HTML body as text ("" when neither)."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, AttributeError):
        body = None
    if body is None:
        if message.get_content_maintype() == "text" or not message.is_multipart():
            body = message
        else:
            return ""
    text = _text(body)
    if body.get_content_subtype() == "html":
        text = _html_to_text(text)
    return text


def _text(part: Message) -> str:
    """A text part's content, decoded; bad charsets and encodings are read as far as they go."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
        if isinstance(content, bytes):
            return content.decode("utf-8", "replace")
    except (LookupError, ValueError, AttributeError, KeyError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return (
            payload.decode(part.get_content_charset() or "utf-8", "replace")
            if _codec_ok(part.get_content_charset())
            else payload.decode("utf-8", "replace")
        )
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _codec_ok(name: str | None) -> bool:
    import codecs

    if not name:
        return True
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", "", markup)
    # Quoted history in HTML mail: Gmail's gmail_quote, blockquotes.
    markup = re.sub(r"(?is)<blockquote\b.*?</blockquote\s*>", "", markup)
    markup = re.sub(r'(?is)<div[^>]*class="[^"]*gmail_quote[^"]*".*', "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(?:p|div|li|tr|h\d)\s*>", "\n", markup)
    return html.unescape(re.sub(r"(?s)<[^>]+>", "", markup))


# Headers ----------------------------------------------------------------------------------------


def _header(message: Any, name: str) -> str:
    """A header's value as text ("" when absent, or when `message` is no message at all). A
    header too broken to parse is read raw."""
    if not isinstance(message, Message):
        return ""
    try:
        value = message.get(name)
    except Exception:  # the parser's header classes raise on some malformed values
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
        if value is not None:
            try:
                value = str(make_header(decode_header(str(value))))
            except Exception:
                value = str(value)
    return "" if value is None else str(value)


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    try:
        return [(n, a.lower()) for n, a in getaddresses([_header(message, name)]) if "@" in a]
    except Exception:
        return []


def _first_msgid(value: str) -> str:
    found = _MSGID.search(value)
    return found.group(0) if found else ""


def _one_line(value: str) -> str:
    return " ".join(value.split())
