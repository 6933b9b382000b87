"""The inbox: a seller's open requests by first-touch deadline, touches logged in one click, an
email to the person, and the seller's notifications.

Live without a socket: the page holds a version of what it shows (`_version`, three aggregate
queries) and polls with it. While nothing changed the answer is 204 No Content, which htmx does
not swap, so nothing on the page moves and keyboard focus stays where it is; otherwise the
answer carries the parts that changed, swapped out of band.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.capture.models import Request, RequestKind
from leadline.core import clock
from leadline.core.models import PersonEmail, Role, User
from leadline.core.permissions import access_inbox
from leadline.journeys.tracking import links_tag
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.selectors import inbox_items, inbox_unread_count
from leadline.notify.services import inbox_mark_read, mail_send
from leadline.routing.models import CallOutcome, Queue, Touch, TouchKind
from leadline.routing.selectors import (
    REQUEST_EMAIL_REASON,
    first_touches,
    owner_open_requests,
    owner_open_requests_version,
    request_mail_latest,
    request_ref,
)
from leadline.routing.services import touch_record
from leadline.web.access import is_htmx, page

# How often the page asks whether anything changed. The promise is that a request routed to a
# seller shows within a second of being routed; a poll every second would keep it only on
# average (a request routed just after a poll waits a whole second, plus the answer's way
# back), so the page asks twice a second. A poll that finds nothing costs three small
# aggregate queries and an empty answer.
POLL_EVERY = "500ms"
NOTES_SHOWN = 20
# The open requests a page lists, the most urgent first; "Show more" adds as many again, up to
# the most a page lists. A seller with a thousand open requests gets a page that still loads
# at once; the count says how many there are.
ROWS_SHOWN = 50
ROWS_SHOWN_MAX = 1000
# Managers hold the fallback queue and may log a touch for anyone; admins may do anything.
TOUCH_FOR_ANYONE = frozenset({Role.ADMIN, Role.SALES_MANAGER})
# What the row's buttons log (an email is logged when it has been sent, not here).
LOGGABLE_KINDS = (TouchKind.CALL, TouchKind.MEETING)
_VERSION = re.compile(r"(?P<requests>\d+(?:-\d+){6})_(?P<notes>\d+-\d+)")


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # `page` has let only logged-in users through
        raise PermissionDenied
    return user


# Words for times ------------------------------------------------------------------------------


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(seconds // 3600, 24)
    return f"{days} d {hours} h"


def countdown_text(due: dt.datetime, now: dt.datetime) -> str:
    """ "due in 42 min", "due in 1 h 05 min", "overdue by 7 min". app.js words it the same way
    every second; this is what the page says before it does (and without JavaScript)."""
    left = (due - now).total_seconds()
    if left > 0:
        return f"due in {_span(math.ceil(left))}"
    return f"overdue by {_span(math.floor(-left))}"


def local_time_text(moment: dt.datetime, now: dt.datetime) -> str:
    """The time in the viewer's zone: "10:42" today, "Tue 10:42" this week, else "3 Dec, 10:42"."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    if local.date() == today:
        return dateformat.format(local, "H:i")
    if abs((local.date() - today).days) < 6:
        return dateformat.format(local, "D H:i")
    return dateformat.format(local, "j M, H:i")


def _touch_text(touch: Touch | None) -> str:
    if touch is None:
        return ""
    if touch.kind == TouchKind.CALL:
        return f"call, {touch.get_outcome_display().lower()}"
    if touch.kind == TouchKind.MEETING:
        return "meeting booked"
    return str(touch.kind)


# Rows -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One open request as the inbox shows it."""

    request: Request
    email: str
    due: dt.datetime | None
    due_text: str
    overdue: bool
    countdown: str
    touched_at: dt.datetime | None
    touched_text: str
    touch_text: str
    mail_state: str  # "", "queued" (on its way) or "failed"
    fallback: bool

    @property
    def pk(self) -> int:
        return self.request.pk

    @property
    def person(self) -> Any:
        return self.request.person

    @property
    def their_words(self) -> str:
        return self.request.message or self.request.person.cares_about

    @property
    def asked_for(self) -> str:
        if self.request.asset is not None:
            return f"“{self.request.asset.title}”"
        return self.request.form.name if self.request.form is not None else ""


def _with_emails(requests: QuerySet[Request]) -> QuerySet[Request]:
    return requests.prefetch_related(
        Prefetch("person__emails", queryset=PersonEmail.objects.order_by("-is_primary", "pk"))
    )


