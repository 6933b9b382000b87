"""Calendar invitations (RFC 5545 / iTIP RFC 5546) for meetings, made with `icalendar`.

METHOD:REQUEST invites (and, with a higher SEQUENCE, moves); METHOD:CANCEL calls it off. Times
are written in UTC, so no VTIMEZONE is needed and every calendar shows them in its own zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from leadline.booking.models import Meeting, MeetingStatus

Method = Literal["REQUEST", "CANCEL"]
PRODID = "-//Leadline//Booking//EN"


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def invitation(
    meeting: Meeting,
    *,
    method: Method,
    organizer_email: str,
    organizer_name: str,
    attendee_email: str,
    attendee_name: str,
    description: str,
    stamp: dt.datetime,
) -> str:
    """The .ics text for the meeting as it now stands (its UID, SEQUENCE, times, status)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", meeting.starts_at.astimezone(dt.UTC))
    event.add("dtend", meeting.ends_at.astimezone(dt.UTC))
    event.add("summary", meeting.title)
    event.add("description", description)
    if meeting.location:
        event.add("location", meeting.location)
    cancelled = method == "CANCEL" or meeting.status == MeetingStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("organizer", _address(organizer_email, organizer_name))
    event.add(
        "attendee",
        _address(
            attendee_email,
            attendee_name,
            ROLE="REQ-PARTICIPANT",
            PARTSTAT="NEEDS-ACTION",
            RSVP="TRUE",
        ),
    )
    calendar.add_component(event)
    return bytes(calendar.to_ical()).decode("utf-8")
