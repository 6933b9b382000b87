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
from leadline.core.services import people_search_refresh

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
    people_search_refresh(person_ids=[p.pk])
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


def submission_for(schema: dict[str, Any], *, email: str, n: int) -> dict[str, Any]:
    """A valid submission (number `n`) for whatever fields a form's schema asks for."""
    data: dict[str, Any] = {"email": email, "contact_me": True, "consent": True}
    for field in schema["fields"]:
        name, kind = field["name"], field["type"]
        if name in data or not field["required"]:
            continue
        if kind == "checkbox":
            data[name] = True
        elif kind == "select":
            data[name] = field["options"][0]
        elif kind == "number":
            data[name] = n
        elif kind == "tel":
            data[name] = "+44 20 7946 0958"
        else:
            data[name] = f"Buyer {n}"
    data["first_name"] = f"Buyer{n}"
    return data


def api_key(*, user: User, name: str = "tests", scopes: list[str] | None = None) -> str:
    """A working bearer key for `user` (only its hash is stored); read + write unless told."""
    from leadline.core.services import api_token_create

    return api_token_create(user=user, name=name, scopes=scopes)[1]


def membership(*, person: Person, account: Account, **extra: Any) -> Any:
    from leadline.core.models import Membership

    made = Membership.objects.create(person=person, account=account, **extra)
    people_search_refresh(person_ids=[person.pk])
    return made


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


def sla_history() -> dict[str, Team]:
    """Two teams' first touches in November 2026, through the services, for the SLA board
    (read with the clock on Wednesday 25 November). EMEA: one request touched in time, one
    never (Rita's breach, from LinkedIn). APAC: one touched late (Kai's breach, via the API)."""
    from leadline.core import clock
    from leadline.routing.models import TouchKind
    from leadline.routing.services import touch_record

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)

    emea, apac = team(name="EMEA"), team(name="APAC")
    rita = user(username="rita", first_name="Rita", last_name="Alves", team=emea)
    kai = user(username="kai", first_name="Kai", last_name="Sato", team=apac)
    on_time = routed_request(at=at(16, 10), owner=rita)
    with clock.frozen_at(at(16, 10, 30)):
        touch_record(request=on_time, user=rita, kind=TouchKind.EMAIL)
    routed_request(at=at(23, 10), owner=rita, utm_source="linkedin")
    late = routed_request(at=at(23, 10), owner=kai, source="api")
    with clock.frozen_at(at(23, 13)):
        touch_record(request=late, user=kai, kind=TouchKind.EMAIL)
    return {"EMEA": emea, "APAC": apac}


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


_a_person = person  # `handoff` takes a `person` argument, which hides the factory


def handoff(
    *,
    person: Person | None = None,
    owner: User | None = None,
    trigger: str = "marketing",
    actor: User | None = None,
    **extra: Any,
) -> Any:
    """A handoff made by the real service (deadline, timers, stage, timeline, inbox)."""
    from leadline.engagement.services import handoff_create

    return handoff_create(
        person=person or _a_person(),
        trigger=trigger,
        actor=actor,
        owner=owner,
        **extra,
    )


def rejection_reason(*, name: str = "No budget / no project") -> Any:
    """One of the seeded reasons (the data migration made them), by name."""
    from leadline.engagement.models import RejectionReason

    return RejectionReason.objects.get(name=name)


def qualified_lead(
    *, at: Any, campaign: str = "Q4 finance push", pricing_views: int = 3, **extra: Any
) -> Person:
    """A finance manager at a mid-sized German manufacturer (fit 5 of 5) who asked to be
    contacted (8 points) and looked at pricing `pricing_views` times (3 each) at `at` — 17 with
    the default, over the default threshold of 15 — from a form of `campaign`."""
    someone = person(title="Financial Controller", **extra)
    membership(
        person=someone,
        account=account(employees=1200, industry="Manufacturing", country="DE"),
    )
    person_request(
        person=someone,
        wants_contact=True,
        form=form(with_asset=False),
        campaign=campaign,
        utm_source="linkedin",
        created_at=at,
    )
    for _ in range(pricing_views):
        buyer_event(person=someone, name="page_view", path="/pricing", at=at)
    return someone


