"""Relationship health: for each relationship a seller holds, when we last really spoke, who is
waiting for an answer, which promises were broken, and who moves more, them or us. The "going
cold" lists name the relationships that need attention, with the reasons in plain words.

Reads only. `relationship_health` answers for any set of current ownerships in a fixed number of
queries, however many rows (each signal is one grouped query over the people involved).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet

from leadline.booking.models import Meeting, MeetingStatus
from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.core import clock
from leadline.core.models import Account, Membership, Person, Role, User
from leadline.inbound.models import InboundMessage, Kind
from leadline.journeys.models import Conversation, ConversationKind
from leadline.notify.models import OutgoingMail, SendStatus
from leadline.relationships.selectors import ownerships_current
from leadline.routing.models import CallOutcome, Ownership, Touch, TouchKind

# Reciprocity reads the last RECIPROCITY_DAYS; under RECIPROCITY_MIN moves in all, too few to say.
RECIPROCITY_DAYS = 90
RECIPROCITY_MIN = 3
# A message waiting longer than this for an answer makes the relationship go cold.
UNANSWERED_AFTER = dt.timedelta(days=2)
# A broken promise weighs on the relationship this long.
BROKEN_DAYS = 180
# Conversations that are a two-way touch (a note is only our own writing).
TWO_WAY_KINDS = (
    ConversationKind.CALL,
    ConversationKind.MEETING,
    ConversationKind.EMAIL,
    ConversationKind.CHAT,
    ConversationKind.EVENT,
)
SELLER_ROLES = (Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP)


class ReasonKind:
    """Why a relationship is going cold, worst first (the order the list sorts by)."""

    UNANSWERED = "unanswered"
    PROMISE = "promise"
    SILENT = "silent"


_REASON_RANK = {ReasonKind.UNANSWERED: 0, ReasonKind.PROMISE: 1, ReasonKind.SILENT: 2}


@dataclasses.dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    days: int  # how long it has been so (waiting, overdue, silent): longer is worse


@dataclasses.dataclass(frozen=True)
class Promise:
    id: int
    what: str
    due_at: dt.datetime
    status: str  # "broken" or "open" (open and past due)


@dataclasses.dataclass
class Health:
    """One relationship (a person or an account) and its signals at `at`."""

    ownership: Ownership
    at: dt.datetime
    is_active: bool
    account_name: str  # for a person: where they work now; for an account: ""
    last_touch_at: dt.datetime | None = None
    last_touch_kind: str = ""  # "call", "meeting", "email", "their email"
    unanswered: int = 0
    unanswered_since: dt.datetime | None = None
    promises: list[Promise] = dataclasses.field(default_factory=list)
    their_moves: int = 0
    our_moves: int = 0
    reasons: list[Reason] = dataclasses.field(default_factory=list)

    @property
    def owner(self) -> User:
        return self.ownership.owner

    @property
    def person(self) -> Person | None:
        return self.ownership.person

    @property
    def account(self) -> Account | None:
        return self.ownership.account

    @property
    def kind(self) -> str:
        return "person" if self.ownership.person_id is not None else "account"

    @property
    def name(self) -> str:
        return str(self.person if self.person is not None else self.account)

    @property
    def owned_since(self) -> dt.datetime:
        return self.ownership.started_at

    @property
    def days_since_touch(self) -> int | None:
        if self.last_touch_at is None:
            return None
        return max(0, (self.at - self.last_touch_at).days)

    @property
    def broken(self) -> int:
        return len(self.promises)

    @property
    def moves(self) -> int:
        return self.their_moves + self.our_moves

    @property
    def reciprocity(self) -> float | None:
        """Their share of the moves in the last RECIPROCITY_DAYS; None: too few to say."""
        if self.moves < RECIPROCITY_MIN:
            return None
        return self.their_moves / self.moves

    @property
    def reciprocity_text(self) -> str:
        share = self.reciprocity
        if share is None:
            return "too few to say"
        return f"{round(share * 100)}% theirs"

    @property
    def going_cold(self) -> bool:
        return bool(self.reasons)

    def sort_key(self) -> tuple[int, int, int, str]:
        """Worst first: someone waiting for an answer, then a promise not kept, then silence;
        within each, the longer it has been, the worse; then the more reasons."""
        if not self.reasons:
            return (len(_REASON_RANK), 0, 0, self.name.lower())
        worst = min(self.reasons, key=lambda r: (_REASON_RANK[r.kind], -r.days))
        return (_REASON_RANK[worst.kind], -worst.days, -len(self.reasons), self.name.lower())


# Words ------------------------------------------------------------------------------------------


def _zone(user: User) -> zoneinfo.ZoneInfo | dt.timezone:
    try:
        return zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _day(moment: dt.datetime, *, at: dt.datetime, user: User) -> str:
    """ "3 Oct", or "3 Oct 2025" when not this year, in the owner's time zone."""
    local, now = moment.astimezone(_zone(user)), at.astimezone(_zone(user))
    return f"{local.day} {local:%b}" + ("" if local.year == now.year else f" {local.year}")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _reasons(health: Health) -> list[Reason]:
    """Why the relationship needs attention, each a sentence, worst first."""
    at, owner = health.at, health.owner
    reasons: list[Reason] = []
    if health.unanswered_since is not None and at - health.unanswered_since > UNANSWERED_AFTER:
        reasons.append(
            Reason(
                ReasonKind.UNANSWERED,
                f"{_plural(health.unanswered, 'message', 'messages')} unanswered since "
                f"{_day(health.unanswered_since, at=at, user=owner)}",
                (at - health.unanswered_since).days,
            )
        )
    if health.promises:
        first = min(health.promises, key=lambda p: p.due_at)
        word = "broken" if first.status == CommitmentStatus.BROKEN else "overdue"
        due = _day(first.due_at, at=at, user=owner)
        if len(health.promises) == 1:
            text = f"Promise {word}: “{first.what}” (due {due})"
        else:
            text = (
                f"{len(health.promises)} promises broken or overdue, the oldest "
                f"“{first.what}” (due {due})"
            )
        reasons.append(Reason(ReasonKind.PROMISE, text, max(0, (at - first.due_at).days)))
    cold_days = settings.RELATIONSHIP_COLD_DAYS
    if health.is_active:
        if health.last_touch_at is not None:
            days = health.days_since_touch or 0
            if days > cold_days:
                last = _day(health.last_touch_at, at=at, user=owner)
                reasons.append(
                    Reason(
                        ReasonKind.SILENT,
                        f"No two-way touch in {days} days (last: {health.last_touch_kind} "
                        f"on {last})",
                        days,
                    )
                )
        else:
            owned = max(0, (at - health.owned_since).days)
            if owned > cold_days:
                reasons.append(
                    Reason(
                        ReasonKind.SILENT,
                        f"No two-way touch yet, in {owned} days since "
                        f"{_day(health.owned_since, at=at, user=owner)}",
                        owned,
                    )
                )
    return reasons


