"""What a new owner reads about a relationship they take over, and the words of the warm
introduction, and the reads behind the briefing pages (one write: marking a briefing read).
A handover plan calls these when it is applied (relationships.services)
and keeps the sections it returns in Briefing.sections, so the briefing stays as it was written.

Every section is a dict with its rows and, when it has none, `empty`: the words that say so."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from leadline.booking.models import Meeting, MeetingStatus
from leadline.capture.models import Request
from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.core import clock
from leadline.core.models import Account, Membership, Person, User
from leadline.core.selectors import person_account
from leadline.engagement.models import LifecycleChange, Opportunity, OpportunityStatus
from leadline.journeys.models import Conversation, Stakeholder, Visibility
from leadline.journeys.selectors import pains_said, quote_lines
from leadline.relationships.memory import conversations_visible
from leadline.relationships.models import Briefing
from leadline.routing.models import Ownership

# The most dated lines the history keeps (the first contact, then the newest).
HISTORY_LINES = 12
# How long ago a broken promise still counts as "recently broken".
BROKEN_RECENT_DAYS = 90
QUOTES_SHOWN = 4
KEY_PEOPLE_SHOWN = 6
# Lifecycle stages worth a line in a history (the others are marketing's bookkeeping).
TELLING_STAGES = {"sales_accepted", "opportunity", "customer", "recycled", "disqualified"}

SECTION_KEYS = (
    "history",
    "own_words",
    "commitments",
    "stakeholders",
    "last_conversation",
    "promised_next",
)


def _date(at: dt.datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.day} {local:%b %Y}"


def _line(at: dt.datetime, text: str) -> dict[str, str]:
    return {"at": at.isoformat(), "date": _date(at), "text": text}


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f" ({value:,.2f})"


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _people_of(*, person: Person | None, account: Account | None) -> list[Person]:
    """The people a relationship is about: the person, or an account's current members."""
    if person is not None:
        return [person]
    assert account is not None
    return list(
        Person.objects.filter(
            memberships__account=account, memberships__is_current=True, merged_into__isnull=True
        )
        .order_by("last_name", "first_name", "pk")
        .distinct()
    )


def _one_of(person: Person | None, account: Account | None) -> None:
    if (person is None) == (account is None):
        raise ValueError("a briefing is about a person or an account")


def _visible(conversations: QuerySet[Conversation], reader: User | None) -> QuerySet[Conversation]:
    """What the new owner may read: company memory and their (new) team's notes, never another
    seller's private note."""
    if reader is not None:
        conversations = conversations_visible(user=reader, conversations=conversations)
    return conversations.exclude(visibility=Visibility.AUTHOR)


def _conversations(
    *, person: Person | None, account: Account | None, reader: User | None
) -> QuerySet[Conversation]:
    if person is not None:
        found = Conversation.objects.filter(people=person)
    else:
        members = Membership.objects.filter(account=account).values("person_id")
        found = Conversation.objects.filter(
            pk__in=Conversation.objects.filter(Q(account=account) | Q(people__in=members)).values(
                "pk"
            )
        )
    return _visible(found, reader).order_by("-occurred_at", "-id")


# History -----------------------------------------------------------------------------------------