# Outreach (contact pressure, do-not-contact, marketing emails) ----------------------------------


def contact_policy(**changes: Any) -> Any:
    """The contact policy with these changes (weekly_cap=2, weekends_quiet=False, …)."""
    from leadline.outreach.services import contact_policy_update

    return contact_policy_update(changes=changes, actor=None)


def consent(*, person: Person, granted: bool = True, **extra: Any) -> Any:
    """A marketing-email consent (or, with purpose=, another) as a form records it."""
    from leadline.capture.models import Consent

    extra.setdefault("purpose", "marketing_email")
    return Consent.objects.create(person=person, granted=granted, **extra)


def newsletter(**extra: Any) -> Any:
    from leadline.outreach.services import newsletter_create

    extra.setdefault("name", "November digest")
    extra.setdefault("subject", "News for {{ first_name }}")
    extra.setdefault("text", "Hi {{ first_name }},\n\nWhat {{ company }} could close faster.")
    extra.setdefault("actor", None)
    return newsletter_create(**extra)


# Calls -------------------------------------------------------------------------------------------


def call_task(*, person: Person | None = None, **extra: Any) -> Any:
    """An open call task made by the real service (calls.CallTask); with no assignee or team it
    goes to a fresh rep."""
    from leadline.calls.services import call_task_create
    from leadline.core import clock

    if extra.get("assignee") is None and extra.get("team") is None:
        extra["assignee"] = user()
    extra.setdefault("title", "Intro call")
    extra.setdefault("script", "Hello, this is Leadline. Is now a good time?")
    extra.setdefault("due_at", clock.now())
    return call_task_create(person=person or person_with_phone(), **extra)


def person_with_phone(*, phone: str = "+4930123456", **extra: Any) -> Person:
    """A person with a phone number (core.PersonPhone) and, unless given, a time zone."""
    from leadline.core.models import PersonPhone

    extra.setdefault("time_zone", "Europe/Berlin")
    someone = person(**extra)
    PersonPhone.objects.create(person=someone, e164=phone, label="work")
    return someone


def outside_caller(*, calling_team: Team | None = None, username: str | None = None) -> User:
    """A user of an outsourced calling team (role outside_caller), in `calling_team` or new."""
    return user(role=Role.OUTSIDE_CALLER, username=username, team=calling_team or team())


# Cadences ----------------------------------------------------------------------------------------


def cadence(
    *, name: str | None = None, steps: list[dict[str, Any]] | None = None, **extra: Any
) -> Any:
    """A cadence (cadences.Cadence) with `steps`, each {"kind": ..., <its fields>}; by default
    one email step."""
    from leadline.cadences.models import Cadence, CadenceStep

    made = Cadence.objects.create(name=name or f"Cadence {next(_seq)}", **extra)
    for position, values in enumerate(
        steps or [{"kind": "email", "subject": "Hello {{ first_name }}", "text": "Hi!"}], start=1
    ):
        CadenceStep.objects.create(cadence=made, position=position, **values)
    return made


def prospect(*, owner: User | None = None, time_zone: str = "Europe/Berlin", **extra: Any) -> Any:
    """A person with an email, a phone number, a time zone and (with `owner`) an owner."""
    from leadline.routing.models import Ownership

    made = person_with_phone(time_zone=time_zone, **extra)
    if owner is not None:
        Ownership.objects.create(owner=owner, person=made, reason="tests")
    return made


def enrol(*, cadence: Any, person: Person, actor: User | None = None) -> Any:
    """Enrol through the real service (cadences.services.enrolment_create)."""
    from leadline.cadences.services import enrolment_create

    return enrolment_create(cadence=cadence, person=person, actor=actor)


def enrolment(*, cadence: Any = None, person: Person | None = None, **extra: Any) -> Any:
    """An active enrolment row (cadences.Enrolment) at the cadence's first step, due now."""
    from leadline.cadences.models import Enrolment
    from leadline.core import clock

    made_cadence = cadence or globals()["cadence"]()
    extra.setdefault("current_step", made_cadence.steps.order_by("position").first())
    extra.setdefault("next_run_at", clock.now())
    return Enrolment.objects.create(
        cadence=made_cadence, person=person or globals()["person"](), **extra
    )


