"""Privacy: consent with proof, export, erasure, retention, the access log (issue 9)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from leadline.capture.models import Consent, Request
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, Role
from leadline.journeys.models import Event, EventBatch, EventDay
from leadline.outreach.selectors import contact_check
from leadline.privacy import services
from leadline.privacy.models import AccessEntry, Erasure, RetentionCursor, Tombstone
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_WORDS = "Zebrafinch quarterly reconciliation nightmare"
QUOTE = "our auditors hate the Quokkaville spreadsheet"


def _client(role: str) -> tuple[Client, Any]:
    user = factories.user(role=role)
    client = Client()
    client.force_login(user)
    return client, user


def _captured_person(run_worker: Any) -> Person:
    """A person as the product makes one: a form posted over HTTP, the worker's processing,
    then a conversation, a web visit, a touch."""
    form = factories.form()
    data = factories.submission_data(
        email="wilhelmina.quibble@quibble-works.example",
        first_name="Wilhelmina",
        last_name="Quibble",
        company="Quibble Works",
        role_own_words=SECRET_WORDS,
        phone="+49 30 98765432",
        message="Call me about the Quokkaville migration",
        page_url="https://example.com/pricing?email=wilhelmina.quibble@quibble-works.example",
    )
    response = Client().post(
        f"/f/{form.slug}/",
        data=json.dumps(data),
        content_type="application/json",
        REMOTE_ADDR="203.0.113.77",
    )
    assert response.status_code == 201, response.content
    run_worker()
    person = Person.objects.get(emails__email="wilhelmina.quibble@quibble-works.example")
    factories.conversation(people=[person], summary="Wilhelmina Quibble on the call", quotes=QUOTE)
    visitor = factories.visitor(person=person)
    factories.buyer_event(
        person=person,
        name="page_view",
        path="/pricing",
        visitor=visitor,
        url="https://example.com/pricing?who=Wilhelmina",
        title="Pricing for Quibble Works",
        properties={"email": "wilhelmina.quibble@quibble-works.example"},
    )
    factories.touch(person=person, at=clock.now(), note="Spoke to Wilhelmina about Quokkaville")
    return person


# Not "Quibble Works": the company (its account and domain) is not the person's data.
PERSONAL = [
    "wilhelmina",
    "zebrafinch",
    "quokkaville",
    "98765432",
    "203.0.113.77",
]


def _personal_strings_left() -> list[str]:
    """Every text and JSON column of every table, searched for the person's strings."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(
                f,
                models.CharField
                | models.TextField
                | models.JSONField
                | models.GenericIPAddressField,
            )
        ]
        if not columns:
            continue
        for row in model._default_manager.values_list("pk", *columns):
            text = json.dumps(row[1:], default=str).lower()
            for word in PERSONAL:
                if word in text:
                    found.append(f"{model._meta.label_lower}#{row[0]}: {word}")
    return found


def _person_tables() -> set[str]:
    """Independently of the code under test: every table with a column pointing at a person."""
    labels = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if (
                (getattr(field, "concrete", False) or field.many_to_many)
                and getattr(field, "related_model", None) is Person
                and not field.auto_created
            ):
                labels.add(model._meta.label_lower)
    return labels - {"core.person"}  # merged records: exported as the person's merged_records