def _history(
    *, person: Person | None, account: Account | None, people: list[Person], departing: User
) -> dict[str, Any]:
    ids = [p.pk for p in people]
    lines: list[tuple[dt.datetime, str]] = []
    first: tuple[dt.datetime, str] | None = None

    of_them = Q(person_id__in=ids) | (Q(account=account) if account is not None else Q())
    requests = Request.objects.filter(of_them).distinct()
    for request in requests.select_related("person", "form").order_by("created_at", "pk"):
        how = request.form.name if request.form is not None else request.source
        who = f"{request.person} " if account is not None else ""
        said = f': "{_clip(request.message, 120)}"' if request.message.strip() else ""
        text = f"{who}asked for {request.get_kind_display().lower()} ({how}){said}"
        if first is None:
            first = (request.created_at, f"First contact: {text}")
        else:
            lines.append((request.created_at, text[0].upper() + text[1:]))
    if person is not None and (first is None or person.created_at < first[0]):
        if first is not None:
            lines.append(first)
        first = (person.created_at, f"First recorded in Leadline: {person}")
    if account is not None and first is None:
        created = min([account.created_at, *[p.created_at for p in people]])
        first = (created, f"First recorded in Leadline: {account}")

    deals = Opportunity.objects.filter(of_them).select_related("owner").distinct()
    for deal in deals:
        name = deal.name or "a deal"
        lines.append((deal.opened_at, f"Deal opened: {name}{_amount(deal.amount)}"))
        if deal.status != OpportunityStatus.OPEN and deal.closed_at is not None:
            verb = "won" if deal.status == OpportunityStatus.WON else "lost"
            note = f" — {_clip(deal.close_note, 100)}" if deal.close_note.strip() else ""
            lines.append((deal.closed_at, f"Deal {verb}: {name}{_amount(deal.amount)}{note}"))

    meetings = Meeting.objects.filter(person_id__in=ids).select_related("host", "person")
    for meeting in meetings.exclude(status=MeetingStatus.CANCELLED):
        with_whom = f"{meeting.person} and " if account is not None else ""
        lines.append((meeting.starts_at, f"Meeting: {meeting.title} ({with_whom}{meeting.host})"))

    changes = LifecycleChange.objects.filter(person_id__in=ids, to_stage__in=TELLING_STAGES)
    for change in changes.select_related("person"):
        who = f"{change.person} " if account is not None else ""
        reason = f" — {_clip(change.reason, 100)}" if change.reason else ""
        text = f"{who}became {change.get_to_stage_display()}{reason}"
        lines.append((change.at, text[0].upper() + text[1:]))

    held = (
        Ownership.objects.filter(owner=departing, person=person)
        if person is not None
        else Ownership.objects.filter(owner=departing, account=account)
    )
    since = held.order_by("-started_at").values_list("started_at", flat=True).first()
    if since is not None:
        lines.append((since, f"{departing} took over the relationship"))

    lines = sorted(lines, key=lambda line: line[0])
    kept = lines[-(HISTORY_LINES - 1) :] if first is not None else lines[-HISTORY_LINES:]
    chosen = sorted(([first] if first is not None else []) + kept, key=lambda line: line[0])
    rows = [_line(at, text) for at, text in chosen]
    return {
        "lines": rows,
        "left_out": len(lines) - len(kept),
        "empty": "" if rows else "Nothing on record yet: no requests, deals or meetings.",
    }


# In their own words ------------------------------------------------------------------------------


def _person_words(person: Person, *, with_name: bool) -> list[dict[str, Any]]:
    who = str(person) if with_name else ""
    rows: list[dict[str, Any]] = []
    if person.role_own_words.strip():
        rows.append(
            {
                "label": "Their role",
                "text": person.role_own_words.strip(),
                "quote": True,
                "person": who,
            }
        )
    elif person.title:
        rows.append({"label": "Title", "text": person.title, "quote": False, "person": who})
    if person.cares_about.strip():
        rows.append(
            {
                "label": "Cares about",
                "text": person.cares_about.strip(),
                "quote": True,
                "person": who,
            }
        )
    if person.personal_context.strip():
        rows.append(
            {
                "label": "Personal context",
                "text": person.personal_context.strip(),
                "quote": False,
                "person": who,
            }
        )
    reach = [
        part
        for part in (
            person.get_preferred_channel_display() if person.preferred_channel else "",
            person.preferred_hours,
            person.time_zone,
        )
        if part
    ]
    if reach:
        rows.append(
            {"label": "Best reached", "text": ", ".join(reach), "quote": False, "person": who}
        )
    for said in pains_said(person=person)[:3]:
        mention = next(
            (m for m in said.mentions if m.conversation.visibility != Visibility.AUTHOR), None
        )
        if mention is None:
            continue
        rows.append(
            {
                "label": f"Said it hurts: {said.pain_point.name}",
                "text": mention.evidence or said.pain_point.name,
                "quote": mention.in_their_words,
                "person": who,
            }
        )
    return rows


