"""The signed links in a meeting's mail: to see it, move it or cancel it; and a booking page's
link for one person, which books for them without asking who they are.

Each kind of link has its own salt, so a "see" link cannot be turned into a "cancel" one, and
names the meeting and its sequence: moving or cancelling a meeting raises the sequence, so the
links of an older invitation stop working instead of undoing a newer change.
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.core import signing
from django.urls import reverse

from leadline.booking.models import BookingPage, Meeting
from leadline.core.models import Person

Action = Literal["view", "reschedule", "cancel"]
SALTS: dict[str, str] = {
    "view": "leadline.booking.meeting.view",
    "reschedule": "leadline.booking.meeting.reschedule",
    "cancel": "leadline.booking.meeting.cancel",
}
URL_NAMES: dict[str, str] = {
    "view": "booking:meeting",
    "reschedule": "booking:reschedule",
    "cancel": "booking:cancel",
}


INVITE_SALT = "leadline.booking.invite"


class StaleLink(Exception):
    """The link is genuine but from an older invitation: the meeting changed since."""


def meeting_token(meeting: Meeting, action: Action) -> str:
    return signing.dumps({"m": meeting.pk, "s": meeting.sequence}, salt=SALTS[action])


def meeting_token_read(token: str, action: Action) -> tuple[int, int]:
    """(meeting id, sequence) named by a genuine token; raises signing.BadSignature otherwise."""
    data = signing.loads(token, salt=SALTS[action])
    if not isinstance(data, dict):
        raise signing.BadSignature("not a meeting link")
    meeting_id, sequence = data.get("m"), data.get("s")
    if not isinstance(meeting_id, int) or not isinstance(sequence, int):
        raise signing.BadSignature("not a meeting link")
    return meeting_id, sequence


def meeting_path(meeting: Meeting, action: Action) -> str:
    return reverse(URL_NAMES[action], args=[meeting_token(meeting, action)])


def absolute(path: str, base: str = "") -> str:
    """A link for a mail: on the public address when one is set, else on `base` (the address
    the prospect reached us by), else as it is."""
    root = settings.PUBLIC_URL or base.rstrip("/")
    return root + path if root and path.startswith("/") else path


def invite_path(page: BookingPage, person: Person) -> str:
    """The booking page, for this person: what they book is theirs, with nothing to type but a
    time. Signed, naming the page too, so it cannot be moved onto another page or person."""
    token = signing.dumps({"p": person.pk, "g": page.pk}, salt=INVITE_SALT)
    return f"{reverse('booking:page', args=[page.slug])}?for={token}"


def invite_read(token: str, page: BookingPage) -> int:
    """The person id a genuine invitation to `page` names; raises signing.BadSignature otherwise."""
    data = signing.loads(token, salt=INVITE_SALT)
    if not isinstance(data, dict) or data.get("g") != page.pk or not isinstance(data.get("p"), int):
        raise signing.BadSignature("not an invitation to this page")
    return int(data["p"])
