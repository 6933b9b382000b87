"""Reads for routing: the leak check, inboxes by deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Concat

from leadline.capture.models import Request, RequestStatus
from leadline.core import clock
from leadline.core.deadlines import next_due
from leadline.core.models import User
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.routing.models import RequestRouting, Step, Timer, Touch

# The `reason` of a mail a seller writes to a person about one of their requests (the inbox's
# "Email…"); its `subject_ref` is "request:<id>". Once sent, it counts as a touch.
REQUEST_EMAIL_REASON = "request.email"


@dataclasses.dataclass(frozen=True)
class Leak:
    request: Request
    why: str


def leaks() -> list[Leak]:
    """Every open request that could be dropped: no current owner, or neither a pending
    first-touch deadline nor a recorded first touch. The product's promise is that this is empty."""
    open_requests = Request.objects.filter(status=RequestStatus.OPEN).select_related(
        "person", "routing", "routing__owner"
    )
    found = []
    # An untouched request whose deadline has not come yet must have its breach step waiting,
    # or nobody would notice when it passes.
    breach_waiting = Timer.objects.filter(
        request=OuterRef("pk"), step=Step.BREACH, done_at__isnull=True
    )
    for request in open_requests.filter(
        Q(routing__isnull=True)
        | Q(routing__owner__isnull=True)
        | Q(routing__owner__is_active=False)
        | Q(routing__first_touch_due__isnull=True, routing__first_touched_at__isnull=True)
        | Q(
            routing__first_touched_at__isnull=True,
            routing__first_touch_due__gt=clock.now(),
        )
        & ~Exists(breach_waiting)
    ):
        routing = getattr(request, "routing", None)
        if routing is None:
            why = "never routed"
        elif routing.owner is None:
            why = "no owner"
        elif not routing.owner.is_active:
            why = f"owner {routing.owner} is deactivated"
        elif routing.first_touch_due is None:
            why = "no first-touch deadline and no touch"
        else:
            why = "no step waiting to notice a missed deadline"
        found.append(Leak(request=request, why=why))
    return found


def owner_open_requests(*, user: User) -> QuerySet[Request]:
    """A seller's open requests by deadline: the untouched ones first, the earliest first-touch
    deadline (so the overdue ones) at the top, then the touched ones, also by deadline.

    Explicit about empty values: databases disagree on where NULLs sort."""
    return (
        Request.objects.filter(status=RequestStatus.OPEN, routing__owner=user)
        .select_related("person", "account", "routing", "form", "asset")
        .annotate(
            touched=ExpressionWrapper(
                Q(routing__first_touched_at__isnull=False), output_field=BooleanField()
            )
        )
        .order_by(
            "touched",
            F("routing__first_touch_due").asc(nulls_last=True),
            "created_at",
            "pk",
        )
    )


def _micros(moment: dt.datetime | None) -> int:
    if moment is None:
        return 0
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


REQUEST_REF_PREFIX = "request:"


def request_ref(request_id: int) -> str:
    """How mail and notifications name a request (their `subject_ref`)."""
    return f"{REQUEST_REF_PREFIX}{request_id}"


def request_id_from_ref(ref: str) -> int | None:
    """The request a `subject_ref` names, or None when it names something else."""
    if not ref.startswith(REQUEST_REF_PREFIX):
        return None
    number = ref.removeprefix(REQUEST_REF_PREFIX)
    return int(number) if number.isdigit() else None


def owner_open_requests_version(*, user: User, at: dt.datetime) -> tuple[int, ...]:
    """A cheap fingerprint of what `owner_open_requests` shows, in two aggregate queries.

    It changes when a request is routed to the seller or away from them, is touched or closed,
    passes its first-touch deadline (as of `at`), or when a mail they wrote about one of them
    is queued, sent or fails. Whole numbers, so a page can hold it as text.
    """
    routing = RequestRouting.objects.filter(
        owner=user, request__status=RequestStatus.OPEN
    ).aggregate(
        count=Count("pk"),
        last_assigned=Max("assigned_at"),
        touched=Count("first_touched_at"),
        last_touched=Max("first_touched_at"),
        overdue=Count("pk", filter=Q(first_touched_at__isnull=True, first_touch_due__lte=at)),
    )
    refs = (
        Request.objects.filter(status=RequestStatus.OPEN, routing__owner=user)
        .annotate(ref=Concat(Value(REQUEST_REF_PREFIX), Cast("pk", CharField())))
        .values("ref")
    )
    mail = OutgoingMail.objects.filter(reason=REQUEST_EMAIL_REASON, subject_ref__in=refs).aggregate(
        last=Max("pk"),
        settled=Count("pk", filter=Q(status__in=[SendStatus.SENT, SendStatus.FAILED])),
    )
    return (
        routing["count"],
        _micros(routing["last_assigned"]),
        routing["touched"],
        _micros(routing["last_touched"]),
        routing["overdue"],
        mail["last"] or 0,
        mail["settled"],
    )


def first_touches(*, requests: Iterable[Request]) -> dict[int, Touch]:
    """For each touched request, the touch that was its first (the one whose time
    `touch_record` wrote as the request's `first_touched_at`), in one query."""
    wanted = {
        (r.person_id, r.routing.first_touched_at): r.pk
        for r in requests
        if getattr(r, "routing", None) is not None and r.routing.first_touched_at is not None
    }
    if not wanted:
        return {}
    touches = Touch.objects.filter(
        person_id__in={person for person, _ in wanted},
        at__in={at for _, at in wanted},
    ).order_by("-at", "-pk")
    found: dict[int, Touch] = {}
    for touch in touches:
        request_id = wanted.get((touch.person_id, touch.at))
        if request_id is not None:
            found[request_id] = touch  # the earliest of equals wins: the list runs newest first
    return found


def request_mail_latest(*, request_ids: Iterable[int]) -> dict[int, OutgoingMail]:
    """The newest mail a seller wrote about each of these requests, in one query."""
    refs = {request_ref(pk): pk for pk in request_ids}
    if not refs:
        return {}
    mails = OutgoingMail.objects.filter(
        reason=REQUEST_EMAIL_REASON, subject_ref__in=list(refs)
    ).order_by("pk")
    return {refs[mail.subject_ref]: mail for mail in mails}


def timer_next_due() -> dt.datetime | None:
    """When the next escalation step falls due, if any is waiting."""
    return next_due(Timer.objects.filter(done_at__isnull=True))
