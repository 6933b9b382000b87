"""`leadline demo-data --people N --seed S`: deterministic demo data, also for benchmarks."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from leadline.core import clock
from leadline.core.models import Person
from leadline.demo.generator import demo_generate
from leadline.demo.scale import BULK_ABOVE, SERVICE_PEOPLE, scale_generate


def _date(value: str | dt.date | None) -> dt.date:
    if value is None:
        return clock.now().astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--until: {value!r} is not a date like 2025-01-31") from None


class Command(BaseCommand):
    help = (
        "Make believable demo data: a selling team, forms with a gated white paper, companies "
        "and people who filled in the forms over the last nine months, with their site history. "
        "The same --seed, --people and --until always make the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--people",
            type=int,
            default=400,
            help=f"how many people (400); above {BULK_ABOVE:,} the first {SERVICE_PEOPLE} go "
            "through the services and the rest are written in bulk",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
        parser.add_argument(
            "--until",
            default=None,
            help="the history stops just before this day (midnight UTC), YYYY-MM-DD (today)",
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="add more people to a database that already has some",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        people: int = options["people"]
        if people < 0:
            raise CommandError("--people: give 0 or more")
        until = _date(options["until"])
        if Person.objects.exists() and not options["append"]:
            raise CommandError(
                "This database already has people in it; demo data goes into an empty one. "
                "Use --append to add more demo people anyway."
            )
        quiet = options["verbosity"] == 0
        bulk = people - SERVICE_PEOPLE if people > BULK_ABOVE else 0
        with tqdm(
            total=people - bulk,
            unit="people",
            file=sys.stderr,
            disable=quiet or people == 0,
            smoothing=0.1,
        ) as bar:
            summary = demo_generate(
                people=people - bulk, seed=options["seed"], until=until, progress=bar.update
            )
        scaled = None
        if bulk:
            with tqdm(
                total=bulk,
                unit="people",
                desc="in bulk",
                file=sys.stderr,
                disable=quiet,
                smoothing=0.1,
            ) as bar:
                scaled = scale_generate(
                    people=bulk,
                    seed=options["seed"],
                    until=until,
                    progress=bar.update,
                    say=lambda text: None if quiet else bar.write(text, file=sys.stderr),
                )
        if quiet:
            return
        if scaled is not None:
            self.stdout.write(
                f"Added in bulk: {scaled.people} people, {scaled.accounts} companies, "
                f"{scaled.requests} requests, {scaled.events} tracked events "
                f"({scaled.rows} rows in {scaled.seconds:.0f} s, "
                f"{scaled.writing_seconds:.0f} s of them writing)."
            )
        self.stdout.write(
            f"Demo data ready: {summary.users} users, {summary.companies} companies, "
            f"{summary.people} people, {summary.submissions} submissions, "
            f"{summary.requests} requests, {summary.touches} touches."
        )
        self.stdout.write(
            f"Made {summary.people_made} people in {summary.seconds:.1f} s "
            f"({summary.people_per_second:.0f} people/s)."
        )
