"""`leadline unlock USERNAME` / `--address IP` / `--list`: end a login lockout now."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadline.core import lockout


class Command(BaseCommand):
    help = (
        "End a login lockout now: for a username (its failed attempts start again at zero), "
        "or with --address for an address (logins, or --api for API keys). --list shows the "
        "lockouts in force."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", nargs="?", help="the username to unlock")
        parser.add_argument("--address", help="unlock logins from this IP address instead")
        parser.add_argument(
            "--api", action="store_true", help="with --address: its API-key lockout"
        )
        parser.add_argument("--list", action="store_true", help="list the lockouts in force")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            current = lockout.lockouts_current()
            for row in current:
                self.stdout.write(f"{row.kind}\t{row.key}\tuntil {row.until:%Y-%m-%d %H:%M:%S}")
            if not current:
                self.stdout.write("No lockouts in force.")
            return
        username: str | None = options["username"]
        address: str | None = options["address"]
        if bool(username) == bool(address):
            raise CommandError("give a USERNAME or --address IP (one of them)")
        if address:
            kind = lockout.Kind.API_IP if options["api"] else lockout.Kind.IP
            ended = lockout.lockout_release(kind=kind, key=address, actor=None)
            what = f"address {address}"
        else:
            assert username is not None
            ended = lockout.username_unlock(username=username, actor=None)
            what = f"user {username!r}"
        if ended:
            self.stdout.write(f"Unlocked {what}.")
        else:
            self.stdout.write(f"{what.capitalize()} was not locked; its failed attempts are reset.")
