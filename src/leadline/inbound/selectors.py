"""Reads for inbound mail: what came in, what it matched, what is waiting or failed."""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.db.models import Count, QuerySet

from leadline.inbound.models import InboundMessage, Kind, Status


@dataclasses.dataclass(frozen=True)
class InboundSetup:
    """How mail comes in, as the inbound page shows it (never the password)."""

    mailbox: str  # "leads@mail.example.com:993/INBOX (TLS)", or "" when none is set
    mailbox_problem: str  # why LEADLINE_IMAP_URL will not do, or ""
    poll_seconds: int
    webhook_on: bool


def inbound_setup() -> InboundSetup:
    from leadline.inbound.imap import imap_config

    mailbox = problem = ""
    if settings.INBOUND_IMAP_URL:
        try:
            config = imap_config(settings.INBOUND_IMAP_URL)
        except ValueError as exc:
            problem = str(exc)
        else:
            how = "TLS" if config.tls else "STARTTLS" if config.starttls else "plain, this machine"
            mailbox = f"{config.user}@{config.host}:{config.port}/{config.mailbox} ({how})"
    return InboundSetup(
        mailbox=mailbox,
        mailbox_problem=problem,
        poll_seconds=settings.INBOUND_IMAP_POLL_SECONDS,
        webhook_on=bool(settings.INBOUND_SECRET),
    )


def inbound_messages(*, kind: str = "", problems: bool = False) -> QuerySet[InboundMessage]:
    """The mail read, newest first; of one kind, or only those waiting or failed (`problems`)."""
    messages = InboundMessage.objects.select_related("person", "mail").defer("raw")
    if kind in Kind.values:
        messages = messages.filter(kind=kind)
    if problems:
        messages = messages.exclude(status=Status.PROCESSED)
    return messages.order_by("-received_at", "-pk")


def inbound_counts() -> dict[str, int]:
    """How many of each kind, and how many are waiting and failed."""
    counts = {kind: 0 for kind in Kind.values}
    for kind, n in (
        InboundMessage.objects.exclude(kind="").values_list("kind").annotate(n=Count("pk"))
    ):
        counts[kind] = n
    for status, n in InboundMessage.objects.values_list("status").annotate(n=Count("pk")):
        counts[status] = n
    counts.setdefault(Status.RECEIVED, 0)
    counts.setdefault(Status.FAILED, 0)
    return counts
