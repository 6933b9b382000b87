"""`leadline token`: API keys from the command line.

    leadline token --user NAME [--name LABEL] [--scope read --scope write]   (same as `create`)
    leadline token create --user NAME [--name LABEL] [--scope SCOPE ...]
    leadline token list [--user NAME] [--all]
    leadline token revoke PREFIX_OR_ID

`create` prints the key alone (for scripts); it is shown this once, only a hash is kept.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from leadline.core.models import ApiToken, TokenScope, User
from leadline.core.services import api_token_create, api_token_revoke


def _add_create_options(parser: ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--user", required=required, help="username of the token's owner")
    parser.add_argument(
        "--name", default="command line", help="what the token is for (shown in the lists)"
    )
    parser.add_argument(
        "--scope",
        action="append",
        choices=TokenScope.values,
        dest="scopes",
        help="what the token may do; repeat for several (default: read and write)",
    )


class Command(BaseCommand):
    help = (
        "Create, list and revoke API tokens. `token --user NAME` (or `token create`) prints a "
        "new key, shown this once: only a hash is kept. Use it as `Authorization: Bearer <key>`."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        _add_create_options(parser, required=False)
        actions = parser.add_subparsers(dest="action", required=False)
        create = actions.add_parser("create", help="make a token and print its key")
        _add_create_options(create, required=True)
        listing = actions.add_parser("list", help="tokens: owner, name, scopes, last used")
        listing.add_argument("--user", help="only this user's tokens")
        listing.add_argument("--all", action="store_true", help="revoked tokens too")
        revoke = actions.add_parser("revoke", help="stop a token working, at once")
        revoke.add_argument("token", help="the token's id or its key prefix (ll_…)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options.get("action") or "create"
        if action == "list":
            self._list(username=options.get("user"), everything=options.get("all", False))
        elif action == "revoke":
            self._revoke(options["token"])
        else:
            self._create(options)

    def _create(self, options: dict[str, Any]) -> None:
        username: str | None = options.get("user")
        if not username:
            raise CommandError("say whose token it is: --user NAME")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not user.is_active:
            raise CommandError(f"user {username!r} is deactivated; a token would not work")
        try:
            _, key = api_token_create(user=user, name=options["name"], scopes=options.get("scopes"))
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(key)

    def _list(self, *, username: str | None, everything: bool) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
        if username:
            tokens = tokens.filter(user__username=username)
        if not everything:
            tokens = tokens.filter(revoked_at__isnull=True)
        for token in tokens:
            last = (
                token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
            )
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.user.username}\t{token.name}\t"
                f"{','.join(sorted(token.scopes))}\tlast used {last}\t{state}"
            )

    def _revoke(self, which: str) -> None:
        match = Q(prefix=which.rstrip("…"))
        if which.isdigit():
            match |= Q(pk=int(which))
        found = list(ApiToken.objects.select_related("user").filter(match)[:2])
        if not found:
            raise CommandError(f"no token {which!r}")
        if len(found) > 1:
            raise CommandError(f"{which!r} matches more than one token; use its id")
        token = api_token_revoke(token=found[0], actor=None)
        self.stdout.write(f"revoked {token.prefix}… ({token.name}, {token.user.username})")