# Booking -----------------------------------------------------------------------------------------


def booking_page(
    *, slug: str | None = None, host: User | None = None, team: Team | None = None, **extra: Any
) -> Any:
    """A seller's page (a new rep unless `host` or `team` is given), bookable at once: no notice,
    no buffer unless asked for."""
    from leadline.booking.models import BookingPage

    if host is None and team is None:
        host = user(first_name="Ines", last_name="Duarte")
    extra.setdefault("title", "Intro call")
    extra.setdefault("notice_minutes", 0)
    extra.setdefault("buffer_minutes", 0)
    return BookingPage.objects.create(
        slug=slug or f"book-{next(_seq)}", user=host, team=team, **extra
    )


def meeting(
    *,
    host: User | None = None,
    person: Person | None = None,
    starts_at: Any = None,
    minutes: int = 30,
    **extra: Any,
) -> Any:
    """A booked meeting (booking.Meeting), made directly: by default it began an hour (and a few
    minutes, different for each) ago."""
    import uuid

    from leadline.booking.models import Meeting
    from leadline.core import clock

    starts_at = starts_at or clock.now() - dt.timedelta(hours=1, minutes=next(_seq))
    extra.setdefault("title", "Intro call")
    return Meeting.objects.create(
        host=host or user(first_name="Sam", last_name="Reyes"),
        person=person or globals()["person"](),
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=minutes),
        uid=f"{uuid.uuid4()}@test",
        **extra,
    )


def bookable_hours(*, host: User, hours: str = "Mon-Fri 09:00-17:00") -> Any:
    from leadline.booking.models import BookableHours

    return BookableHours.objects.update_or_create(user=host, defaults={"hours": hours})[0]


# Inbound mail ------------------------------------------------------------------------------------


def sent_mail(*, person: Person | None = None, **extra: Any) -> Any:
    """A mail to `person` (new unless given) that left: notify.OutgoingMail, status sent, with a
    Message-ID that replies and bounces point back at."""
    from email.utils import make_msgid

    from leadline.core import clock
    from leadline.notify.models import OutgoingMail, SendStatus

    someone = person or globals()["person"]()
    extra.setdefault("to", [someone.emails.order_by("-is_primary", "pk")[0].email])
    extra.setdefault("subject", "A faster month-end close")
    extra.setdefault("text", "Hi,\n\nWould a 20-minute call next week help?\n")
    extra.setdefault("reason", "cadence.email")
    extra.setdefault("message_id", make_msgid(domain="leadline.localhost"))
    extra.setdefault("sent_at", clock.now())
    return OutgoingMail.objects.create(person=someone, status=SendStatus.SENT, attempts=1, **extra)


