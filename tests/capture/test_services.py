"""Processing a stored submission into person, account, request and timeline."""

from __future__ import annotations

from typing import Any

import pytest

from leadline.capture import services
from leadline.capture.ingest import form_spec
from leadline.capture.models import Consent, Form, Request, Submission, SubmissionStatus
from leadline.capture.validation import submission_clean
from leadline.core.models import Account, Membership, Person, PersonEmail, TimelineEvent
from leadline.core.services import account_merge, person_merge
from tests import factories

pytestmark = pytest.mark.django_db


def stored(form: Form, key: str = "k", **data: Any) -> Submission:
    spec = form_spec(form.slug)
    assert spec is not None
    clean, errors = submission_clean(spec, factories.submission_data(**data))
    assert errors == {}
    return Submission.objects.create(form=form, idempotency_key=key, payload=clean)


def test_processing_builds_person_account_membership_consent_and_request() -> None:
    fields = [{"name": n} for n in ("email", "company", "role_own_words", "phone", "message")]
    form = factories.form(fields=[*fields, {"name": "country"}])
    # A local number is read in the country they gave.
    submission = stored(
        form, phone="020 7946 0958", country="United Kingdom", message="Month-end takes 9 days"
    )
    services.submission_process(submission_id=submission.pk)

    person = Person.objects.get()
    assert person.role_own_words == "I run the finance systems team"
    assert person.country == "GB"
    assert person.phones.get().e164 == "+442079460958"
    account = Account.objects.get()
    assert account.name == "Acme Widgets"
    assert account.domains.get().domain == "acme-widgets.example"
    assert Membership.objects.get().role_in_company == "I run the finance systems team"
    assert set(Consent.objects.values_list("purpose", "granted")) == {
        ("marketing_email", True),
        ("contact", True),
    }
    request = Request.objects.get()
    assert (request.kind, request.wants_contact, request.message) == (
        "download",
        True,
        "Month-end takes 9 days",
    )
    assert request.asset == form.asset
    kinds = list(TimelineEvent.objects.filter(person=person).values_list("kind", flat=True))
    assert sorted(kinds) == ["person.created", "request.created"]
    assert "asked to be contacted" in TimelineEvent.objects.get(kind="request.created").summary


def test_processing_twice_changes_nothing() -> None:
    submission = stored(factories.form())
    services.submission_process(submission_id=submission.pk)
    services.submission_process(submission_id=submission.pk)
    assert Request.objects.count() == 1
    assert TimelineEvent.objects.count() == 2


def test_same_email_in_any_case_is_the_same_person_and_their_new_words_are_kept() -> None:
    form = factories.form()
    first = stored(form, "a", email="Ann@Acme.example", role_own_words="I run AP")
    second = stored(form, "b", email="ann@ACME.example", role_own_words="I now run all of finance")
    services.submission_process(submission_id=first.pk)
    services.submission_process(submission_id=second.pk)
    person = Person.objects.get()
    assert person.role_own_words == "I now run all of finance"
    assert person.requests.count() == 2
    assert Account.objects.count() == 1


def test_free_mail_finds_the_company_by_name_not_by_domain() -> None:
    form = factories.form()
    first = stored(form, "a", email="ann@gmail.com", company="Acme Widgets")
    second = stored(form, "b", email="bob@gmail.com", company="acme widgets")
    services.submission_process(submission_id=first.pk)
    services.submission_process(submission_id=second.pk)
    account = Account.objects.get()
    assert not account.domains.exists()
    assert account.memberships.count() == 2


def test_failure_keeps_the_raw_submission_and_writes_nothing(monkeypatch: Any) -> None:
    submission = stored(factories.form())

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("request table unavailable")

    monkeypatch.setattr(services, "_timeline_events", broken)
    with pytest.raises(RuntimeError):
        services.submissions_process_or_record_failure(submission_ids=[submission.pk])
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.FAILED
    assert submission.attempts == 1
    assert "request table unavailable" in submission.last_error
    assert not Person.objects.exists()
    assert not Request.objects.exists()

    monkeypatch.undo()
    services.submissions_process_or_record_failure(submission_ids=[submission.pk])
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.PROCESSED
    assert Request.objects.count() == 1


