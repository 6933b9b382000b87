"""The labels on a person's page (insight.labels): each rule, its edges, unknown data, the why
text, and how many queries reading them takes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadline.capture.models import RequestKind
from leadline.core.models import Person, Role, User
from leadline.engagement.models import Stage
from leadline.engagement.qualification import Profile, seniority
from leadline.engagement.services import handoff_create, lifecycle_set
from leadline.insight.labels import Label, fit_label, person_labels
from leadline.journeys.conversations import conversation_log
from leadline.journeys.models import Journey, JourneyStep
from leadline.journeys.services import journey_move, requests_signals_record, signals_evaluate
from leadline.routing.models import Ownership
from leadline.routing.services import touch_record
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10  # Monday 23 November 2026, 10:00 UTC
DAY = dt.timedelta(days=1)


def labels_of(person: Person) -> dict[str, Label]:
    return {label.name: label for label in person_labels(person=person, now=NOW)}


def rep() -> User:
    return factories.user(role=Role.SALES_REP, first_name="Rosa", last_name="Lind")


def step(name: str) -> JourneyStep:
    return JourneyStep.objects.get(journey__is_default=True, name=name)


def move(person: Person, to: str, *, by: User | None = None, note: str = "") -> None:
    journey_move(
        journey=Journey.objects.get(is_default=True),
        to_step=step(to),
        moved_by=by or rep(),
        person=person,
        note=note,
    )


# Someone we know nothing about ------------------------------------------------------------------


def test_a_person_we_know_nothing_about_gets_every_label_saying_so() -> None:
    person = factories.person(created_at=NOW - 2 * DAY)
    labels = person_labels(person=person, now=NOW)
    assert [label.name for label in labels] == ["Journey step", "Fit", "Interest", "Lifecycle"]
    by_name = {label.name: label for label in labels}
    assert by_name["Journey step"].value == "Not started"
    assert by_name["Journey step"].tone == "low"
    assert by_name["Fit"].value == "Unknown fit"
    assert by_name["Fit"].why[0] == "No company known"
    assert "Country not known" in by_name["Fit"].why
    assert "No job title known" in by_name["Fit"].why
    assert by_name["Interest"].value == "No interest shown"
    assert by_name["Interest"].why == ("No visits, events or requests in the last 90 days",)
    assert by_name["Lifecycle"].value == "Subscriber"
    assert by_name["Lifecycle"].why == ("Known since 21 Nov; nothing has moved them yet",)
    assert all(label.why for label in labels)


# Journey step -----------------------------------------------------------------------------------


def test_journey_step_is_where_signals_put_them_and_why() -> None:
    person = factories.person()
    factories.buyer_event(person=person, name="form_submitted", at=NOW - 3 * DAY)
    for days in (2, 1):
        factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW - days * DAY)
    signals_evaluate(person_ids=[person.pk])

    label = labels_of(person)["Journey step"]
    assert label.value == "Comparing vendors"
    assert label.why == (
        "The buyer's journey: step 3 of 6, “Comparing vendors”, since 23 Nov",
        "Moved there on 23 Nov — Signal: Visited pricing twice",
    )


def test_journey_step_moved_by_hand_says_who_and_their_note() -> None:
    person = factories.person()
    move(person, "Deciding", note="Verbal yes from the CFO")
    label = labels_of(person)["Journey step"]
    assert label.value == "Deciding"
    assert label.why[1] == "Moved there on 23 Nov — Moved by Rosa Lind (“Verbal yes from the CFO”)"


# Fit --------------------------------------------------------------------------------------------


def placed(person: Person, **account: Any) -> Person:
    factories.membership(person=person, account=factories.account(name="Acme", **account))
    return person


def test_a_finance_manager_at_a_mid_sized_german_manufacturer_is_a_strong_fit() -> None:
    person = placed(
        factories.person(title="Financial Controller"),
        employees=1200,
        industry="Manufacturing",
        country="DE",
    )
    label = labels_of(person)["Fit"]
    assert (label.value, label.tone) == ("Strong fit", "good")
    assert label.why == (
        "Meets 5 of 5 points of the ideal customer profile",
        "Acme: 1,200 people — in the ideal range (200 to 5,000)",
        "In Manufacturing — an industry in the profile",
        "Based in Germany — a country in the profile",
        "Works in finance (“Financial Controller”)",
        "A manager (“Financial Controller”) — senior enough",
    )


def test_a_student_at_a_tiny_media_firm_abroad_is_a_poor_fit() -> None:
    person = placed(factories.person(title="Student"), employees=40, industry="Media", country="BR")
    label = labels_of(person)["Fit"]
    assert (label.value, label.tone) == ("Poor fit", "low")
    assert label.why == (
        "Meets 0 of 5 points of the ideal customer profile",
        "Acme: 40 people — smaller than the ideal range (200 to 5,000)",
        "In Media — not an industry in the profile",
        "Based in Brazil — not a country in the profile",
        "“Student” — not in finance",
        "An individual contributor (“Student”) — less senior than the profile",
    )


def test_some_points_met_is_a_partial_fit() -> None:
    person = placed(
        factories.person(title="Head of IT"), employees=9000, industry="Software", country="US"
    )
    label = labels_of(person)["Fit"]
    assert label.value == "Partial fit"
    assert "Acme: 9,000 people — larger than the ideal range (200 to 5,000)" in label.why
    assert "The head of a function (“Head of IT”) — senior enough" in label.why
    assert label.why[0] == "Meets 3 of 5 points of the ideal customer profile"


PROFILE = Profile(
    employees_min=200,
    employees_max=5000,
    industries=("Manufacturing",),
    countries=("DE",),
    functions=("finance",),
    seniorities=("executive",),
)


@pytest.mark.parametrize(
    ("employees", "in_range"), [(199, False), (200, True), (5000, True), (5001, False)]
)
def test_the_size_range_includes_its_ends(employees: int, in_range: bool) -> None:
    person = placed(factories.person(), employees=employees)
    label = fit_label(person=person, account=person.memberships.get().account, profile=PROFILE)
    assert any("in the ideal range" in line for line in label.why) is in_range


def test_a_company_we_know_nothing_about_is_an_unknown_fit() -> None:
    person = placed(factories.person(title="CFO"))
    label = labels_of(person)["Fit"]
    assert label.value == "Unknown fit"
    assert label.why[:3] == (
        "Nothing known about Acme's size or industry",
        "Acme: company size not known",
        "Industry not known",
    )


def test_a_former_employer_does_not_count() -> None:
    person = factories.person(title="CFO")
    factories.membership(
        person=person,
        account=factories.account(employees=1000, industry="Manufacturing"),
        is_current=False,
    )
    assert labels_of(person)["Fit"].why[0] == "No company known"


def test_the_profile_comes_from_settings(settings: Any) -> None:
    person = placed(
        factories.person(title="Chief Financial Officer", country="BR"),
        employees=30,
        industry="Media",
    )
    assert labels_of(person)["Fit"].value == "Partial fit"
    settings.FIT_EMPLOYEES_MIN = 10
    settings.FIT_INDUSTRIES = ["Media"]
    settings.FIT_COUNTRIES = ["br"]
    label = labels_of(person)["Fit"]
    assert label.value == "Strong fit"
    assert "Acme: 30 people — in the ideal range (10 to 5,000)" in label.why
    assert "Based in Brazil — a country in the profile" in label.why  # the person's country


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("Co-founder & CEO", "executive"),
        ("Chief Financial Officer", "executive"),
        ("VP Finance", "executive"),
        ("Head of Internal Audit", "director"),
        ("Finance Director", "director"),
        ("Financial Controller", "manager"),
        ("FP&A Lead", "manager"),
        ("Senior Accountant", "staff"),
        ("IT Business Partner, Finance", "staff"),
        ("Student", "staff"),
        ("Deadline chaser", "staff"),  # "lead" inside a word is not a lead
    ],
)
def test_seniority_from_the_title(title: str, level: str) -> None:
    found = seniority(title)
    assert found is not None
    assert found[0] == level


def test_no_title_has_no_seniority() -> None:
    assert seniority("  ") is None


# Interest ---------------------------------------------------------------------------------------


def test_repeat_pricing_visits_lead_the_why_with_count_and_window() -> None:
    person = factories.person()
    for days in (14, 7, 1):
        factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW - days * DAY)
    factories.buyer_event(person=person, name="page_view", path="/", at=NOW - 2 * DAY)
    label = labels_of(person)["Interest"]
    assert label.value == "Medium interest"
    assert label.why == (
        "Visited /pricing 3 times in the last 14 days",
        "Visited / on 21 Nov",
        "Score 9 from 4 signals in the last 90 days (a signal counts half after 30 days)",
    )


def test_recent_signals_count_more_than_old_ones() -> None:
    fresh, stale = factories.person(), factories.person()
    factories.person_request(person=fresh, wants_contact=True, created_at=NOW - DAY)
    factories.person_request(person=stale, wants_contact=True, created_at=NOW - 60 * DAY)
    assert labels_of(fresh)["Interest"].value == "Medium interest"
    stale_label = labels_of(stale)["Interest"]
    assert stale_label.value == "Low interest"
    assert stale_label.why[0] == "Asked to be contacted on 24 Sep"


def test_only_the_last_90_days_count() -> None:
    person = factories.person()
    factories.buyer_event(person=person, name="webinar_attended", at=NOW - 91 * DAY)
    factories.person_request(person=person, created_at=NOW - 95 * DAY)
    assert labels_of(person)["Interest"].value == "No interest shown"
    factories.buyer_event(person=person, name="webinar_attended", at=NOW - 89 * DAY)
    label = labels_of(person)["Interest"]
    assert label.value == "Low interest"
    assert label.why[0] == "Webinar attended on 26 Aug"


def test_many_signals_make_high_interest_and_only_the_top_three_are_named() -> None:
    person = factories.person()
    form = factories.form()
    factories.person_request(person=person, wants_contact=True, form=form, created_at=NOW - DAY)
    factories.person_request(person=person, form=form, created_at=NOW - 2 * DAY)
    factories.buyer_event(person=person, name="email_replied", at=NOW - 3 * DAY)
    factories.buyer_event(person=person, name="page_view", path="/pricing", at=NOW - DAY)
    factories.buyer_event(person=person, name="page_view", path="/blog/x", at=NOW - DAY)
    label = labels_of(person)["Interest"]
    assert (label.value, label.tone) == ("High interest", "good")
    assert label.why[:4] == (
        "Asked to be contacted on 22 Nov",
        "Replied to an email on 20 Nov",
        "Sent “Get the CFO's guide” on 21 Nov",
        "and 2 other signals",
    )


def test_a_form_recorded_as_events_too_counts_once() -> None:
    person = factories.person()
    request = factories.person_request(
        person=person, wants_contact=True, kind=RequestKind.CONTACT, created_at=NOW - DAY
    )
    requests_signals_record(request_ids=[request.pk])  # form_submitted + contact_requested
    label = labels_of(person)["Interest"]
    assert label.why == (
        "Asked to be contacted on 22 Nov",
        "Score 8 from 1 signal in the last 90 days (a signal counts half after 30 days)",
    )


def test_someone_elses_signals_do_not_count() -> None:
    person, other = factories.person(), factories.person()
    factories.buyer_event(person=other, name="page_view", path="/pricing", at=NOW - DAY)
    factories.person_request(person=other, wants_contact=True, created_at=NOW - DAY)
    assert labels_of(person)["Interest"].value == "No interest shown"
    assert labels_of(person)["Lifecycle"].value == "Subscriber"


# Lifecycle --------------------------------------------------------------------------------------


def lifecycle(person: Person) -> tuple[str, tuple[str, ...]]:
    label = labels_of(person)["Lifecycle"]
    return label.value, label.why


def test_the_lifecycle_is_the_stored_stage_not_a_guess_from_their_data() -> None:
    person = factories.person()
    # Signals that once made a "Sales-ready lead" by rule: the stage only moves when it is moved.
    factories.person_request(person=person, wants_contact=True, created_at=NOW - 2 * DAY)
    factories.buyer_event(person=person, name="contract_signed", at=NOW - DAY)
    assert lifecycle(person)[0] == "Subscriber"

    lifecycle_set(person=person, stage=Stage.ENGAGED, reason="Came to the webinar", actor=None)
    assert lifecycle(person) == ("Engaged", ("Came to the webinar", "Since 23 Nov"))


def test_the_why_is_the_last_moves_reason_and_who_moved_them() -> None:
    person = factories.person()
    marketer = factories.user(role=Role.MARKETING, first_name="Maria", last_name="Vos")
    lifecycle_set(
        person=person, stage=Stage.ENGAGED, reason="Opened 3 mails", actor=None, at=NOW - 3 * DAY
    )
    lifecycle_set(
        person=person,
        stage=Stage.DISQUALIFIED,
        reason="Student, not a buyer",
        actor=marketer,
        at=NOW - DAY,
    )
    label = labels_of(person)["Lifecycle"]
    assert (label.value, label.tone) == ("Disqualified", "low")
    assert label.why == ("Student, not a buyer", "Since 22 Nov by Maria Vos")


def test_a_handoff_makes_them_marketing_qualified_and_says_so() -> None:
    person = factories.person()
    marketer = factories.user(role=Role.MARKETING, first_name="Maria", last_name="Vos")
    factories.user(role=Role.SALES_MANAGER)
    handoff_create(person=person, trigger="marketing", actor=marketer, note="Asked for a demo")
    label = labels_of(person)["Lifecycle"]
    assert (label.value, label.tone) == ("Marketing-qualified", "good")
    assert label.why[0] == "Handed over by Maria Vos: Asked for a demo"


def test_a_recycled_lead_says_it_is_back_in_nurture() -> None:
    person = factories.person()
    lifecycle_set(person=person, stage=Stage.RECYCLED, reason="No budget this year", actor=None)
    assert lifecycle(person) == (
        "Recycled",
        ("No budget this year", "Since 23 Nov", "Back to nurture: marketing works them again"),
    )


def test_dates_from_another_year_say_the_year() -> None:
    person = factories.person(created_at=dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC))
    assert lifecycle(person) == (
        "Subscriber",
        ("Known since 4 Mar 2025; nothing has moved them yet",),
    )


# Queries ----------------------------------------------------------------------------------------


def busy_person(n: int) -> Person:
    person = placed(factories.person(title="CFO"), employees=500, industry="Retail")
    seller = rep()
    for i in range(n):
        factories.buyer_event(person=person, name="page_view", path=f"/p{i}", at=NOW - i * DAY)
        request = factories.person_request(person=person, created_at=NOW - i * DAY)
        touch_record(request=request, user=seller, kind="email", at=NOW - i * DAY)
        conversation_log(
            kind="call", summary="Talked", people=[person], logged_by=seller, occurred_at=NOW
        )
    signals_evaluate(person_ids=[person.pk])
    Ownership.objects.create(owner=seller, person=person)
    return person


def test_reading_the_labels_takes_the_same_few_queries_however_busy_the_person(
    django_assert_max_num_queries: Any, django_assert_num_queries: Any
) -> None:
    quiet, busy = busy_person(1), busy_person(25)
    with django_assert_max_num_queries(12) as counted:
        person_labels(person=quiet, now=NOW)
    with django_assert_num_queries(len(counted.captured_queries)):
        labels = person_labels(person=busy, now=NOW)
    assert {label.name: label.value for label in labels}["Interest"] == "High interest"