def _primary_email(request: Request) -> str:
    emails = list(request.person.emails.all())
    return emails[0].email if emails else ""


def _mail_state(mail: OutgoingMail | None) -> str:
    if mail is None:
        return ""
    if mail.status in (SendStatus.QUEUED, SendStatus.SENDING):
        return "queued"
    return "failed" if mail.status == SendStatus.FAILED else ""


def _rows(requests: Iterable[Request], *, now: dt.datetime) -> list[Row]:
    requests = list(requests)
    touches = first_touches(requests=requests)
    mails = request_mail_latest(request_ids=[r.pk for r in requests])
    rows = []
    for request in requests:
        routing = getattr(request, "routing", None)
        due = routing.first_touch_due if routing else None
        touched_at = routing.first_touched_at if routing else None
        rows.append(
            Row(
                request=request,
                email=_primary_email(request),
                due=due,
                due_text=local_time_text(due, now) if due else "",
                overdue=bool(due and touched_at is None and due <= now),
                countdown=countdown_text(due, now) if due else "",
                touched_at=touched_at,
                touched_text=local_time_text(touched_at, now) if touched_at else "",
                touch_text=_touch_text(touches.get(request.pk)),
                mail_state=_mail_state(mails.get(request.pk)),
                fallback=bool(routing and routing.queue == Queue.FALLBACK),
            )
        )
    return rows


def _one_row(request_id: int) -> Row:
    requests = _with_emails(
        Request.objects.filter(pk=request_id).select_related(
            "person", "account", "routing", "form", "asset"
        )
    )
    return _rows(requests, now=clock.now())[0]


def _shown(request: HttpRequest) -> int:
    """How many open requests the page lists: ROWS_SHOWN, more in steps of ROWS_SHOWN when
    the seller asks (?show=), at most ROWS_SHOWN_MAX."""
    raw = request.GET.get("show", "")
    wanted = int(raw) if raw.isdigit() else ROWS_SHOWN
    return min(max(wanted, ROWS_SHOWN), ROWS_SHOWN_MAX)


def _requests_context(user: User, now: dt.datetime, *, version: str, shown: int) -> dict[str, Any]:
    """The first `shown` open requests, most urgent first, and how many there are in all
    (from the version's counts, so a seller with thousands is not read in full)."""
    # The ids first (a narrow read the planner can answer from indexes), then those rows.
    requests = owner_open_requests(user=user)
    ids = list(requests.values_list("pk", flat=True)[:shown])
    rows = _rows(_with_emails(requests.filter(pk__in=ids)), now=now)
    figures = _figures(_version_parts(version)[0])
    total = max(figures.get("open", len(rows)), len(rows))
    touched = figures.get("touched", 0)
    return {
        "rows": rows,
        "open_count": total,
        "untouched": max(total - touched, 0),
        "shown": shown,
        "more": max(total - len(rows), 0),
        "show_more": (
            min(shown + ROWS_SHOWN, ROWS_SHOWN_MAX)
            if total > len(rows) and shown < ROWS_SHOWN_MAX
            else None
        ),
    }


def _notes_context(user: User) -> dict[str, Any]:
    return {
        "notes": list(inbox_items(user=user)[:NOTES_SHOWN]),
        "inbox_unread": inbox_unread_count(user=user),
    }


# The version a page holds ---------------------------------------------------------------------


def _version(user: User, now: dt.datetime) -> str:
    """What the page shows, as a short string: the requests' part, then the notifications'."""
    requests = owner_open_requests_version(user=user, at=now)
    # Two queries, each answered from an index (the unread ones; the user's newest id), where
    # one aggregate with a FILTER reads every notification the user ever had.
    mine = InboxItem.objects.filter(user=user)
    unread = mine.filter(read_at__isnull=True).count()
    last = mine.aggregate(last=Max("pk"))["last"]
    return "-".join(map(str, requests)) + f"_{unread}-{last or 0}"


def _version_parts(version: str) -> tuple[str, str]:
    found = _VERSION.fullmatch(version)
    return (found["requests"], found["notes"]) if found else ("", "")


# The numbers of a version's requests part, in `owner_open_requests_version`'s order.
_FIGURES = ("open", "last_assigned", "touched", "last_touched", "overdue", "last_mail", "settled")


def _figures(requests_part: str) -> dict[str, int]:
    """A version's requests part by name (empty: none)."""
    if not requests_part:
        return {}
    return dict(zip(_FIGURES, map(int, requests_part.split("-")), strict=True))