def test_stale_submissions_are_queued_again(run_worker: Any) -> None:
    submission = stored(factories.form())
    Submission.objects.filter(pk=submission.pk).update(
        received_at=submission.received_at - services.STALE_AFTER * 2
    )
    assert services.submissions_requeue_stale() == 1
    run_worker()
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.PROCESSED


def test_person_merge_keeps_every_event_email_and_request_of_both() -> None:
    form = factories.form()
    a = stored(form, "a", email="ann@acme.example")
    b = stored(form, "b", email="ann.lee@private.example", company="")
    services.submission_process(submission_id=a.pk)
    services.submission_process(submission_id=b.pk)
    survivor = PersonEmail.objects.get(email="ann@acme.example").person
    loser = PersonEmail.objects.get(email="ann.lee@private.example").person
    events_before = TimelineEvent.objects.count()

    person_merge(survivor=survivor, loser=loser)

    assert set(survivor.emails.values_list("email", flat=True)) == {
        "ann@acme.example",
        "ann.lee@private.example",
    }
    assert survivor.requests.count() == 2
    assert TimelineEvent.objects.filter(person=survivor).count() == events_before + 1
    loser.refresh_from_db()
    assert loser.merged_into == survivor
    # A later submission from the loser's address lands on the survivor.
    c = stored(form, "c", email="ann.lee@private.example")
    services.submission_process(submission_id=c.pk)
    assert survivor.requests.count() == 3


def test_account_merge_moves_domains_and_people() -> None:
    form = factories.form()
    services.submission_process(submission_id=stored(form, "a", email="a@acme.example").pk)
    services.submission_process(submission_id=stored(form, "b", email="b@acme.co.example").pk)
    survivor, loser = Account.objects.order_by("pk")
    account_merge(survivor=survivor, loser=loser)
    assert set(survivor.domains.values_list("domain", flat=True)) == {
        "acme.example",
        "acme.co.example",
    }
    assert survivor.memberships.count() == 2
    assert TimelineEvent.objects.filter(account=survivor, kind="account.merged").exists()


def _queries(run: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    # One transaction: inside the test's own, that is one savepoint, and none nested.
    assert [q["sql"].startswith("SAVEPOINT") for q in captured.captured_queries].count(True) == 1
    return len(captured.captured_queries)


def test_a_batch_costs_the_queries_of_one_submission() -> None:
    form = factories.form()
    one = [stored(form, "k0", email="a0@one.example").pk]
    many = [stored(form, f"k{n}", email=f"a{n}@many{n % 3}.example").pk for n in range(1, 13)]
    alone = _queries(lambda: services.submissions_process(submission_ids=one))
    together = _queries(lambda: services.submissions_process(submission_ids=many))
    assert together == alone
    assert Request.objects.count() == 13
    assert Account.objects.count() == 4  # one.example and many0..2.example
    assert Submission.objects.filter(status=SubmissionStatus.PROCESSED, attempts=1).count() == 13


def test_one_new_address_twice_in_a_batch_is_one_person_with_the_later_words() -> None:
    form = factories.form(fields=[{"name": "email"}, {"name": "role_own_words"}])
    first = stored(form, "a", email="kim@acme.example", role_own_words="I buy the tools")
    second = stored(form, "b", email="KIM@acme.example", role_own_words="I run finance IT")
    done = services.submissions_process(submission_ids=[first.pk, second.pk])
    assert set(done) == {first.pk, second.pk}
    person = Person.objects.get()
    assert person.role_own_words == "I run finance IT"
    assert Membership.objects.get(person=person).role_in_company == "I buy the tools"
    kinds = list(
        TimelineEvent.objects.filter(person=person).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == ["person.created", "request.created", "request.created"]


def test_a_bad_submission_fails_alone_and_the_rest_of_its_batch_is_processed() -> None:
    form = factories.form()
    good = [stored(form, f"g{n}", email=f"g{n}@acme.example") for n in range(3)]
    bad = stored(form, "bad", email="bad@acme.example")
    Submission.objects.filter(pk=bad.pk).update(payload={"no": "email"})

    done = services.submissions_process_pending()

    assert set(done) == {s.pk for s in good}
    bad.refresh_from_db()
    assert bad.status == SubmissionStatus.FAILED
    assert "email" in bad.last_error
    assert services.submissions_process_pending() == {}  # the failed one waits for the sweep
