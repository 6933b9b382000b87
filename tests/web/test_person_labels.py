"""The person page's header and its labels, through real requests: the facts said once, in the
header; each label a disclosure with its why; nobody else's signals on it."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leadline.core import clock
from leadline.core.models import Channel, Person, Role
from leadline.engagement.models import Stage
from leadline.engagement.services import lifecycle_set
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]
NOW = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC
DAY = dt.timedelta(days=1)


def page(client: Client, person: Person) -> str:
    with clock.frozen_at(NOW):
        response = client.get(reverse("web:person", args=[person.pk]))
    assert response.status_code == 200
    return html_lib.unescape(response.content.decode())


def header_of(html: str) -> str:
    found = re.search(r'<header class="profile-head">(.*?)</header>', html, re.S)
    assert found is not None
    return found.group(1)


def label_block(html: str, key: str) -> str:
    opening = rf'<details class="label label-\w+" id="label-{key}">'
    found = re.search(rf"{opening}(.*?)</details>", html, re.S)
    assert found is not None, key
    return found.group(1)


@pytest.fixture
def ann() -> Person:
    with clock.frozen_at(NOW - 30 * DAY):
        person = factories.person(
            first_name="Ann",
            last_name="Lee",
            title="Financial Controller",
            role_own_words="I keep the month-end close from eating my weekends",
            cares_about="Month-end without weekend work for the team",
            personal_context="Runs marathons; mentioned training for Berlin.",
            preferred_channel=Channel.PHONE,
            preferred_hours="mornings",
            time_zone="Europe/Berlin",
        )
    account = factories.account(
        name="Kessler Logistik", employees=1200, industry="Logistics", country="DE"
    )
    factories.membership(person=person, account=account)
    for days in (10, 4, 1):
        factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW - days * DAY)
    factories.person_request(person=person, wants_contact=True, created_at=NOW - 2 * DAY)
    return person


def test_the_header_says_who_they_are_and_how_to_reach_them_once(
    role_client: RoleClient, ann: Person
) -> None:
    html = page(role_client(Role.SALES_REP), ann)
    header = header_of(html)
    for text in (
        "Ann Lee",
        "I keep the month-end close from eating my weekends",
        "Financial Controller",
        "Kessler Logistik",
        "Month-end without weekend work for the team",
        "Runs marathons; mentioned training for Berlin.",
        "Phone, mornings",
        "11:00, Monday",  # 10:00 UTC is 11:00 in Berlin
        "(Europe/Berlin)",
    ):
        assert text in header, text
    # Said once: the old "What they care about" card and the side card's rows are gone.
    assert "What they care about" not in html
    assert html.count("Month-end without weekend work for the team") == 1
    assert html.count("Runs marathons") == 1
    assert html.count(">Prefers<") == 1
    assert html.count(">Their time now<") == 1
    # The side card still has the addresses.
    assert "How to reach them" in html


def test_the_header_says_what_is_not_known(role_client: RoleClient) -> None:
    person = factories.person(first_name="Quiet", time_zone="")
    header = header_of(page(role_client(Role.SALES_REP), person))
    assert "No preference given" in header
    assert "Time zone unknown" in header
    assert "Cares about" not in header
    assert "They shared" not in header


def test_each_label_is_a_disclosure_with_its_why(role_client: RoleClient, ann: Person) -> None:
    html = page(role_client(Role.SALES_REP), ann)
    # After the header, before the timeline.
    assert html.index("</header>") < html.index('id="labels-h"') < html.index('id="timeline"')
    labels = re.findall(r'<details class="label label-(\w+)" id="label-(\w+)">', html)
    assert [key for _, key in labels] == ["journey", "fit", "interest", "lifecycle"]

    fit = label_block(html, "fit")
    assert "<summary>" in fit
    assert 'class="label-name">Fit<' in fit
    assert 'class="label-value">Strong fit<' in fit
    assert "Why?" in fit
    assert "<li>Kessler Logistik: 1,200 people — in the ideal range (200 to 5,000)</li>" in fit
    assert "<li>Based in Germany — a country in the profile</li>" in fit

    interest = label_block(html, "interest")
    assert 'class="label-value">High interest<' in interest
    assert "<li>Asked to be contacted on 21 Nov</li>" in interest
    assert "<li>Visited /pricing 3 times in the last 10 days</li>" in interest
    assert 'aria-label="Why interest: High interest"' in interest

    lifecycle = label_block(html, "lifecycle")  # the stored stage: nothing has moved her yet
    assert 'class="label-value">Subscriber<' in lifecycle
    assert "<li>Known since 24 Oct; nothing has moved them yet</li>" in lifecycle

    journey = label_block(html, "journey")
    assert 'class="label-value">Not started<' in journey
    # Tones are classes for styling; the words carry the meaning.
    assert ("good", "fit") in labels
    assert ("low", "journey") in labels


def test_dates_in_the_why_are_the_viewers(client: Client, ann: Person) -> None:
    # 23:30 UTC on 21 Nov is already 22 Nov in Tokyo.
    lifecycle_set(
        person=ann,
        stage=Stage.ENGAGED,
        reason="Came to the webinar",
        actor=None,
        at=dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC),
    )
    client.force_login(factories.user(role=Role.SALES_REP, time_zone="Asia/Tokyo"))
    assert "<li>Since 22 Nov</li>" in label_block(page(client, ann), "lifecycle")


def test_another_persons_signals_and_company_do_not_leak(
    role_client: RoleClient, ann: Person
) -> None:
    other = factories.person(first_name="Otto", title="Student")
    factories.membership(
        person=other,
        account=factories.account(name="Tiny Media Co", employees=12, industry="Media"),
    )
    lifecycle_set(person=other, stage=Stage.CUSTOMER, reason="Signed on 22 Nov", actor=None)
    factories.buyer_event(person=other, name="webinar_attended", at=NOW - DAY)
    factories.buyer_event(person=other, name="page_view", path="/security", at=NOW - DAY)

    html = page(role_client(Role.SALES_REP), ann)
    for text in ("Tiny Media Co", "Signed on", "Webinar attended", "/security", "Student"):
        assert text not in html, text
    assert 'class="label-value">Subscriber<' in label_block(html, "lifecycle")

    theirs = page(role_client(Role.SALES_REP), other)
    assert 'class="label-value">Customer<' in label_block(theirs, "lifecycle")
    assert "Kessler Logistik" not in theirs
    assert "/pricing" not in theirs


def test_people_who_may_not_see_people_get_no_labels(role_client: RoleClient, ann: Person) -> None:
    response = role_client(Role.OUTSIDE_CALLER).get(reverse("web:person", args=[ann.pk]))
    assert response.status_code == 403
    assert b"Kessler" not in response.content