def _last_assigned(requests_part: str) -> int | None:
    """When the newest request the page shows was routed (µs since 1970), from its version."""
    return _figures(requests_part).get("last_assigned")


def _arrivals(rows: list[Row], since: int | None) -> str:
    """Words for the status line about requests routed since the page's version."""
    if since is None:
        return ""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    new = [
        row
        for row in rows
        if (routing := getattr(row.request, "routing", None)) is not None
        and (routing.assigned_at - epoch) // dt.timedelta(microseconds=1) > since
    ]
    if not new:
        return ""
    names = ", ".join(
        f"{row.person}" + (f", due {row.due_text}" if row.due_text else "") for row in new
    )
    return f"New request: {names}." if len(new) == 1 else f"{len(new)} new requests: {names}."


# Pages ----------------------------------------------------------------------------------------


@require_GET
@page(access_inbox)
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = clock.now()
    # The version first: a change made while the page is read then shows at the next poll.
    version = _version(user, now)
    context = {
        "nav": "inbox",
        "version": version,
        "server_now": now,
        "poll_every": POLL_EVERY,
        **_requests_context(user, now, version=version, shown=_shown(request)),
        **_notes_context(user),
    }
    response = render(request, "web/inbox.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@page(access_inbox)
def inbox_live(request: HttpRequest) -> HttpResponse:
    """The poll: 204 while the page's version (`v`) is current, else the parts that changed."""
    user = _user(request)
    now = clock.now()
    version = _version(user, now)
    held = request.GET.get("v", "")
    if version == held:
        response = HttpResponse(status=204)
    else:
        held_requests, held_notes = _version_parts(held)
        requests_part, notes_part = _version_parts(version)
        context: dict[str, Any] = {"version": version, "oob": True, "announcement": ""}
        if requests_part != held_requests:
            context |= _requests_context(user, now, version=version, shown=_shown(request))
            context["requests_changed"] = True
            context["announcement"] = _arrivals(context["rows"], _last_assigned(held_requests))
        if notes_part != held_notes:
            context |= _notes_context(user)
            context["notes_changed"] = True
        response = render(request, "web/_inbox_live.html", context)
    # The server's clock, which tests move: the countdowns keep to it (app.js).
    response["X-Server-Now"] = now.isoformat()
    response["Cache-Control"] = "no-store"
    return response


# Touches --------------------------------------------------------------------------------------


def _workable_request(request: HttpRequest, pk: int) -> Request:
    """The request, if this user may work it: its current owner, a sales manager or an admin."""
    found = get_object_or_404(
        Request.objects.select_related("person", "routing", "form", "asset"), pk=pk
    )
    user = _user(request)
    routing = getattr(found, "routing", None)
    if user.role not in TOUCH_FOR_ANYONE and (routing is None or routing.owner_id != user.pk):
        raise PermissionDenied
    return found


def _touch_input(data: Any) -> tuple[str, str]:
    """(kind, outcome) from the form: a call button sends its outcome, "Meeting booked" its
    kind. Raises ValidationError naming the field that is wrong."""
    outcome = str(data.get("outcome", "")).strip()
    kind = str(data.get("kind", "")).strip() or (TouchKind.CALL if outcome else "")
    if kind not in LOGGABLE_KINDS:
        raise ValidationError(
            f"kind: “{kind}” is not a touch to log here; use one of {', '.join(LOGGABLE_KINDS)}"
            if kind
            else f"kind: missing; use one of {', '.join(LOGGABLE_KINDS)}"
        )
    if kind == TouchKind.CALL and outcome not in CallOutcome.values:
        raise ValidationError(
            f"outcome: “{outcome}” is not how a call went; use one of "
            f"{', '.join(CallOutcome.values)}"
        )
    if kind == TouchKind.MEETING and outcome:
        raise ValidationError("outcome: a booked meeting has no call outcome")
    return kind, outcome


def _bad_request(error: ValidationError) -> HttpResponse:
    return HttpResponseBadRequest(
        " ".join(error.messages), content_type="text/plain; charset=utf-8"
    )


@require_POST
@page(access_inbox)
def inbox_touch(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call (with how it went) or a booked meeting; the row comes back touched."""
    found = _workable_request(request, pk)
    try:
        kind, outcome = _touch_input(request.POST)
    except ValidationError as error:
        return _bad_request(error)
    touch = touch_record(request=found, user=_user(request), kind=kind, outcome=outcome)
    said = f"Logged for {found.person}: {_touch_text(touch)}."
    if not is_htmx(request):
        messages.success(request, said)
        return redirect("web:inbox")
    context = {"row": _one_row(found.pk), "announcement": said}
    return render(request, "web/_inbox_touched.html", context)


# Email ----------------------------------------------------------------------------------------


class ComposeForm(forms.Form):
    subject = forms.CharField(label="Subject", max_length=300)
    text = forms.CharField(
        label="Message", max_length=20000, widget=forms.Textarea(attrs={"rows": 9})
    )


def _compose_initial(found: Request, user: User) -> dict[str, str]:
    person = found.person
    if found.asset is not None:
        about = found.asset.title
    elif found.form is not None:
        about = found.form.title
    else:
        about = f"your {RequestKind(found.kind).label.lower()} request"
    name = person.first_name or person.full_name
    greeting = f"Hi {name}," if name else "Hello,"
    signature = user.get_full_name() or user.get_username()
    return {"subject": f"About {about}", "text": f"{greeting}\n\n\n\nBest regards,\n{signature}"}


def _mail_queue(form: ComposeForm, *, found: Request, to: str, user: User) -> bool:
    """Queue the mail; False (with the problems on the form) when it cannot go."""
    if not form.is_valid():
        return False
    try:
        mail_send(
            to=[to],
            subject=form.cleaned_data["subject"],
            # Links to our tracked sites say who clicked them (journeys.tracking.links_tag).
            text=links_tag(form.cleaned_data["text"], person_id=found.person_id),
            reason=REQUEST_EMAIL_REASON,
            person=found.person,
            subject_ref=request_ref(found.pk),
            # Answers go to the seller, not to the product's sending address.
            headers={"Reply-To": user.email} if user.email else None,
        )
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return False
    return True


@require_http_methods(["GET", "POST"])
@page(access_inbox)
def inbox_email(request: HttpRequest, pk: int) -> HttpResponse:
    """Write to the person. The mail is queued; it counts as a touch once it has actually been
    sent (routing records that when the worker reports it), so until then the row says
    "Email queued"."""
    found = _workable_request(request, pk)
    user = _user(request)
    to = _primary_email(_with_emails(Request.objects.filter(pk=found.pk)).get())
    if not to:
        return _bad_request(ValidationError(f"to: {found.person} has no email address"))
    if request.method == "GET":
        form, status = ComposeForm(initial=_compose_initial(found, user)), 200
    else:
        form, status = ComposeForm(request.POST), 400
        if _mail_queue(form, found=found, to=to, user=user):
            said = f"Email to {found.person} queued; it counts as a touch once it is sent."
            if not is_htmx(request):
                messages.success(request, said)
                return redirect("web:inbox")
            context = {"row": _one_row(found.pk), "announcement": said}
            # app.js closes the dialog and puts focus back on the row's "Email…".
            return render(request, "web/_inbox_email_sent.html", context)
    context = {"form": form, "req": found, "to": to, "nav": "inbox"}
    template = "web/_inbox_compose.html" if is_htmx(request) else "web/inbox_email.html"
    return render(request, template, context, status=status)


# Notifications --------------------------------------------------------------------------------


def _notes_response(request: HttpRequest, said: str) -> HttpResponse:
    if not is_htmx(request):
        messages.success(request, said)
        return redirect("web:inbox")
    context = {**_notes_context(_user(request)), "announcement": said}
    return render(request, "web/_inbox_notes_changed.html", context)


@require_POST
@page(access_inbox)
def inbox_notes_read_all(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    unread = inbox_items(user=user, unread_only=True).values_list("pk", flat=True)
    changed = inbox_mark_read(user=user, item_ids=list(unread))
    said = f"{changed} notification{'s' if changed != 1 else ''} marked read."
    return _notes_response(request, said if changed else "Nothing was unread.")


@require_POST
@page(access_inbox)
def inbox_note_read(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    item = get_object_or_404(InboxItem, pk=pk, user=user)
    inbox_mark_read(user=user, item_ids=[item.pk])
    return _notes_response(request, f"“{item.title}” marked read.")


@require_GET
@page(access_inbox)
def inbox_note_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Opening a notification reads it (as opening a mail does), then goes where it leads."""
    user = _user(request)
    item = get_object_or_404(InboxItem, pk=pk, user=user)
    inbox_mark_read(user=user, item_ids=[item.pk])
    safe = url_has_allowed_host_and_scheme(
        item.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(item.link if item.link and safe else reverse("web:inbox"))
