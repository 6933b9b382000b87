"""The staff pages, through real HTTP requests: who may open what, and what each page shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leadline.capture.models import RequestKind
from leadline.core import clock
from leadline.core.models import Person, Role, TimelineEvent
from leadline.core.services import timeline_record
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


@pytest.fixture
def ann() -> Person:
    account = factories.account(name="Acme Widgets", domain="acme-widgets.example")
    person = factories.person(
        email="ann@acme-widgets.example",
        first_name="Ann",
        last_name="Lee",
        role_own_words="I run the finance systems team",
        title="Head of Finance Systems",
        cares_about="Closing the books in five days",
        time_zone="Europe/London",
    )
    factories.membership(person=person, account=account, role_in_company="Owns the ERP")
    form = factories.form(slug="cfo-guide")
    factories.person_request(
        person=person,
        account=account,
        form=form,
        wants_contact=True,
        message="We close in 12 days and want 5",
        utm_source="linkedin",
        utm_campaign="q4-finance",
    )
    timeline_record(kind="request.created", summary="Asked for the CFO guide", person=person)
    timeline_record(kind="asset.downloaded", summary="Downloaded the CFO guide", person=person)
    return person


# Who may open what ------------------------------------------------------------------------------

STAFF_PAGES = ["web:people", "web:accounts"]
FORM_PAGES = ["web:forms", "web:form_new"]


@pytest.mark.parametrize("name", [*STAFF_PAGES, *FORM_PAGES, "web:home"])
def test_anonymous_visitors_are_sent_to_login(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_anonymous_person_page_redirects_to_login(client: Client, ann: Person) -> None:
    response = client.get(reverse("web:person", args=[ann.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/people/{ann.pk}/"


def test_outside_callers_cannot_see_people_accounts_or_forms(
    role_client: RoleClient, ann: Person
) -> None:
    client = role_client(Role.OUTSIDE_CALLER)
    account = ann.memberships.get().account
    form = factories.form()
    urls = [
        reverse("web:people"),
        reverse("web:person", args=[ann.pk]),
        reverse("web:accounts"),
        reverse("web:account", args=[account.pk]),
        reverse("web:forms"),
        reverse("web:form", args=[form.pk]),
        reverse("web:form_new"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Ann" not in _html(response)


def test_outside_caller_home_is_their_call_queue_not_the_people_list(
    role_client: RoleClient,
) -> None:
    response = role_client(Role.OUTSIDE_CALLER).get("/", follow=True)
    assert response.redirect_chain == [("/calls/", 302)]
    assert 'href="/people/"' not in _html(response)


def test_no_template_comment_leaks_onto_a_page(role_client: RoleClient) -> None:
    """Django's {# #} comments end at the line's end; a longer one is shown to everyone."""
    html = _html(role_client(Role.SALES_REP).get("/people/"))
    assert "{#" not in html
    assert "#}" not in html
    assert "{%" not in html


def test_sales_reps_read_people_but_cannot_open_forms(role_client: RoleClient) -> None:
    client = role_client(Role.SALES_REP)
    form = factories.form()
    assert client.get(reverse("web:people")).status_code == 200
    for url in (
        reverse("web:forms"),
        reverse("web:form_new"),
        reverse("web:form", args=[form.pk]),
        reverse("web:form_edit", args=[form.pk]),
        reverse("web:form_field_row"),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("web:form_new"), {}).status_code == 403


def test_sales_reps_cannot_merge(role_client: RoleClient, ann: Person, settings: Any) -> None:
    settings.RECORD_VISIBILITY = "team"  # the default, which this module otherwise turns off
    other = factories.person()
    client = role_client(Role.SALES_REP)
    # Out of their view (issue 9): someone else's record is not found, merge tool or not.
    assert client.get(reverse("web:person", args=[ann.pk])).status_code == 404
    url = reverse("web:person_merge_confirm", args=[ann.pk, other.pk])
    assert client.post(url).status_code == 403
    other.refresh_from_db()
    assert other.merged_into_id is None


def test_home_takes_staff_to_the_people_list(marketing_client: Client) -> None:
    response = marketing_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:people")


@pytest.mark.parametrize(
    ("role", "sees_forms", "sees_admin"),
    [
        (Role.ADMIN, True, True),
        (Role.MARKETING, True, False),
        (Role.SALES_MANAGER, False, False),
        (Role.SALES_REP, False, False),
    ],
)
def test_navigation_offers_what_the_role_may_open(
    role_client: RoleClient, role: str, sees_forms: bool, sees_admin: bool
) -> None:
    html = _html(role_client(role).get(reverse("web:people")))
    assert 'href="/people/"' in html
    assert ('href="/forms/"' in html) is sees_forms
    assert ('href="/admin/"' in html) is sees_admin
    assert 'action="/logout/"' in html


# Login ------------------------------------------------------------------------------------------


def test_login_page_has_the_fields_and_button(client: Client) -> None:
    html = _html(client.get("/login/"))
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert ">Log in</button>" in html
    assert 'href="#main"' in html
    assert 'id="main"' in html


def test_logging_in_and_out(client: Client) -> None:
    user = factories.user(role=Role.MARKETING, username="mia")
    response = client.post(
        "/login/", {"username": "mia", "password": factories.PASSWORD, "next": "/people/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/people/"
    assert client.get("/people/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/people/").status_code == 302
    assert user.is_active


def test_wrong_password_says_so_and_stays_on_the_login_page(client: Client) -> None:
    factories.user(role=Role.MARKETING, username="mia")
    response = client.post("/login/", {"username": "mia", "password": "nope"})
    assert response.status_code == 200
    assert "Check the username and password" in _html(response)


# People -----------------------------------------------------------------------------------------


def test_people_list_shows_each_person_with_their_own_words(
    marketing_client: Client, ann: Person
) -> None:
    html = _html(marketing_client.get(reverse("web:people")))
    assert f'href="/people/{ann.pk}/"' in html
    assert "Ann Lee" in html
    assert "I run the finance systems team" in html
    assert "Acme Widgets" in html
    assert "Download" in html  # the latest request
    assert 'aria-label="Search people"' in html
    assert 'name="q"' in html


def test_people_search_works_without_javascript(marketing_client: Client, ann: Person) -> None:
    bob = factories.person(first_name="Bob", last_name="Stone", role_own_words="I buy laptops")
    html = _html(marketing_client.get(reverse("web:people"), {"q": "finance systems"}))
    assert f'href="/people/{ann.pk}/"' in html
    assert f'href="/people/{bob.pk}/"' not in html
    assert "<html" in html
    assert "1 person matching “finance systems”" in html


def test_live_search_answers_htmx_with_the_results_fragment(
    marketing_client: Client, ann: Person
) -> None:
    bob = factories.person(first_name="Bob", last_name="Stone", email="bob@stone.example")
    response = marketing_client.get(
        reverse("web:people"), {"q": "bob@stone"}, headers={"HX-Request": "true"}
    )
    html = _html(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert f'href="/people/{bob.pk}/"' in html
    assert f'href="/people/{ann.pk}/"' not in html
    assert 'id="people-status"' in html
    assert 'hx-swap-oob="true"' in html
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(marketing_client: Client, ann: Person) -> None:
    response = marketing_client.get(
        reverse("web:people"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in _html(response)


def test_people_filters(marketing_client: Client, ann: Person) -> None:
    quiet = factories.person(first_name="Quiet", last_name="One")
    factories.person_request(person=quiet, kind=RequestKind.DEMO, wants_contact=False)
    with clock.frozen_at(clock.now() - dt.timedelta(days=40)):
        old = factories.person(first_name="Old", last_name="Timer")

    def listed(**params: str) -> set[int]:
        html = _html(marketing_client.get(reverse("web:people"), params))
        return {p.pk for p in (ann, quiet, old) if f'href="/people/{p.pk}/"' in html}

    assert listed() == {ann.pk, quiet.pk, old.pk}
    assert listed(kind="demo") == {quiet.pk}
    assert listed(wants_contact="on") == {ann.pk}
    assert listed(kind="demo", wants_contact="on") == set()
    assert listed(days="30") == {ann.pk, quiet.pk}
    assert listed(account=str(ann.memberships.get().account_id)) == {ann.pk}
    # A bad filter value is dropped, not an error.
    assert listed(days="nonsense", kind="bogus") == {ann.pk, quiet.pk, old.pk}


def test_people_list_pages(marketing_client: Client) -> None:
    for n in range(30):
        factories.person(first_name=f"Many{n:02}")
    first = _html(marketing_client.get(reverse("web:people")))
    second = _html(marketing_client.get(reverse("web:people"), {"page": "2"}))
    assert "Page 1 of 2" in first
    assert "Many29" in first
    assert "Many00" not in first
    assert "Many00" in second


def test_person_page_puts_their_own_words_above_the_timeline(
    role_client: RoleClient, ann: Person
) -> None:
    html = _html(role_client(Role.SALES_REP).get(reverse("web:person", args=[ann.pk])))
    own_words = html.index('id="own-words"')
    assert html.index("I run the finance systems team", own_words) < html.index('id="timeline"')
    assert html.index('id="timeline"') < html.index("Downloaded the CFO guide")
    # Newest first.
    assert html.index("Downloaded the CFO guide") < html.index("Asked for the CFO guide")
    for text in (
        "Head of Finance Systems",
        "Closing the books in five days",
        "ann@acme-widgets.example",
        "Europe/London",
        "We close in 12 days and want 5",
        "Wants contact",
        "linkedin",
        "q4-finance",
        "Owns the ERP",
        f'href="/accounts/{ann.memberships.get().account_id}/"',
    ):
        assert text in html, text


def test_person_page_shows_consent_records(marketing_client: Client, ann: Person) -> None:
    from leadline.capture.models import Consent

    Consent.objects.create(person=ann, purpose="marketing_email", granted=True, text="Send tips")
    html = _html(marketing_client.get(reverse("web:person", args=[ann.pk])))
    assert "Marketing email" in html
    assert "“Send tips”" in html


def test_person_page_of_a_merged_record_leads_to_the_survivor(
    marketing_client: Client, ann: Person
) -> None:
    twin = factories.person(first_name="Ann", last_name="Lee")
    twin.merged_into = ann
    twin.save()
    response = marketing_client.get(reverse("web:person", args=[twin.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:person", args=[ann.pk])


def test_unknown_person_is_404(marketing_client: Client) -> None:
    assert marketing_client.get(reverse("web:person", args=[999999])).status_code == 404


# Accounts ---------------------------------------------------------------------------------------


def test_accounts_list_and_search(role_client: RoleClient, ann: Person) -> None:
    other = factories.account(name="Globex", domain="globex.example")
    client = role_client(Role.SALES_MANAGER)
    account = ann.memberships.get().account
    html = _html(client.get(reverse("web:accounts")))
    assert f'href="/accounts/{account.pk}/"' in html
    assert f'href="/accounts/{other.pk}/"' in html
    html = _html(client.get(reverse("web:accounts"), {"q": "acme-widgets.example"}))
    assert f'href="/accounts/{account.pk}/"' in html
    assert f'href="/accounts/{other.pk}/"' not in html
    fragment = _html(
        client.get(reverse("web:accounts"), {"q": "globex"}, headers={"HX-Request": "true"})
    )
    assert "<html" not in fragment
    assert "Globex" in fragment


def test_account_page(marketing_client: Client, ann: Person) -> None:
    account = ann.memberships.get().account
    account.culture_notes = "The CFO signs; IT has a veto"
    account.industry = "Manufacturing"
    account.save()
    timeline_record(kind="account.note", summary="Board approved a new ERP", account=account)
    html = _html(marketing_client.get(reverse("web:account", args=[account.pk])))
    for text in (
        "Acme Widgets",
        "acme-widgets.example",
        "Manufacturing",
        "The CFO signs; IT has a veto",
        f'href="/people/{ann.pk}/"',
        "Owns the ERP",
        "Board approved a new ERP",
        "Asked for the CFO guide",  # the people's events are on the account timeline too
        'id="timeline"',
    ):
        assert text in html, text


# Merge ------------------------------------------------------------------------------------------


def test_merge_through_the_ui_keeps_both_records_events(
    marketing_client: Client, ann: Person
) -> None:
    twin = factories.person(email="ann.lee@gmail.example", first_name="Ann", last_name="Lee")
    timeline_record(kind="note", summary="Met Ann at the Leeds expo", person=twin)

    search = _html(
        marketing_client.get(
            reverse("web:person_merge", args=[ann.pk]), {"q": "ann.lee@gmail.example"}
        )
    )
    confirm_url = reverse("web:person_merge_confirm", args=[ann.pk, twin.pk])
    assert f'href="{confirm_url}"' in search

    preview = _html(marketing_client.get(confirm_url))
    assert "timeline event" in preview
    assert "person email" in preview
    assert TimelineEvent.objects.filter(person=twin).exists()  # nothing moved by looking

    response = marketing_client.post(confirm_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:person", args=[ann.pk])
    twin.refresh_from_db()
    assert twin.merged_into_id == ann.pk
    html = _html(marketing_client.get(reverse("web:person", args=[ann.pk])))
    for summary in ("Met Ann at the Leeds expo", "Downloaded the CFO guide", "Merged"):
        assert summary in html, summary
    assert "ann.lee@gmail.example" in html


def test_merge_search_finds_by_id(marketing_client: Client, ann: Person) -> None:
    other = factories.person(first_name="Zed")
    html = _html(
        marketing_client.get(reverse("web:person_merge", args=[ann.pk]), {"q": f"#{other.pk}"})
    )
    assert reverse("web:person_merge_confirm", args=[ann.pk, other.pk]) in html


def test_merging_a_record_into_itself_changes_nothing(
    marketing_client: Client, ann: Person
) -> None:
    response = marketing_client.post(
        reverse("web:person_merge_confirm", args=[ann.pk, ann.pk]), follow=True
    )
    assert "cannot be merged into itself" in _html(response)
    ann.refresh_from_db()
    assert ann.merged_into_id is None


def test_account_merge_through_the_ui(role_client: RoleClient, ann: Person) -> None:
    account = ann.memberships.get().account
    dupe = factories.account(name="ACME Widgets Ltd", domain="acme.example")
    timeline_record(kind="account.note", summary="Old CRM note", account=dupe)
    client = role_client(Role.SALES_MANAGER)
    search = _html(client.get(reverse("web:account_merge", args=[account.pk]), {"q": "acme.ex"}))
    confirm_url = reverse("web:account_merge_confirm", args=[account.pk, dupe.pk])
    assert confirm_url in search
    assert client.post(confirm_url).status_code == 302
    dupe.refresh_from_db()
    assert dupe.merged_into_id == account.pk
    html = _html(client.get(reverse("web:account", args=[account.pk])))
    assert "Old CRM note" in html
    assert "acme.example" in html


def test_times_are_the_viewers_and_their_time_now_is_theirs(client: Client) -> None:
    noon_utc = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
    viewer = factories.user(role=Role.SALES_REP, time_zone="Europe/Berlin")
    client.force_login(viewer)
    with clock.frozen_at(noon_utc):
        kenji = factories.person(first_name="Kenji", time_zone="Asia/Tokyo")
        timeline_record(kind="note.added", summary="Called Kenji", person=kenji)
        html = _html(client.get(reverse("web:person", args=[kenji.pk])))
    assert "21:00, Thursday" in html  # Tokyo, UTC+9
    assert "15 Jan 2026, 13:00" in html  # the event, in Berlin time (UTC+1)


def test_an_unknown_time_zone_does_not_break_the_page(marketing_client: Client) -> None:
    person = factories.person(time_zone="Mars/Olympus_Mons")
    response = marketing_client.get(reverse("web:person", args=[person.pk]))
    assert response.status_code == 200
    assert "Time zone unknown" in _html(response)