def reply_mail(
    *,
    to: Any,
    text: str = "Yes, Tuesday works for me.\n\nBest,\nPat",
    sender: str | None = None,
    headers: bool = True,
    **extra_headers: str,
) -> Any:
    """A person's reply (an EmailMessage) to the OutgoingMail `to`: In-Reply-To and References
    name it (unless `headers=False`), and the quoted original follows their text."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    from leadline.core import clock

    message = EmailMessage()
    message["From"] = sender or to.to[0]
    message["To"] = "Leadline <leadline@localhost>"
    message["Subject"] = f"Re: {to.subject}"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain="company.example")
    if headers:
        message["In-Reply-To"] = to.message_id
        message["References"] = to.message_id
    for name, value in extra_headers.items():
        message[name.replace("_", "-")] = value
    quoted = "\n".join(f"> {line}" for line in to.text.splitlines())
    message.set_content(f"{text}\n\nOn Mon, 23 Nov 2026 at 10:00, Leadline wrote:\n{quoted}\n")
    return message


def bounce_mail(
    *,
    to: Any,
    recipient: str | None = None,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
) -> bytes:
    """A delivery status notification (RFC 3464) for the OutgoingMail `to`, as Postfix writes
    one: multipart/report with the explanation, message/delivery-status and the original's
    headers (text/rfc822-headers). 5.x.x: a hard bounce; 4.x.x: a soft one."""
    from email.utils import format_datetime, make_msgid

    from leadline.core import clock

    rcpt = recipient or to.to[0]
    date = format_datetime(clock.now())
    boundary = "B0UNCE.1763892000/mx.company.example"
    lines = [
        "From: MAILER-DAEMON@mx.company.example (Mail Delivery System)",
        "To: leadline@localhost",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {date}",
        f"Message-Id: {make_msgid(domain='mx.company.example')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "Content-Transfer-Encoding: 8bit",
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system at host mx.company.example.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        "",
        f"<{rcpt}>: host mx.company.example said: {diagnostic.format(rcpt=rcpt)}",
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.company.example",
        "X-Postfix-Queue-ID: 4F1B2C3D4E",
        f"Arrival-Date: {date}",
        "",
        f"Final-Recipient: rfc822; {rcpt}",
        f"Original-Recipient: rfc822;{rcpt}",
        f"Action: {action}",
        f"Status: {status}",
        "Remote-MTA: dns; mx.company.example",
        f"Diagnostic-Code: {diagnostic.format(rcpt=rcpt)}",
        "",
        f"--{boundary}",
        "Content-Description: Undelivered Message Headers",
        "Content-Type: text/rfc822-headers",
        "",
        "From: Leadline <leadline@localhost>",
        f"To: {', '.join(to.to)}",
        f"Subject: {to.subject}",
        f"Message-ID: {to.message_id}",
        f"Date: {date}",
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


# Commitments -------------------------------------------------------------------------------------


_a_person = person  # the factory, before `commitment`'s argument of the same name hides it


def commitment(
    *, person: Person | None = None, promised_by: User | None = None, **extra: Any
) -> Any:
    """A promise to `person` (new unless given) by `promised_by` (a new rep unless given), due
    in three days unless `due_on` or `due_at` says otherwise."""
    from leadline.commitments.services import commitment_make
    from leadline.core import clock

    extra.setdefault("what", "Send the pricing")
    if "due_on" not in extra:
        extra.setdefault("due_at", clock.now() + dt.timedelta(days=3))
    return commitment_make(person=person or _a_person(), promised_by=promised_by or user(), **extra)


# Imports -----------------------------------------------------------------------------------------


def csv_file(*, path: Any, header: list[str], rows: list[list[Any]], delimiter: str = ",") -> Any:
    """A CSV file at `path` (a pathlib.Path) with this header and rows; returns the path."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path


# Transitions -------------------------------------------------------------------------------------


def journey_moves(*, journey: Any, moves: list[tuple[Person | Account, Any, dt.datetime]]) -> None:
    """A journey's history in one insert: (person or account, step, when) per move, as an
    import would record it; a step of None takes them off the journey at that time."""
    from leadline.journeys.models import JourneyRemoval, JourneyTransition, TransitionCause

    transitions, removals = [], []
    for subject, step, at in moves:
        who = {"person": subject} if isinstance(subject, Person) else {"account": subject}
        if step is None:
            removals.append(JourneyRemoval(journey=journey, step_name="", at=at, **who))
        else:
            transitions.append(
                JourneyTransition(
                    journey=journey, to_step=step, at=at, cause=TransitionCause.IMPORT, **who
                )
            )
    JourneyTransition.objects.bulk_create(transitions)
    JourneyRemoval.objects.bulk_create(removals)


def buyer_events_many(*, events: list[tuple[Person, str, dt.datetime]]) -> None:
    """Many buyer signals in one insert: (person, event name, when)."""
    from leadline.journeys.models import Event, EventSource

    Event.objects.bulk_create(
        Event(
            person=person,
            name=name,
            occurred_at=at,
            source=EventSource.IMPORT,
            dedupe_key=f"test:{next(_seq)}",
        )
        for person, name, at in events
    )


