"""The briefing pages: my briefings, unread first; one briefing, read in two minutes; the notice
on the person's page; nobody reads another rep's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.core import clock
from leadline.journeys.models import Visibility
from leadline.relationships.briefings import briefing_sections, briefing_title
from leadline.relationships.models import Briefing, HandoverItem, HandoverPlan
from tests import factories

pytestmark = pytest.mark.django_db
NOW = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _frozen() -> object:
    with clock.frozen_at(NOW):
        yield


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _briefing(*, recipient: Any, leaver: Any, person: Any = None, account: Any = None) -> Briefing:
    plan = HandoverPlan.objects.get_or_create(
        user=leaver,
        defaults={"kind": "leaving", "effective_at": NOW, "note": "Leo moves to Lisbon."},
    )[0]
    subject = person or account
    item = HandoverItem.objects.create(
        plan=plan,
        kind="person" if person is not None else "account",
        object_id=subject.pk,
        person=person,
        account=account,
        label=str(subject),
        new_owner=recipient,
    )
    return Briefing.objects.create(
        plan=plan,
        item=item,
        recipient=recipient,
        from_user=leaver,
        person=person,
        account=account,
        title=briefing_title(person=person, account=account),
        sections=briefing_sections(person=person, account=account, departing=leaver),
    )


def _story() -> dict[str, Any]:
    leaver = factories.user(first_name="Leo", last_name="Vance")
    rita = factories.user(first_name="Rita", last_name="Santos")
    acme = factories.account(name="Acme")
    ana = factories.person(
        first_name="Ana", last_name="Silva", title="CFO", role_own_words="I keep the money honest"
    )
    factories.membership(person=ana, account=acme)
    factories.conversation(
        people=[ana], summary="Renewal talk", quotes="We need the audit trail", logged_by=leaver
    )
    factories.conversation(
        people=[ana],
        summary="Private: she may leave Acme",
        visibility=Visibility.AUTHOR,
        logged_by=leaver,
        occurred_at=NOW + dt.timedelta(minutes=5),
    )
    factories.commitment(person=ana, promised_by=leaver, what="Send the renewal quote")
    old = _briefing(recipient=rita, leaver=leaver, account=acme)
    Briefing.objects.filter(pk=old.pk).update(read_at=NOW)
    new = _briefing(recipient=rita, leaver=leaver, person=ana)
    return {"leaver": leaver, "rita": rita, "ana": ana, "acme": acme, "read": old, "new": new}


def test_my_briefings_unread_first() -> None:
    story = _story()
    page = _client(story["rita"]).get("/briefings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "My briefings" in html
    assert "2 briefings, 1 unread" in html
    assert html.index("Ana Silva (CFO, Acme)") < html.index(
        f'href="/briefings/{story["read"].pk}/"'
    )


def test_reading_a_briefing_marks_it_read_and_shows_it_all() -> None:
    story = _story()
    briefing = story["new"]
    page = _client(story["rita"]).get(f"/briefings/{briefing.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for heading in (
        "What was promised next",
        "In their own words",
        "Promises",
        "The last conversation",
        "Buying committee at Acme",
        "History in brief",
    ):
        assert heading in html
    assert '<blockquote class="own-words"><p>I keep the money honest</p></blockquote>' in html
    assert '<blockquote class="own-words"><p>We need the audit trail</p></blockquote>' in html
    assert "Send the renewal quote" in html
    assert "she may leave" not in html
    assert f'href="/people/{story["ana"].pk}/"' in html
    assert "Leo moves to Lisbon." in html
    briefing.refresh_from_db()
    assert briefing.read_at == NOW


def test_a_rep_reads_only_their_own() -> None:
    story = _story()
    other = factories.user()
    assert _client(other).get(f"/briefings/{story['new'].pk}/").status_code == 404
    assert _client(other).get(f"/briefings/?user={story['rita'].pk}").status_code == 403
    story["new"].refresh_from_db()
    assert story["new"].read_at is None


def test_a_manager_reads_anyones_without_marking_it_read() -> None:
    story = _story()
    boss = _client(factories.user(role="sales_manager"))
    listing = boss.get(f"/briefings/?user={story['rita'].pk}")
    assert listing.status_code == 200
    assert "Briefings for Rita Santos" in listing.content.decode()
    assert boss.get(f"/briefings/{story['new'].pk}/").status_code == 200
    story["new"].refresh_from_db()
    assert story["new"].read_at is None


def test_wrong_roles_get_403() -> None:
    for role in ("marketing", "outside_caller"):
        client = _client(factories.user(role=role))
        assert client.get("/briefings/").status_code == 403
    assert Client().get("/briefings/").status_code == 302  # to the login page


def test_the_person_and_account_pages_tell_the_new_owner() -> None:
    story = _story()
    rita = _client(story["rita"])
    html = rita.get(f"/people/{story['ana'].pk}/").content.decode()
    assert "Handed over to you from Leo Vance" in html
    assert f'href="/briefings/{story["new"].pk}/"' in html
    html = rita.get(f"/accounts/{story['acme'].pk}/").content.decode()
    assert f'href="/briefings/{story["read"].pk}/"' in html
    other = _client(factories.user())
    assert "Handed over to you" not in other.get(f"/people/{story['ana'].pk}/").content.decode()
