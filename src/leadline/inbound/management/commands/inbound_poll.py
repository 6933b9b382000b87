"""`leadline inbound-poll`: read the mailbox once, then match and act on what came in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadline.inbound.imap import imap_poll
from leadline.inbound.services import inbound_process_waiting


class Command(BaseCommand):
    help = (
        "Read the unread mail in the mailbox of LEADLINE_IMAP_URL once (replies and bounces), "
        "store it, mark it read, and process it and anything else still waiting."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="the mailbox (default: LEADLINE_IMAP_URL)")
        parser.add_argument(
            "--no-process",
            action="store_true",
            help="only store the mail; leave the matching to the worker",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.INBOUND_IMAP_URL
        if not url:
            raise CommandError("no mailbox: set LEADLINE_IMAP_URL (or pass --url)")
        try:
            result = imap_poll(url=url)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.unread} unread: {result.stored} new, {result.duplicates} already stored"
        )
        if not options["no_process"]:
            processed, failed = inbound_process_waiting()
            self.stdout.write(f"{processed} processed, {failed} failed (tried again later)")
            if failed:
                raise CommandError(f"{failed} mails could not be processed; see the worker log")
