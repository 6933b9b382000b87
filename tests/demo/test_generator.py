"""The demo data: believable, made through the real capture path, and the same for the same seed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models import F
from django.test import Client
from django_tasks_db.models import DBTaskResult

from leadline.capture.models import (
    Asset,
    AssetDownload,
    Consent,
    Form,
    Request,
    Submission,
    SubmissionStatus,
)
from leadline.core import clock
from leadline.core.freemail import is_free_mail
from leadline.core.models import (
    Account,
    AccountDomain,
    AuditEntry,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    Role,
    Team,
    TimelineEvent,
    User,
)
from leadline.core.selectors import people_search_stale
from leadline.demo import DEMO_LOGINS, DEMO_PASSWORD, banks
from leadline.demo.generator import demo_plan
from leadline.demo.pdf import TITLE, white_paper_pdf
from leadline.demo.selling import URGENT_KINDS
from leadline.journeys.models import (
    Conversation,
    Event,
    EventBatch,
    Journey,
    JourneyPosition,
    JourneyTransition,
    PainPoint,
    Visitor,
)
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.tasks import mail_deliver_task, mails_deliver_task
from leadline.routing.models import (
    Assignment,
    Ownership,
    Queue,
    RequestRouting,
    RoutingRule,
    Step,
    Timer,
    Touch,
)
from leadline.routing.selectors import leaks
from tests import factories

UNTIL = "2025-06-01"
UNTIL_AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    # The demo hashes its password once per run; PBKDF2 would make up most of these tests' time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def demo(**options: Any) -> str:
    out = StringIO()
    options.setdefault("until", UNTIL)
    call_command("demo_data", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_small_demo_makes_logins_forms_people_requests_and_history(db: None) -> None:
    output = demo(people=30, seed=3)

    assert "30 people" in output
    assert re.search(r"\d+ people/s", output)
    for username, role in DEMO_LOGINS:
        user = User.objects.get(username=username)
        assert user.get_role_display().lower() == role
        assert Client().login(username=username, password=DEMO_PASSWORD), username
    admin = User.objects.get(username="admin")
    assert admin.is_staff
    assert admin.is_superuser
    assert Team.objects.get(name="Inside Sales EMEA").manager == User.objects.get(username="sam")
    assert User.objects.filter(role="sales_rep").count() >= 6
    assert people_search_stale() == []  # every person is found by what they are

    guide = Form.objects.get(slug="cfo-guide")
    assert guide.contact_box
    assert guide.consent_text
    assert guide.campaign == "Q4 finance push"
    assert guide.asset is not None
    assert guide.asset.file.read().startswith(b"%PDF-")
    assert Form.objects.get(slug="demo-request").request_kind == "demo"
    assert Form.objects.get(slug="pricing").request_kind == "pricing"
    assert Form.objects.get(slug="webinar-close-faster").request_kind == "event"

    people = Person.objects.all()
    assert people.count() == 30
    assert all(p.role_own_words and p.time_zone and p.country for p in people)
    assert len({p.role_own_words for p in people}) > 5
    assert Account.objects.count() >= 5

    assert Submission.objects.exclude(status=SubmissionStatus.PROCESSED).count() == 0
    requests = Request.objects.all()
    assert requests.count() == Submission.objects.count() >= 30
    assert all(r.created_at < UNTIL_AT for r in requests)
    assert {r.kind for r in requests} >= {"download", "demo"}
    # Their page views are t.js's (demo/journeys.py; tests/demo/test_journeys.py).
    views = TimelineEvent.objects.filter(kind="web.page_view")
    assert views.count() > 30
    view = views.first()
    assert view is not None
    assert view.summary.startswith("Viewed ")
    assert view.data["path"].startswith("/")
    downloads = AssetDownload.objects.all()
    assert downloads.exists()
    assert all(d.person is not None and d.downloaded_at < UNTIL_AT for d in downloads)
    assert TimelineEvent.objects.filter(kind="asset.downloaded").count() == downloads.count()
    latest = TimelineEvent.objects.order_by("-occurred_at").first()
    assert latest is not None
    # The sellers' follow-ups and the ladder run on a few days past the history's end (the test
    # runs long after it); never up to the moment the test ran.
    assert UNTIL_AT - dt.timedelta(days=3) < latest.occurred_at < UNTIL_AT + dt.timedelta(days=14)
    # Times are the simulated ones, not the moment the test ran.
    newest = Person.objects.order_by("-created_at").first()
    assert newest is not None
    assert newest.created_at < UNTIL_AT

    # The prospects' ratings (demo/feedback.py): per rep, the outside callers' team, both channels.
    staff = Client()
    staff.force_login(admin)
    with clock.frozen_at(UNTIL_AT + dt.timedelta(days=2)):
        page = staff.get("/insight/ratings/?days=90")
    assert page.status_code == 200
    body = page.content.decode()
    tables = {
        hid: [label.strip() for label in re.findall(r'<th scope="row">([^<]+)', table)]
        for hid, table in re.findall(r'id="ratings-(\w+)"(.*?)</table>', body, re.S)
    }
    assert len(tables["user"]) >= 3, tables
    assert "Otto" in " ".join(tables["user"]), tables
    assert "Callsource (outsourced calls)" in tables["team"], tables
    assert {"Meeting", "Call"} <= set(tables["channel"]), tables
    assert "Outside callers</span>" in body
    answered = re.findall(r'<td class="num">(\d+)</td>\s*<td class="num">(\d+%|—)', body)
    assert any(n != "0" for n, _ in answered), answered


# Every stored row, without auto ids: foreign keys become the row they point at, by name.
NATURAL: dict[type[models.Model], str] = {
    User: "username",
    Team: "name",
    Account: "name",
    Form: "slug",
    Asset: "title",
    Submission: "idempotency_key",
    Request: "submission__idempotency_key",
    RoutingRule: "name",
}
MODELS: tuple[type[models.Model], ...] = (
    User,
    Team,
    Account,
    AccountDomain,
    Person,
    PersonEmail,
    PersonPhone,
    Membership,
    Form,
    Asset,
    Submission,
    Request,
    Consent,
    AssetDownload,
    TimelineEvent,
    AuditEntry,
    RequestRouting,
    Assignment,
    Ownership,
    Touch,
    Timer,
    InboxItem,
    OutgoingMail,
)
# Different on every run by design (a mail's Message-ID is random).
UNCOMPARED = {"object_id", "message_id"}
ROW_REFERENCE = re.compile(r"(/people/|\b[a-z_]+:)\d+")
# Signed links (unsubscribe, a rating ask's scores) name their row inside the signature.
SIGNED_LINK = re.compile(r"(/unsubscribe/|/r/)[^/\s>\"]+")


def _naturals() -> dict[Any, dict[Any, Any]]:
    found: dict[Any, dict[Any, Any]] = {
        model: dict(model._default_manager.values_list("pk", name))
        for model, name in NATURAL.items()
    }
    found[Person] = {}
    for person_id, email in PersonEmail.objects.order_by("email").values_list("person", "email"):
        found[Person].setdefault(person_id, []).append(email)
    return found


def _value(field: models.Field[Any, Any], value: Any) -> Any:
    if isinstance(value, dict):  # JSON: ids of other rows differ from run to run
        kept = {k: v for k, v in value.items() if not k.endswith("_id") and k != "told"}
        return _references(json.dumps(kept, sort_keys=True))
    return _references(str(value))


def _references(text: str) -> str:
    """Links and references ("request:42", "enrolment:9") in notifications name rows by id."""
    return SIGNED_LINK.sub(r"\1#", ROW_REFERENCE.sub(r"\1#", text))


def snapshot() -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    naturals = _naturals()
    for model in MODELS:
        rows = []
        for row in model._default_manager.all():
            values = []
            for field in model._meta.concrete_fields:
                if (field.primary_key and not field.is_relation) or field.name in UNCOMPARED:
                    continue
                if field.is_relation:
                    pk = getattr(row, field.attname)
                    values.append(repr(pk and naturals[field.related_model][pk]))
                else:
                    values.append(_value(field, getattr(row, field.attname)))
            rows.append("|".join(values))
        tables[model.__name__] = sorted(rows)
    return tables


def wipe() -> None:
    # Issue 5's, 6's and 7's areas, last in the flow first (their rows point at the earlier ones).
    for label in (
        "insight",
        "relationships",
        "imports",
        "campaigns",
        "inbound",
        "booking",
        "cadences",
        "calls",
        "engagement",
        "outreach",
        "commitments",
    ):
        for model in reversed(list(apps.get_app_config(label).get_models())):
            if model.__name__ != "RejectionReason":  # the product's list, as the default journey
                model._default_manager.all().delete()
    # The buyer's journeys' rows that deleting people and accounts leaves (demo/journeys.py).
    for journey_model in (
        Conversation,
        Visitor,
        EventBatch,
        Event,
        PainPoint,
        JourneyTransition,
        JourneyPosition,
    ):
        journey_model._default_manager.all().delete()
    Journey.objects.filter(is_default=False).delete()
    for model in (
        OutgoingMail,
        InboxItem,
        Timer,
        Touch,
        Assignment,
        RequestRouting,
        Ownership,
        RoutingRule,
        TimelineEvent,
        AuditEntry,
        Consent,
        AssetDownload,
        Request,
        Submission,
        Form,
        Asset,
        Person,
        Account,
        User,
        Team,
    ):
        model._default_manager.all().delete()


def test_same_seed_makes_the_same_data_and_another_seed_does_not(
    db: None, settings: Any, tmp_path: Path
) -> None:
    def fresh_run(seed: int, media: str) -> dict[str, list[str]]:
        wipe()
        settings.MEDIA_ROOT = tmp_path / media  # a fresh data directory, like a new machine
        demo(people=25, seed=seed)
        return snapshot()

    first = fresh_run(7, "one")
    second = fresh_run(7, "two")
    other = fresh_run(8, "three")

    assert len(first["Person"]) == 25
    assert len(first["TimelineEvent"]) > 50
    assert len(first["Touch"]) > 10
    assert first["Timer"]
    assert first == second
    assert first["Person"] != other["Person"]
    assert first["PersonEmail"] != other["PersonEmail"]
    # The selling team and the forms are the product's, not random.
    assert first["User"] == other["User"]
    assert first["Form"] == other["Form"]


def _plan_digest(people: int, seed: int) -> str:
    plan = demo_plan(people=people, seed=seed, until=dt.date(2025, 6, 1))
    text = json.dumps(dataclasses.asdict(plan), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_plan_does_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'leadline.settings');"
        "django.setup(); from tests.demo.test_generator import _plan_digest;"
        "print(_plan_digest(40, 5))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == _plan_digest(40, 5)
    assert _plan_digest(40, 6) != _plan_digest(40, 5)


def test_plan_looks_like_real_inbound_traffic() -> None:
    plan = demo_plan(people=300, seed=11, until=dt.date(2025, 6, 1))
    start = UNTIL_AT - dt.timedelta(days=300)
    submissions = [s for p in plan.people for s in p.submissions]

    assert len(plan.companies) == 50
    assert any(c.culture_notes for c in plan.companies)
    assert len({p.email for p in plan.people}) == 300
    assert all(start < s.received_at < s.processed_at < UNTIL_AT for s in submissions)
    assert all(v[0] < UNTIL_AT for p in plan.people for v in p.page_views)
    returning = sum(len(p.submissions) > 1 for p in plan.people)
    assert 30 < returning < 120
    free = sum(is_free_mail(p.email.rpartition("@")[2]) for p in plan.people)
    assert 30 < free < 120
    assert all((s.downloaded_at is not None) <= (s.form == "cfo-guide") for s in submissions)
    boxed = [s for s in submissions if s.form != "demo-request"]
    ticked = sum("contact_me" in s.data for s in boxed) / len(boxed)
    assert 0.25 < ticked < 0.45
    assert {s.data.get("utm_source") for s in submissions} >= {
        "google",
        "linkedin",
        "newsletter",
        "partner",
        None,
    }
    for person in plan.people:
        zone, country = person.note.changes["time_zone"], person.note.changes["country"]
        assert zone in banks.COUNTRIES[country][1]
        assert [s.received_at for s in person.submissions] == sorted(
            s.received_at for s in person.submissions
        )


def test_populated_database_refuses_without_append(db: None) -> None:
    factories.person(email="someone@already-here.example")
    with pytest.raises(CommandError, match="--append"):
        demo(people=5)
    assert Person.objects.count() == 1


def test_append_adds_new_people_and_reuses_users_and_forms(db: None) -> None:
    demo(people=10, seed=1)
    users, forms = User.objects.count(), Form.objects.count()
    demo(people=6, seed=1, append=True)
    assert Person.objects.count() == 16
    assert (User.objects.count(), Form.objects.count()) == (users, forms)
    assert Asset.objects.count() == 1


def test_zero_people_makes_the_team_and_forms_only(db: None) -> None:
    output = StringIO()
    call_command("demo_data", people=0, stdout=output)
    assert "0 people" in output.getvalue()
    assert Person.objects.count() == 0
    assert Account.objects.count() == 0
    assert User.objects.filter(username__in=[u for u, _ in DEMO_LOGINS]).count() == 5
    assert Form.objects.count() == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [({"people": -1}, "--people"), ({"until": "next tuesday"}, "--until")],
)
def test_bad_options_say_which(db: None, options: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        demo(**options)


def test_white_paper_is_a_well_formed_pdf() -> None:
    pdf = white_paper_pdf()
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert TITLE.encode() in pdf
    start = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[start:].startswith(b"xref")
    entries = pdf[start:].split(b"\n")[3:]
    offsets = [int(e.split()[0]) for e in entries if e.endswith(b" n ")]
    assert len(offsets) == 9
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)


# Seller behaviour and the escalation ladder ---------------------------------------------------


def _urgent(request: Request) -> bool:
    return request.wants_contact or request.kind in URGENT_KINDS


def test_plan_follows_up_like_a_sales_team() -> None:
    plan = demo_plan(people=600, seed=4, until=dt.date(2025, 6, 1))
    spec_kind = {"demo-request": "demo", "pricing": "pricing"}
    urgent, quiet = [], []
    for sub in (s for p in plan.people for s in p.submissions):
        kind = spec_kind.get(sub.form, "")
        (urgent if kind or "contact_me" in sub.data else quiet).append(sub.touches)
    first = [t[0].after for t in urgent if t]
    within = sum(after < dt.timedelta(hours=1) for after in first) / len(urgent)
    never = sum(not t for t in urgent) / len(urgent)
    assert 0.68 < within < 0.82
    assert 0.005 < never < 0.07
    assert dt.timedelta(minutes=18) < sorted(first)[len(first) // 2] < dt.timedelta(minutes=45)
    assert 0.2 < sum(not t for t in quiet) / len(quiet) < 0.4
    touches = [t for ts in urgent + quiet for t in ts]
    assert all(a.after <= b.after for ts in urgent + quiet for a, b in itertools.pairwise(ts))
    assert {(t.kind, t.outcome) for t in touches} == {
        ("call", "connected"),
        ("call", "voicemail"),
        ("call", "no_answer"),
        ("call", "wrong_number"),
        ("email", ""),
        ("meeting", ""),
    }
    assert all(t.note for t in touches if t.kind != "call")
    # Three calls without reaching them: the manager hears (touch_record's no-contact signal).
    missed = ("voicemail", "no_answer")
    assert any(len(ts) >= 3 and all(t.outcome in missed for t in ts[:3]) for ts in urgent)
    # What a rep learns on the phone is written down after the first call that reached them.
    learned = [t for p in plan.people for s in p.submissions for t in s.touches if t.learned]
    assert learned
    assert all(t.outcome == "connected" for t in learned)


def _owner_at(request: Request, moment: dt.datetime) -> int | None:
    assignment = (
        Assignment.objects.filter(request=request, at__lte=moment).order_by("-at", "-id").first()
    )
    assert assignment is not None
    return assignment.owner_id


def test_history_has_touches_on_time_and_the_ladder_for_the_rest(db: None) -> None:
    demo(people=150, seed=2)
    now = clock.now()
    requests = list(Request.objects.select_related("routing"))
    urgent = [r for r in requests if _urgent(r)]
    on_time = [
        r
        for r in urgent
        if r.routing.first_touched_at is not None
        and r.routing.first_touch_due is not None
        and r.routing.first_touched_at <= r.routing.first_touch_due
    ]
    assert 0.6 <= len(on_time) / len(urgent) <= 0.9

    touches = Touch.objects.select_related("request")
    assert {t.kind for t in touches} == {"call", "email", "meeting"}
    assert {t.outcome for t in touches if t.kind == "call"} >= {"connected", "voicemail"}
    assert all(t.user_id is not None for t in touches)
    handed_on = 0
    callers = set(User.objects.filter(role=Role.OUTSIDE_CALLER).values_list("pk", flat=True))
    for touch in touches:  # whoever owned the request then, also after a reassignment
        assert touch.request is not None
        if touch.user_id in callers:
            continue  # the outsourced calling team calls on the owner's behalf
        assert touch.user_id == _owner_at(touch.request, touch.at), touch
        first = Assignment.objects.filter(request=touch.request).order_by("at", "id").first()
        assert first is not None
        handed_on += touch.user_id != first.owner_id
    assert handed_on
    # What the rep who reached them wrote down is on the timeline, by that rep.
    notes = TimelineEvent.objects.filter(kind="person.updated", actor__isnull=False)
    assert notes.exists()

    # The ladder ran for the requests nobody reached in time: each step done at its due time.
    steps = Timer.objects.exclude(outcome__startswith="not needed")
    assert steps.filter(step=Step.BREACH, outcome__startswith="told Sam Okafor").exists()
    assert steps.filter(step=Step.REMIND, outcome__startswith="reminded").exists()
    assert steps.filter(step=Step.REASSIGN, outcome__startswith="now with").exists()
    fallbacks = steps.filter(step=Step.FALLBACK, outcome__startswith="fallback queue, held by")
    assert fallbacks.exists()
    assert all(t.done_at == t.due_at for t in steps)
    assert RequestRouting.objects.filter(
        queue=Queue.FALLBACK, request__in=fallbacks.values("request")
    ).exists()
    assert (
        TimelineEvent.objects.filter(kind="escalation.breach").count()
        == steps.filter(step=Step.BREACH).count()
    )
    assert TimelineEvent.objects.filter(kind="escalation.no_contact").exists()
    # A late first touch came after the manager heard of the missed deadline, not instead.
    late = RequestRouting.objects.filter(first_touched_at__gt=F("first_touch_due"))
    assert late.exists()
    for routing in late:
        breach = Timer.objects.get(request_id=routing.request_id, step=Step.BREACH)
        assert breach.outcome.startswith("told "), breach

    assert not Timer.objects.filter(done_at__isnull=True, due_at__lte=now).exists()
    mail = OutgoingMail.objects.all()
    assert mail.count() > len(requests)
    assert not mail.exclude(status=SendStatus.SENT).exists()
    assert all(m.sent_at == m.created_at and m.attempts == 1 for m in mail)
    assert InboxItem.objects.exists()
    assert not InboxItem.objects.filter(read_at__isnull=True).exists()
    assert leaks() == []
    out = StringIO()
    call_command("leaks", stdout=out)
    assert out.getvalue().strip().endswith("0 dropped leads")


def test_requests_still_inside_their_deadline_wait_for_the_sellers(db: None) -> None:
    # Two hours into a Wednesday (UTC): Tuesday afternoon's requests are due this morning.
    now = dt.datetime(2025, 6, 4, 2, tzinfo=dt.UTC)
    with clock.frozen_at(now):
        demo(people=80, seed=5, until="2025-06-04")
        assert leaks() == []
    waiting = Timer.objects.filter(done_at__isnull=True)
    assert waiting.filter(step=Step.BREACH).exists()
    assert all(t.due_at > now for t in waiting)
    assert not Touch.objects.filter(at__gt=now).exists()
    assert not Timer.objects.filter(done_at__gt=now).exists()
    untouched = RequestRouting.objects.filter(first_touched_at__isnull=True)
    assert untouched.filter(first_touch_due__gt=now).exists()
    assert not OutgoingMail.objects.filter(status=SendStatus.QUEUED).exists()
    unread = InboxItem.objects.filter(read_at__isnull=True)
    assert unread.exists()
    assert all(item.created_at >= now - dt.timedelta(days=1) for item in unread)
    assert all(
        item.created_at < now - dt.timedelta(days=1)
        for item in InboxItem.objects.filter(read_at__isnull=False)
    )


def test_starting_the_worker_after_the_demo_sends_no_mail_about_the_past(
    transactional_db: None, run_worker: Any, mailoutbox: list[Any]
) -> None:
    # Real commits, so notify's on-commit queueing of each mail runs as in `leadline demo`.
    demo(people=15, seed=2)
    assert OutgoingMail.objects.filter(status=SendStatus.SENT).count() > 15
    sending = (mail_deliver_task.module_path, mails_deliver_task.module_path)
    assert not DBTaskResult.objects.filter(task_path__in=sending).exists()
    run_worker()
    assert mailoutbox == []
    assert not OutgoingMail.objects.exclude(status=SendStatus.SENT).exists()
