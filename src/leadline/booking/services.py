"""Writes for booking: bookable hours, booking pages, and meetings booked, moved and cancelled.

A booking locks the sellers it could go to (their user rows, in id order), reads their free slots
again and only then takes one, so two prospects who pick the same time a moment apart cannot both
get it: the second finds the slot gone and hears "that time was just taken". A unique constraint
(one booked meeting per host and start) backs that up.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.module_loading import import_string

from leadline.booking import ics
from leadline.booking.links import StaleLink, absolute, meeting_path
from leadline.booking.models import (
    BookableHours,
    BookingPage,
    Meeting,
    MeetingOutcome,
    MeetingSource,
    MeetingStatus,
)
from leadline.booking.selectors import (
    appointment_page,
    host_zone,
    may_record_outcome,
    page_hosts,
    round_robin_pick,
    zone_name,
)
from leadline.booking.selectors import free_slots as free_slots
from leadline.booking.slots import Slot
from leadline.cadences.services import enrolments_stop
from leadline.calls.models import CallTask
from leadline.calls.services import call_task_log
from leadline.capture.models import Request, RequestStatus
from leadline.capture.services import email_normalise, person_create
from leadline.core import clock
from leadline.core.models import Person, Team, User
from leadline.core.selectors import person_email, unassignable_because
from leadline.core.services import audit_record, timeline_record
from leadline.engagement.services import handoff_create
from leadline.notify.services import MailAttachment, mail_send, notify_user
from leadline.routing.business_hours import WorkingHours
from leadline.routing.models import TouchKind
from leadline.routing.services import touch_record

__all__ = [
    "SlotUnavailable",
    "StaleLink",
    "bookable_hours_set",
    "booking_page_create",
    "booking_page_update",
    "call_appointment_set",
    "free_slots",
    "meeting_book",
    "meeting_cancel",
    "meeting_outcome_record",
    "meeting_reschedule",
]

PAGE_FIELDS = (
    "title",
    "intro",
    "length_minutes",
    "buffer_minutes",
    "notice_minutes",
    "horizon_days",
    "location",
    "active",
)


class SlotUnavailable(Exception):
    """The time cannot be booked (any more): someone else took it, or it is not a free slot."""


TAKEN = "That time was just taken. Please pick another."


# Bookable hours and pages --------------------------------------------------------------------


def bookable_hours_set(*, user: User, hours: str, actor: User | None) -> BookableHours:
    """Set when `user` takes meetings, e.g. "Mon-Thu 10:00-12:00, 14:00-16:30" in their own
    time zone. Raises ValidationError naming what is wrong."""
    text = " ".join(hours.split())
    try:
        WorkingHours.parse(text, time_zone=host_zone(user))
    except ValueError as exc:
        raise ValidationError({"hours": str(exc)}) from None
    with transaction.atomic():
        row, _ = BookableHours.objects.update_or_create(
            user=user, defaults={"hours": text, "updated_at": clock.now()}
        )
        audit_record(actor=actor, action="booking.hours_set", obj=row, data={"hours": text})
    return row


def _page_clean(page: BookingPage) -> None:
    page.full_clean(exclude=["created_by", "user", "team"])
    if (page.user_id is None) == (page.team_id is None):
        raise ValidationError("A booking page is for one seller or for one team.")


def booking_page_create(
    *,
    slug: str,
    title: str,
    actor: User | None,
    user: User | None = None,
    team: Team | None = None,
    **fields: Any,
) -> BookingPage:
    """A page of one seller's (`user`) or a team's (round robin among its sellers)."""
    unknown = set(fields) - set(PAGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown booking page fields: {', '.join(sorted(unknown))}")
    page = BookingPage(
        slug=slug.strip().lower(),
        title=title.strip(),
        user=user,
        team=team,
        created_by=actor,
        created_at=clock.now(),
        **fields,
    )
    _page_clean(page)
    with transaction.atomic():
        page.save()
        audit_record(actor=actor, action="booking.page_create", obj=page, data={"slug": page.slug})
    return page


def booking_page_update(
    *, page: BookingPage, actor: User | None, changes: dict[str, Any]
) -> BookingPage:
    unknown = set(changes) - set(PAGE_FIELDS) - {"slug"}
    if unknown:
        raise TypeError(f"unknown booking page fields: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(page, name, value)
    _page_clean(page)
    with transaction.atomic():
        page.save()
        audit_record(
            actor=actor,
            action="booking.page_update",
            obj=page,
            data={k: str(v) for k, v in changes.items()},
        )
    return page


# Booking -------------------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(zone_name(name) or "UTC")


def when_text(moment: dt.datetime, zone_name_: str) -> str:
    """ "Tuesday 24 November 2026, 15:30 (Europe/Berlin)": how a mail says when."""
    zone = zone_name(zone_name_) or "UTC"
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone})"


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError({"starts_at": "The time must say its time zone."})
    return moment.astimezone(dt.UTC)


def _lock_hosts(ids: list[int]) -> None:
    # One booking at a time per seller: every booking that could go to them waits here.
    list(
        User.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk")
    )


def _slot_at(slots: list[Slot], starts_at: dt.datetime) -> Slot | None:
    return next((s for s in slots if s.starts_at == starts_at), None)


def _open_request(person: Person) -> Request | None:
    return (
        Request.objects.filter(person=person, status=RequestStatus.OPEN)
        .order_by("-created_at", "-id")
        .first()
    )


def _person_for_booking(*, name: str, email: str, time_zone: str, actor: User | None) -> Person:
    email = email_normalise(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter your name."})
    first, _, last = name.partition(" ")
    fields: dict[str, Any] = {"first_name": first[:120], "last_name": last[:120]}
    if time_zone:
        fields["time_zone"] = time_zone
    person, _ = person_create(email=email, fields=fields, actor=actor, source="booking page")
    return person


def meeting_book(
    *,
    page: BookingPage,
    starts_at: dt.datetime,
    person: Person | None = None,
    name: str = "",
    email: str = "",
    time_zone: str = "",
    note: str = "",
    booked_by: User | None = None,
    company: str = "",
    source: str = MeetingSource.BOOKING_PAGE,
    source_ref: str = "",
    link_base: str = "",
) -> Meeting:
    """Books a free slot (round robin for a team page), mails the .ics invitation, records a first
    touch (routing TouchKind.MEETING) and a handoff (engagement.handoff_create trigger
    "appointment"), stops cadences (enrolments_stop reason "meeting_booked"), notifies the host's
    inbox. Raises SlotUnavailable if the slot is no longer free; ValidationError for bad input.

    `person`, or `name` and `email` (the person is found by the address, or made);
    `time_zone`: the prospect's (IANA); `link_base`: the address the prospect reached us by,
    for the links in the mail when settings.PUBLIC_URL is not set."""
    starts_at = _as_utc(starts_at)
    if time_zone and not zone_name(time_zone):
        raise ValidationError({"time_zone": f"Unknown time zone: {time_zone}"})
    if source not in MeetingSource.values:
        raise ValidationError({"source": f"Unknown source: {source}"})
    if not page.active:
        raise SlotUnavailable("This booking page is closed.")
    now = clock.now()
    if page.user is not None and (gone := unassignable_because(page.user, at=now)) is not None:
        # A seller who has left takes no meetings: the page says so rather than booking them.
        raise ValidationError(
            {"host": f"{page.user} no longer takes bookings ({gone}). Please contact us instead."}
        )
    with transaction.atomic():
        if person is None:
            person = _person_for_booking(
                name=name, email=email, time_zone=time_zone, actor=booked_by
            )
        elif time_zone and not person.time_zone:
            Person.objects.filter(pk=person.pk).update(time_zone=time_zone)
            person.time_zone = time_zone
        hosts = page_hosts(page)
        _lock_hosts([h.pk for h in hosts])
        slot = _slot_at(
            free_slots(
                page=page, start=starts_at, end=starts_at + dt.timedelta(seconds=1), hosts=hosts
            ),
            starts_at,
        )
        if slot is None:
            raise SlotUnavailable(TAKEN)
        host_id = round_robin_pick(page=page, candidates=slot.hosts, at=now)
        host = next(h for h in hosts if h.pk == host_id)
        try:
            with transaction.atomic():
                meeting = Meeting.objects.create(
                    host=host,
                    person=person,
                    page=page,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    time_zone=time_zone or person.time_zone,
                    title=page.title,
                    location=page.location,
                    note=note.strip(),
                    company=company.strip()[:200],
                    booked_by=booked_by,
                    source=source,
                    source_ref=source_ref,
                    uid=f"{uuid.uuid4()}@leadline",
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            raise SlotUnavailable(TAKEN) from None
        when = when_text(meeting.starts_at, host_zone(host))
        by = f" (booked by {booked_by})" if booked_by else ""
        timeline_record(
            kind="meeting.booked",
            summary=f"Booked “{meeting.title}” with {host} for {when}{by}",
            person=person,
            actor=booked_by,
            occurred_at=now,
            data={
                "meeting_id": meeting.pk,
                "host_id": host.pk,
                "page": page.slug,
                "starts_at": meeting.starts_at.isoformat(),
                "source": source,
            },
        )
        _after_booking(meeting=meeting, person=person, host=host, booked_by=booked_by, at=now)
        _invitations_send(meeting=meeting, method="REQUEST", link_base=link_base, at=now)
        notify_user(
            user=host,
            kind="meeting.booked",
            title=f"Meeting booked: {person} — {when}",
            body=_host_body(meeting, booked_by=booked_by),
            link=reverse("web:person", args=[person.pk]),
            person=person,
            subject_ref=f"meeting:{meeting.pk}",
            # The host gets the calendar invitation by mail; the inbox item is enough here.
            by_mail=False,
        )
    return meeting


def _after_booking(
    *, meeting: Meeting, person: Person, host: User, booked_by: User | None, at: dt.datetime
) -> None:
    """A booked meeting is a first touch, a handoff to sales and the end of any cadence."""
    request = _open_request(person)
    if request is not None:
        touch_record(
            request=request,
            user=host,
            kind=TouchKind.MEETING,
            note=f"Meeting booked for {when_text(meeting.starts_at, host_zone(host))}",
            at=at,
        )
    handoff_create(
        person=person,
        trigger="appointment",
        actor=booked_by,
        note=f"Meeting “{meeting.title}” booked with {host}",
        request=request,
        owner=host,
        at=at,
    )
    enrolments_stop(person=person, reason="meeting_booked", detail=f"meeting:{meeting.pk}", at=at)


def _host_body(meeting: Meeting, *, booked_by: User | None) -> str:
    lines = [f"{meeting.title}: {when_text(meeting.starts_at, host_zone(meeting.host))}"]
    if meeting.company:
        lines.append(f"Company: {meeting.company}")
    if meeting.note:
        lines.append(f"They wrote: {meeting.note}")
    if booked_by:
        lines.append(f"Booked by {booked_by}")
    return "\n".join(lines)


def _invitations_send(
    *, meeting: Meeting, method: ics.Method, link_base: str, at: dt.datetime
) -> None:
    """The invitation (or its cancellation) to the prospect and to the host, each with the .ics."""
    host, person = meeting.host, meeting.person
    prospect_email = person_email(person)
    host_email = host.email
    organizer = host_email or prospect_email
    if not organizer:
        return
    reschedule = absolute(meeting_path(meeting, "reschedule"), link_base)
    cancel = absolute(meeting_path(meeting, "cancel"), link_base)
    if method == "CANCEL":
        description = "This meeting was cancelled."
    else:
        description = (
            f"{meeting.title} with {host}."
            + (f"\nWhere: {meeting.location}" if meeting.location else "")
            + f"\n\nNeed another time? {reschedule}\nCan't make it? {cancel}"
        )
    calendar = ics.invitation(
        meeting,
        method=method,
        organizer_email=organizer,
        organizer_name=str(host),
        attendee_email=prospect_email or organizer,
        attendee_name=str(person),
        description=description,
        stamp=at,
    )
    attachment = MailAttachment(
        "cancel.ics" if method == "CANCEL" else "invite.ics", calendar, "text/calendar"
    )
    moved = meeting.sequence > 0 and method == "REQUEST"
    verb = "Cancelled" if method == "CANCEL" else "Moved" if moved else "Invitation"
    ref = f"meeting:{meeting.pk}"
    if prospect_email:
        when = when_text(meeting.starts_at, meeting.time_zone)
        if method == "CANCEL":
            text = (
                f"Hello {person.first_name or person},\n\n{meeting.title} on {when} is cancelled."
            )
        else:
            text = (
                f"Hello {person.first_name or person},\n\n"
                f"{meeting.title} with {host}: {when}.\n"
                + (f"Where: {meeting.location}\n" if meeting.location else "")
                + "\nThe invitation is attached: open it to add the meeting to your calendar.\n\n"
                f"Need another time? {reschedule}\nCan't make it? {cancel}\n"
            )
        mail_send(
            to=[prospect_email],
            subject=f"{verb}: {meeting.title} with {host} — {when}",
            text=text,
            reason=f"meeting.{method.lower()}",
            person=person,
            subject_ref=ref,
            attachments=[attachment],
        )
    if host_email:
        when = when_text(meeting.starts_at, host_zone(host))
        mail_send(
            to=[host_email],
            subject=f"{verb}: {meeting.title} with {person} — {when}",
            text=_host_body(meeting, booked_by=meeting.booked_by)
            + f"\n\n{absolute(reverse('web:person', args=[person.pk]), link_base)}\n",
            reason=f"meeting.{method.lower()}",
            user=host,
            subject_ref=ref,
            attachments=[attachment],
        )


def _meeting_locked(meeting: Meeting, expected_sequence: int | None) -> Meeting:
    locked = (
        Meeting.objects.select_for_update(of=("self",))
        .select_related("host", "person", "page", "booked_by")
        .get(pk=meeting.pk)
    )
    if expected_sequence is not None and locked.sequence != expected_sequence:
        raise StaleLink("This link is from an older invitation: use the one in the latest mail.")
    return locked


def meeting_reschedule(
    *,
    meeting: Meeting,
    starts_at: dt.datetime,
    actor: User | None = None,
    expected_sequence: int | None = None,
    link_base: str = "",
) -> Meeting:
    """Move a booked meeting to another free slot of the same host: SEQUENCE goes up, a new
    invitation (METHOD:REQUEST) replaces the old one in both calendars, older links stop
    working. `expected_sequence`: the sequence the link named (StaleLink if it changed)."""
    starts_at = _as_utc(starts_at)
    now = clock.now()
    with transaction.atomic():
        _lock_hosts([meeting.host_id])
        meeting = _meeting_locked(meeting, expected_sequence)
        if meeting.status != MeetingStatus.BOOKED:
            raise SlotUnavailable("This meeting was cancelled.")
        if meeting.page is None:
            raise SlotUnavailable("This meeting's booking page is gone: ask for a new time.")
        slot = _slot_at(
            free_slots(
                page=meeting.page,
                start=starts_at,
                end=starts_at + dt.timedelta(seconds=1),
                hosts=[meeting.host],
                exclude_meeting=meeting,
            ),
            starts_at,
        )
        if slot is None:
            raise SlotUnavailable(TAKEN)
        before = meeting.starts_at
        meeting.starts_at, meeting.ends_at = slot.starts_at, slot.ends_at
        meeting.sequence += 1
        meeting.updated_at = now
        try:
            with transaction.atomic():
                meeting.save(update_fields=["starts_at", "ends_at", "sequence", "updated_at"])
        except IntegrityError:
            raise SlotUnavailable(TAKEN) from None
        zone = host_zone(meeting.host)
        timeline_record(
            kind="meeting.rescheduled",
            summary=f"“{meeting.title}” with {meeting.host} moved from {when_text(before, zone)} "
            f"to {when_text(meeting.starts_at, zone)}",
            person=meeting.person,
            actor=actor,
            occurred_at=now,
            data={
                "meeting_id": meeting.pk,
                "from": before.isoformat(),
                "to": meeting.starts_at.isoformat(),
                "sequence": meeting.sequence,
            },
        )
        _invitations_send(meeting=meeting, method="REQUEST", link_base=link_base, at=now)
        notify_user(
            user=meeting.host,
            kind="meeting.rescheduled",
            title=f"Meeting moved: {meeting.person} — {when_text(meeting.starts_at, zone)}",
            link=reverse("web:person", args=[meeting.person_id]),
            person=meeting.person,
            subject_ref=f"meeting:{meeting.pk}",
            by_mail=False,
        )
    return meeting


def meeting_cancel(
    *,
    meeting: Meeting,
    actor: User | None = None,
    reason: str = "",
    expected_sequence: int | None = None,
    link_base: str = "",
) -> Meeting:
    """Call a meeting off: the slot is free again and both calendars get METHOD:CANCEL. A meeting
    already cancelled is returned as it is."""
    now = clock.now()
    with transaction.atomic():
        meeting = _meeting_locked(meeting, expected_sequence)
        if meeting.status == MeetingStatus.CANCELLED:
            return meeting
        meeting.status = MeetingStatus.CANCELLED
        meeting.cancelled_at = now
        meeting.updated_at = now
        meeting.sequence += 1
        meeting.save(update_fields=["status", "cancelled_at", "updated_at", "sequence"])
        who = f"by {actor}" if actor else "by the prospect"
        zone = host_zone(meeting.host)
        timeline_record(
            kind="meeting.cancelled",
            summary=f"“{meeting.title}” with {meeting.host} on "
            f"{when_text(meeting.starts_at, zone)} cancelled {who}"
            + (f": {reason.strip()}" if reason.strip() else ""),
            person=meeting.person,
            actor=actor,
            occurred_at=now,
            data={"meeting_id": meeting.pk, "reason": reason.strip()},
        )
        _invitations_send(meeting=meeting, method="CANCEL", link_base=link_base, at=now)
        if actor is None or actor.pk != meeting.host_id:
            notify_user(
                user=meeting.host,
                kind="meeting.cancelled",
                title=f"Meeting cancelled: {meeting.person} — {when_text(meeting.starts_at, zone)}",
                body=reason.strip(),
                link=reverse("web:person", args=[meeting.person_id]),
                person=meeting.person,
                subject_ref=f"meeting:{meeting.pk}",
                by_mail=False,
            )
    return meeting


OUTCOME_WORDS = {MeetingOutcome.HELD: "held", MeetingOutcome.NO_SHOW: "a no-show"}


def meeting_outcome_record(*, meeting: Meeting, outcome: str, actor: User) -> Meeting:
    """Say whether a meeting took place: "held" or "no_show". The host, their team's manager or
    an admin may; not before it starts; a cancelled meeting refuses. Recording the same outcome
    again changes nothing (no second timeline row); another outcome replaces it. On "held" each
    of settings.BOOKING_MEETING_HELD_HANDLERS is called with meeting= in the same transaction
    (booking imports no app further down: feedback asks the prospect for a rating there)."""
    if outcome not in (MeetingOutcome.HELD, MeetingOutcome.NO_SHOW):
        raise ValidationError({"outcome": 'The outcome is "held" or "no_show".'})
    now = clock.now()
    with transaction.atomic():
        meeting = _meeting_locked(meeting, None)
        if not may_record_outcome(actor, meeting):
            raise PermissionDenied("Only the host, their manager or an admin may say this.")
        if meeting.status == MeetingStatus.CANCELLED:
            raise ValidationError({"outcome": "This meeting was cancelled."})
        if meeting.starts_at > now:
            raise ValidationError({"outcome": "This meeting has not started yet."})
        if meeting.outcome == outcome:
            return meeting
        before = meeting.outcome
        meeting.outcome = outcome
        meeting.outcome_at = now
        meeting.outcome_by = actor
        meeting.updated_at = now
        meeting.save(update_fields=["outcome", "outcome_at", "outcome_by", "updated_at"])
        when = when_text(meeting.starts_at, host_zone(meeting.host))
        timeline_record(
            kind=f"meeting.{outcome}",
            summary=f"“{meeting.title}” with {meeting.host} on {when} was "
            f"{OUTCOME_WORDS[MeetingOutcome(outcome)]}",
            person=meeting.person,
            actor=actor,
            occurred_at=now,
            data={"meeting_id": meeting.pk, "outcome": outcome, "before": before},
        )
        audit_record(
            actor=actor,
            action="booking.meeting_outcome",
            obj=meeting,
            data={"outcome": outcome, "before": before},
        )
        if outcome == MeetingOutcome.HELD:
            for path in settings.BOOKING_MEETING_HELD_HANDLERS:
                import_string(path)(meeting=meeting)
    return meeting


def call_appointment_set(
    *, task: CallTask, starts_at: dt.datetime, actor: User, note: str = ""
) -> Meeting:
    """An outside caller (or rep) sets an appointment from a call task: books with the person's
    owner if they have one and they are bookable, else round robin on the default team page, and
    logs the task's outcome "appointment_set" (calls.services.call_task_log)."""
    person = task.person
    page = appointment_page(person=person)
    if page is None:
        raise SlotUnavailable("There is no booking page to set the appointment on.")
    with transaction.atomic():
        meeting = meeting_book(
            page=page,
            starts_at=starts_at,
            person=person,
            time_zone=person.time_zone,
            note=note,
            booked_by=actor,
            source=MeetingSource.CALL,
            source_ref=f"call_task:{task.pk}",
        )
        call_task_log(
            task=task,
            outcome="appointment_set",
            note=(note.strip() + "\n" if note.strip() else "")
            + f"Meeting with {meeting.host} on {when_text(meeting.starts_at, person.time_zone)}",
            actor=actor,
        )
    return meeting
