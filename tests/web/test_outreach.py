"""Contact limits, the person's Contact card and marketing emails, through real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leadline.core.models import Person, TimelineEvent
from leadline.outreach import services
from leadline.outreach.models import (
    ContactPolicy,
    DoNotContact,
    Newsletter,
    NewsletterStatus,
)
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]


def _html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def ann() -> Person:
    person = factories.person(first_name="Ann", email="ann@acme.example", time_zone="Europe/Berlin")
    factories.consent(person=person, captured_at=factories.MONDAY_10 - dt.timedelta(days=3))
    factories.membership(person=person, account=factories.account(name="Acme"))
    return person


@pytest.mark.parametrize(
    "url",
    [
        "/contact-settings/",
        "/marketing-emails/",
        "/marketing-emails/new/",
    ],
)
@pytest.mark.parametrize("role", ["sales_rep", "sales_manager", "outside_caller"])
def test_only_marketing_and_admins_open_the_outreach_pages(
    role_client: RoleClient, url: str, role: str
) -> None:
    assert role_client(role).get(url).status_code == 403


def test_anonymous_visitors_go_to_the_login_page(client: Client) -> None:
    response = client.get("/marketing-emails/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_contact_limits_are_saved(marketing_client: Client) -> None:
    page = marketing_client.get("/contact-settings/")
    assert page.status_code == 200
    assert "Contact limits" in _html(page)
    response = marketing_client.post(
        "/contact-settings/",
        {
            "weekly_cap": "2",
            "quiet_start": "19:00",
            "quiet_end": "09:00",
            "default_time_zone": "Europe/London",
        },
    )
    assert response.status_code == 302
    policy = ContactPolicy.objects.get(pk=1)
    assert (policy.weekly_cap, policy.quiet_start, policy.weekends_quiet) == (
        2,
        dt.time(19),
        False,
    )
    bad = marketing_client.post(
        "/contact-settings/",
        {
            "weekly_cap": "0",
            "quiet_start": "19:00",
            "quiet_end": "09:00",
            "default_time_zone": "Mars/Olympus",
        },
    )
    assert bad.status_code == 200
    assert "not a time zone" in _html(bad)
    assert ContactPolicy.objects.get(pk=1).weekly_cap == 2


def test_the_do_not_contact_list_add_and_remove(marketing_client: Client, ann: Person) -> None:
    response = marketing_client.post(
        "/contact-settings/do-not-contact/",
        {"who": "ANN@acme.example", "channel": "phone", "reason": "Asked us not to call"},
    )
    assert response.status_code == 302
    row = DoNotContact.objects.get(person=ann)
    assert (row.channel, row.reason, row.source) == ("phone", "Asked us not to call", "by_hand")
    assert "Asked us not to call" in _html(marketing_client.get("/contact-settings/"))

    unknown = marketing_client.post(
        "/contact-settings/do-not-contact/", {"who": "nobody@x.example", "channel": "email"}
    )
    assert "Nobody with that email address" in _html(unknown)

    marketing_client.post(f"/contact-settings/do-not-contact/{row.pk}/remove/")
    assert not DoNotContact.objects.exists()
    assert TimelineEvent.objects.filter(person=ann, kind="contact.do_not_contact_lifted").exists()


def test_the_person_page_shows_the_contact_card(role_client: RoleClient, ann: Person) -> None:
    for n in range(2):
        services.contact_reserve(
            person=ann, channel="email", purpose="marketing", source="cadence", ref=f"e:{n}"
        )
    rep = role_client("sales_rep")
    page = _html(rep.get(f"/people/{ann.pk}/"))
    assert 'id="person-contact"' in page
    assert "2 of 3" in page
    assert "touches in the last 7 days" in page
    assert "Europe/Berlin" in page


def test_staff_toggle_do_not_contact_on_the_person_page(
    role_client: RoleClient, ann: Person
) -> None:
    rep = role_client("sales_rep")
    url = reverse("web:outreach_person_contact", args=[ann.pk])
    response = rep.post(url, {"action": "block", "channel": "email"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Do not contact</span>" in _html(response)
    assert DoNotContact.objects.filter(person=ann, channel="email").exists()
    [event] = TimelineEvent.objects.filter(person=ann, kind="contact.do_not_contact")
    assert event.data["channel"] == "email"

    rep.post(url, {"action": "allow", "channel": "email"})
    assert not DoNotContact.objects.exists()
    rep.post(url, {"action": "unsubscribe"})
    assert TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed").exists()
    assert rep.post(url, {"action": "block", "channel": "fax"}).status_code == 400
    assert role_client("outside_caller").post(url, {"action": "unsubscribe"}).status_code == 403


def test_write_preview_and_send_a_marketing_email(
    marketing_client: Client,
    ann: Person,
    run_worker: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = marketing_client.post(
        "/marketing-emails/new/",
        {
            "name": "November digest",
            "subject": "Closing faster, {{ first_name }}",
            "text": "Hi {{ first_name }} at {{ company }}",
            "audience": "consented",
        },
    )
    assert response.status_code == 302
    newsletter = Newsletter.objects.get()
    preview = _html(marketing_client.get(response["Location"]))
    assert "Closing faster, Ann" in preview
    assert "Hi Ann at Acme" in preview
    assert "/unsubscribe/" in preview
    assert "Send to 1 person" in preview

    with django_capture_on_commit_callbacks(execute=True):
        marketing_client.post(f"/marketing-emails/{newsletter.pk}/send/")
    newsletter.refresh_from_db()
    assert newsletter.status == NewsletterStatus.QUEUED
    page = _html(marketing_client.get(f"/marketing-emails/{newsletter.pk}/"))
    assert 'hx-trigger="every 2s"' in page  # the page keeps asking while the send runs
    progress = marketing_client.get(f"/marketing-emails/{newsletter.pk}/progress/")
    assert progress.status_code == 200
    assert "Waiting for the worker" in _html(progress)

    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    newsletter.refresh_from_db()
    assert newsletter.status == NewsletterStatus.SENT
    progress = marketing_client.get(f"/marketing-emails/{newsletter.pk}/progress/")
    assert progress.status_code == 286  # done: htmx stops asking
    assert "<strong>1</strong> sent of 1 people" in _html(progress)
    assert "hx-trigger" not in _html(marketing_client.get(f"/marketing-emails/{newsletter.pk}/"))
    assert "November digest" in _html(marketing_client.get("/marketing-emails/"))
    # Sent: no second send, no edits; a copy is a new draft.
    marketing_client.post(f"/marketing-emails/{newsletter.pk}/send/")
    assert marketing_client.get(f"/marketing-emails/{newsletter.pk}/edit/").status_code == 302
    copied = marketing_client.post(f"/marketing-emails/{newsletter.pk}/copy/")
    assert Newsletter.objects.filter(status=NewsletterStatus.DRAFT).count() == 1
    assert copied.status_code == 302


def test_an_unknown_merge_field_is_shown_on_the_form(marketing_client: Client) -> None:
    response = marketing_client.post(
        "/marketing-emails/new/",
        {"subject": "Hi", "text": "Hi {{ password }}", "audience": "consented"},
    )
    assert response.status_code == 200
    assert "Unknown merge field password" in _html(response)
    assert not Newsletter.objects.exists()


def test_a_lifecycle_audience_needs_a_stage(marketing_client: Client) -> None:
    response = marketing_client.post(
        "/marketing-emails/new/", {"subject": "Hi", "text": "Hi", "audience": "lifecycle"}
    )
    assert "Choose the stage." in _html(response)
    marketing_client.post(
        "/marketing-emails/new/",
        {"subject": "Hi", "text": "Hi", "audience": "lifecycle", "stage": "engaged"},
    )
    assert Newsletter.objects.get().audience_value == "engaged"
