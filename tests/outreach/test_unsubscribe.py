"""The signed unsubscribe link: GET shows and never changes anything, the page's POST
unsubscribes, RFC 8058 one-click POST works without a CSRF token, a tampered link is refused."""

from __future__ import annotations

import pytest
from django.test import Client

from leadline.core.models import Person, TimelineEvent
from leadline.outreach import services
from leadline.outreach.models import ContactState, DoNotContact
from leadline.outreach.selectors import contact_check
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture
def ann() -> Person:
    return factories.person(email="ann.lee@acme.example", first_name="Ann")


@pytest.fixture
def strict() -> Client:
    """A client that, like a browser, gets CSRF checks."""
    return Client(enforce_csrf_checks=True)


def _path(person: Person, purpose: str = "marketing") -> str:
    url = services.unsubscribe_url(person=person, purpose=purpose)
    return url.split("://", 1)[1].partition("/")[2].join(["/", ""])


def _unsubscribed(person: Person) -> bool:
    state = ContactState.objects.filter(person=person).first()
    return bool(state and state.unsubscribed)


def test_the_link_is_absolute_signed_and_in_the_headers(ann: Person, settings: object) -> None:
    settings.PUBLIC_URL = "https://leadline.example"  # type: ignore[attr-defined]
    url = services.unsubscribe_url(person=ann)
    assert url.startswith("https://leadline.example/unsubscribe/")
    assert str(ann.pk) in url
    assert services.mail_unsubscribe_headers(person=ann) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # Another person's link differs by more than the id.
    other = factories.person()
    assert services.unsubscribe_url(person=other).rsplit(":", 1)[1] != url.rsplit(":", 1)[1]


def test_get_shows_the_page_and_changes_nothing(ann: Person, strict: Client) -> None:
    for _ in range(3):  # a mail scanner following the link, more than once
        response = strict.get(_path(ann))
        assert response.status_code == 200
    page = response.content.decode()
    assert "Unsubscribe a" in page  # the masked address: a•••••••@acme.example
    assert "@acme.example" in page
    assert "ann.lee@" not in page
    assert not _unsubscribed(ann)
    assert not TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed").exists()


def test_the_pages_post_unsubscribes_with_the_csrf_token(ann: Person, strict: Client) -> None:
    path = _path(ann)
    token = strict.get(path).cookies["csrftoken"].value

    assert strict.post(path, {"action": "unsubscribe"}).status_code == 403  # no token
    assert not _unsubscribed(ann)

    response = strict.post(path, {"action": "unsubscribe", "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert _unsubscribed(ann)
    assert contact_check(person=ann, channel="email", purpose="marketing").code == "unsubscribed"
    assert contact_check(person=ann, channel="email", purpose="sales").allowed
    [event] = TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed")
    assert "on the unsubscribe page" in event.summary


def test_one_click_post_unsubscribes_without_a_csrf_token(ann: Person, strict: Client) -> None:
    response = strict.post(
        _path(ann),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert _unsubscribed(ann)
    [event] = TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed")
    assert event.data == {"purpose": "marketing", "method": "one_click"}
    # Again: still 200, nothing recorded twice.
    assert strict.post(_path(ann), {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed").count() == 1


def test_one_click_from_a_sales_mail_stops_sales_email(ann: Person, strict: Client) -> None:
    strict.post(_path(ann, "sales"), {"List-Unsubscribe": "One-Click"})
    assert contact_check(person=ann, channel="email", purpose="sales").code == "unsubscribed"


def test_stop_all_email_marks_do_not_contact(ann: Person, client: Client) -> None:
    response = client.post(_path(ann), {"action": "stop_all_email"})
    assert response.status_code == 200
    assert DoNotContact.objects.filter(person=ann, channel="email").exists()
    assert contact_check(person=ann, channel="email", purpose="sales").code == "do_not_contact"
    assert "We will not email you again" in response.content.decode()


def test_resubscribe_after_a_mistake(ann: Person, client: Client) -> None:
    client.post(_path(ann), {"action": "unsubscribe"})
    client.post(_path(ann), {"action": "resubscribe"})
    assert not _unsubscribed(ann)
    assert contact_check(person=ann, channel="email", purpose="marketing").allowed


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        lambda token: "999999" + token[token.index(".") :],  # another person's id
        lambda token: token.split(":")[0],  # no signature at all
        lambda token: "nonsense",
    ],
)
def test_a_tampered_link_is_refused_and_changes_nothing(
    ann: Person, strict: Client, tamper: object
) -> None:
    path = _path(ann)
    token = path.rstrip("/").rsplit("/", 1)[1]
    bad = path.replace(token, tamper(token))  # type: ignore[operator]
    assert strict.get(bad).status_code == 404
    assert strict.post(bad, {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert not _unsubscribed(ann)
    assert not ContactState.objects.exists() or not _unsubscribed(ann)


def test_a_link_to_a_merged_record_unsubscribes_the_survivor(ann: Person, client: Client) -> None:
    from leadline.core.services import person_merge

    survivor = factories.person()
    path = _path(ann)
    person_merge(survivor=survivor, loser=ann)
    client.post(path, {"List-Unsubscribe": "One-Click"})
    assert _unsubscribed(survivor)


def test_a_link_to_someone_deleted_is_404(ann: Person, client: Client) -> None:
    path = _path(ann)
    ann.delete()
    assert client.get(path).status_code == 404