def _own_words(
    *, person: Person | None, account: Account | None, people: list[Person]
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    if person is not None:
        rows = _person_words(person, with_name=False)
        empty = f"{person} has not told us about their role or what matters to them yet."
    else:
        assert account is not None
        if account.culture_notes.strip():
            rows.append(
                {
                    "label": "How they decide",
                    "text": account.culture_notes.strip(),
                    "quote": False,
                    "person": "",
                }
            )
        key_ids = list(
            Stakeholder.objects.filter(account=account).values_list("person_id", flat=True)
        )
        ordered = sorted(people, key=lambda p: (p.pk not in key_ids, p.last_name, p.pk))
        for member in ordered[:KEY_PEOPLE_SHOWN]:
            rows.extend(_person_words(member, with_name=True))
        empty = f"Nothing in their own words from {account} yet."
    return {"lines": rows, "empty": "" if rows else empty}


# Commitments, stakeholders, the last conversation, what comes next ------------------------------


def _commitment_row(c: Commitment, *, at: dt.datetime, with_name: bool) -> dict[str, Any]:
    return {
        "what": c.what,
        "due_at": c.due_at.isoformat(),
        "due": _date(c.due_at),
        "overdue": c.is_overdue(at),
        "promised_by": str(c.promised_by),
        "person": str(c.person) if with_name else "",
    }


def _commitments(
    *, people: list[Person], account: Account | None, at: dt.datetime
) -> dict[str, Any]:
    ids = [p.pk for p in people]
    rows = Commitment.objects.filter(person_id__in=ids).select_related("person", "promised_by")
    to_do = rows.filter(status__in=[CommitmentStatus.OPEN, CommitmentStatus.BROKEN])
    open_rows = [
        _commitment_row(c, at=at, with_name=account is not None)
        for c in to_do.order_by("due_at", "pk")
    ]
    since = at - dt.timedelta(days=BROKEN_RECENT_DAYS)
    broken = [
        {**_commitment_row(c, at=at, with_name=account is not None), "kept_late": c.kept_late}
        for c in rows.filter(broken_at__gte=since, broken_at__lte=at).order_by("-broken_at")[:5]
    ]
    return {
        "open": open_rows,
        "broken": broken,
        "empty": "" if open_rows or broken else "No promises open, none broken lately.",
    }


def _stakeholders(*, account: Account | None) -> dict[str, Any]:
    if account is None:
        return {
            "account": "",
            "people": [],
            "empty": "Not at a company we know of: no buying committee.",
        }
    rows = [
        {
            "name": str(s.person),
            "person_id": s.person_id,
            "decision": s.decision,
            "part": s.get_part_display(),
            "stance": s.get_stance_display(),
            "stance_code": s.stance,
            "influence": s.get_influence_display(),
            "notes": s.notes,
        }
        for s in Stakeholder.objects.filter(account=account)
        .select_related("person")
        .order_by("decision", "influence", "pk")
    ]
    return {
        "account": str(account),
        "people": rows,
        "empty": "" if rows else f"Nobody mapped in {account}'s buying committee yet.",
    }


def _last_conversation(
    *, person: Person | None, account: Account | None, reader: User | None
) -> dict[str, Any]:
    found = (
        _conversations(person=person, account=account, reader=reader)
        .select_related("logged_by")
        .prefetch_related("people", "sellers")
        .first()
    )
    if found is None:
        return {"conversation": None, "empty": "No conversation on record yet."}
    return {
        "conversation": {
            "id": found.pk,
            "kind": found.get_kind_display(),
            "at": found.occurred_at.isoformat(),
            "date": _date(found.occurred_at),
            "summary": found.summary,
            "quotes": quote_lines(found.quotes)[:QUOTES_SHOWN],
            "people": [str(p) for p in found.people.all()],
            "sellers": [str(u) for u in found.sellers.all()],
        },
        "empty": "",
    }


def _promised_next(*, people: list[Person], at: dt.datetime) -> dict[str, Any]:
    ids = [p.pk for p in people]
    rows: list[dict[str, str]] = []
    promise = (
        Commitment.objects.filter(person_id__in=ids, status=CommitmentStatus.OPEN)
        .select_related("person")
        .order_by("due_at", "pk")
        .first()
    )
    if promise is not None:
        rows.append(
            {
                **_line(promise.due_at, f"Promised: {promise.what} (to {promise.person})"),
                "kind": "commitment",
            }
        )
    meeting = (
        Meeting.objects.filter(person_id__in=ids, status=MeetingStatus.BOOKED, starts_at__gte=at)
        .select_related("person", "host")
        .order_by("starts_at", "pk")
        .first()
    )
    if meeting is not None:
        rows.append(
            {
                **_line(
                    meeting.starts_at, f"Meeting booked: {meeting.title} with {meeting.person}"
                ),
                "kind": "meeting",
            }
        )
    rows.sort(key=lambda row: row["at"])
    return {"lines": rows, "empty": "" if rows else "Nothing promised and no meeting booked."}


def briefing_sections(
    *,
    person: Person | None = None,
    account: Account | None = None,
    departing: User,
    at: dt.datetime | None = None,
    reader: User | None = None,
) -> dict[str, Any]:
    """Everything a new owner should read about one relationship (a person or an account) that
    `departing` held, as JSON-able sections (see SECTION_KEYS). `reader`: the new owner, when
    known, so the last conversation is one they may read; private notes are never included."""
    _one_of(person, account)
    at = at or clock.now()
    people = _people_of(person=person, account=account)
    company = account if account is not None else (person_account(person) if person else None)
    return {
        "about": {
            "kind": "person" if person is not None else "account",
            "id": person.pk if person is not None else account.pk if account is not None else None,
            "name": str(person or account),
            "from": str(departing),
            "written_at": at.isoformat(),
        },
        "history": _history(person=person, account=account, people=people, departing=departing),
        "own_words": _own_words(person=person, account=account, people=people),
        "commitments": _commitments(people=people, account=account, at=at),
        "stakeholders": _stakeholders(account=company),
        "last_conversation": _last_conversation(person=person, account=account, reader=reader),
        "promised_next": _promised_next(people=people, at=at),
    }


def briefing_title(*, person: Person | None = None, account: Account | None = None) -> str:
    """ "Ana Silva (CFO, Acme)"; for an account its name and industry."""
    _one_of(person, account)
    if person is not None:
        company = person_account(person)
        role = person.title
        if not role:
            role = (
                Membership.objects.filter(person=person, account=company)
                .values_list("title", flat=True)
                .first()
                or ""
            )
        extra = ", ".join(part for part in (role, str(company) if company else "") if part)
        return f"{person} ({extra})" if extra else str(person)
    assert account is not None
    return f"{account} ({account.industry})" if account.industry else str(account)


# The warm introduction ---------------------------------------------------------------------------

INTRO_MERGE_FIELDS = ("first_name", "company", "old_owner", "new_owner")
# {field} as the plan's template writes them; {{ field }} as the rest of Leadline's mail does.
_MERGE_FIELD = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}|\{\s*([^{}\s]*)\s*\}")

