"""People search reads one stored text per person: every write that changes what a person is
found by (a name, title, own words, an address, a membership, a member company's name) keeps it
in step, and `people_search_stale` finds a write that did not."""

from __future__ import annotations

import pytest

from leadline.capture.services import person_create, submissions_process
from leadline.core.models import Person, PersonSearch
from leadline.core.selectors import people_search, people_search_stale
from leadline.core.services import account_merge, person_merge, person_update
from tests import factories

pytestmark = pytest.mark.django_db


def found(query: str) -> set[int]:
    return set(people_search(query=query).values_list("pk", flat=True))


def test_a_changed_name_or_title_is_found_by_the_new_words_not_the_old() -> None:
    person = factories.person(first_name="Ann", last_name="Lee", title="Controller")
    person_update(
        person=person, changes={"last_name": "Okafor", "title": "Head of FP&A"}, actor=None
    )
    assert found("okafor") == {person.pk}
    assert found("fp&a") == {person.pk}
    assert found("controller") == set()
    assert people_search_stale() == []


def test_a_merged_survivor_is_found_by_the_losers_address_and_company() -> None:
    globex = factories.account(name="Globex Holdings")
    survivor = factories.person(email="ann@acme.example")
    loser = factories.person(email="ann.lee@home.example")
    factories.membership(person=loser, account=globex)
    person_merge(survivor=survivor, loser=loser)
    assert found("ann.lee@home") == {survivor.pk}  # the loser itself is not listed
    assert found("globex") == {survivor.pk}
    assert people_search_stale() == []


def test_after_an_account_merge_its_members_are_found_by_the_survivors_name() -> None:
    survivor = factories.account(name="Initech")
    loser = factories.account(name="Initrode")
    person = factories.person()
    factories.membership(person=person, account=loser)
    account_merge(survivor=survivor, loser=loser)
    assert found("initech") == {person.pk}
    assert people_search_stale() == []


def test_people_made_by_capture_and_by_hand_are_found_at_once() -> None:
    form = factories.form(slug="guide")
    submission = factories.submission(
        form=form,
        payload=factories.submission_data(
            email="zoe@umbrella.example", last_name="Quist", company="Umbrella Logistics"
        ),
    )
    submissions_process(submission_ids=[submission.pk])
    by_hand, _ = person_create(
        email="yann@example.org", fields={"first_name": "Yann"}, actor=None, source="API"
    )
    made = Person.objects.get(emails__email="zoe@umbrella.example")
    assert found("quist logistics") == {made.pk}
    assert found("yann") == {by_hand.pk}
    assert people_search_stale() == []


def test_stale_names_a_person_whose_text_a_write_left_behind() -> None:
    person = factories.person(first_name="Ann")
    other = factories.person(first_name="Bob")
    Person.objects.filter(pk=person.pk).update(first_name="Anne")  # no refresh: a bug
    PersonSearch.objects.filter(person=other).delete()
    assert people_search_stale() == [person.pk, other.pk]
    assert people_search_stale(person_ids=[other.pk]) == [other.pk]
