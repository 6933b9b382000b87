"""The one factory module: small functions that make valid rows with sensible defaults.

Add new factories here (append; keep each one short). Every argument is keyword-only.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.core.files.base import ContentFile

from leadline.capture.models import Asset, Form, RequestKind
from leadline.core.models import Account, AccountDomain, Person, PersonEmail, Role, Team, User

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

# Monday 23 November 2026, 10:00 UTC (11:00 in Berlin): the working morning tests freeze the
# clock at (the `monday_morning` fixture).
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def user(*, role: str = Role.SALES_REP, username: str | None = None, **extra: Any) -> User:
    name = username or f"user{next(_seq)}"
    return User.objects.create_user(
        username=name, password=PASSWORD, role=role, email=f"{name}@seller.example", **extra
    )


def team(*, name: str | None = None, manager: User | None = None, **extra: Any) -> Team:
    return Team.objects.create(name=name or f"Team {next(_seq)}", manager=manager, **extra)


def account(*, name: str | None = None, domain: str | None = None, **extra: Any) -> Account:
    n = next(_seq)
    acc = Account.objects.create(name=name or f"Company {n}", **extra)
    AccountDomain.objects.create(account=acc, domain=domain or f"company{n}.example")
    return acc


def person(*, email: str | None = None, **extra: Any) -> Person:
    n = next(_seq)
    extra.setdefault("first_name", f"Pat{n}")
    extra.setdefault("last_name", "Example")
    p = Person.objects.create(**extra)
    PersonEmail.objects.create(
        person=p, email=email or f"pat{n}@company{n}.example", is_primary=True
    )
    return p


def asset(*, title: str = "The CFO's guide to closing faster") -> Asset:
    a = Asset(title=title)
    a.file.save("cfo-guide.pdf", ContentFile(MINIMAL_PDF), save=True)
    return a


def form(
    *,
    slug: str | None = None,
    fields: list[dict[str, Any]] | None = None,
    with_asset: bool = True,
    **extra: Any,
) -> Form:
    extra.setdefault("consent_text", "Send me the occasional useful email")
    return Form.objects.create(
        slug=slug or f"form-{next(_seq)}",
        name="White paper",
        title="Get the CFO's guide",
        fields=fields
        or [
            {"name": "email", "required": True},
            {"name": "first_name", "required": True},
            {"name": "last_name"},
            {"name": "company"},
            {"name": "role_own_words"},
            {"name": "phone"},
            {"name": "message"},
        ],
        request_kind=RequestKind.DOWNLOAD,
        asset=asset() if with_asset else None,
        campaign="Q4 finance push",
        **extra,
    )


def submission_data(**overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    data: dict[str, Any] = {
        "email": f"ann{n}@acme-widgets.example",
        "first_name": "Ann",
        "last_name": "Lee",
        "company": "Acme Widgets",
        "role_own_words": "I run the finance systems team",
        "contact_me": True,
        "consent": True,
    }
    data.update(overrides)
    return data


def api_key(*, user: User, name: str = "tests") -> str:
    """A working bearer key for `user` (only its hash is stored)."""
    from leadline.core.services import api_token_create

    return api_token_create(user=user, name=name)[1]


def membership(*, person: Person, account: Account, **extra: Any) -> Any:
    from leadline.core.models import Membership

    return Membership.objects.create(person=person, account=account, **extra)


def submission(*, form: Form, payload: dict[str, Any] | None = None, **extra: Any) -> Any:
    from leadline.capture.models import Submission

    extra.setdefault("idempotency_key", f"key-{next(_seq)}")
    return Submission.objects.create(form=form, payload=payload or submission_data(), **extra)


def person_request(*, person: Person, **extra: Any) -> Any:
    """A Request (what a person asked for); `request` would read like an HTTP request."""
    from leadline.capture.models import Request

    extra.setdefault("kind", RequestKind.DOWNLOAD)
    return Request.objects.create(person=person, **extra)


def routed_request(
    *,
    at: Any,
    owner: User | None = None,
    kind: str = RequestKind.CONTACT,
    routed_at: Any = None,
    **extra: Any,
) -> Any:
    """A request that came in at `at` and was routed then (or at `routed_at`) by the real routing
    service. With `owner`, the person is already theirs, so routing gives it to them."""
    from leadline.core import clock
    from leadline.routing.models import Ownership
    from leadline.routing.services import request_assign

    someone = person()
    if owner is not None:
        Ownership.objects.create(owner=owner, person=someone, started_at=at)
    made = person_request(person=someone, kind=kind, created_at=at, **extra)
    with clock.frozen_at(routed_at or at):
        request_assign(request_id=made.pk)
    made.refresh_from_db()
    return made


def buyer_event(*, person: Person, name: str, at: Any = None, path: str = "", **extra: Any) -> Any:
    """A signal from the buyer (journeys.Event); `event` alone would say too little."""
    from leadline.core import clock
    from leadline.journeys.models import Event, EventSource

    extra.setdefault("source", EventSource.API)
    return Event.objects.create(
        person=person,
        name=name,
        path=path,
        occurred_at=at or clock.now(),
        dedupe_key=f"test:{next(_seq)}",
        **extra,
    )


def tracking_site(*, key: str | None = None, allowed_origins: str = "", **extra: Any) -> Any:
    """A web site embedding t.js (journeys.TrackingSite); `allowed_origins` one per line."""
    from leadline.journeys.models import TrackingSite

    n = next(_seq)
    extra.setdefault("name", f"Site {n}")
    return TrackingSite.objects.create(
        key=key or f"site-{n}", allowed_origins=allowed_origins, **extra
    )


def visitor(*, visitor_id: str | None = None, person: Person | None = None, **extra: Any) -> Any:
    """A browser t.js has seen (journeys.Visitor), anonymous unless `person` is given."""
    from leadline.journeys.models import Visitor

    return Visitor.objects.create(
        visitor_id=visitor_id or f"visitor-{next(_seq)}", person=person, **extra
    )


def page_view_data(
    *, path: str = "/pricing", title: str = "Pricing", **extra: Any
) -> dict[str, Any]:
    """One event as t.js posts it (a page view unless `name` says otherwise)."""
    from leadline.core import clock

    return {
        "name": "page_view",
        "url": f"https://www.customer.example{path}",
        "path": path,
        "title": title,
        "referrer": "https://search.example/",
        "occurred_at": clock.now().isoformat(),
        "properties": {},
        **extra,
    }


def pain_point(*, name: str | None = None, phrases: str = "", **extra: Any) -> Any:
    """A pain point in the catalogue (journeys.PainPoint); `phrases` one per line."""
    from leadline.journeys.models import PainPoint

    return PainPoint.objects.create(
        name=name or f"Pain point {next(_seq)}", phrases=phrases, **extra
    )


def conversation(
    *, people: list[Person], summary: str = "Intro call.", quotes: str = "", **extra: Any
) -> Any:
    """A conversation logged through the real service (suggestions, timeline, signals)."""
    from leadline.journeys.conversations import conversation_log

    extra.setdefault("kind", "call")
    extra.setdefault("logged_by", None)
    return conversation_log(people=people, summary=summary, quotes=quotes, **extra)


# Engagement (qualification, lifecycle, handoffs) -------------------------------------------------


# Outreach (contact pressure, do-not-contact, marketing emails) ----------------------------------


# Calls -------------------------------------------------------------------------------------------


# Cadences ----------------------------------------------------------------------------------------


# Booking -----------------------------------------------------------------------------------------


# Inbound mail ------------------------------------------------------------------------------------


# Commitments -------------------------------------------------------------------------------------
