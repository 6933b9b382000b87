"""Demo data at scale: rows written in bulk that the product reads as its own."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.test import Client

from leadline.capture.models import Request, RequestStatus
from leadline.core.models import Account, Person, PersonEmail, User
from leadline.core.selectors import people_search_stale
from leadline.demo import scale
from leadline.demo.scale import scale_generate
from leadline.engagement.models import Handoff, HandoffStatus
from leadline.journeys.models import Event, JourneyPosition, Visitor
from leadline.relationships.leaks import inactive_owner_leaks
from leadline.routing.models import RequestRouting, Step, Timer
from leadline.routing.selectors import leaks

pytestmark = pytest.mark.django_db(transaction=True)
UNTIL = dt.date(2026, 11, 20)


def _schema() -> tuple[set[str], set[str]]:
    """Index and constraint names of the database (PostgreSQL), to see them all come back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        indexes = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT conname FROM pg_constraint WHERE contype IN ('f', 'u', 'p')")
        constraints = {name for (name,) in cursor.fetchall()}
    return indexes, constraints


def test_bulk_people_come_with_their_history_and_no_lead_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Open requests are the last OPEN_DAYS' untouched ones: a handful among 600 people, so the
    # window is widened to have enough of them to check.
    monkeypatch.setattr(scale, "OPEN_DAYS", 60)
    call_command("demo_data", people=12, seed=7, until=UNTIL.isoformat(), verbosity=0)
    before = Person.objects.count()
    schema = _schema() if connection.vendor == "postgresql" else None
    said: list[str] = []

    summary = scale_generate(people=600, seed=3, until=UNTIL, say=said.append)

    assert Person.objects.count() == before + 600 == before + summary.people
    assert summary.accounts == 60
    # Tracked events: about EVENTS_PER_PERSON a person, anonymous visitors' included.
    assert summary.events == Event.objects.filter(dedupe_key__startswith="bulk:").count()
    assert 14 <= summary.events / 600 <= 26
    assert Visitor.objects.filter(person__isnull=True).exists()
    # Every new person can be written to, and is on the default journey.
    new_people = Person.objects.order_by("-pk")[:600]
    assert PersonEmail.objects.filter(person__in=new_people, is_primary=True).count() == 600
    assert JourneyPosition.objects.filter(person__in=new_people).count() == 600
    # Requests: each has an owner and a deadline; the open ones have their breach step.
    requests = Request.objects.filter(person__in=new_people)
    assert requests.count() == summary.requests > 600
    assert RequestRouting.objects.filter(request__in=requests, owner__isnull=False).count() == (
        summary.requests
    )
    open_requests = requests.filter(status=RequestStatus.OPEN)
    assert open_requests.count() >= 5
    assert (
        Timer.objects.filter(request__in=open_requests, step=Step.BREACH).count()
        == open_requests.count()
    )
    assert leaks() == []
    assert people_search_stale() == []  # the bulk rows' search texts, as the services write them
    assert inactive_owner_leaks() == []
    # Marketing handed the qualified ones over; sales accepted or rejected them, with a reason.
    handoffs = Handoff.objects.filter(person__in=new_people)
    assert handoffs.filter(status=HandoffStatus.ACCEPTED).exists()
    assert handoffs.filter(status=HandoffStatus.REJECTED, reason__isnull=False).exists()
    # Some companies are large (a skewed draw), most are small.
    sizes = sorted(
        Account.objects.annotate(n=Count("memberships")).values_list("n", flat=True), reverse=True
    )
    assert sizes[0] >= 10 * max(1, sizes[len(sizes) // 2])
    # The pages read the rows as their own.
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    person = new_people[0]
    assert client.get(f"/people/{person.pk}/").status_code == 200
    assert client.get("/reports/lead-quality/").status_code == 200
    if schema is not None:
        assert _schema() == schema, "every index and constraint set aside came back"
        assert any("building index" in line for line in said)
        with pytest.raises(IntegrityError), transaction.atomic():
            PersonEmail.objects.create(
                person=person, email=PersonEmail.objects.filter(person=person).get().email
            )


def test_the_command_switches_to_bulk_above_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # The threshold is 5,000 people; a test at that size would take minutes, so it is lowered.
    from leadline.demo.management.commands import demo_data

    monkeypatch.setattr(demo_data, "BULK_ABOVE", 20)
    monkeypatch.setattr(demo_data, "SERVICE_PEOPLE", 12)
    monkeypatch.setattr(scale, "BULK_ABOVE", 20)
    out = StringIO()
    call_command("demo_data", people=250, seed=7, until=UNTIL.isoformat(), stdout=out)
    assert Person.objects.count() == 250
    assert "Added in bulk: 238 people, 23 companies" in out.getvalue()