def _counts() -> dict[str, int]:
    return {
        model._meta.label_lower: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


# Consent ----------------------------------------------------------------------------------------


def test_a_form_consent_keeps_its_proof_and_the_person_page_shows_it(run_worker: Any) -> None:
    person = _captured_person(run_worker)
    consent = Consent.objects.get(person=person, purpose="marketing_email")
    assert consent.granted
    assert consent.text == "Send me the occasional useful email"
    assert consent.ip == "203.0.113.77"
    assert consent.form is not None
    assert consent.form_version == consent.form.version()
    assert consent.source.startswith("https://example.com/pricing")
    client, _ = _client(Role.MARKETING)  # reps see only their own people (record visibility)
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert "Marketing email" in page
    assert "Tracking and analytics" in page
    assert f"version {consent.form_version}" in page
    assert "IP 203.0.113.77" in page


def test_withdrawal_is_a_new_row_and_outreach_respects_it() -> None:
    person = factories.person()
    factories.consent(person=person, granted=True, text="Yes please")
    assert contact_check(person=person, channel="email", purpose="marketing").allowed
    client, user = _client(Role.MARKETING)
    response = client.post(
        f"/people/{person.pk}/consent/",
        {"purpose": "marketing_email", "granted": "no", "method": "phone", "source": "call"},
    )
    assert response.status_code == 302
    rows = list(Consent.objects.filter(person=person).order_by("pk"))
    assert [r.granted for r in rows] == [True, False], "the history is kept"
    assert rows[-1].recorded_by == user
    assert not contact_check(person=person, channel="email", purpose="marketing").allowed
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert "History (2)" in page


def test_a_consent_needs_its_words_and_a_known_purpose() -> None:
    person = factories.person()
    client, _ = _client(Role.MARKETING)
    client.post(
        f"/people/{person.pk}/consent/",
        {"purpose": "newsletter", "granted": "yes", "method": "phone"},
    )
    client.post(
        f"/people/{person.pk}/consent/",
        {"purpose": "nope", "granted": "yes", "text": "x", "method": "phone"},
    )
    assert not Consent.objects.filter(person=person).exists()
    client.post(
        f"/people/{person.pk}/consent/",
        {
            "purpose": "newsletter",
            "granted": "yes",
            "text": "Send me the newsletter",
            "method": "email",
        },
    )
    assert Consent.objects.get(person=person).purpose == "newsletter"


def test_admins_add_purposes_and_others_may_not() -> None:
    client, _ = _client(Role.ADMIN)
    response = client.post(
        "/privacy/purposes/", {"code": "events", "name": "Event invitations", "description": ""}
    )
    assert response.status_code == 302
    assert "Event invitations" in client.get("/privacy/purposes/").content.decode()
    marketing, _ = _client(Role.MARKETING)
    assert marketing.get("/privacy/purposes/").status_code == 403
    person = factories.person()
    assert "Event invitations" in client.get(f"/people/{person.pk}/").content.decode()


# Export -----------------------------------------------------------------------------------------


def test_the_export_covers_every_table_that_points_at_a_person() -> None:
    """Fails when a table referencing Person is added and the export does not include it."""
    person = factories.person()
    client, _ = _client(Role.MARKETING)
    data = client.get(f"/people/{person.pk}/export.json").json()
    missing = _person_tables() - set(data["tables"])
    assert not missing, f"tables pointing at a person but not exported: {sorted(missing)}"


def test_every_table_that_points_at_a_person_has_an_erasure_rule() -> None:
    decided = set(services.ERASE_FIELDS) | services.ERASE_DELETE | services.ERASE_KEEP
    decided |= {"journeys.conversation"}  # many-to-many: cleared in _erase_beyond_the_person
    missing = _person_tables() - decided
    assert not missing, f"decide what erasure does to: {sorted(missing)}"


def test_export_json_and_page_for_marketing_with_an_audit_row(run_worker: Any) -> None:
    person = _captured_person(run_worker)
    client, user = _client(Role.MARKETING)
    response = client.get(f"/people/{person.pk}/export.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["person"]["first_name"] == "Wilhelmina"
    assert data["tables"]["core.personemail"][0]["email"].startswith("wilhelmina.quibble@")
    assert any(r["message"].startswith("Call me") for r in data["tables"]["capture.request"])
    assert any(QUOTE in r["quotes"] for r in data["tables"]["journeys.conversation"])
    assert data["tables"]["capture.submission"][0]["payload"]["role_own_words"] == SECRET_WORDS
    page = client.get(f"/people/{person.pk}/export/")
    assert page.status_code == 200
    assert SECRET_WORDS in page.content.decode()
    assert (
        "attachment" in client.get(f"/people/{person.pk}/export/?download=1")["Content-Disposition"]
    )
    assert AccessEntry.objects.filter(person_id=person.pk, user=user, action="export").count() == 3


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.OUTSIDE_CALLER])
def test_export_is_refused_to_other_roles(role: str) -> None:
    person = factories.person()
    client, _ = _client(role)
    assert client.get(f"/people/{person.pk}/export.json").status_code == 403
    assert client.get(f"/people/{person.pk}/export/").status_code == 403


