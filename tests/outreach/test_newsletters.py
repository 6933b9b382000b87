"""Marketing emails: merge fields, the audience, and a send through the worker that goes to each
person through the contact gate; real SMTP receives the mails with one-click unsubscribe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core import clock
from leadline.core.models import Person, TimelineEvent
from leadline.core.services import timeline_record
from leadline.journeys.models import Journey, JourneyPosition, JourneyStep
from leadline.outreach import selectors, services
from leadline.outreach.models import (
    Audience,
    Newsletter,
    NewsletterRecipient,
    NewsletterStatus,
    RecipientStatus,
)
from tests import factories
from tests.smtp import SmtpServer, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db
MONDAY_10 = factories.MONDAY_10


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.PUBLIC_URL = "https://leadline.example"


@pytest.fixture
def work(run_worker: Callable[[], None], django_capture_on_commit_callbacks: Any) -> Any:
    """Run the worker until nothing more is queued (tasks queue tasks on commit)."""

    def run() -> None:
        for _ in range(4):
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                run_worker()
            if not callbacks:
                return

    return run


def _consenting(**extra: Any) -> Person:
    extra.setdefault("time_zone", "Europe/Berlin")
    person = factories.person(**extra)
    factories.consent(person=person, granted=True, captured_at=MONDAY_10 - dt.timedelta(days=9))
    return person


def test_merge_fields_fill_in_and_nothing_else_is_interpreted() -> None:
    account = factories.account(name="Acme <Widgets>")
    ann = factories.person(first_name="Ann")
    factories.membership(person=ann, account=account)
    with pytest.raises(ValidationError) as refused:
        factories.newsletter(text="Hi {{ first_name }} {{ secret_key }}")
    assert "secret_key" in str(refused.value.message_dict["text"])

    newsletter = factories.newsletter(
        subject="For {{ first_name }} at {{company}}",
        text="Hi {{ first_name }}, {% load evil %}{{first_name}}",
        html="<p>Hi {{ first_name }} of {{ company }}</p>",
    )
    subject, text, html = services.newsletter_render(newsletter=newsletter, person=ann)
    assert subject == "For Ann at Acme <Widgets>"
    assert text.startswith("Hi Ann, {% load evil %}Ann")
    assert services.unsubscribe_url(person=ann) in text
    assert "<p>Hi Ann of Acme &lt;Widgets&gt;</p>" in html
    assert "Unsubscribe</a>" in html

    nobody = factories.person(first_name="")
    assert services.newsletter_render(newsletter=newsletter, person=nobody)[0] == (
        "For there at your company"
    )


def test_the_audience_choices() -> None:
    yes, no, silent = _consenting(), factories.person(), factories.person()
    factories.consent(person=no, granted=True, captured_at=MONDAY_10 - dt.timedelta(days=9))
    factories.consent(person=no, granted=False, captured_at=MONDAY_10 - dt.timedelta(days=1))
    merged = _consenting()
    merged.merged_into = yes
    merged.save()

    def audience(newsletter: Newsletter) -> list[Person]:
        return list(services.newsletter_audience(newsletter=newsletter))

    assert audience(factories.newsletter()) == [yes]
    timeline_record(kind="lifecycle.changed", summary="", person=silent, data={"to": "engaged"})
    timeline_record(kind="lifecycle.changed", summary="", person=no, data={"to": "engaged"})
    timeline_record(kind="lifecycle.changed", summary="", person=no, data={"to": "customer"})
    stage = factories.newsletter(audience=Audience.LIFECYCLE, audience_value="engaged")
    assert audience(stage) == [silent]
    journey = Journey.objects.create(name="Finance close", slug="finance-close")
    step = JourneyStep.objects.create(journey=journey, name="Aware", position=1)
    JourneyPosition.objects.create(journey=journey, person=no, step=step)
    on_step = factories.newsletter(audience=Audience.JOURNEY_STEP, audience_value=str(step.pk))
    assert audience(on_step) == [no]
    listed = factories.newsletter(audience=Audience.PEOPLE, audience_ids=[silent.pk, no.pk])
    assert audience(listed) == [no, silent]
    with pytest.raises(ValidationError):
        factories.newsletter(audience=Audience.PEOPLE, audience_ids=[])
    with pytest.raises(ValidationError):
        factories.newsletter(audience=Audience.LIFECYCLE, audience_value="")


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(MONDAY_10):
        yield


@pytest.mark.usefixtures("frozen")
def test_a_send_skips_capped_and_unsubscribed_people_and_reports_them(
    smtp_server: SmtpServer,  # noqa: F811
    work: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ann = _consenting(first_name="Ann", email="ann@acme.example")
    bea = _consenting(first_name="Bea", email="bea@acme.example")
    capped = _consenting(first_name="Cap", email="cap@acme.example")
    for n in range(3):
        services.contact_reserve(
            person=capped, channel="manual", purpose="sales", source="task", ref=f"t:{n}"
        )
    gone = _consenting(first_name="Gus", email="gus@acme.example")
    services.contact_unsubscribe(person=gone, method="link")
    # 02:00 in Los Angeles: quiet hours; the mail waits until 08:00 there.
    night = _consenting(first_name="Lou", email="lou@acme.example", time_zone="America/Los_Angeles")
    factories.person(first_name="Nat", email="nat@acme.example")  # no consent: not in audience
    newsletter = factories.newsletter(html="<p>Hello {{ first_name }}</p>")
    marketer = factories.user(role="marketing")

    with django_capture_on_commit_callbacks(execute=True):
        services.newsletter_send(newsletter=newsletter, actor=marketer)
    work()

    received = {m["To"]: m for m in smtp_server.messages}
    assert sorted(received) == ["ann@acme.example", "bea@acme.example"]
    message = received["ann@acme.example"]
    url = services.unsubscribe_url(person=ann)
    assert url.startswith("https://leadline.example/unsubscribe/")
    assert message["List-Unsubscribe"].strip() == f"<{url}>"  # long: folded by the sender
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"] == "News for Ann"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hi Ann," in text
    assert url in text
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "<p>Hello Ann</p>" in html
    assert "Unsubscribe</a>" in html

    newsletter.refresh_from_db()
    assert newsletter.status == NewsletterStatus.SENDING  # Lou is still waiting
    assert selectors.newsletter_report_text(newsletter=newsletter) == (
        "held by the weekly limit: 1; unsubscribed: 1; "
        "waiting for the end of their quiet hours: 1; sent: 2"
    )
    held = NewsletterRecipient.objects.get(person=capped)
    assert (held.status, held.reason) == (
        RecipientStatus.HELD,
        "3 touches this week (the limit is 3)",
    )
    waiting = NewsletterRecipient.objects.get(person=night)
    assert waiting.next_try_at == dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)
    # A sent mail counts as a touch; the timeline shows it.
    assert selectors.touches_this_week(person=ann) == 1
    assert TimelineEvent.objects.filter(person=bea, kind="newsletter.sent").count() == 1

    # Morning in Los Angeles: the waiting one goes, and the send is finished.
    with clock.frozen_at(dt.datetime(2026, 11, 23, 16, 1, tzinfo=dt.UTC)):
        with django_capture_on_commit_callbacks(execute=True):
            services.newsletter_deliver(newsletter_id=newsletter.pk)
        work()
    assert "lou@acme.example" in {m["To"] for m in smtp_server.messages}
    newsletter.refresh_from_db()
    assert newsletter.status == NewsletterStatus.SENT
    assert selectors.newsletter_report_text(newsletter=newsletter) == (
        "held by the weekly limit: 1; unsubscribed: 1; sent: 3"
    )


@pytest.mark.usefixtures("frozen")
def test_a_sent_newsletter_cannot_be_sent_or_changed_again() -> None:
    newsletter = factories.newsletter()
    services.newsletter_send(newsletter=newsletter, actor=None)
    with pytest.raises(ValidationError):
        services.newsletter_send(newsletter=newsletter, actor=None)
    with pytest.raises(ValidationError):
        services.newsletter_update(newsletter=newsletter, changes={"subject": "x"}, actor=None)
    copy = services.newsletter_copy(newsletter=newsletter, actor=None)
    assert copy.status == NewsletterStatus.DRAFT
    assert copy.subject == newsletter.subject


@pytest.mark.usefixtures("frozen")
def test_a_lost_send_is_queued_again_by_the_sweep(
    django_capture_on_commit_callbacks: Any,
) -> None:
    newsletter = factories.newsletter()
    services.newsletter_send(newsletter=newsletter, actor=None)  # its task is never queued here
    assert services.newsletters_resume() == 0  # just queued: not lost yet
    later = MONDAY_10 + dt.timedelta(minutes=10)
    with clock.frozen_at(later), django_capture_on_commit_callbacks() as callbacks:
        assert services.newsletters_resume() == 1
    assert len(callbacks) == 1
