"""The journeys pages and the "Journey" section of people and accounts, through real HTTP: who
may open and do what, what the pages say, YAML out and in, and moving someone by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from leadline.core import clock
from leadline.core.models import Account, AuditEntry, Person, Role, TimelineEvent, User
from leadline.journeys.models import (
    Journey,
    JourneyPosition,
    JourneyRemoval,
    JourneyStep,
    JourneyTransition,
    TransitionCause,
)
from leadline.journeys.selectors import journey_yaml
from leadline.journeys.services import journey_move, signals_evaluate
from leadline.journeys.signals import rule_parse
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]
HTMX = {"HX-Request": "true"}


def _html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def journey() -> Journey:
    return Journey.objects.get(slug="buyers-journey")


def _step(journey: Journey, position: int) -> JourneyStep:
    return journey.steps.get(position=position)


@pytest.fixture
def ann() -> Person:
    return factories.person(first_name="Ann", last_name="Lee", email="ann@acme.example")


@pytest.fixture
def acme(ann: Person) -> Account:
    account = factories.account(name="Acme Widgets", domain="acme.example")
    factories.membership(person=ann, account=account)
    return account


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Who may open and do what -----------------------------------------------------------------------


def _read_urls(journey: Journey) -> list[str]:
    return [
        reverse("web:journeys"),
        reverse("web:journey", args=[journey.slug]),
        reverse("web:journey_export", args=[journey.slug]),
    ]


def _edit_urls(journey: Journey) -> list[str]:
    return [reverse("web:journey_edit", args=[journey.slug]), reverse("web:journey_import")]


def _move_urls(journey: Journey, person: Person, account: Account) -> list[str]:
    return [
        reverse("web:person_journey_move", args=[person.pk, journey.slug]),
        reverse("web:account_journey_move", args=[account.pk, journey.slug]),
    ]


def test_anonymous_visitors_are_sent_to_login_everywhere(
    client: Client, journey: Journey, ann: Person, acme: Account
) -> None:
    for url in _read_urls(journey) + _edit_urls(journey):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    for url in _edit_urls(journey) + _move_urls(journey, ann, acme):
        response = client.post(url, {"yaml": "name: X\nsteps: [{name: A}]", "step": "1"})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    assert not JourneyTransition.objects.exists()
    assert not Journey.objects.filter(name="X").exists()


def test_outside_callers_get_403_on_every_journey_route(
    role_client: RoleClient, journey: Journey, ann: Person, acme: Account
) -> None:
    client = role_client(Role.OUTSIDE_CALLER)
    for url in _read_urls(journey) + _edit_urls(journey):
        assert client.get(url).status_code == 403, url
    for url in _edit_urls(journey) + _move_urls(journey, ann, acme):
        assert client.post(url, {"step": _step(journey, 2).pk}).status_code == 403, url
    assert not JourneyTransition.objects.exists()
    # No link to a page they may not open.
    assert 'href="/journeys/"' not in _html(client.get("/"))


def test_reps_read_and_move_but_cannot_edit_or_import(
    role_client: RoleClient, journey: Journey, ann: Person, acme: Account
) -> None:
    client = role_client(Role.SALES_REP)
    for url in _read_urls(journey):
        assert client.get(url).status_code == 200, url
    before = journey_yaml(journey)
    for url in _edit_urls(journey):
        assert client.get(url).status_code == 403, url
        renamed = before.replace("Comparing vendors", "Shopping around")
        assert client.post(url, {"yaml": renamed}).status_code == 403, url
    assert journey_yaml(journey) == before
    for url in _move_urls(journey, ann, acme):
        assert client.post(url, {"step": _step(journey, 2).pk}).status_code == 302, url
    assert JourneyTransition.objects.filter(cause=TransitionCause.USER).count() == 2
    # Reps see the journeys in the navigation, and no edit buttons on the page.
    detail = _html(client.get(reverse("web:journey", args=[journey.slug])))
    assert 'href="/journeys/"' in detail
    assert "Export YAML" in detail
    assert "Edit as YAML" not in detail


@pytest.mark.parametrize(
    ("role", "may_edit"),
    [
        (Role.ADMIN, True),
        (Role.MARKETING, True),
        (Role.SALES_MANAGER, False),
        (Role.SALES_REP, False),
    ],
)
def test_only_admins_and_marketing_edit_journeys(
    role_client: RoleClient, journey: Journey, role: str, may_edit: bool
) -> None:
    client = role_client(role)
    expected = 200 if may_edit else 403
    for url in _edit_urls(journey):
        assert client.get(url).status_code == expected, url
    detail = _html(client.get(reverse("web:journey", args=[journey.slug])))
    assert ("Edit as YAML" in detail) is may_edit


def test_a_user_who_cannot_move_people_sees_no_move_form(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    # Every role that may read people may move them today; the form follows the same check.
    html = _html(role_client(Role.SALES_REP).get(reverse("web:person", args=[ann.pk])))
    assert f'action="/people/{ann.pk}/journeys/{journey.slug}/move/"' in html


# The list and a journey's page ------------------------------------------------------------------


def test_the_list_shows_each_journey_with_its_steps_in_order_and_who_is_where(
    marketing_client: Client, marketer: User, journey: Journey, ann: Person, acme: Account
) -> None:
    bob = factories.person(first_name="Bob")
    for person in (ann, bob):
        journey_move(journey=journey, to_step=_step(journey, 3), moved_by=marketer, person=person)
    journey_move(journey=journey, to_step=_step(journey, 3), moved_by=marketer, account=acme)
    other = factories.user()
    journey_move(
        journey=journey, to_step=_step(journey, 1), moved_by=other, person=factories.person()
    )

    html = _html(marketing_client.get(reverse("web:journeys")))
    names = [s.name for s in journey.steps.order_by("position")]
    where = [html.index(f'<span class="step-chip-name">{name}</span>') for name in names]
    assert where == sorted(where), "steps are shown in their order"
    assert 'class="badge badge-good">Default<' in html
    chips = html.split('<li class="step-chip">')
    third = next(c for c in chips if "Comparing vendors" in c)
    assert "2 people · 1 account" in third
    first = next(c for c in chips if "Noticing a problem" in c)
    assert "1 person · 0 accounts" in first
    assert "3 people · 1 account" in html  # the journey's totals
    assert 'href="/journeys/import/"' in html


def test_a_journeys_page_shows_the_steps_and_their_signals_in_words(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    journey_move(journey=journey, to_step=_step(journey, 2), moved_by=factories.user(), person=ann)
    html = _html(role_client(Role.SALES_MANAGER).get(reverse("web:journey", args=[journey.slug])))
    pricing = rule_parse(_step(journey, 2).exit_signals[0])
    assert pricing.name == "Visited pricing twice"
    # "2 page views of a page whose address contains “/pricing” within 30 days"
    assert f"<strong>Visited pricing twice</strong>: {escape(pricing.describe())}" in html
    assert "within 30 days" in html
    assert "“contact_requested” event" in html
    assert escape("What are the ways people solve this, and what would each cost us?") in html
    assert "Comparisons of approaches, case studies from similar companies." in html
    assert "A rep who knows their industry, when they ask." in html
    step_two = html.split('id="step-2-h"')[1].split('id="step-3-h"')[0]
    assert "At it now: 1 person · 0 accounts" in step_two
    assert 'href="/journeys/buyers-journey/export.yaml"' in html
    assert "None: the last step." in html  # "Getting value" has no exit signals


def test_an_unknown_journey_is_404(marketing_client: Client) -> None:
    assert marketing_client.get("/journeys/no-such-thing/").status_code == 404
    assert marketing_client.get("/journeys/no-such-thing/export.yaml").status_code == 404
    assert marketing_client.get("/journeys/no-such-thing/edit/").status_code == 404


# YAML out and in --------------------------------------------------------------------------------


def test_export_then_import_comes_back_the_same_with_an_edit(
    marketing_client: Client, marketer: User, journey: Journey
) -> None:
    response = marketing_client.get(reverse("web:journey_export", args=[journey.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/yaml")
    assert response["Content-Disposition"] == 'attachment; filename="buyers-journey.yaml"'
    data = yaml.safe_load(response.content)
    assert [s["name"] for s in data["steps"]][:3] == [
        "Noticing a problem",
        "Exploring ways to solve it",
        "Comparing vendors",
    ]

    data["steps"][2]["name"] = "Weighing vendors"
    upload = SimpleUploadedFile(
        "journey.yaml", yaml.safe_dump(data, allow_unicode=True).encode(), "text/yaml"
    )
    response = marketing_client.post(reverse("web:journey_import"), {"file": upload, "yaml": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:journey", args=[journey.slug])
    assert Journey.objects.count() == 1
    again = marketing_client.get(reverse("web:journey_export", args=[journey.slug]))
    assert yaml.safe_load(again.content) == data
    assert AuditEntry.objects.filter(
        action="journey.update", object_id=str(journey.pk), actor=marketer
    ).exists()
    page = _html(marketing_client.get(response["Location"]))
    assert "Journey “The buyer&#x27;s journey” imported." in page
    assert "Weighing vendors" in page


def test_pasted_yaml_creates_a_new_journey(marketing_client: Client) -> None:
    text = (
        "name: Renewals\n"
        "steps:\n"
        "  - name: Reviewing the year\n"
        "    buyer_words: Was it worth it?\n"
        "    exit_signals:\n"
        "      - {name: Opened the renewal, event: renewal_opened, count: 2}\n"
        "  - name: Renewing\n"
    )
    response = marketing_client.post(reverse("web:journey_import"), {"yaml": text})
    assert response.status_code == 302
    made = Journey.objects.get(slug="renewals")
    assert [s.name for s in made.steps.order_by("position")] == ["Reviewing the year", "Renewing"]
    html = _html(marketing_client.get(response["Location"]))
    assert "2 “renewal_opened” events" in html


def test_editing_as_yaml_saves_and_says_so(marketing_client: Client, journey: Journey) -> None:
    url = reverse("web:journey_edit", args=[journey.slug])
    page = _html(marketing_client.get(url))
    text = journey_yaml(journey)
    assert f">{escape(text)}</textarea>" in page
    response = marketing_client.post(url, {"yaml": text.replace("name: Deciding", "name: Signing")})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:journey", args=[journey.slug])
    assert _step(journey, 5).name == "Signing"
    assert "saved." in _html(marketing_client.get(response["Location"]))


def test_a_yaml_syntax_error_is_refused_with_its_line_and_nothing_changes(
    marketing_client: Client, journey: Journey
) -> None:
    before = journey_yaml(journey)
    broken = before.replace("- name: Comparing vendors", "- name: [Comparing vendors", 1)
    url = reverse("web:journey_edit", args=[journey.slug])
    response = marketing_client.post(url, {"yaml": broken})
    assert response.status_code == 400
    html = _html(response)
    line = broken.splitlines().index("- name: [Comparing vendors") + 1
    # The parser notices on the next line, at the colon after "buyer_words".
    assert f"YAML syntax error at line {line + 1}, column 14: expected" in html
    assert '<div class="alert alert-bad" role="alert" id="error-summary"' in html
    assert f">{escape(broken)}</textarea>" in html  # the text is kept
    assert 'aria-invalid="true"' in html
    assert journey_yaml(journey) == before
    assert not AuditEntry.objects.filter(action__startswith="journey.").exists()

    response = marketing_client.post(reverse("web:journey_import"), {"yaml": "name: [oops\n"})
    assert response.status_code == 400
    assert "YAML syntax error at line 2, column 1" in _html(response)


def test_a_bad_field_is_refused_naming_the_field_and_nothing_changes(
    marketing_client: Client, journey: Journey
) -> None:
    before = journey_yaml(journey)
    data = yaml.safe_load(before)
    data["steps"][0]["name"] = "Feeling the pain"  # a good change, refused with the bad one
    data["steps"][1]["exit_signals"][0]["count"] = "twice"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    response = marketing_client.post(
        reverse("web:journey_edit", args=[journey.slug]), {"yaml": text}
    )
    assert response.status_code == 400
    html = _html(response)
    assert "steps[1].exit_signals[0].count: a whole number from 1 to 1000" in html
    assert "Nothing was saved." in html
    assert f">{escape(text)}</textarea>" in html
    assert journey_yaml(journey) == before

    response = marketing_client.post(
        reverse("web:journey_import"), {"yaml": "name: Renewals\nsteps:\n  - buyer_words: Hm\n"}
    )
    assert response.status_code == 400
    assert "steps[0].name: is required" in _html(response)
    assert not Journey.objects.filter(name="Renewals").exists()


def test_the_edit_page_cannot_turn_one_journey_into_another(
    marketing_client: Client, journey: Journey
) -> None:
    text = journey_yaml(journey).replace("slug: buyers-journey", "slug: another")
    response = marketing_client.post(
        reverse("web:journey_edit", args=[journey.slug]), {"yaml": text}
    )
    assert response.status_code == 400
    assert "slug: this page edits" in _html(response)
    assert Journey.objects.count() == 1


def test_imports_larger_than_100_kb_are_refused(marketing_client: Client) -> None:
    big = "name: Big\ndescription: " + "x" * (101 * 1024) + "\nsteps: [{name: A}]\n"
    response = marketing_client.post(reverse("web:journey_import"), {"yaml": big})
    assert response.status_code == 400
    assert "larger than 100 KB" in _html(response)
    upload = SimpleUploadedFile("big.yaml", big.encode(), "text/yaml")
    response = marketing_client.post(reverse("web:journey_import"), {"file": upload})
    assert response.status_code == 400
    assert "larger than 100 KB" in _html(response)
    assert not Journey.objects.filter(name="Big").exists()


# Moving someone by hand -------------------------------------------------------------------------


def test_a_plain_post_moves_the_person_and_their_page_says_why(
    role_client: RoleClient, journey: Journey, ann: Person, monday_morning: None
) -> None:
    rep = factories.user(first_name="Rita", last_name="Rep")
    client = _client_for(rep)
    url = reverse("web:person_journey_move", args=[ann.pk, journey.slug])
    response = client.post(
        url, {"step": _step(journey, 3).pk, "note": "Said they have a shortlist of three"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/people/{ann.pk}/#journeys"

    moved = JourneyTransition.objects.get(person=ann)
    assert (moved.to_step, moved.cause, moved.moved_by) == (_step(journey, 3), "user", rep)
    assert moved.note == "Said they have a shortlist of three"
    assert JourneyPosition.objects.get(person=ann).step == _step(journey, 3)
    assert TimelineEvent.objects.filter(person=ann, kind="journey.moved").exists()

    html = _html(client.get(response["Location"]))
    section = html.split('id="journeys"')[1].split("</section>")[0]
    assert "At <strong>Comparing vendors</strong>" in section
    assert "(step 3 of 6)" in section
    assert 'datetime="2026-11-23T10:00:00+00:00"' in section
    assert "Why:</span> Moved by Rita Rep — <q>Said they have a shortlist of three</q>" in section
    assert 'aria-current="step"' in section
    assert "Moved to “Comparing vendors”" in html  # the message after the redirect
    # The form offers the next step first, and marks where they are.
    assert f'<option value="{_step(journey, 4).pk}" selected>' in section
    assert "3. Comparing vendors (now)</option>" in section


def test_an_htmx_move_swaps_the_section_and_announces_the_result(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    client = role_client(Role.SALES_MANAGER)
    url = reverse("web:person_journey_move", args=[ann.pk, journey.slug])
    response = client.post(
        url, {"step": _step(journey, 2).pk, "note": "Asked about costs"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    html = _html(response)
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="journeys-body"')
    assert f'id="journey-{journey.slug}-h" tabindex="-1" autofocus' in html
    assert (
        '<p id="journeys-status" hx-swap-oob="innerHTML">'
        "Moved to “Exploring ways to solve it” (The buyer&#x27;s journey).</p>"
    ) in html
    assert "<q>Asked about costs</q>" in html
    assert "At <strong>Exploring ways to solve it</strong>" in html
    moved = JourneyTransition.objects.get(person=ann)
    assert moved.note == "Asked about costs"


def test_moving_to_the_step_they_are_at_answers_400_with_the_message(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    client = role_client(Role.SALES_REP)
    url = reverse("web:person_journey_move", args=[ann.pk, journey.slug])
    step = _step(journey, 2)
    assert client.post(url, {"step": step.pk}).status_code == 302

    response = client.post(url, {"step": step.pk, "note": "again"})
    assert response.status_code == 400
    html = _html(response)
    assert "Not moved: already at &#x27;Exploring ways to solve it&#x27;." in html
    assert 'id="error-summary"' in html
    assert f'href="/people/{ann.pk}/"' in html
    assert 'value="again"' in html  # the note is kept

    response = client.post(url, {"step": step.pk}, headers=HTMX)
    assert response.status_code == 400
    html = _html(response)
    assert "<html" not in html
    assert "already at" in html
    # The step picker is marked, points at the message, and takes the focus after the swap.
    assert 'aria-invalid="true" aria-describedby="journey-buyers-journey-error" autofocus' in html
    assert 'id="journey-buyers-journey-error">Not moved: already at' in html
    assert 'hx-swap-oob="innerHTML">Not moved: already at' in html
    assert JourneyTransition.objects.filter(person=ann).count() == 1


def test_a_step_of_another_journey_is_refused(
    marketing_client: Client, journey: Journey, ann: Person
) -> None:
    client = marketing_client
    client.post(
        reverse("web:journey_import"), {"yaml": "name: Renewals\nsteps: [{name: Reviewing}]\n"}
    )
    foreign = JourneyStep.objects.get(journey__slug="renewals")
    url = reverse("web:person_journey_move", args=[ann.pk, journey.slug])
    response = client.post(url, {"step": foreign.pk})
    assert response.status_code == 400
    assert "Choose one of the journey" in _html(response)
    response = client.post(url, {"step": "not a number"})
    assert response.status_code == 400
    assert not JourneyTransition.objects.exists()


def test_a_signal_move_shows_the_signal_as_the_reason(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    factories.buyer_event(person=ann, name="form_submitted")
    signals_evaluate(person_ids=[ann.pk])  # starts on step 1, the guide moves them to step 2
    html = _html(role_client(Role.SALES_REP).get(reverse("web:person", args=[ann.pk])))
    section = html.split('id="journeys"')[1].split("</section>")[0]
    assert "Why:</span> Signal: Read a guide" in section
    assert 'Noticing a problem <span aria-hidden="true">→</span>' in section
    assert "Started on the journey" in section


def test_someone_on_no_journey_can_be_placed_on_the_default_one(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    client = role_client(Role.SALES_REP)
    html = _html(client.get(reverse("web:person", args=[ann.pk])))
    assert "They are not on this journey yet." in html
    response = client.post(
        reverse("web:person_journey_move", args=[ann.pk, journey.slug]),
        {"step": _step(journey, 1).pk},
    )
    assert response.status_code == 302
    assert JourneyPosition.objects.get(person=ann).step == _step(journey, 1)


def test_an_accounts_buying_group_is_moved_from_the_account_page(
    role_client: RoleClient, journey: Journey, acme: Account
) -> None:
    client = role_client(Role.SALES_REP)
    url = reverse("web:account_journey_move", args=[acme.pk, journey.slug])
    response = client.post(url, {"step": _step(journey, 4).pk, "note": "CFO is on board"})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{acme.pk}/#journeys"
    position = JourneyPosition.objects.get(account=acme)
    assert position.step == _step(journey, 4)
    assert not JourneyPosition.objects.filter(person__isnull=False).exists()

    html = _html(client.get(response["Location"]))
    section = html.split('id="journeys"')[1].split("</section>")[0]
    assert "At <strong>Building the internal case</strong>" in section
    assert "<q>CFO is on board</q>" in section
    assert f'action="/accounts/{acme.pk}/journeys/{journey.slug}/move/"' in section

    response = client.post(url, {"step": _step(journey, 4).pk}, headers=HTMX)
    assert response.status_code == 400
    assert "already at" in _html(response)


def test_times_on_the_section_are_in_the_viewers_zone(
    journey: Journey, ann: Person, monday_morning: None
) -> None:
    viewer = factories.user(time_zone="Europe/Berlin")
    with clock.frozen_at(factories.MONDAY_10):
        journey_move(journey=journey, to_step=_step(journey, 2), moved_by=viewer, person=ann)
    html = _html(_client_for(viewer).get(reverse("web:person", args=[ann.pk])))
    assert "23 Nov 2026, 11:00" in html


def test_a_seller_takes_someone_off_a_journey_and_may_not_take_them_off_twice(
    role_client: RoleClient, journey: Journey, ann: Person
) -> None:
    client = role_client(Role.SALES_REP)
    url = reverse("web:person_journey_move", args=[ann.pk, journey.slug])
    assert client.post(url, {"step": _step(journey, 2).pk}).status_code == 302
    page = _html(client.get(reverse("web:person", args=[ann.pk])))
    assert 'name="action" value="take_off"' in page

    response = client.post(url, {"action": "take_off", "note": "Wrong product"}, headers=HTMX)

    assert response.status_code == 200
    html = _html(response)
    assert "Taken off The buyer&#x27;s journey.</p>" in html
    assert "They are not on this journey yet." in html
    assert 'value="take_off"' not in html  # nothing left to take them off
    removal = JourneyRemoval.objects.get(person=ann, journey=journey)
    assert (removal.step_name, removal.note) == ("Exploring ways to solve it", "Wrong product")
    again = client.post(url, {"action": "take_off"})
    assert again.status_code == 400
    assert "Not taken off: not on the journey" in _html(again)
    assert JourneyRemoval.objects.filter(person=ann).count() == 1