DEFAULT_INTRO_SUBJECT = "Introducing {new_owner}, your new contact"
DEFAULT_INTRO_BODY = (
    "Hi {first_name},\n\n"
    "I wanted you to hear it from me first: I am handing over my work with {company} to my "
    "colleague {new_owner}, who will look after you from now on. I have shared everything we "
    "have talked about, so you will not need to repeat yourself.\n\n"
    "{new_owner} will be in touch shortly. It has been a pleasure working with you.\n\n"
    "Best wishes,\n{old_owner}"
)


def intro_template_check(text: str) -> list[str]:
    """The merge fields `text` names that the introduction does not know, each once, sorted."""
    found = {a or b for a, b in _MERGE_FIELD.findall(text)}
    return sorted(name for name in found if name not in INTRO_MERGE_FIELDS)


def _merge(text: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return _MERGE_FIELD.sub(fill, text)


def intro_email_compose(*, plan: Any, person: Person, new_owner: User) -> tuple[str, str]:
    """(subject, body) of the introduction the leaver sends `person`: the plan's template, or
    the default when the plan has none, with the merge fields filled in."""
    company = person_account(person)
    old_owner = plan.user
    values = {
        "first_name": person.first_name or str(person),
        "company": str(company) if company is not None else "your team",
        "old_owner": old_owner.get_full_name() or old_owner.username,
        "new_owner": new_owner.get_full_name() or new_owner.username,
    }
    subject = plan.intro_subject.strip() or DEFAULT_INTRO_SUBJECT
    body = plan.intro_body.strip() or DEFAULT_INTRO_BODY
    return _merge(subject, values), _merge(body, values)


def warm_intro_task_text(
    *,
    person: Person | None,
    account: Account | None,
    old_owner: User,
    new_owner: User,
    effective_at: dt.datetime | None = None,
) -> tuple[str, str]:
    """(title, instructions) of the task that asks the leaver to introduce the new owner."""
    who = person if person is not None else account
    title = f"Warm introduction: {who}, with {new_owner}"[:200]
    when = f"before {_date(effective_at)}" if effective_at is not None else "before you leave"
    target = f"{person}" if person is not None else f"the key people at {account}"
    instructions = (
        f"{when[0].upper()}{when[1:]}, {old_owner} introduces {new_owner} to {target}: a short "
        f"call or a three-way email, in {old_owner}'s own words. Say why {new_owner} is the right "
        "person to look after them, go through what is still open (read the briefing first) and "
        "agree the next step together. Mark this task done once they have been introduced."
    )
    return title, instructions


# Reading briefings -------------------------------------------------------------------------------


def briefings_for(*, user: User) -> QuerySet[Briefing]:
    """The briefings written for `user`, unread first, newest first."""
    return (
        Briefing.objects.filter(recipient=user)
        .select_related("from_user", "person", "account", "recipient")
        .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-pk")
    )


def briefing_waiting(
    *, user: User, person: Person | None = None, account: Account | None = None
) -> Briefing | None:
    """The newest briefing for `user` about this person or account, if they have one (for the
    "handed over from X" notice on its page)."""
    if not getattr(user, "is_authenticated", False) or (person is None and account is None):
        return None
    found = Briefing.objects.filter(recipient=user).select_related("from_user")
    found = found.filter(person=person) if person is not None else found.filter(account=account)
    return found.order_by(F("read_at").asc(nulls_first=True), "-created_at", "-pk").first()


def briefing_mark_read(*, briefing: Briefing, reader: User) -> Briefing:
    """The recipient opened it: read now (once; a later visit keeps the first time). The one
    write here, kept beside the reads it belongs to (no timeline row: reading is not news)."""
    if reader.pk == briefing.recipient_id and briefing.read_at is None:
        at = clock.now()
        Briefing.objects.filter(pk=briefing.pk, read_at__isnull=True).update(read_at=at)
        briefing.refresh_from_db(fields=["read_at"])
    return briefing
