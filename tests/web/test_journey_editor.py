"""The journey editor through real HTTP: the form a browser would send (read from the page
itself), the buttons as plain POSTs and as htmx swaps, saving through the same checks as the
YAML import, errors next to their fields, steps kept by identity, and who may use it."""

from __future__ import annotations

import html.parser
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from leadline.core.models import AuditEntry, Role, User
from leadline.journeys.models import Journey, JourneyPosition, JourneyStep
from leadline.journeys.selectors import journey_yaml
from leadline.journeys.services import journey_import, journey_move, signals_evaluate
from tests import factories

pytestmark = pytest.mark.django_db
RoleClient = Callable[[str], Client]
HTMX = {"HX-Request": "true"}
NEW = "/journeys/new/"


class _FormReader(html.parser.HTMLParser):
    """What a browser would send for the page's journey editor form: its inputs, textareas and
    ticked boxes (the buttons are added by the test, as the one pressed)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div" and a.get("id") == "journey-editor":
            self._inside = True
        if not self._inside or "name" not in a:
            return
        if tag == "input" and a.get("type") not in ("submit", "checkbox"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.fields[a["name"]] = a.get("value", "on")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


def form_of(response: Any) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(response.content.decode())
    assert reader.fields, "no editor form on the page"
    return reader.fields


def _html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def journey() -> Journey:
    return Journey.objects.get(slug="buyers-journey")


@pytest.fixture
def url(journey: Journey) -> str:
    return reverse("web:journey_editor", args=[journey.slug])


def _names(journey: Journey) -> list[str]:
    return list(journey.steps.order_by("position").values_list("name", flat=True))


def _new_journey_form() -> dict[str, str]:
    return {
        "name": "Payroll for firms of 50 to 500",
        "description": "Finance leads who run payroll in spreadsheets.",
        "steps-0-id": "",
        "steps-0-name": "Noticing payroll takes days",
        "steps-0-buyer_words": "Month-end eats my whole week.",
        "steps-0-content_to_offer": "The payroll checklist",
        "steps-0-who_should_talk": "Nobody yet",
        "steps-0-signals-0-name": "Visited pricing twice",
        "steps-0-signals-0-event": "page_view",
        "steps-0-signals-0-path_contains": "/pricing",
        "steps-0-signals-0-properties": "",
        "steps-0-signals-0-count": "2",
        "steps-0-signals-0-within_days": "30",
        "steps-0-signals-1-name": "Started a team trial",
        "steps-0-signals-1-event": "trial_started",
        "steps-0-signals-1-path_contains": "",
        "steps-0-signals-1-properties": "plan = team\nseats = 10",
        "steps-0-signals-1-count": "1",
        "steps-0-signals-1-within_days": "",
        "steps-1-id": "",
        "steps-1-name": "Choosing a provider",
        "steps-1-buyer_words": "",
        "steps-1-content_to_offer": "",
        "steps-1-who_should_talk": "An account executive",
    }


# Making a journey -------------------------------------------------------------------------------


def test_a_marketer_makes_a_journey_with_steps_and_exit_signals(
    marketing_client: Client, marketer: User
) -> None:
    page = marketing_client.get(NEW)
    assert page.status_code == 200
    assert form_of(page)["steps-0-name"] == ""  # one empty step to start from
    assert 'id="journey-name"' in _html(page)

    response = marketing_client.post(NEW, {**_new_journey_form(), "action": "save"})
    assert response.status_code == 302
    made = Journey.objects.get(name="Payroll for firms of 50 to 500")
    assert response["Location"] == reverse("web:journey", args=[made.slug])
    assert made.slug == "payroll-for-firms-of-50-to-500"
    assert made.description == "Finance leads who run payroll in spreadsheets."
    assert not made.is_default
    first, second = made.steps.order_by("position")
    assert (first.position, first.name, second.position, second.name) == (
        1,
        "Noticing payroll takes days",
        2,
        "Choosing a provider",
    )
    assert first.buyer_words == "Month-end eats my whole week."
    assert first.exit_signals == [
        {
            "name": "Visited pricing twice",
            "event": "page_view",
            "path_contains": "/pricing",
            "count": 2,
            "within_days": 30,
        },
        {
            "name": "Started a team trial",
            "event": "trial_started",
            "properties": {"plan": "team", "seats": "10"},
        },
    ]
    assert second.exit_signals == []
    assert second.who_should_talk == "An account executive"
    entry = AuditEntry.objects.get(action="journey.create", object_id=str(made.pk))
    assert entry.actor == marketer
    assert entry.data["via"] == "editor"
    assert entry.data["added"] == ["Noticing payroll takes days", "Choosing a provider"]

    shown = _html(marketing_client.get(response["Location"]))
    assert "Journey “Payroll for firms of 50 to 500” created." in shown
    assert "2 page views of a page whose address contains “/pricing” within 30 days" in shown
    assert "1 “trial_started” event, plan = team, seats = 10" in shown


def test_what_the_editor_saves_goes_out_as_yaml_and_comes_back_unchanged(
    marketing_client: Client,
) -> None:
    marketing_client.post(NEW, {**_new_journey_form(), "action": "save"})
    made = Journey.objects.get(name="Payroll for firms of 50 to 500")
    text = journey_yaml(made)
    journey_import(data=yaml.safe_load(text), actor=None)
    assert journey_yaml(Journey.objects.get(pk=made.pk)) == text


def test_enter_in_a_field_saves(marketing_client: Client) -> None:
    # Enter presses the form's first submit button, the hidden "save": no action, or "save".
    response = marketing_client.post(NEW, _new_journey_form())
    assert response.status_code == 302
    assert Journey.objects.filter(name="Payroll for firms of 50 to 500").exists()


def test_a_new_journey_can_take_over_as_the_default(
    marketing_client: Client, journey: Journey
) -> None:
    response = marketing_client.post(NEW, {**_new_journey_form(), "default": "1"})
    assert response.status_code == 302
    assert list(Journey.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Payroll for firms of 50 to 500"
    ]


def test_a_name_that_is_taken_is_refused_next_to_the_name(
    marketing_client: Client, journey: Journey
) -> None:
    for name, words in [
        (journey.name, "another journey is called"),
        ("Buyers journey", "another journey has the address “buyers-journey”"),
        ("New", "is taken by a page of its own"),
    ]:
        response = marketing_client.post(NEW, {**_new_journey_form(), "name": name})
        assert response.status_code == 400, name
        page = _html(response)
        assert 'id="journey-name-error"' in page
        assert words in page
        assert form_of(response)["name"] == name
    assert Journey.objects.count() == 1


# Editing one ------------------------------------------------------------------------------------


def test_the_editor_shows_the_journey_with_its_steps_and_who_is_at_them(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    ann = factories.person()
    journey_move(
        journey=journey,
        to_step=journey.steps.get(position=3),
        moved_by=factories.user(),
        person=ann,
    )
    response = marketing_client.get(url)
    assert response.status_code == 200
    form = form_of(response)
    assert form["name"] == journey.name
    assert form["default"] == "1"
    assert [form[f"steps-{i}-name"] for i in range(6)] == _names(journey)
    assert form["steps-2-id"] == str(journey.steps.get(position=3).pk)
    assert form["steps-1-signals-0-name"] == "Visited pricing twice"
    assert form["steps-1-signals-0-path_contains"] == "/pricing"
    assert form["steps-1-signals-0-count"] == "2"
    assert form["steps-1-signals-0-within_days"] == "30"
    page = _html(response)
    step_three = page.split('id="step-2"')[1].split('id="step-3"')[0]
    assert "At it now: 1 person · 0 accounts" in step_three
    # What each signal looks for, in words, before anything is typed.
    assert (
        "Moves them on after 2 page views of a page whose address contains “/pricing” "
        "within 30 days." in page
    )
    # Reached from the journey's page.
    detail = _html(marketing_client.get(reverse("web:journey", args=[journey.slug])))
    assert f'href="{url}"' in detail


def test_reordering_keeps_each_step_and_the_people_on_it(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    ann = factories.person()
    comparing = journey.steps.get(name="Comparing vendors")
    journey_move(journey=journey, to_step=comparing, moved_by=factories.user(), person=ann)
    ids_before = {s.name: s.pk for s in journey.steps.all()}

    form = form_of(marketing_client.get(url))
    # Comparing vendors (3rd) moves down, with htmx: the form comes back in its new order,
    # with the focus on the same button, and nothing is saved yet.
    response = marketing_client.post(url, {**form, "action": "down-2"}, headers=HTMX)
    assert response.status_code == 200
    page = _html(response)
    assert "<html" not in page
    assert (
        '<p id="editor-status" hx-swap-oob="innerHTML">“Comparing vendors” is now step 4 of 6.</p>'
        in page
    )
    down = 'id="step-3-down" class="btn btn-small" data-move="down" aria-label="Move down: step 4"'
    assert f"{down} autofocus" in page
    form = form_of(response)
    assert form["steps-3-name"] == "Comparing vendors"
    assert form["steps-2-name"] == "Building the internal case"
    assert _names(journey)[2] == "Comparing vendors"  # not saved yet

    # And the first step goes to the bottom by plain POSTs (no JavaScript).
    for i in range(5):
        response = marketing_client.post(url, {**form, "action": f"down-{i}"})
        assert response.status_code == 200
        assert "<html" in _html(response)
        form = form_of(response)
    response = marketing_client.post(url, {**form, "action": "save"})
    assert response.status_code == 302
    assert _names(journey) == [
        "Exploring ways to solve it",
        "Building the internal case",
        "Comparing vendors",
        "Deciding",
        "Getting value",
        "Noticing a problem",
    ]
    assert {s.name: s.pk for s in journey.steps.all()} == ids_before
    position = JourneyPosition.objects.get(person=ann)
    assert (position.step_id, position.step.position) == (comparing.pk, 3)
    # The signals went with their steps.
    pricing = journey.steps.get(name="Exploring ways to solve it")
    assert pricing.exit_signals[0]["name"] == "Visited pricing twice"
    entry = AuditEntry.objects.filter(action="journey.update", object_id=str(journey.pk)).get()
    assert entry.data["via"] == "editor"
    assert entry.data["removed"] == entry.data["added"] == entry.data["renamed"] == []


def test_renaming_a_step_keeps_it(marketing_client: Client, journey: Journey, url: str) -> None:
    form = form_of(marketing_client.get(url))
    step = journey.steps.get(position=5)
    form["steps-4-name"] = "Signing"
    assert marketing_client.post(url, form).status_code == 302
    step.refresh_from_db()
    assert step.name == "Signing"
    entry = AuditEntry.objects.get(action="journey.update", object_id=str(journey.pk))
    assert entry.data["renamed"] == [["Deciding", "Signing"]]


def test_adding_and_removing_exit_signals(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    step_two = journey.steps.get(position=2)
    assert [r["name"] for r in step_two.exit_signals] == [
        "Visited pricing twice",
        "Asked to be contacted",
    ]
    # htmx: a new, empty row, with the focus in its name and the news said.
    response = marketing_client.post(url, {**form, "action": "add-signal-1"}, headers=HTMX)
    assert response.status_code == 200
    page = _html(response)
    assert 'hx-swap-oob="innerHTML">Exit signal 3 added to step 2.</p>' in page
    assert 'name="steps-1-signals-2-name" value=""' in page
    assert 'id="step-1-signal-2-name"' in page.split("autofocus")[0].rsplit("<input", 1)[1]
    form = form_of(response)
    form.update(
        {
            "steps-1-signals-2-name": "Joined the pricing webinar",
            "steps-1-signals-2-event": "webinar_attended",
            "steps-1-signals-2-properties": "topic = pricing",
            "steps-1-signals-2-within_days": "14",
        }
    )
    # A plain POST removes the first row.
    response = marketing_client.post(url, {**form, "action": "remove-signal-1-0"})
    assert response.status_code == 200
    form = form_of(response)
    assert "steps-1-signals-2-name" not in form
    assert form["steps-1-signals-1-name"] == "Joined the pricing webinar"
    # A row added and left empty is not a signal, nor an error.
    form = form_of(marketing_client.post(url, {**form, "action": "add-signal-0"}))
    assert marketing_client.post(url, {**form, "action": "save"}).status_code == 302
    step_two.refresh_from_db()
    assert step_two.exit_signals == [
        {"name": "Asked to be contacted", "event": "contact_requested"},
        {
            "name": "Joined the pricing webinar",
            "event": "webinar_attended",
            "properties": {"topic": "pricing"},
            "within_days": 14,
        },
    ]
    assert len(journey.steps.get(position=1).exit_signals) == 2


def test_adding_a_step_and_removing_one_nobody_has_been_on(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    response = marketing_client.post(url, {**form, "action": "add-step"}, headers=HTMX)
    page = _html(response)
    assert 'hx-swap-oob="innerHTML">Step 7 added.</p>' in page
    assert 'name="steps-6-name" value="" maxlength="120"' in page
    assert 'id="step-6-name"' in page.split(" autofocus")[0].rsplit("<input", 1)[1]
    form = form_of(response)
    assert form["steps-6-id"] == ""
    form["steps-6-name"] = "Renewing"
    assert marketing_client.post(url, form).status_code == 302
    assert _names(journey)[-1] == "Renewing"
    renewing = journey.steps.get(name="Renewing")

    # Nobody is on it or has been: it can go, and goes when saved.
    form = form_of(marketing_client.get(url))
    response = marketing_client.post(url, {**form, "action": "remove-step-6"}, headers=HTMX)
    assert response.status_code == 200
    assert "Step 7 “Renewing” removed; saving makes it final." in _html(response)
    form = form_of(response)
    assert "steps-6-name" not in form
    assert JourneyStep.objects.filter(pk=renewing.pk).exists()
    assert marketing_client.post(url, form).status_code == 302
    assert not JourneyStep.objects.filter(pk=renewing.pk).exists()
    entry = AuditEntry.objects.filter(action="journey.update").order_by("-id").first()
    assert entry is not None
    assert entry.data["removed"] == ["Renewing"]


def test_a_step_people_are_on_or_have_passed_cannot_be_removed(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    ann = factories.person()
    factories.buyer_event(person=ann, name="form_submitted")
    signals_evaluate(person_ids=[ann.pk])  # through step 1, now on step 2
    form = form_of(marketing_client.get(url))

    response = marketing_client.post(url, {**form, "action": "remove-step-1"}, headers=HTMX)
    assert response.status_code == 200
    page = _html(response)
    assert (
        "&#x27;Exploring ways to solve it&#x27; (step 2) has people on it and cannot be "
        "dropped; move them first" in page
    )
    remove = 'id="step-1-remove" class="btn btn-small btn-quiet" aria-describedby="step-1-error"'
    assert f"{remove} autofocus" in page
    assert form_of(response)["steps-1-name"] == "Exploring ways to solve it"

    response = marketing_client.post(url, {**form, "action": "remove-step-0"})
    assert "is in people&#x27;s history and cannot be dropped; rename it instead" in _html(response)
    assert form_of(response)["steps-0-name"] == "Noticing a problem"

    # A form that leaves it out anyway (sent by hand) is refused by the save, too.
    del form["steps-1-id"], form["steps-1-name"]
    response = marketing_client.post(url, form)
    assert response.status_code == 400
    assert "has people on it and cannot be dropped" in _html(response)
    assert len(_names(journey)) == 6
    assert JourneyPosition.objects.get(person=ann).step.name == "Exploring ways to solve it"


# Problems, next to their fields -----------------------------------------------------------------


def test_problems_are_shown_next_to_the_fields_they_are_about_and_nothing_is_saved(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    before = journey_yaml(journey)
    form = form_of(marketing_client.get(url))
    form["steps-0-name"] = "Feeling the pain"  # a good change, refused with the bad ones
    form["steps-2-name"] = ""
    form["steps-1-signals-0-count"] = "twice"
    form["steps-1-signals-1-event"] = "Asked For Contact"
    form["steps-3-signals-0-properties"] = "just words"
    form["steps-4-name"] = "Exploring ways to solve it"
    response = marketing_client.post(url, form)
    assert response.status_code == 400
    page = _html(response)
    assert "Nothing was saved. Please fix 5 problems:" in page
    assert '<a href="#step-2-name">Step 3, step name: is required</a>' in page
    assert (
        '<a href="#step-1-signal-0-count">Step 2, exit signal 1, at least (times): '
        "a whole number from 1 to 1000</a>" in page
    )
    assert '<a href="#step-1-signal-1-event">Step 2, exit signal 2, event: an event name' in page
    assert (
        '<a href="#step-3-signal-0-properties">Step 4, exit signal 1, only when: '
        "one condition per line, written as name = value" in page
    )
    assert 'id="step-4-name-error">Two steps have the same name' in page
    # Each field is marked and says what is wrong.
    assert 'aria-invalid="true" aria-describedby="step-1-signal-0-count-error"' in page
    assert 'id="step-1-signal-0-count-error">A whole number from 1 to 1000</p>' in page
    assert 'id="step-2-name-error">Is required</p>' in page
    # What was typed is kept.
    kept = form_of(response)
    assert kept["steps-0-name"] == "Feeling the pain"
    assert kept["steps-1-signals-1-event"] == "Asked For Contact"
    assert journey_yaml(journey) == before
    assert not AuditEntry.objects.filter(action__startswith="journey.").exists()

    # With htmx the form is swapped in with 400, the summary taking the focus.
    response = marketing_client.post(url, form, headers=HTMX)
    assert response.status_code == 400
    assert 'role="alert" id="error-summary" tabindex="-1" autofocus' in _html(response)


def test_the_editor_and_yaml_refuse_the_same_rule_with_the_same_words(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    form["steps-1-signals-0-within_days"] = "5000"
    editor = _html(marketing_client.post(url, form))
    data = yaml.safe_load(journey_yaml(journey))
    data["steps"][1]["exit_signals"][0]["within_days"] = 5000
    as_yaml = _html(
        marketing_client.post(
            reverse("web:journey_edit", args=[journey.slug]),
            {"yaml": yaml.safe_dump(data, allow_unicode=True)},
        )
    )
    words = "a whole number of days from 1 to 3650"
    assert f"steps[1].exit_signals[0].within_days: {words}" in as_yaml
    assert f"Step 2, exit signal 1, within (days): {words}" in editor


def test_the_preview_says_what_a_signal_looks_for_as_it_is_typed(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    form.update({"steps-1-signals-0-count": "3", "steps-1-signals-0-within_days": ""})
    response = marketing_client.post(url, {**form, "action": "preview-1-0"}, headers=HTMX)
    assert response.status_code == 200
    assert _html(response).strip() == (
        '<span class="signal-preview-words">Moves them on after 3 page views of a page whose '
        "address contains “/pricing”.</span>"
    )
    form["steps-1-signals-0-event"] = "Page View"
    response = marketing_client.post(url, {**form, "action": "preview-1-0"}, headers=HTMX)
    assert "Event: an event name of a-z, 0-9, _ . : - is required" in _html(response)
    response = marketing_client.post(url, {**form, "action": "preview-1-9"}, headers=HTMX)
    assert response.status_code == 400
    assert journey.steps.get(position=2).exit_signals[0]["count"] == 2  # nothing saved


def test_a_journey_saved_by_someone_else_meanwhile_is_not_overwritten_unasked(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    other = yaml.safe_load(journey_yaml(journey))
    other["steps"][0]["name"] = "Their name"
    journey_import(data=other, actor=None)

    form["steps-5-name"] = "My name"
    response = marketing_client.post(url, form)
    assert response.status_code == 409
    assert "someone else saved this journey after you opened it" in _html(response)
    assert _names(journey)[5] == "Getting value"
    again = form_of(response)
    assert again["steps-5-name"] == "My name"
    assert marketing_client.post(url, again).status_code == 302  # "mine over theirs"
    assert _names(journey)[0] == "Noticing a problem"
    assert _names(journey)[5] == "My name"


def test_a_button_that_is_not_on_the_form_changes_nothing(
    marketing_client: Client, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    for action in ("up-0", "down-5", "remove-step-40", "remove-signal-1-7", "explode"):
        response = marketing_client.post(url, {**form, "action": action})
        assert response.status_code == 400, action
        assert form_of(response) == form, action


# Who may ----------------------------------------------------------------------------------------


def test_only_admins_and_marketing_open_or_use_the_editor(
    client: Client, role_client: RoleClient, journey: Journey, url: str
) -> None:
    for page_url in (url, NEW):
        response = client.get(page_url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    for role in (Role.SALES_REP, Role.SALES_MANAGER, Role.OUTSIDE_CALLER):
        rep = role_client(role)
        for page_url in (url, NEW):
            assert rep.get(page_url).status_code == 403, (role, page_url)
            response = rep.post(page_url, {**_new_journey_form(), "action": "save"})
            assert response.status_code == 403, (role, page_url)
    assert Journey.objects.count() == 1
    assert "Edit journey" not in _html(
        role_client(Role.SALES_REP).get(f"/journeys/{journey.slug}/")
    )
    assert "New journey" not in _html(role_client(Role.SALES_REP).get("/journeys/"))
    admin = role_client(Role.ADMIN)
    assert admin.get(url).status_code == 200
    assert 'href="/journeys/new/"' in _html(admin.get("/journeys/"))


def test_an_unknown_journey_is_404(marketing_client: Client) -> None:
    assert marketing_client.get("/journeys/no-such-thing/editor/").status_code == 404


# Who it is for and who starts on it ------------------------------------------------------------


def _start_signal(j: int, **fields: str) -> dict[str, str]:
    row = {"name": "", "event": "", "path_contains": "", "properties": "", "count": "1"}
    row["within_days"] = ""
    row.update(fields)
    return {f"start-signals-{j}-{key}": value for key, value in row.items()}


def test_a_marketer_says_who_a_journey_is_for_and_who_starts_on_it(
    marketing_client: Client,
) -> None:
    page = marketing_client.get(NEW)
    assert 'id="journey-audience"' in _html(page)
    assert "Who starts on it" in _html(page)
    assert "None yet: only a person puts people on this journey." in _html(page)

    # "+ Add a start signal": a blank row, focused, announced; without JavaScript too.
    form = {**_new_journey_form(), "audience": "Payroll — firms of 50 to 500"}
    added = marketing_client.post(NEW, {**form, "action": "add-start-signal"}, headers=HTMX)
    assert added.status_code == 200
    text = _html(added)
    assert 'id="start-signal-0-name" name="start-signals-0-name" value=""' in text
    assert "autofocus" in text.split('id="start-signal-0-name"')[1].split(">")[0]
    assert "Start signal 1 added." in text
    assert '"action": "preview-start-0"' in text  # the row's own preview, as typed
    assert 'value="remove-start-signal-0"' in text
    form = form_of(added)
    assert form["audience"] == "Payroll — firms of 50 to 500"
    form.update(
        _start_signal(
            0, name="Trial of payroll", event="trial_started", properties="plan = payroll"
        )
    )
    plain = marketing_client.post(NEW, {**form, "action": "add-start-signal"})
    assert plain.status_code == 200
    form = form_of(plain)
    assert form["start-signals-1-name"] == ""  # a blank row is not sent, nor an error
    form.update(_start_signal(1, name="Read about payroll twice", event="page_view"))
    form.update({"start-signals-1-path_contains": "/payroll", "start-signals-1-count": "2"})

    response = marketing_client.post(NEW, {**form, "action": "save"})
    assert response.status_code == 302
    made = Journey.objects.get(name="Payroll for firms of 50 to 500")
    assert made.audience == "Payroll — firms of 50 to 500"
    assert made.start_signals == [
        {"name": "Trial of payroll", "event": "trial_started", "properties": {"plan": "payroll"}},
        {
            "name": "Read about payroll twice",
            "event": "page_view",
            "path_contains": "/payroll",
            "count": 2,
        },
    ]
    # Opened again: the same rows, as the editor shows them.
    again = form_of(marketing_client.get(reverse("web:journey_editor", args=[made.slug])))
    assert again["audience"] == "Payroll — firms of 50 to 500"
    assert again["start-signals-0-properties"] == "plan = payroll"
    assert again["start-signals-1-count"] == "2"

    # Removing one and saving takes it off the journey.
    removed = marketing_client.post(
        reverse("web:journey_editor", args=[made.slug]),
        {**again, "action": "remove-start-signal-0"},
    )
    assert "Start signal 1 removed." in _html(removed)
    after = form_of(removed)
    assert after["start-signals-0-name"] == "Read about payroll twice"
    assert "start-signals-1-name" not in after
    marketing_client.post(reverse("web:journey_editor", args=[made.slug]), after)
    made.refresh_from_db()
    assert [s["name"] for s in made.start_signals] == ["Read about payroll twice"]


def test_a_bad_start_signal_is_shown_next_to_its_field_and_nothing_is_saved(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    before = journey_yaml(journey)
    form = form_of(marketing_client.get(url))
    form.update(_start_signal(0, name="Trial", event="trial_started", count="twice"))
    form.update(_start_signal(1, name="", event="webinar_attended"))
    form["audience"] = "x" * 201
    response = marketing_client.post(url, form)
    assert response.status_code == 400
    page = _html(response)
    assert '<a href="#journey-audience">Who it is for: at most 200 characters</a>' in page
    assert (
        '<a href="#start-signal-0-count">Who starts on it, start signal 1, at least (times): '
        "a whole number from 1 to 1000</a>"
    ) in page
    assert (
        '<a href="#start-signal-1-name">Who starts on it, start signal 2, signal name: '
        "a text of 1 to 200 characters is required</a>"
    ) in page
    assert 'aria-invalid="true" aria-describedby="start-signal-0-count-error"' in page
    assert 'id="start-signal-0-count-error">A whole number from 1 to 1000</p>' in page
    assert form_of(response)["start-signals-0-count"] == "twice"  # as typed
    assert journey_yaml(Journey.objects.get(pk=journey.pk)) == before


def test_a_start_signal_preview_says_who_it_starts(
    marketing_client: Client, journey: Journey, url: str
) -> None:
    form = form_of(marketing_client.get(url))
    form.update(_start_signal(0, name="Payroll pages", event="page_view", count="3"))
    form["start-signals-0-path_contains"] = "/payroll"
    response = marketing_client.post(url, {**form, "action": "preview-start-0"}, headers=HTMX)
    assert response.status_code == 200
    assert _html(response).strip() == (
        '<span class="signal-preview-words">Starts them on this journey after 3 page views of a '
        "page whose address contains “/payroll”.</span>"
    )
    form["start-signals-0-within_days"] = "5000"
    response = marketing_client.post(url, {**form, "action": "preview-start-0"}, headers=HTMX)
    assert "Within (days): a whole number of days from 1 to 3650" in _html(response)
    for action in ("preview-start-3", "remove-start-signal-3"):
        response = marketing_client.post(url, {**form, "action": action}, headers=HTMX)
        assert response.status_code == 400, action
    assert Journey.objects.get(pk=journey.pk).start_signals == []


def test_the_journey_pages_say_who_it_is_for_and_who_starts_on_it_in_words(
    marketing_client: Client, role_client: RoleClient
) -> None:
    journey_import(
        data={
            "name": "Payroll",
            "audience": "Payroll — firms of 50 to 500",
            "start_signals": [
                {"name": "Read about payroll twice", "event": "page_view", "count": 2}
            ],
            "steps": [{"name": "Dreading the month end"}],
        },
        actor=None,
    )
    journey_import(data={"name": "Renewals", "steps": [{"name": "Reviewing"}]}, actor=None)
    rep = role_client(Role.SALES_REP)  # reading is for everyone who sees journeys
    listing = _html(rep.get("/journeys/"))
    assert "Payroll — firms of 50 to 500" in listing
    assert "<strong>Read about payroll twice</strong> (2 page views)" in listing
    assert "only people moved onto it by hand." in listing
    assert "everyone, by themselves (the default journey)" in listing

    detail = _html(rep.get("/journeys/payroll/"))
    assert "<dt>For</dt><dd>Payroll — firms of 50 to 500</dd>" in detail
    assert "<li><strong>Read about payroll twice</strong>: 2 page views</li>" in detail
    assert "Any one of these puts a person who is not on this journey at step 1." in detail
    renewals = _html(rep.get("/journeys/renewals/"))
    assert "Nobody by themselves: people join only when someone moves them onto it." in renewals
    default = _html(rep.get("/journeys/buyers-journey/"))
    assert "Everyone who is not on it starts at step 1 by themselves" in default