def test_export_over_the_api() -> None:
    person = factories.person(first_name="Apiina")
    admin = factories.user(role=Role.ADMIN)
    key = factories.api_key(user=admin)
    response = Client().get(
        f"/api/v1/privacy/people/{person.pk}/export", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200, response.content
    assert response.json()["person"]["first_name"] == "Apiina"
    assert AccessEntry.objects.get(person_id=person.pk, action="export").via == "api"
    rep_key = factories.api_key(user=factories.user(role=Role.SALES_REP))
    refused = Client().get(
        f"/api/v1/privacy/people/{person.pk}/export", HTTP_AUTHORIZATION=f"Bearer {rep_key}"
    )
    assert refused.status_code == 403


# Erasure ----------------------------------------------------------------------------------------


def test_erasure_leaves_no_personal_string_and_keeps_the_totals(run_worker: Any) -> None:
    person = _captured_person(run_worker)
    other = factories.person(first_name="Bystander")
    assert _personal_strings_left(), "the test must start with personal data in the database"
    client, admin = _client(Role.ADMIN)
    before = _counts()
    response = client.post(
        f"/people/{person.pk}/erase/", {"reason": "Asked by email on 3 March", "confirm": "erase"}
    )
    assert response.status_code == 302
    left = _personal_strings_left()
    assert not left, f"personal data left after erasure: {left}"
    after = _counts()
    gone = {label for label in before if before[label] != after[label]}
    expected = {
        "core.personemail",
        "core.personsearch",
        "core.personphone",
        "journeys.eventbatch",
        "privacy.erasure",
        "privacy.tombstone",
        "privacy.accessentry",
        "core.auditentry",
    }
    assert gone <= expected, f"tables whose row counts changed: {sorted(gone - expected)}"
    # The anonymous aggregates still count this person's rows.
    assert Request.objects.filter(person=person).count() == 1
    assert Event.objects.filter(person=person).count() >= 1
    assert Consent.objects.filter(person=person).count() == before["capture.consent"]
    assert Person.objects.get(pk=other.pk).first_name == "Bystander"
    erasure = Erasure.objects.get(person=person)
    assert erasure.erased_by == admin
    assert erasure.cleared["core.person"] == 1
    assert services.address_erased("Wilhelmina.Quibble@quibble-works.example")
    assert Tombstone.objects.count() == 1
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert "Erased" in page


def test_erasure_needs_a_reason_and_an_admin() -> None:
    person = factories.person(first_name="Keepme")
    marketing, _ = _client(Role.MARKETING)
    assert (
        marketing.post(
            f"/people/{person.pk}/erase/", {"reason": "x", "confirm": "erase"}
        ).status_code
        == 403
    )
    admin, _ = _client(Role.ADMIN)
    assert admin.get(f"/people/{person.pk}/erase/").status_code == 200
    response = admin.post(f"/people/{person.pk}/erase/", {"reason": " ", "confirm": "erase"})
    assert response.status_code == 400
    response = admin.post(f"/people/{person.pk}/erase/", {"reason": "asked", "confirm": "no"})
    assert response.status_code == 400
    assert Person.objects.get(pk=person.pk).first_name == "Keepme"
    assert PersonEmail.objects.filter(person=person).exists()


def test_erasure_over_the_api() -> None:
    person = factories.person(first_name="Gonzo")
    key = factories.api_key(user=factories.user(role=Role.ADMIN))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    url = f"/api/v1/privacy/people/{person.pk}/erase"
    response = Client().post(
        url, data={"reason": "Their request"}, content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    assert Person.objects.get(pk=person.pk).first_name == ""
    again = Client().post(url, data={"reason": "again"}, content_type="application/json", **auth)
    assert again.status_code == 409


# Access log -------------------------------------------------------------------------------------


def test_views_edits_and_api_reads_are_logged_and_admins_read_the_log() -> None:
    person = factories.person()
    rep, user = _client(Role.MARKETING)
    assert rep.get(f"/people/{person.pk}/").status_code == 200
    key = factories.api_key(user=user)
    assert (
        Client().get(f"/api/v1/people/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {key}").status_code
        == 200
    )
    patched = Client().patch(
        f"/api/v1/people/{person.pk}",
        data={"title": "CFO"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert patched.status_code == 200, patched.content
    entries = list(AccessEntry.objects.filter(person_id=person.pk).order_by("pk"))
    assert [(e.action, e.via, e.user_id) for e in entries] == [
        ("view", "web", user.pk),
        ("view", "api", user.pk),
        ("change", "api", user.pk),
    ]
    assert rep.get("/privacy/access-log/").status_code == 403
    admin, _ = _client(Role.ADMIN)
    page = admin.get(f"/privacy/access-log/?person={person.pk}&action=change").content.decode()
    assert page.count('class="access-entry"') == 1
    card = admin.get(f"/people/{person.pk}/").content.decode()
    assert "Who saw or changed this record" in card
    assert user.username in card
    api = Client().get(
        f"/api/v1/privacy/access-log?person_id={person.pk}",
        HTTP_AUTHORIZATION=f"Bearer {factories.api_key(user=factories.user(role=Role.ADMIN))}",
    )
    assert api.status_code == 200
    assert len(api.json()) >= 3


# Retention --------------------------------------------------------------------------------------


def test_retention_prunes_old_raw_data_in_batches_and_keeps_what_reports_read(
    settings: Any,
) -> None:
    settings.RETENTION_BATCH = 3
    settings.RETENTION_BATCHES = 2
    now = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    old = now - dt.timedelta(days=400)
    site = factories.tracking_site()
    visitor = factories.visitor()
    known = factories.person()
    for i in range(8):
        Event.objects.create(
            source="web",
            name="page_view",
            visitor=visitor,
            recorded_at=old,
            occurred_at=old,
            dedupe_key=f"old:{i}",
        )
    kept_known = factories.buyer_event(person=known, name="page_view", at=old, recorded_at=old)
    for i in range(2):
        Event.objects.create(
            source="web", name="page_view", visitor=visitor, recorded_at=now, dedupe_key=f"new:{i}"
        )
    EventBatch.objects.create(
        site=site, visitor_id="v", events=[], status="processed", received_at=old
    )
    fresh_batch = EventBatch.objects.create(
        site=site, visitor_id="v", events=[], status="processed", received_at=now
    )
    form = factories.form()
    old_sub = factories.submission(
        form=form, status="processed", received_at=old, meta={"ip": "198.51.100.1"}
    )
    new_sub = factories.submission(form=form, status="processed", received_at=now)
    first = services.retention_prune(now=now)
    assert first["events"] == 6, f"at most 2 batches of 3 per sweep: {first}"
    second = services.retention_prune(now=now)
    total = first["events"] + second["events"]
    print(f"retention: first sweep {first}, second {second}", file=sys.stderr)
    assert total == 9, f"both sweeps rolled up {total} old events: {first} {second}"
    # Old events of known people are rolled up into days (the reports read those), then go.
    assert not Event.objects.filter(pk=kept_known.pk).exists()
    assert EventDay.objects.get(person=known).count == 1
    assert sum(EventDay.objects.filter(person=None).values_list("count", flat=True)) == 8
    assert Event.objects.filter(dedupe_key__startswith="new:").count() == 2
    assert list(EventBatch.objects.values_list("pk", flat=True)) == [fresh_batch.pk]
    old_sub.refresh_from_db()
    new_sub.refresh_from_db()
    assert old_sub.payload == {"_pruned": True}
    assert old_sub.meta == {}
    assert new_sub.payload.get("email")
    third = services.retention_prune(now=now)
    assert third == {"events": 0, "event_batches": 0, "submission_payloads": 0}
    assert (
        RetentionCursor.objects.get(name="journeys.eventbatch").last_id
        < EventBatch.objects.order_by("-pk")[0].pk
    )
