"""What makes a relationship active, and so count against its owner's cap: the lead's
`ownerships_current` / `relationship_loads`, and routing, which counts through them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from leadline.capture.models import RequestStatus
from leadline.core.models import Account, Person, Role, Team, User
from leadline.relationships.selectors import (
    active_relationships,
    ownerships_current,
    relationship_loads,
)
from leadline.routing import services as routing
from leadline.routing.models import Ownership, RoutingRule, Touch, TouchKind
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
DAY = dt.timedelta(days=1)


@pytest.fixture
def rita() -> User:
    return factories.user(username="rita", first_name="Rita", last_name="Alves")


def _owned(owner: User) -> Person:
    someone = factories.person()
    Ownership.objects.create(owner=owner, person=someone)
    return someone


def _active(**of: object) -> bool:
    return ownerships_current().get(**of).is_active  # type: ignore[attr-defined, no-any-return]


# A person ----------------------------------------------------------------------------------------


def test_a_person_with_nothing_going_on_is_dormant(rita: User) -> None:
    ann = _owned(rita)
    assert _active(person=ann) is False
    assert relationship_loads(user_ids=[rita.pk]) == {}
    assert active_relationships(user=rita) == 0


def test_an_open_request_makes_a_person_active_and_a_closed_one_does_not(rita: User) -> None:
    ann, bob = _owned(rita), _owned(rita)
    factories.person_request(person=ann, status=RequestStatus.OPEN)
    factories.person_request(person=bob, status=RequestStatus.CLOSED)
    assert _active(person=ann) is True
    assert _active(person=bob) is False
    assert active_relationships(user=rita) == 1


def test_an_open_deal_makes_a_person_active_and_a_won_one_does_not(rita: User) -> None:
    ann, bob = _owned(rita), _owned(rita)
    factories.deal(person=ann, status="open")
    factories.deal(person=bob, status="won")
    assert (_active(person=ann), _active(person=bob)) == (True, False)


def test_a_touch_keeps_a_person_active_for_exactly_the_window(rita: User) -> None:
    days = settings.RELATIONSHIP_ACTIVE_DAYS
    edge, past = _owned(rita), _owned(rita)
    Touch.objects.create(person=edge, user=rita, kind=TouchKind.EMAIL, at=NOW - days * DAY)
    Touch.objects.create(
        person=past, user=rita, kind=TouchKind.EMAIL, at=NOW - days * DAY - dt.timedelta(seconds=1)
    )
    assert _active(person=edge) is True
    assert _active(person=past) is False
    # Measured from `at`: a day later the edge touch is out of the window too.
    later = {o.person_id: o.is_active for o in ownerships_current(at=NOW + DAY)}  # type: ignore[attr-defined]
    assert later == {edge.pk: False, past.pk: False}


def test_a_conversation_makes_a_person_active_within_the_window(rita: User) -> None:
    recent, old = _owned(rita), _owned(rita)
    factories.conversation(people=[recent], occurred_at=NOW - 10 * DAY)
    factories.conversation(people=[old], occurred_at=NOW - 91 * DAY)
    assert (_active(person=recent), _active(person=old)) == (True, False)


def test_an_ended_ownership_is_not_counted(rita: User) -> None:
    tom = factories.user(username="tom")
    ann = factories.person()
    Ownership.objects.create(owner=rita, person=ann, ended_at=NOW - DAY)
    Ownership.objects.create(owner=tom, person=ann)
    Touch.objects.create(person=ann, user=tom, kind=TouchKind.CALL, outcome="connected")
    assert relationship_loads(user_ids=[rita.pk, tom.pk]) == {tom.pk: 1}
    assert not ownerships_current().filter(owner=rita).exists()


def test_loads_count_per_owner_in_one_query(rita: User, django_assert_num_queries: object) -> None:
    tom = factories.user(username="tom")
    factories.owned_people(owner=rita, count=3)
    factories.owned_people(owner=rita, count=2, active=False)
    factories.owned_people(owner=tom, count=1)
    with django_assert_num_queries(1):  # type: ignore[operator]
        loads = relationship_loads(user_ids=[rita.pk, tom.pk])
    assert loads == {rita.pk: 3, tom.pk: 1}


# An account --------------------------------------------------------------------------------------


@pytest.fixture
def acme(rita: User) -> tuple[Account, Person]:
    """Acme, owned by Rita, and Ann who works there now (her own relationship is nobody's)."""
    account = factories.account(name="Acme")
    Ownership.objects.create(owner=rita, account=account)
    ann = factories.person(first_name="Ann")
    factories.membership(person=ann, account=account)
    return account, ann


def test_an_account_with_nothing_going_on_is_dormant(acme: tuple[Account, Person]) -> None:
    account, _ = acme
    assert _active(account=account) is False


def test_an_open_request_or_deal_of_the_account_makes_it_active(
    acme: tuple[Account, Person],
) -> None:
    account, ann = acme
    factories.person_request(person=ann, account=account, status=RequestStatus.OPEN)
    assert _active(account=account) is True

    other = factories.account()
    Ownership.objects.create(owner=User.objects.get(username="rita"), account=other)
    factories.deal(account=other, status="open")
    assert _active(account=other) is True


def test_a_touch_with_a_current_member_makes_the_account_active(
    acme: tuple[Account, Person],
) -> None:
    account, ann = acme
    Touch.objects.create(person=ann, kind=TouchKind.EMAIL, at=NOW - 5 * DAY)
    assert _active(account=account) is True


def test_a_touch_with_a_former_member_does_not(acme: tuple[Account, Person]) -> None:
    account, _ = acme
    gone = factories.person()
    factories.membership(person=gone, account=account, is_current=False)
    Touch.objects.create(person=gone, kind=TouchKind.EMAIL, at=NOW - 5 * DAY)
    assert _active(account=account) is False


def test_a_conversation_about_the_account_or_with_a_member_makes_it_active(
    acme: tuple[Account, Person],
) -> None:
    account, _ = acme
    outsider = factories.person()
    factories.conversation(people=[outsider], account=account, occurred_at=NOW - 3 * DAY)
    assert _active(account=account) is True

    other = factories.account()
    Ownership.objects.create(owner=User.objects.get(username="rita"), account=other)
    bea = factories.person()
    factories.membership(person=bea, account=other)
    # Logged with the member alone, the account not named: still a conversation with them.
    factories.conversation(people=[bea], occurred_at=NOW - 3 * DAY)
    assert _active(account=other) is True


def test_an_old_member_touch_is_outside_the_window(acme: tuple[Account, Person]) -> None:
    account, ann = acme
    Touch.objects.create(person=ann, kind=TouchKind.EMAIL, at=NOW - 120 * DAY)
    factories.conversation(people=[ann], account=account, occurred_at=NOW - 120 * DAY)
    assert _active(account=account) is False


# Routing respects the cap with this definition ---------------------------------------------------


@pytest.fixture
def emea() -> Team:
    manager = factories.user(role=Role.SALES_MANAGER, username="sam")
    team = factories.team(name="EMEA", manager=manager)
    RoutingRule.objects.create(name="everyone", team=team, conditions=[])
    return team


def _route() -> tuple[User | None, dict[str, str]]:
    someone = factories.person(country="DE")
    request = factories.person_request(person=someone, kind="contact", wants_contact=True)
    assignment = routing.request_assign(request_id=request.pk)
    assert assignment is not None
    return assignment.owner, {s["user"]: s["why"] for s in assignment.skipped}


def test_routing_skips_a_seller_at_their_cap_of_active_relationships(emea: Team) -> None:
    full = factories.user(username="full", team=emea, relationship_cap=3)
    factories.owned_people(owner=full, count=3)

    owner, skipped = _route()

    assert owner == emea.manager  # nobody else: the fallback queue
    assert skipped == {str(full): "at their cap of 3 relationships"}


def test_routing_gives_a_lead_to_a_seller_whose_relationships_are_all_dormant(
    emea: Team,
) -> None:
    quiet = factories.user(username="quiet", team=emea, relationship_cap=3)
    factories.owned_people(owner=quiet, count=5, active=False)
    # Dormant means old touches too, not just none.
    factories.owned_people(owner=quiet, count=2, at=NOW - 200 * DAY)

    owner, skipped = _route()

    assert owner == quiet
    assert skipped == {}
    assert owner is not None
    assert routing.seller_loads([owner.pk]) == {owner.pk: 1}  # the lead just given


def test_routing_prefers_the_seller_with_room_over_the_full_one(emea: Team) -> None:
    full = factories.user(username="full", team=emea, relationship_cap=2)
    roomy = factories.user(username="roomy", team=emea, relationship_cap=2)
    factories.owned_people(owner=full, count=2)
    factories.owned_people(owner=roomy, count=1)
    factories.owned_people(owner=roomy, count=4, active=False)

    owner, skipped = _route()

    assert owner == roomy
    assert skipped[str(full)] == "at their cap of 2 relationships"
    owner, skipped = _route()  # now roomy is full too
    assert owner == emea.manager
    assert set(skipped) == {str(full), str(roomy)}
