"""The sales rep's inbox, through real HTTP requests: open requests by deadline, one-click touches,
the email dialog, notifications, the live poll, the nav badge and who may use any of it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadline.capture.models import Request, RequestKind
from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.journeys.tracking import identify_token_read
from leadline.notify.models import InboxItem, OutgoingMail
from leadline.notify.services import inbox_notify
from leadline.routing.models import RoutingRule, Touch
from leadline.routing.services import request_assign, touch_record
from tests import factories

RoleClient = Callable[[str], Client]
HTMX = {"HX-Request": "true"}

MONDAY_10 = factories.MONDAY_10  # 11:00 in Berlin, where Rita works
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture
def rita() -> User:
    """The only seller of a team every request is routed to (Mon-Fri 09:00-17:00 UTC)."""
    manager = factories.user(role=Role.SALES_MANAGER, username="sam")
    team = factories.team(name="Inside Sales", manager=manager)
    RoutingRule.objects.create(name="Everyone", team=team, conditions=[])
    return factories.user(
        role=Role.SALES_REP,
        username="rita",
        first_name="Rita",
        last_name="Santos",
        team=team,
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def rita_client(client: Client, rita: User) -> Client:
    client.force_login(rita)
    return client


def routed(
    *,
    received: dt.datetime,
    kind: str = RequestKind.CONTACT,
    first_name: str = "Ann",
    **extra: Any,
) -> Request:
    """A request received at `received`, routed then by the real routing service."""
    person = factories.person(
        first_name=first_name,
        last_name="Lee",
        role_own_words=f"{first_name}: I run the finance systems team",
    )
    extra.setdefault("wants_contact", kind == RequestKind.CONTACT)
    made = factories.person_request(person=person, kind=kind, created_at=received, **extra)
    with clock.frozen_at(received):
        request_assign(request_id=made.pk)
    made.refresh_from_db()
    return made


def html(response: Any) -> str:
    return str(response.content.decode())


def row_html(page: str, request: Request) -> str:
    """The <li> of one request in a page or fragment."""
    found = re.search(rf'<li id="req-{request.pk}".*?</li>', page, re.S)
    assert found, f"no row for request {request.pk}"
    return found.group(0)


def version_of(page: str) -> str:
    found = re.search(r'id="inbox-version" name="v" value="([^"]+)"', page)
    assert found, "the page holds no version"
    return found.group(1)


# Open requests, by deadline --------------------------------------------------------------------


def test_open_requests_come_by_deadline_untouched_first(rita_client: Client, rita: User) -> None:
    at = MONDAY_10
    # Friday 16:53: seven minutes of Friday's hours, the rest on Monday: due 09:53.
    late = routed(received=dt.datetime(2026, 11, 20, 16, 53, tzinfo=dt.UTC), first_name="Lena")
    soon = routed(received=at - dt.timedelta(minutes=18), first_name="Sara")  # due 10:42
    later = routed(received=at + dt.timedelta(minutes=5), first_name="Omar")  # due 11:05
    download = routed(received=at, kind=RequestKind.DOWNLOAD, first_name="Dee")  # due tomorrow
    touched = routed(received=at - dt.timedelta(minutes=30), first_name="Theo")  # due 10:30
    touch_record(request=touched, user=rita, kind="call", outcome="connected", at=at)
    someone_elses = factories.person_request(person=factories.person(), kind="contact")

    page = html(rita_client.get(reverse("web:inbox")))

    order = [page.index(f'id="req-{r.pk}"') for r in (late, soon, later, download, touched)]
    assert order == sorted(order)
    assert f'id="req-{someone_elses.pk}"' not in page
    assert "5 open · 4 waiting for a first touch" in page

    overdue = row_html(page, late)
    assert "is-overdue" in overdue
    assert "Overdue" in overdue
    assert "overdue by 7 min" in overdue
    # Deadlines in the viewer's own zone (Berlin, UTC+1), with a countdown from the server clock.
    assert "First touch due <time" in row_html(page, soon)
    assert ">11:42</time>" in row_html(page, soon)
    assert 'class="countdown" datetime="2026-11-23T11:42:00+01:00">due in 42 min<' in page
    assert "due in 1 h 05 min" in row_html(page, later)
    assert "is-overdue" not in row_html(page, soon)
    assert "Tue " in row_html(page, download)  # due the next business day: the day is named
    assert "First touch <time" in row_html(page, touched)
    assert "11:00</time> — call, connected" in row_html(page, touched)
    assert "countdown" not in row_html(page, touched)


def test_a_row_says_who_they_are_and_what_they_asked_for_in_their_words(
    rita_client: Client,
) -> None:
    account = factories.account(name="Acme Widgets")
    form = factories.form(slug="cfo-guide")
    request = routed(
        received=MONDAY_10,
        kind=RequestKind.DOWNLOAD,
        wants_contact=True,
        account=account,
        form=form,
        asset=form.asset,
        message="We close the books in 12 days and want it in 5",
    )

    row = row_html(html(rita_client.get(reverse("web:inbox"))), request)

    assert f'href="/people/{request.person_id}/">Ann Lee</a>' in row
    assert "“Ann: I run the finance systems team”" in row
    assert "Acme Widgets" in row
    assert "Download" in row
    assert "Wants contact" in row
    assert "“The CFO&#x27;s guide to closing faster”" in row
    assert "We close the books in 12 days and want it in 5" in row
    assert "Received <time" in row
    assert ">23 Nov, 11:00</time>" in row


# One-click touches -----------------------------------------------------------------------------

TOUCHES = [
    ({"outcome": "connected"}, "call", "connected", "call, connected"),
    ({"outcome": "voicemail"}, "call", "voicemail", "call, left a voicemail"),
    ({"outcome": "no_answer"}, "call", "no_answer", "call, no answer"),
    ({"outcome": "wrong_number"}, "call", "wrong_number", "call, wrong number"),
    ({"kind": "meeting"}, "meeting", "", "meeting booked"),
]


@pytest.mark.parametrize(("data", "kind", "outcome", "words"), TOUCHES)
def test_each_touch_button_records_the_touch_and_swaps_the_row(
    rita_client: Client,
    rita: User,
    data: dict[str, str],
    kind: str,
    outcome: str,
    words: str,
) -> None:
    request = routed(received=MONDAY_10 - dt.timedelta(minutes=10))
    url = reverse("web:inbox_touch", args=[request.pk])
    page = html(rita_client.get(reverse("web:inbox")))
    # Every button posts to the row's endpoint and swaps the row.
    assert f'hx-post="{url}" hx-target="#req-{request.pk}" hx-swap="outerHTML"' in page

    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=20)):
        response = rita_client.post(url, data, headers=HTMX)

    assert response.status_code == 200
    touch = Touch.objects.get()
    assert (touch.request, touch.user, touch.kind, touch.outcome) == (request, rita, kind, outcome)
    request.routing.refresh_from_db()
    assert request.routing.first_touched_at == MONDAY_10 + dt.timedelta(minutes=20)
    fragment = html(response)
    assert fragment.lstrip().startswith(f'<li id="req-{request.pk}" class="inbox-row is-touched"')
    assert f'First touch <time datetime="2026-11-23T11:20:00+01:00">11:20</time> — {words}' in (
        fragment
    )
    assert "countdown" not in fragment
    # Said out loud by the page's status region.
    assert (
        f'<p id="inbox-status" hx-swap-oob="innerHTML">Logged for Ann Lee: {words}.</p>' in fragment
    )


def test_without_javascript_a_touch_posts_and_comes_back_to_the_inbox(
    rita_client: Client,
) -> None:
    request = routed(received=MONDAY_10)
    response = rita_client.post(
        reverse("web:inbox_touch", args=[request.pk]), {"outcome": "voicemail"}, follow=True
    )
    assert response.redirect_chain == [(reverse("web:inbox"), 302)]
    assert "Logged for Ann Lee: call, left a voicemail." in html(response)
    assert "— call, left a voicemail" in row_html(html(response), request)


def test_another_reps_request_is_not_theirs_to_touch(rita: User, role_client: RoleClient) -> None:
    request = routed(received=MONDAY_10)
    other_rep = role_client(Role.SALES_REP)

    touch = other_rep.post(
        reverse("web:inbox_touch", args=[request.pk]), {"outcome": "connected"}, headers=HTMX
    )
    email = other_rep.get(reverse("web:inbox_email", args=[request.pk]), headers=HTMX)
    mail = other_rep.post(
        reverse("web:inbox_email", args=[request.pk]), {"subject": "Hi", "text": "Hello"}
    )

    assert (touch.status_code, email.status_code, mail.status_code) == (403, 403, 403)
    assert not Touch.objects.exists()
    assert not OutgoingMail.objects.filter(reason="request.email").exists()


def test_a_sales_manager_may_log_a_touch_on_a_reps_request(
    rita: User, role_client: RoleClient
) -> None:
    request = routed(received=MONDAY_10)
    manager = role_client(Role.SALES_MANAGER)
    response = manager.post(
        reverse("web:inbox_touch", args=[request.pk]), {"outcome": "no_answer"}, headers=HTMX
    )
    assert response.status_code == 200
    assert Touch.objects.get().user.role == Role.SALES_MANAGER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"outcome": "bogus"}, "outcome"),
        ({"kind": "call"}, "outcome"),
        ({"kind": "call", "outcome": ""}, "outcome"),
        ({"kind": "email"}, "kind"),
        ({"kind": "fax", "outcome": "connected"}, "kind"),
        ({}, "kind"),
        ({"kind": "meeting", "outcome": "connected"}, "outcome"),
    ],
)
def test_an_unknown_kind_or_outcome_is_refused_naming_the_field(
    rita_client: Client, data: dict[str, str], field: str
) -> None:
    request = routed(received=MONDAY_10)
    response = rita_client.post(reverse("web:inbox_touch", args=[request.pk]), data, headers=HTMX)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert html(response).startswith(f"{field}: ")
    assert not Touch.objects.exists()


def test_touching_a_request_that_does_not_exist_is_404(rita_client: Client) -> None:
    response = rita_client.post(reverse("web:inbox_touch", args=[999999]), {"outcome": "connected"})
    assert response.status_code == 404


# Email -----------------------------------------------------------------------------------------


def test_the_email_dialog_queues_one_mail_to_the_person(
    rita_client: Client, rita: User, django_capture_on_commit_callbacks: Any
) -> None:
    form = factories.form(slug="cfo-guide")
    request = routed(received=MONDAY_10, form=form, asset=form.asset)
    ann = Person.objects.get(pk=request.person_id)
    address = ann.emails.get(is_primary=True).email
    ann.emails.create(email="ann.private@example.org", is_primary=False)
    url = reverse("web:inbox_email", args=[request.pk])

    dialog = rita_client.get(url, headers=HTMX)
    assert dialog.status_code == 200
    assert 'id="compose-h" tabindex="-1">Email Ann Lee</h2>' in html(dialog)
    assert f"To {address}" in html(dialog)
    assert 'value="About The CFO&#x27;s guide to closing faster"' in html(dialog)
    assert "Hi Ann,\n\n\n\nBest regards,\nRita Santos</textarea>" in html(dialog)

    with django_capture_on_commit_callbacks(execute=False):
        sent = rita_client.post(
            url,
            {"subject": "Your CFO guide", "text": "Hi Ann,\n\nShall we talk on Tuesday?\n\nRita"},
            headers=HTMX,
        )

    assert sent.status_code == 200
    mail = OutgoingMail.objects.get(reason="request.email")
    assert mail.to == [address]
    assert (mail.subject, mail.reason, mail.subject_ref) == (
        "Your CFO guide",
        "request.email",
        f"request:{request.pk}",
    )
    assert mail.text == "Hi Ann,\n\nShall we talk on Tuesday?\n\nRita"
    assert mail.person == ann
    assert mail.headers == {"Reply-To": rita.email}
    # Queued is not sent: no touch yet, and the row says so.
    assert not Touch.objects.exists()
    row = row_html(html(sent), request)
    assert 'hx-swap-oob="true"' in row
    assert "Email queued" in row
    assert "countdown" in row
    assert "Email queued" in row_html(html(rita_client.get(reverse("web:inbox"))), request)


def test_an_incomplete_email_is_shown_again_with_its_problems(rita_client: Client) -> None:
    request = routed(received=MONDAY_10)
    response = rita_client.post(
        reverse("web:inbox_email", args=[request.pk]),
        {"subject": "", "text": "Hi Ann"},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert 'aria-invalid="true" aria-describedby="compose-subject-error"' in html(response)
    assert "This field is required." in html(response)
    assert ">Hi Ann</textarea>" in html(response)
    assert not OutgoingMail.objects.filter(reason="request.email").exists()


def test_without_javascript_the_email_form_is_a_page_of_its_own(rita_client: Client) -> None:
    request = routed(received=MONDAY_10)
    url = reverse("web:inbox_email", args=[request.pk])
    page = rita_client.get(url)
    assert page.status_code == 200
    assert "<title>Email Ann Lee · Leadline</title>" in html(page)
    response = rita_client.post(url, {"subject": "Hello", "text": "Hi Ann"}, follow=True)
    assert response.redirect_chain == [(reverse("web:inbox"), 302)]
    assert "Email to Ann Lee queued" in html(response)
    assert OutgoingMail.objects.filter(reason="request.email").count() == 1


def test_the_sent_mail_becomes_the_first_touch(
    rita_client: Client, settings: Any, run_worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    request = routed(received=MONDAY_10)
    with django_capture_on_commit_callbacks(execute=True):
        rita_client.post(
            reverse("web:inbox_email", args=[request.pk]), {"subject": "Hello", "text": "Hi Ann"}
        )
    run_worker()

    row = row_html(html(rita_client.get(reverse("web:inbox"))), request)
    assert "Email queued" not in row
    assert "First touch <time" in row
    assert "— email" in row


# The live poll ---------------------------------------------------------------------------------


def test_the_poll_answers_204_until_a_new_request_is_routed(rita_client: Client) -> None:
    first = routed(received=MONDAY_10 - dt.timedelta(minutes=5))
    page = html(rita_client.get(reverse("web:inbox")))
    version = version_of(page)
    assert 'hx-trigger="every 500ms" hx-include="#inbox-version" hx-swap="none"' in page
    live = reverse("web:inbox_live")

    unchanged = rita_client.get(live, {"v": version}, headers=HTMX)
    assert unchanged.status_code == 204
    assert unchanged.content == b""
    assert unchanged["X-Server-Now"] == MONDAY_10.isoformat()

    second = routed(received=MONDAY_10, first_name="Bob")
    changed = rita_client.get(live, {"v": version}, headers=HTMX)

    assert changed.status_code == 200
    fragment = html(changed)
    assert '<div id="inbox-requests" hx-swap-oob="true">' in fragment
    assert f'id="req-{first.pk}"' in fragment
    assert "Bob Lee" in row_html(fragment, second)
    assert '<p id="inbox-status" hx-swap-oob="innerHTML">New request: Bob Lee, due 12:00.</p>' in (
        fragment
    )
    # Routing told Rita, too: the notifications panel and the badge come along.
    assert '<div id="inbox-notes" hx-swap-oob="true">' in fragment
    assert "New request: Bob Lee" in fragment
    new_version = version_of(fragment)
    assert new_version != version
    assert rita_client.get(live, {"v": new_version}, headers=HTMX).status_code == 204


def test_the_poll_notices_a_touch_a_deadline_passing_and_a_notification(
    rita_client: Client, rita: User
) -> None:
    request = routed(received=MONDAY_10)  # due 11:00
    live = reverse("web:inbox_live")
    version = version_of(html(rita_client.get(reverse("web:inbox"))))

    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=1, seconds=1)):
        passed = rita_client.get(live, {"v": version}, headers=HTMX)
        assert passed.status_code == 200
        assert "is-overdue" in row_html(html(passed), request)
        version = version_of(html(passed))
        assert rita_client.get(live, {"v": version}, headers=HTMX).status_code == 204

        touch_record(request=request, user=rita, kind="meeting")
        touched = rita_client.get(live, {"v": version}, headers=HTMX)
        assert "is-touched" in row_html(html(touched), request)
        version = version_of(html(touched))

        inbox_notify(user=rita, kind="escalation.reminder", title="Ann is waiting", link="/x/")
        noted = rita_client.get(live, {"v": version}, headers=HTMX)
        assert 'id="inbox-requests"' not in html(noted)
        assert "Ann is waiting" in html(noted)
        assert '<span id="nav-inbox-badge" hx-swap-oob="true">' in html(noted)


def test_a_request_routed_away_leaves_the_list(rita_client: Client, rita: User) -> None:
    request = routed(received=MONDAY_10)
    version = version_of(html(rita_client.get(reverse("web:inbox"))))
    factories.user(role=Role.SALES_REP, username="tom", team=rita.team)
    request_assign(request_id=request.pk, exclude=[rita.pk], reason="Rita is away")

    changed = rita_client.get(reverse("web:inbox_live"), {"v": version}, headers=HTMX)

    assert changed.status_code == 200
    assert f'id="req-{request.pk}"' not in html(changed)
    assert "Nothing waiting for you." in html(changed)


def test_a_garbled_version_gets_the_whole_list(rita_client: Client) -> None:
    request = routed(received=MONDAY_10)
    response = rita_client.get(reverse("web:inbox_live"), {"v": "nonsense"}, headers=HTMX)
    assert response.status_code == 200
    assert f'id="req-{request.pk}"' in html(response)
    assert 'id="inbox-notes"' in html(response)
    assert "inbox-status" not in html(response)  # no "new request" news without a version


# Notifications ---------------------------------------------------------------------------------


def notes(user: User) -> list[InboxItem]:
    return [
        inbox_notify(
            user=user, kind="escalation.breach", title="Ann passed her deadline", link="/people/1/"
        ),
        inbox_notify(user=user, kind="handover", title="Bob is yours now", body="From Tom"),
        inbox_notify(user=user, kind="escalation.bounce", title="Mail to Cy bounced", link="/y/"),
    ]


def test_notifications_show_unread_and_can_be_marked_read(rita_client: Client, rita: User) -> None:
    breach, handover, _ = notes(rita)
    inbox_notify(user=factories.user(), kind="x", title="Not Rita's")
    page = html(rita_client.get(reverse("web:inbox")))
    assert "<strong>3 unread</strong>" in page
    assert "Not Rita&#x27;s" not in page
    assert page.index("Mail to Cy bounced") < page.index("Ann passed her deadline")  # newest first
    assert page.count("Unread: ") == 3
    assert f'href="{reverse("web:inbox_note_open", args=[breach.pk])}">Ann passed' in page
    assert "From Tom" in page

    one = rita_client.post(reverse("web:inbox_note_read", args=[handover.pk]), headers=HTMX)
    assert one.status_code == 200
    assert "<strong>2 unread</strong>" in html(one)
    assert '<span id="nav-inbox-badge" hx-swap-oob="true"> <span class="nav-badge"' in html(one)
    assert "Bob is yours now” marked read." in html(one)
    assert InboxItem.objects.get(pk=handover.pk).read_at == MONDAY_10

    opened = rita_client.get(reverse("web:inbox_note_open", args=[breach.pk]))
    assert opened.status_code == 302
    assert opened["Location"] == "/people/1/"
    assert InboxItem.objects.get(pk=breach.pk).read_at is not None

    everything = rita_client.post(reverse("web:inbox_notes_read_all"), headers=HTMX)
    assert "Nothing unread" in html(everything)
    assert "1 notification marked read." in html(everything)
    assert '<span id="nav-inbox-badge" hx-swap-oob="true"></span>' in html(everything)
    assert not InboxItem.objects.filter(user=rita, read_at__isnull=True).exists()
    assert InboxItem.objects.filter(read_at__isnull=True).count() == 1  # someone else's


def test_a_notification_never_sends_anyone_off_site_or_to_someone_elses(
    rita_client: Client, rita: User
) -> None:
    away = inbox_notify(user=rita, kind="x", title="Odd", link="https://evil.example/")
    theirs = inbox_notify(user=factories.user(), kind="x", title="Theirs", link="/z/")
    response = rita_client.get(reverse("web:inbox_note_open", args=[away.pk]))
    assert response["Location"] == reverse("web:inbox")
    assert rita_client.get(reverse("web:inbox_note_open", args=[theirs.pk])).status_code == 404
    assert rita_client.post(reverse("web:inbox_note_read", args=[theirs.pk])).status_code == 404
    assert InboxItem.objects.get(pk=theirs.pk).read_at is None


def test_the_nav_shows_the_inbox_with_its_unread_count(
    rita_client: Client, rita: User, role_client: RoleClient
) -> None:
    notes(rita)
    page = html(rita_client.get(reverse("web:people")))
    assert (
        '<a href="/inbox/">Inbox<span id="nav-inbox-badge"> <span class="nav-badge" '
        'aria-hidden="true">3</span><span class="visually-hidden">, 3 unread</span></span></a>'
    ) in page
    assert 'href="/inbox/" aria-current="page"' in html(rita_client.get(reverse("web:inbox")))

    InboxItem.objects.update(read_at=MONDAY_10)
    assert '<a href="/inbox/">Inbox<span id="nav-inbox-badge"></span></a>' in html(
        rita_client.get(reverse("web:people"))
    )
    assert 'href="/inbox/"' not in html(role_client(Role.MARKETING).get(reverse("web:people")))


def test_the_badge_costs_one_query(rita_client: Client, rita: User) -> None:
    notes(rita)
    with CaptureQueriesContext(connection) as counted:
        rita_client.get(reverse("web:people"))
    assert len([q for q in counted.captured_queries if "notify_inboxitem" in q["sql"]]) == 1


# Who may use the inbox -------------------------------------------------------------------------

INBOX_URLS = ["web:inbox", "web:inbox_live"]


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN])
def test_sellers_managers_and_admins_have_an_inbox(role_client: RoleClient, role: str) -> None:
    client = role_client(role)
    page = client.get(reverse("web:inbox"))
    assert page.status_code == 200
    assert "Your open requests" in html(page)
    assert "Nothing waiting for you." in html(page)
    assert client.get(reverse("web:inbox_live"), {"v": "x"}).status_code == 200


@pytest.mark.parametrize("role", [Role.OUTSIDE_CALLER, Role.MARKETING])
def test_outside_callers_and_marketing_have_no_inbox(role_client: RoleClient, role: str) -> None:
    client = role_client(role)
    request = routed(received=MONDAY_10)
    note = inbox_notify(user=factories.user(role=role), kind="x", title="Hi")
    assert client.get(reverse("web:inbox")).status_code == 403
    assert client.get(reverse("web:inbox_live")).status_code == 403
    touch = client.post(reverse("web:inbox_touch", args=[request.pk]), {"outcome": "connected"})
    assert touch.status_code == 403
    assert client.get(reverse("web:inbox_email", args=[request.pk])).status_code == 403
    assert client.post(reverse("web:inbox_notes_read_all")).status_code == 403
    assert client.get(reverse("web:inbox_note_open", args=[note.pk])).status_code == 403


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    for name in INBOX_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=/inbox/")
    assert client.post(reverse("web:inbox_notes_read_all")).status_code == 302


def test_links_to_our_tracked_site_in_a_mail_say_who_clicked_them(
    rita_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    factories.tracking_site(allowed_origins="https://www.ledgerly.example")
    request = routed(received=MONDAY_10)
    text = "Hi,\n\nOur prices: https://www.ledgerly.example/pricing.\nElsewhere: https://x.example/"

    with django_capture_on_commit_callbacks(execute=False):
        sent = rita_client.post(
            reverse("web:inbox_email", args=[request.pk]), {"subject": "Prices", "text": text}
        )

    assert sent.status_code in (200, 302)
    mail = OutgoingMail.objects.get(reason="request.email")
    link = mail.text.split("Our prices: ")[1].split("\n")[0]
    assert link.startswith("https://www.ledgerly.example/pricing?ll_t=")
    assert link.endswith(".")  # the sentence's full stop stays after the link
    token = link.removesuffix(".").split("ll_t=")[1]
    assert identify_token_read(token) == request.person_id
    assert mail.text.endswith("Elsewhere: https://x.example/")
