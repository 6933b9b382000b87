"""`leadline token --user NAME [--name LABEL]`: a new API key, printed alone for scripts."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadline.core.models import User
from leadline.core.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print its key. The key is shown this once: "
        "only a hash is kept. Use it as `Authorization: Bearer <key>`."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--user", required=True, help="username of the token's owner")
        parser.add_argument(
            "--name", default="command line", help="what the token is for (shown in the admin)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["user"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not user.is_active:
            raise CommandError(f"user {username!r} is deactivated; a token would not work")
        _, key = api_token_create(user=user, name=options["name"])
        self.stdout.write(key)