# Signals ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Signals:
    """What one person's rows say (an account sums its members' and adds its own)."""

    last_touch: tuple[dt.datetime, str] | None = None  # two-way: when, what
    last_ours: dt.datetime | None = None  # our latest outgoing touch, mail or conversation
    their_moves: int = 0
    our_moves: int = 0
    conversations: set[int] = dataclasses.field(default_factory=set)  # two-way, in the window


def _later(
    current: tuple[dt.datetime, str] | None, moment: dt.datetime | None, kind: str
) -> tuple[dt.datetime, str] | None:
    if moment is None or (current is not None and current[0] >= moment):
        return current
    return (moment, kind)


def _max(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def relationship_health(
    *, ownerships: QuerySet[Ownership] | Iterable[Ownership], at: dt.datetime | None = None
) -> list[Health]:
    """The health of each current ownership (a person, or an account through its current members
    and its own conversations), in the order given. Pass `ownerships_current(at=...)` (filtered)
    so `is_active` is known; without the annotation every relationship counts as active.

    A fixed number of queries however many rows: the ownerships, the memberships, then one
    grouped query per signal (conversations, touches, mails, replies, meetings, promises)."""
    at = at or clock.now()
    window = at - dt.timedelta(days=RECIPROCITY_DAYS)
    if isinstance(ownerships, QuerySet):
        ownerships = ownerships.select_related("owner", "person", "account")
    rows = list(ownerships)
    if not rows:
        return []
    person_ids = {o.person_id for o in rows if o.person_id is not None}
    account_ids = {o.account_id for o in rows if o.account_id is not None}

    # Who works where now: an owned person's company, an owned account's members.
    members: dict[int, set[int]] = defaultdict(set)
    works_at: dict[int, str] = {}
    for person_id, account_id, account_name in (
        Membership.objects.filter(is_current=True)
        .filter(Q(person_id__in=person_ids) | Q(account_id__in=account_ids))
        .order_by("-created_at", "-pk")
        .values_list("person_id", "account_id", "account__name")
    ):
        if account_id in account_ids:
            members[account_id].add(person_id)
        works_at.setdefault(person_id, account_name)
    people = person_ids | {p for ids in members.values() for p in ids}

    signals: dict[int, _Signals] = defaultdict(_Signals)
    account_signals: dict[int, _Signals] = defaultdict(_Signals)
    kind_words = {
        ConversationKind.CALL: "call",
        ConversationKind.MEETING: "meeting",
        ConversationKind.EMAIL: "email",
        ConversationKind.CHAT: "chat",
        ConversationKind.EVENT: "talk at an event",
    }

    # Conversations they took part in: the latest of each kind, and those in the window.
    through = Conversation.people.through.objects.filter(
        person_id__in=people,
        conversation__kind__in=TWO_WAY_KINDS,
        conversation__occurred_at__lte=at,
    )
    for person_id, kind, last in (
        through.values_list("person_id", "conversation__kind")
        .annotate(last=Max("conversation__occurred_at"))
        .order_by()
    ):
        s = signals[person_id]
        s.last_touch = _later(s.last_touch, last, kind_words[kind])
        s.last_ours = _max(s.last_ours, last)
    for person_id, conversation_id in through.filter(
        conversation__occurred_at__gte=window
    ).values_list("person_id", "conversation_id"):
        signals[person_id].conversations.add(conversation_id)

    # An account's own conversations (with or without people named).
    own = Conversation.objects.filter(
        account_id__in=account_ids, kind__in=TWO_WAY_KINDS, occurred_at__lte=at
    )
    for account_id, kind, last in (
        own.values_list("account_id", "kind").annotate(last=Max("occurred_at")).order_by()
    ):
        s = account_signals[account_id]
        s.last_touch = _later(s.last_touch, last, kind_words[kind])
        s.last_ours = _max(s.last_ours, last)
    for account_id, conversation_id in own.filter(occurred_at__gte=window).values_list(
        "account_id", "pk"
    ):
        account_signals[account_id].conversations.add(conversation_id)

    # Our touches: any is an outgoing move; a connected call is a two-way touch.
    connected = Q(kind=TouchKind.CALL, outcome=CallOutcome.CONNECTED)
    for person_id, last_any, last_connected, recent in (
        Touch.objects.filter(person_id__in=people, at__lte=at)
        .values("person_id")
        .annotate(
            last_any=Max("at"),
            last_connected=Max("at", filter=connected),
            recent=Count("pk", filter=Q(at__gte=window)),
        )
        .order_by()
        .values_list("person_id", "last_any", "last_connected", "recent")
    ):
        s = signals[person_id]
        s.last_touch = _later(s.last_touch, last_connected, "call")
        s.last_ours = _max(s.last_ours, last_any)
        s.our_moves += recent

    # Mails that left for them.
    for person_id, last, recent in (
        OutgoingMail.objects.filter(person_id__in=people, status=SendStatus.SENT, sent_at__lte=at)
        .values("person_id")
        .annotate(last=Max("sent_at"), recent=Count("pk", filter=Q(sent_at__gte=window)))
        .order_by()
        .values_list("person_id", "last", "recent")
    ):
        s = signals[person_id]
        s.last_ours = _max(s.last_ours, last)
        s.our_moves += recent

    # Booked meetings that took place: two-way, and a move of theirs.
    for person_id, last, recent in (
        Meeting.objects.filter(person_id__in=people, ends_at__lt=at)
        .exclude(status=MeetingStatus.CANCELLED)
        .values("person_id")
        .annotate(last=Max("ends_at"), recent=Count("pk", filter=Q(ends_at__gte=window)))
        .order_by()
        .values_list("person_id", "last", "recent")
    ):
        s = signals[person_id]
        s.last_touch = _later(s.last_touch, last, "meeting")
        s.their_moves += recent

    # Their mail (replies and new mail matched to them; not bounces or automatic replies).
    replies: dict[int, list[dt.datetime]] = defaultdict(list)
    for person_id, received in (
        InboundMessage.objects.filter(person_id__in=people, kind=Kind.REPLY, received_at__lte=at)
        .order_by("received_at")
        .values_list("person_id", "received_at")
    ):
        replies[person_id].append(received)
        s = signals[person_id]
        s.last_touch = _later(s.last_touch, received, "their email")
        if received >= window:
            s.their_moves += 1

    # Promises to them broken lately, or open and past due.
    promises: dict[int, list[Promise]] = defaultdict(list)
    for pk, person_id, what, due_at, status in (
        Commitment.objects.filter(person_id__in=people)
        .filter(
            Q(
                status=CommitmentStatus.BROKEN,
                broken_at__gte=at - dt.timedelta(days=BROKEN_DAYS),
                broken_at__lte=at,
            )
            | Q(status=CommitmentStatus.OPEN, due_at__lt=at)
        )
        .order_by("due_at", "pk")
        .values_list("pk", "person_id", "what", "due_at", "status")
    ):
        promises[person_id].append(Promise(pk, what, due_at, status))

    found: list[Health] = []
    for ownership in rows:
        if ownership.person_id is not None:
            ids = {ownership.person_id}
            extra = _Signals()
            account_name = works_at.get(ownership.person_id, "")
        else:
            assert ownership.account_id is not None
            ids = members.get(ownership.account_id, set())
            extra = account_signals.get(ownership.account_id, _Signals())
            account_name = ""
        health = Health(
            ownership=ownership,
            at=at,
            is_active=bool(getattr(ownership, "is_active", True)),
            account_name=account_name,
        )
        last_touch = extra.last_touch
        conversations = set(extra.conversations)
        waiting: list[dt.datetime] = []
        for person_id in ids:
            mine = signals.get(person_id) or _Signals()
            last_touch = _later(last_touch, *(mine.last_touch or (None, "")))
            conversations |= mine.conversations
            health.their_moves += mine.their_moves
            health.our_moves += mine.our_moves
            # Answered by anything of ours to them since (or a conversation with the account).
            ours = _max(mine.last_ours, extra.last_ours)
            waiting += [r for r in replies.get(person_id, []) if ours is None or r > ours]
            health.promises += promises.get(person_id, [])
        health.their_moves += len(conversations)
        if last_touch is not None:
            health.last_touch_at, health.last_touch_kind = last_touch
        if waiting:
            health.unanswered, health.unanswered_since = len(waiting), min(waiting)
        health.promises.sort(key=lambda p: (p.due_at, p.id))
        health.reasons = _reasons(health)
        found.append(health)
    return found


# The going-cold lists ---------------------------------------------------------------------------


def sellers_managed(*, user: User) -> QuerySet[User] | None:
    """The sellers whose relationships `user` may read besides their own: a manager's teams'
    sellers (and themselves); None for an admin (everyone); empty for anyone else."""
    if user.role == Role.ADMIN:
        return None
    if user.role != Role.SALES_MANAGER:
        return User.objects.none()
    return User.objects.filter(
        Q(team__manager=user, role__in=SELLER_ROLES) | Q(pk=user.pk)
    ).distinct()


def may_read_health_of(*, viewer: User, owner: User) -> bool:
    """A rep reads their own relationships; a manager their teams'; an admin everyone's."""
    if viewer.pk == owner.pk:
        return True
    managed = sellers_managed(user=viewer)
    return managed is None or managed.filter(pk=owner.pk).exists()


def health_of(*, owners: Iterable[User] | None, at: dt.datetime | None = None) -> list[Health]:
    """Every current relationship of these owners (None: everyone's), worst first."""
    at = at or clock.now()
    ownerships = ownerships_current(at=at)
    if owners is not None:
        ownerships = ownerships.filter(owner__in=[u.pk for u in owners])
    found = relationship_health(ownerships=ownerships.order_by("pk"), at=at)
    found.sort(key=Health.sort_key)
    return found


def going_cold(*, user: User, team: bool = False, at: dt.datetime | None = None) -> list[Health]:
    """The relationships going cold, worst first: `user`'s own, or with `team=True` a manager's
    team's (every seller in the teams they manage; an admin's: everyone's).

    Going cold: an active relationship with no two-way touch in RELATIONSHIP_COLD_DAYS (or none
    ever, when owned longer than that); and any relationship, active or not, with a message
    unanswered for more than two days or a promise broken or overdue."""
    owners: list[User] | None = [user]
    if team:
        managed = sellers_managed(user=user)
        owners = None if managed is None else [user, *managed]
    return [h for h in health_of(owners=owners, at=at) if h.going_cold]


def health_summary(health: Health) -> dict[str, Any]:
    """The figures and reasons as plain data (the API's item)."""
    return {
        "ownership_id": health.ownership.pk,
        "owner_id": health.owner.pk,
        "owner": str(health.owner),
        "kind": health.kind,
        "person_id": health.ownership.person_id,
        "account_id": health.ownership.account_id,
        "name": health.name,
        "account": health.account_name,
        "active": health.is_active,
        "owned_since": health.owned_since,
        "last_two_way_touch_at": health.last_touch_at,
        "last_two_way_touch": health.last_touch_kind,
        "days_since_two_way_touch": health.days_since_touch,
        "unanswered": health.unanswered,
        "unanswered_since": health.unanswered_since,
        "broken_promises": health.broken,
        "their_moves": health.their_moves,
        "our_moves": health.our_moves,
        "reciprocity": health.reciprocity,
        "going_cold": health.going_cold,
        "reasons": [r.text for r in health.reasons],
    }
