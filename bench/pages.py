"""The everyday pages on a large data set: inbox, people search, person page, account page.

Measures server time in this process (Django's test client, logged in with force_login) against
the database named by `--database-url` (read only: nothing is written but Django's session rows
and whatever the pages themselves write), after a warm-up, and prints one JSON line per page with
p50, p95, max and the SQL statements one request makes; the last line is the worst p95.
Exit 1 when a page answered other than 200.

    python bench/pages.py --database-url postgres://root@%2Fvar%2Frun%2Fpostgresql/scale100k
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import add_database_argument, database_from, database_kind, emit, percentile, say

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
    import django

    django.setup()


def _sql(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def _samples(per_kind: int) -> dict[str, Any]:
    """Who and what the pages are asked about, chosen from the data itself."""
    from leadline.capture.models import Request, RequestStatus
    from leadline.core.models import Account, Membership, Person, Role, User
    from leadline.journeys.models import Event
    from leadline.routing.models import RequestRouting as Routing

    reps = list(
        Routing.objects.filter(
            request__status=RequestStatus.OPEN,
            owner__role=Role.SALES_REP,
            owner__is_active=True,
        )
        .values("owner_id")
        .annotate(open=_count("pk"))
        .order_by("-open", "owner_id")
        .values_list("owner_id", "open")
    )
    if not reps:
        raise SystemExit("bench: no rep with open requests in this database")
    busiest_id, busiest_open = reps[0]
    typical_id, typical_open = reps[len(reps) // 2]
    viewer = (
        User.objects.filter(role__in=[Role.SALES_MANAGER, Role.ADMIN], is_active=True)
        .order_by("role", "pk")
        .first()
    )
    if viewer is None:
        raise SystemExit("bench: no manager or admin in this database")

    people = Person.objects.filter(merged_into__isnull=True)
    most_events = list(
        Event.objects.filter(person__isnull=False)
        .values("person_id")
        .annotate(n=_count("pk"))
        .order_by("-n")
        .values_list("person_id", flat=True)[:per_kind]
        if Event.objects.count() < 5_000_000
        else []
    )
    if not most_events:  # counting 20M events per person is itself slow: sample a slice
        top = _sql(
            "SELECT person_id FROM (SELECT person_id FROM journeys_event "
            "WHERE person_id IS NOT NULL ORDER BY id LIMIT 2000000) e "
            "GROUP BY person_id ORDER BY count(*) DESC LIMIT %s",
            (per_kind,),
        )
        most_events = [row[0] for row in top]
    most_requests = list(
        Request.objects.values("person_id")
        .annotate(n=_count("pk"))
        .order_by("-n")
        .values_list("person_id", flat=True)[:per_kind]
    )
    largest_accounts = list(
        Membership.objects.values("account_id")
        .annotate(n=_count("pk"))
        .order_by("-n")
        .values_list("account_id", flat=True)[:per_kind]
    )
    in_largest = list(
        Membership.objects.filter(account_id=largest_accounts[0])
        .order_by("pk")
        .values_list("person_id", flat=True)[:per_kind]
    )
    top_pk = people.order_by("-pk").values_list("pk", flat=True).first() or 1
    # Ordinary people and accounts: spread over the whole id range.
    step = max(1, top_pk // (per_kind + 1))
    ordinary = list(
        people.filter(pk__in=[step * (i + 1) for i in range(per_kind * 3)]).values_list(
            "pk", flat=True
        )[:per_kind]
    )
    top_account = Account.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    account_step = max(1, top_account // (per_kind + 1))
    ordinary_accounts = list(
        Account.objects.filter(
            merged_into__isnull=True,
            pk__in=[account_step * (i + 1) for i in range(per_kind * 3)],
        ).values_list("pk", flat=True)[:per_kind]
    )

    # Search words from the data: a surname, a first name + surname, an email prefix, a company.
    somebody = people.filter(pk=ordinary[0]).values("first_name", "last_name").first() or {}
    email = _sql(
        "SELECT email FROM core_personemail WHERE person_id = %s LIMIT 1", (ordinary[1],)
    ) or [("a",)]
    company = (
        Account.objects.filter(pk=ordinary_accounts[0]).values_list("name", flat=True).first()
        or "a"
    )
    queries = {
        "surname": somebody.get("last_name", "a"),
        "first_and_surname": f"{somebody.get('first_name', '')} {somebody.get('last_name', '')}",
        "email_prefix": email[0][0].split("@")[0][:6],
        "company": max(company.split(), key=len),
    }
    return {
        "viewer": viewer,
        "busiest": (User.objects.get(pk=busiest_id), busiest_open),
        "typical": (User.objects.get(pk=typical_id), typical_open),
        "people": _unique(most_events + most_requests + in_largest + ordinary),
        "accounts": _unique(largest_accounts + ordinary_accounts),
        "queries": queries,
    }


def _count(field: str) -> Any:
    from django.db.models import Count

    return Count(field)


def _unique(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))


def _pages(samples: dict[str, Any]) -> list[tuple[str, Any, list[str]]]:
    """(page name, user to log in as, URLs to take turns over)."""
    from urllib.parse import urlencode

    viewer = samples["viewer"]
    search = [f"/people/?{urlencode({'q': q})}" for q in samples["queries"].values()]
    return [
        ("inbox_typical_rep", samples["typical"][0], ["/inbox/"]),
        ("inbox_busiest_rep", samples["busiest"][0], ["/inbox/"]),
        ("people_list", viewer, ["/people/", "/people/?page=2"]),
        ("people_search", viewer, search),
        ("person_page", viewer, [f"/people/{pk}/" for pk in samples["people"]]),
        ("account_page", viewer, [f"/accounts/{pk}/" for pk in samples["accounts"]]),
    ]


def _measure(
    name: str, user: Any, urls: list[str], *, requests: int, warmup: int, bad: list[str]
) -> float:
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(user)

    def get(url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            bad.append(f"{url} answered {response.status_code}")
            say(f"{name}: {url} answered {response.status_code}")
        return took

    for i in range(warmup):
        get(urls[i % len(urls)])
    # Counted by a wrapper, not CaptureQueriesContext: a request resets connection.queries.
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get(urls[0])
    times = []
    slowest = ("", 0.0)
    for i in range(requests):
        url = urls[i % len(urls)]
        took = get(url)
        times.append(took)
        if took > slowest[1]:
            slowest = (url, took)
    p95 = percentile(times, 0.95)
    emit(
        f"pages_{name}_p95_ms",
        p95,
        "ms",
        p50_ms=round(percentile(times, 0.5), 1),
        max_ms=round(max(times), 1),
        n=len(times),
        urls=len(urls),
        sql_per_request=len(statements),
        slowest=slowest[0],
    )
    return p95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(
        parser,
        what="the database to read (default: LEADLINE_DATABASE_URL, else SQLite); used as it "
        "is, with the data already in it (leadline demo-data --people N)",
    )
    parser.add_argument("--requests", type=int, default=60, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests per page")
    parser.add_argument("--sample", type=int, default=5, help="people/accounts of each kind")
    parser.add_argument("--page", action="append", help="only these pages (repeatable)")
    args = parser.parse_args(argv)
    url = database_from(args)
    _setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    say(f"database: {database_kind(url)}")
    started = time.perf_counter()
    samples = _samples(args.sample)
    say(
        f"samples in {time.perf_counter() - started:.1f} s: {len(samples['people'])} people, "
        f"{len(samples['accounts'])} accounts, busiest rep {samples['busiest'][0]} "
        f"({samples['busiest'][1]} open), typical rep {samples['typical'][0]} "
        f"({samples['typical'][1]} open), searches {samples['queries']}"
    )
    bad: list[str] = []
    worst = 0.0
    measure: Callable[..., float] = _measure
    for name, user, urls in _pages(samples):
        if args.page and name not in args.page:
            continue
        say(f"{name}: {args.requests} requests over {len(urls)} URL(s) as {user}")
        worst = max(
            worst,
            measure(name, user, urls, requests=args.requests, warmup=args.warmup, bad=bad),
        )
    emit("pages_worst_p95_ms", worst, "ms")
    if bad:
        say(f"{len(bad)} answers other than 200")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