def journey_history(
    *, n: int, seed: int, planted: bool, noise_fields: int, start: dt.datetime | None = None
) -> tuple[Any, list[Person]]:
    """The default journey's history: `n` people arriving at step 1 over a month from `start`
    (5 January 2026), with `noise_fields` other fields each.

    planted: 40% attended a webinar before arriving, and exactly half of them move on to step
    2 within 30 days against exactly a fifth of the others: 2.5 times as often. Every other
    field and signal makes no difference by construction: each of its values is spread evenly
    over the four groups (webinar or not, moved on or not).

    Not planted: pure noise. Everyone moves on with a 30% chance; every field is drawn at
    random, independently of it."""
    import numpy as np

    from leadline.journeys.models import Journey, JourneyStep

    rng = np.random.default_rng(seed)
    journey = Journey.objects.get(is_default=True)
    steps = list(journey.steps.order_by("position"))
    first, second = steps[:2]
    webinar = np.zeros(n, dtype=bool)
    moved = np.zeros(n, dtype=bool)
    if planted:
        order = rng.permutation(n)
        attended, others = order[: n * 2 // 5], order[n * 2 // 5 :]
        webinar[attended] = True
        moved[attended[: len(attended) // 2]] = True
        moved[others[: len(others) // 5]] = True
    else:
        webinar = rng.random(n) < 0.4
        moved = rng.random(n) < 0.3
    # each person's place in their group, to spread the other fields evenly over it
    rank = np.zeros(n, dtype=int)
    for group in ((w, m) for w in (False, True) for m in (False, True)):
        members = np.flatnonzero((webinar == group[0]) & (moved == group[1]))
        rank[members] = np.arange(len(members))
    begin = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def _days(days: float) -> dt.datetime:
        return begin + dt.timedelta(days=days)

    people: list[Person] = []
    moves: list[tuple[Person, JourneyStep | None, dt.datetime]] = []
    events: list[tuple[Person, str, dt.datetime]] = []
    for i in range(n):
        attributes: dict[str, object] = {}
        for k in range(noise_fields):
            if planted:
                spread = (rank[i] + k) % 6
                if k % 2:
                    attributes[f"Score {k}"] = 40.0 + 20 * (spread % 2) + spread
                else:
                    attributes[f"Choice {k}"] = ("red", "green", "blue")[spread % 3]
            elif k % 2:
                attributes[f"Score {k}"] = round(float(rng.normal(50, 10)), 1)
            else:
                attributes[f"Choice {k}"] = str(rng.choice(["red", "green", "blue"]))
        someone = person(attributes=attributes)
        people.append(someone)
        entered = float(rng.uniform(0, 30))
        if webinar[i]:
            events.append((someone, "webinar_attended", _days(entered - 1)))
        if (rank[i] % 2 == 0) if planted else (rng.random() < 0.5):
            events.append((someone, "page_view", _days(entered - 2)))
        moves.append((someone, first, _days(entered)))
        if moved[i]:
            moves.append((someone, second, _days(entered + float(rng.uniform(1, 28)))))
        elif rng.random() < 0.3:  # some move on, but only after the horizon
            moves.append((someone, second, _days(entered + float(rng.uniform(40, 90)))))
    journey_moves(journey=journey, moves=moves)
    buyer_events_many(events=events)
    return journey, people


# Prediction --------------------------------------------------------------------------------------

HISTORY_START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def deal(
    *,
    person: Person | None = None,
    account: Account | None = None,
    status: str = "open",
    opened_at: dt.datetime = HISTORY_START,
    days_open: int = 20,
    **extra: Any,
) -> Any:
    """An opportunity; closed `days_open` after it opened unless open."""
    from leadline.engagement.models import Opportunity

    if person is None and account is None:
        person = _a_person()
    closed_at = None if status == "open" else opened_at + dt.timedelta(days=days_open)
    return Opportunity.objects.create(
        person=person,
        account=account,
        status=status,
        opened_at=opened_at,
        closed_at=closed_at,
        **extra,
    )


def win_history(*, cases: int = 80, leak: bool = True) -> list[Person]:
    """Closed deals whose people say where they came from ("Lead Origin": referrals win three
    times in four, ads one in four) and how many visits they made (noise); with `leak`, a
    "Tags" field sales filled in after each deal closed ("Closed by Horizzon" on the won).
    Deterministic: case i is won when i % 4 != 0 for referrals, i % 4 == 0 for ads."""
    people: list[Person] = []
    for i in range(cases):
        referral = i % 2 == 0
        won = (i // 2) % 4 != 0 if referral else (i // 2) % 4 == 0
        opened_at = HISTORY_START + dt.timedelta(days=i % 40)
        closed_at = opened_at + dt.timedelta(days=20)
        attributes: dict[str, Any] = {
            "Lead Origin": "Reference" if referral else "Ads",
            "TotalVisits": (i * 7) % 11,
        }
        attributes_at = {"Lead Origin": (opened_at - dt.timedelta(days=3)).isoformat()}
        if leak:
            attributes["Tags"] = "Closed by Horizzon" if won else "Ringing"
            attributes_at["Tags"] = (closed_at + dt.timedelta(hours=2)).isoformat()
        someone = person(attributes=attributes, attributes_at=attributes_at)
        deal(person=someone, status="won" if won else "lost", opened_at=opened_at)
        people.append(someone)
    return people


def step_history(*, cases: int = 60, waiting: int = 4) -> tuple[Any, list[Person]]:
    """Stays at the default journey's first step: buyers ("Role": "Buyer") moved to the second
    within 10 days three times in four, researchers one time in four, the rest never moved. Then
    `waiting` people who are at the first step now. Returns (the first step, those waiting)."""
    from leadline.journeys.models import (
        Journey,
        JourneyPosition,
        JourneyTransition,
        TransitionCause,
    )

    journey = Journey.objects.get(is_default=True)
    first, second = list(journey.steps.order_by("position"))[:2]

    def move(someone: Person, to: Any, at: dt.datetime) -> None:
        JourneyTransition.objects.create(
            journey=journey, person=someone, to_step=to, at=at, cause=TransitionCause.IMPORT
        )

    for i in range(cases):
        buyer = i % 2 == 0
        moved = (i // 2) % 4 != 0 if buyer else (i // 2) % 4 == 0
        someone = person(attributes={"Role": "Buyer" if buyer else "Researcher"})
        entered = HISTORY_START + dt.timedelta(days=i % 30)
        move(someone, first, entered)
        if moved:
            move(someone, second, entered + dt.timedelta(days=3 + i % 7))
    now_waiting = []
    for i in range(waiting):
        someone = person(attributes={"Role": "Buyer" if i % 2 == 0 else "Researcher"})
        since = MONDAY_10 - dt.timedelta(days=2)
        move(someone, first, since)
        JourneyPosition.objects.create(journey=journey, person=someone, step=first, since=since)
        now_waiting.append(someone)
    return first, now_waiting


# Attribution and campaigns -----------------------------------------------------------------------


def campaign(*, name: str | None = None, **extra: Any) -> Any:
    """A campaign with its cost (stored through campaigns.services.campaign_save)."""
    from leadline.campaigns.models import Campaign
    from leadline.campaigns.services import campaign_save

    return campaign_save(
        campaign=Campaign(name=name or f"Campaign {next(_seq)}", **extra), actor=None
    )


def campaign_touch(
    *, person: Person, campaign: str, at: dt.datetime, channel: str = "", **properties: Any
) -> Any:
    """An imported offline touch: a journeys.Event whose properties carry the campaign."""
    from leadline.journeys.models import EventSource

    properties = {"campaign": campaign, **({"channel": channel} if channel else {}), **properties}
    return buyer_event(
        person=person,
        name="campaign_touch",
        at=at,
        source=EventSource.IMPORT,
        properties=properties,
    )


# Handover ----------------------------------------------------------------------------------------


def handover_team(*, reps: int = 2, **extra: Any) -> tuple[Team, User, list[User]]:
    """A team with a manager and `reps` sales reps: (team, manager, reps)."""
    boss = user(role=Role.SALES_MANAGER)
    crew = team(manager=boss, **extra)
    boss.team = crew
    boss.save(update_fields=["team"])
    return crew, boss, [user(team=crew) for _ in range(reps)]


def handover_plan(
    *, leaver: User, actor: User, kind: str = "leaving", days: int = 14, **extra: Any
) -> Any:
    """A draft handover plan for `leaver`, made by the real service, effective in `days`."""
    from leadline.core import clock
    from leadline.relationships.services import handover_plan_create

    return handover_plan_create(
        user=leaver,
        kind=kind,
        effective_at=clock.now() + dt.timedelta(days=days),
        actor=actor,
        **extra,
    )


# Capacity ----------------------------------------------------------------------------------------


def owned_people(
    *, owner: User, count: int = 1, active: bool = True, at: dt.datetime | None = None
) -> list[Person]:
    """`count` people `owner` owns now; `active`: each with a touch at `at` (default: now), so
    each counts against the owner's cap; else dormant (owned, nothing going on)."""
    from leadline.core import clock
    from leadline.routing.models import Ownership, Touch, TouchKind

    people = [person() for _ in range(count)]
    Ownership.objects.bulk_create(Ownership(owner=owner, person=p) for p in people)
    if active:
        Touch.objects.bulk_create(
            Touch(person=p, user=owner, kind=TouchKind.EMAIL, at=at or clock.now()) for p in people
        )
    return people


# Relationship health -----------------------------------------------------------------------------


def owned(*, owner: User, of: Person | Account, since: Any = None) -> Any:
    """`owner` holds the relationship with `of` (a person or an account) since `since`."""
    from leadline.core import clock
    from leadline.routing.models import Ownership

    which = {"person": of} if isinstance(of, Person) else {"account": of}
    return Ownership.objects.create(owner=owner, started_at=since or clock.now(), **which)


def touch(*, person: Person, at: Any, kind: str = "email", outcome: str = "", **extra: Any) -> Any:
    """A routing Touch (our attempt to reach them); a call needs an outcome ("connected"...)."""
    from leadline.routing.models import Touch

    if kind == "call" and not outcome:
        outcome = "no_answer"
    return Touch.objects.create(person=person, kind=kind, outcome=outcome, at=at, **extra)


def inbound_message(*, person: Person | None, at: Any, kind: str = "reply", **extra: Any) -> Any:
    """Mail from `person` as the inbound processing leaves it: matched, of `kind` (reply,
    bounce, auto_reply), received at `at`."""
    from leadline.inbound.models import InboundMessage, Source, Status

    n = next(_seq)
    return InboundMessage.objects.create(
        message_id=f"<in{n}@company.example>",
        raw=b"Subject: Re: hello\r\n\r\nThanks!\r\n",
        from_address=person.emails.first().email if person is not None else "x@y.example",  # type: ignore[union-attr]
        source=Source.WEBHOOK,
        received_at=at,
        status=Status.PROCESSED,
        processed_at=at,
        kind=kind,
        person=person,
        **extra,
    )


def booked_meeting(
    *, person: Person, host: User, starts_at: Any, cancelled: bool = False, **extra: Any
) -> Any:
    """A booked meeting with `person` (30 minutes), cancelled when `cancelled`."""
    from leadline.booking.models import Meeting, MeetingStatus

    return Meeting.objects.create(
        person=person,
        host=host,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=30),
        title="Intro",
        uid=f"meeting-{next(_seq)}@leadline.test",
        status=MeetingStatus.CANCELLED if cancelled else MeetingStatus.BOOKED,
        cancelled_at=starts_at if cancelled else None,
        **extra,
    )


# Company memory ----------------------------------------------------------------------------------


def memory_cast() -> Any:
    """Who's who for company memory: Ann and Vera at Acme; Ann owned (person and account) by
    `owner` in team A, with `teammate` and their `manager`; `author` and `other`, reps in team
    B; an `admin`, a `marketer` (no team) and an outside `caller`."""
    from types import SimpleNamespace

    from leadline.routing.models import Ownership

    team_a, team_b = team(name=f"Team A {next(_seq)}"), team(name=f"Team B {next(_seq)}")
    cast = SimpleNamespace(
        owner=user(team=team_a),
        teammate=user(team=team_a),
        manager=user(role=Role.SALES_MANAGER, team=team_a),
        author=user(team=team_b),
        other=user(team=team_b),
        admin=user(role=Role.ADMIN),
        marketer=user(role=Role.MARKETING),
        caller=outside_caller(),
        team_a=team_a,
        team_b=team_b,
        acme=account(name="Acme Memory"),
        ann=person(first_name="Ann", last_name="Lee", title="Head of Finance Systems"),
        vera=person(first_name="Vera", last_name="Stone", title="CFO"),
    )
    team_a.manager = cast.manager
    team_a.save(update_fields=["manager"])
    for someone in (cast.ann, cast.vera):
        membership(person=someone, account=cast.acme)
    Ownership.objects.create(owner=cast.owner, person=cast.ann, reason="tests")
    Ownership.objects.create(owner=cast.owner, account=cast.acme, reason="tests")
    return cast


def note(
    *, people: list[Person], logged_by: User, visibility: str, summary: str = "", **extra: Any
) -> Any:
    """A note logged through the real service with this visibility (company, team, author)."""
    extra.setdefault("kind", "note")
    return conversation(
        people=people,
        logged_by=logged_by,
        visibility=visibility,
        summary=summary or f"A {visibility} note {next(_seq)}.",
        **extra,
    )


# Record visibility -------------------------------------------------------------------------------


def visibility_cast() -> Any:
    """Who sees which record (relationships.visibility): team A (manager `boss_a`, reps `rep`
    and `mate`) and team B (manager `boss_b`, rep `stranger`); `mine` owned by `rep`, `mates`
    by `mate`, `theirs` by `stranger`, `nobodys` owned by nobody; the account `acme_a` owned by
    `mate` with `at_acme` (owned by nobody) working there, `acme_b` owned by `stranger` with
    `theirs` in it; `worked` owned by `stranger` but with an open call task for `rep`; plus an
    `admin` and a `marketer` (no team)."""
    from types import SimpleNamespace

    from leadline.routing.models import Ownership

    team_a, team_b = team(name=f"Team A {next(_seq)}"), team(name=f"Team B {next(_seq)}")
    cast = SimpleNamespace(
        rep=user(team=team_a),
        mate=user(team=team_a),
        boss_a=user(role=Role.SALES_MANAGER, team=team_a),
        stranger=user(team=team_b),
        boss_b=user(role=Role.SALES_MANAGER),
        admin=user(role=Role.ADMIN),
        marketer=user(role=Role.MARKETING),
        team_a=team_a,
        team_b=team_b,
        mine=person(first_name="Mina", last_name="Owned"),
        mates=person(first_name="Matt", last_name="Teamed"),
        theirs=person(first_name="Theo", last_name="Elsewhere"),
        nobodys=person(first_name="Nora", last_name="Unowned"),
        at_acme=person(first_name="Ada", last_name="Acme"),
        worked=person(first_name="Walt", last_name="Tasked"),
        acme_a=account(name="Acme A"),
        acme_b=account(name="Bravo B"),
    )
    team_b.manager = cast.boss_b  # manages team B without being a member of it
    team_b.save(update_fields=["manager"])
    membership(person=cast.at_acme, account=cast.acme_a)
    membership(person=cast.theirs, account=cast.acme_b)
    for owner, of in (
        (cast.rep, {"person": cast.mine}),
        (cast.mate, {"person": cast.mates}),
        (cast.stranger, {"person": cast.theirs}),
        (cast.stranger, {"person": cast.worked}),
        (cast.mate, {"account": cast.acme_a}),
        (cast.stranger, {"account": cast.acme_b}),
    ):
        Ownership.objects.create(owner=owner, reason="tests", **of)
    call_task(person=cast.worked, assignee=cast.rep)
    return cast


# Goals -------------------------------------------------------------------------------------------


def goal(
    *,
    metric: str = "sales_accepted",
    target: Any = 120,
    starts_on: dt.date = dt.date(2026, 10, 1),
    ends_on: dt.date = dt.date(2026, 12, 31),
    owners: list[User] | None = None,
    actor: User | None = None,
    **extra: Any,
) -> Any:
    """A goal made by the real service (its "created" history row included); Q4 2026 unless
    said."""
    from leadline.insight.goals import goal_create

    extra.setdefault("name", f"Goal {next(_seq)}")
    extra.setdefault("period_kind", "custom")
    return goal_create(
        actor=actor,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        owners=owners or [],
        **extra,
    )
