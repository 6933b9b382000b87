"""Company memory: who may read which conversation or note, and an account's whole history.

Calls, meetings and emails are company memory: every staff user reads them, so a new owner or a
colleague sees the whole history. A note of personal context (Visibility.TEAM) is for its author,
the managers, and the team of whoever owns the relationship now (the current routing Ownership of
a person in it, of its account, or of a company those people work at now). A private note
(Visibility.AUTHOR) is for its author and the managers alone. Outside callers see what they saw
before: company memory not marked `private`.

Each check is one query with subqueries (no per-row checks), so a page or an API list filters
before it slices and counts.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from leadline.core.models import Account, Membership, Person, TimelineEvent
from leadline.core.permissions import access_people, is_manager, is_outside_caller
from leadline.core.selectors import account_people
from leadline.journeys.models import Conversation, Visibility
from leadline.journeys.selectors import (
    CONVERSATIONS_SHOWN,
    ConversationItem,
    PainSaid,
    conversations_query,
    quote_lines,
)
from leadline.routing.models import Ownership

# The account timeline's filter: what each choice shows (timeline event kinds, by prefix).
TIMELINE_SHOW: dict[str, tuple[str, tuple[str, ...]]] = {
    "all": ("Everything", ()),
    "conversations": ("Conversations and notes", ("conversation.",)),
    "touches": (
        "Touches",
        ("touch.", "call.", "mail.", "meeting.", "cadence.email", "cadence.task_done"),
    ),
    "requests": ("Requests", ("request.", "asset.", "handoff.")),
}


def _readable(user: Any) -> Q:
    """The condition on a Conversation (as the outer row) under which `user` may read it."""
    if is_outside_caller(user):
        return Q(private=False, visibility=Visibility.COMPANY)
    if not access_people(user):  # staff: logged in, active, not an outside caller
        return Q(pk__in=[])
    if is_manager(user):
        return Q()
    mine = Q(logged_by_id=user.pk)
    team = Q(pk__in=[])
    if user.team_id is not None:
        owned = Ownership.objects.filter(ended_at__isnull=True, owner__team_id=user.team_id)
        owned_people = owned.filter(person__isnull=False).values("person_id")
        owned_accounts = owned.filter(account__isnull=False).values("account_id")
        through = Conversation.people.through
        team = (
            Q(account_id__in=owned_accounts)
            | Exists(
                through.objects.filter(conversation_id=OuterRef("pk"), person_id__in=owned_people)
            )
            | Exists(
                through.objects.filter(
                    conversation_id=OuterRef("pk"),
                    person_id__in=Membership.objects.filter(
                        is_current=True, account_id__in=owned_accounts
                    ).values("person_id"),
                )
            )
        )
    return (
        Q(visibility=Visibility.COMPANY)
        | (Q(visibility=Visibility.TEAM) & (mine | team))
        | (Q(visibility=Visibility.AUTHOR) & mine)
    )


def conversations_visible(
    *, user: Any, conversations: QuerySet[Conversation]
) -> QuerySet[Conversation]:
    """The conversations of `conversations` this user may read (see the module's docstring)."""
    return conversations.filter(_readable(user))


def may_read(*, user: Any, conversation: Conversation) -> bool:
    """Whether this user may read this one conversation."""
    found = Conversation.objects.filter(pk=conversation.pk)
    return conversations_visible(user=user, conversations=found).exists()


def timeline_visible(*, user: Any, events: QuerySet[TimelineEvent]) -> QuerySet[TimelineEvent]:
    """The events of `events` this user may see: those that show a conversation (their data
    names a "conversation_id") only when the user may read that conversation. Filter before
    slicing."""
    readable = conversations_visible(user=user, conversations=Conversation.objects.all())
    return events.annotate(
        shown_conversation=Cast(KeyTextTransform("conversation_id", "data"), IntegerField())
    ).filter(
        Q(shown_conversation__isnull=True)
        | Exists(readable.filter(pk=OuterRef("shown_conversation")))
    )


def person_timeline_visible(*, person: Person, user: Any, limit: int = 200) -> Any:
    """A person's timeline, newest first, as this user may see it."""
    events = TimelineEvent.objects.filter(person=person).select_related("actor")
    return timeline_visible(user=user, events=events).order_by("-occurred_at", "-id")[:limit]


def account_events(*, account: Account) -> QuerySet[TimelineEvent]:
    """The account's own events and every event of the people who are, or were, its members.

    The members as `account_people`: with a subquery in the OR, PostgreSQL reads every
    timeline event; with their ids it takes both sides from their indexes."""
    return TimelineEvent.objects.filter(
        Q(account=account) | account_people("person_id", account=account)
    )


def account_timeline_all(
    *,
    account: Account,
    user: Any,
    limit: int = 200,
    show: str = "all",
    person: Person | None = None,
) -> QuerySet[TimelineEvent]:
    """Everything that happened with an account, newest first: its own events and every event
    of the people who are or were its members (every touch by anyone in the company), as this
    user may see them; each with who did it (`actor`) and with whom (`person`). `show`: a key
    of TIMELINE_SHOW; `person`: only the events with this person."""
    events = account_events(account=account)
    prefixes = TIMELINE_SHOW.get(show, TIMELINE_SHOW["all"])[1]
    if prefixes:
        kinds = Q(pk__in=[])
        for prefix in prefixes:
            kinds |= Q(kind__startswith=prefix)
        events = events.filter(kinds)
    if person is not None:
        events = events.filter(person=person)
    # The person by a second query on at most `limit` ids: joined, PostgreSQL may read them all.
    events = timeline_visible(
        user=user, events=events.select_related("actor").prefetch_related("person")
    ).order_by("-occurred_at", "-id")
    since = None if person is not None else _newest_own(account, kinds=prefixes, n=limit)
    if since is not None:
        newest = events.filter(occurred_at__gte=since)[:limit]
        if len(newest) >= limit:  # read (and kept) here; too few when some are hidden
            return newest
    return events[:limit]


def _newest_own(account: Account, *, kinds: tuple[str, ...], n: int) -> Any:
    """When the `n`th newest of the account's own events (of `kinds`, by prefix) happened, or
    None when it has fewer.

    The account's newest `n` events (its own and its people's) all happened then or later,
    so the timeline reads from that moment on: at a company of thousands a few hundred rows
    from the (person, time) index, not the tens of thousands of its whole history (read from
    the (account, time) index alone)."""
    own = TimelineEvent.objects.filter(account=account)
    if kinds:
        chosen = Q(pk__in=[])
        for prefix in kinds:
            chosen |= Q(kind__startswith=prefix)
        own = own.filter(chosen)
    found = list(own.order_by("-occurred_at").values_list("occurred_at", flat=True)[n - 1 : n])
    return found[0] if found else None


def account_timeline_people(*, account: Account) -> QuerySet[Person]:
    """The people an account timeline can be narrowed to: its members, now or before."""
    return Person.objects.filter(account_people("pk", account=account)).order_by(
        "last_name", "first_name", "pk"
    )


# The conversation lists ---------------------------------------------------------------------


def conversations_query_visible(
    *, user: Any, person: Person | None = None, account: Account | None = None
) -> QuerySet[Conversation]:
    """journeys.selectors.conversations_query, as this user may read it."""
    return conversations_visible(
        user=user, conversations=conversations_query(person=person, account=account)
    )


def conversations_of_visible(
    *,
    user: Any,
    person: Person | None = None,
    account: Account | None = None,
    limit: int | None = None,
) -> list[ConversationItem]:
    """The latest conversations a person took part in or an account held, as the pages list
    them (journeys.selectors.conversations_of), that this user may read."""
    found = conversations_query_visible(user=user, person=person, account=account)
    return [
        ConversationItem(
            conversation=c,
            people=list(c.people.all()),
            sellers=list(c.sellers.all()),
            quotes=quote_lines(c.quotes),
            suggestions=list(c.pain_points.all()),
        )
        for c in found[: limit or CONVERSATIONS_SHOWN]
    ]


def pains_said_visible(*, user: Any, said: list[PainSaid]) -> list[PainSaid]:
    """The pain points said to hurt, without the words heard in conversations this user may
    not read."""
    ids = {m.conversation.pk for s in said for m in s.mentions}
    if not ids:
        return said
    readable = set(
        conversations_visible(
            user=user, conversations=Conversation.objects.filter(pk__in=ids)
        ).values_list("pk", flat=True)
    )
    kept = []
    for s in said:
        mentions = [m for m in s.mentions if m.conversation.pk in readable]
        if mentions:
            kept.append(PainSaid(pain_point=s.pain_point, mentions=mentions))
    return kept
