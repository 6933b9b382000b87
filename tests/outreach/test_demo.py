"""The demo's marketing email goes through the real gate, once."""

from __future__ import annotations

import datetime as dt

import pytest

from leadline.demo.outreach import outreach_demo
from leadline.outreach.models import Newsletter, NewsletterStatus
from leadline.outreach.selectors import newsletter_report_text
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_demo_sends_one_email_through_the_gate_and_keeps_a_draft() -> None:
    factories.user(role="marketing")
    now = factories.MONDAY_10
    for zone in ["Europe/Berlin"] * 5 + ["America/New_York"]:
        person = factories.person(time_zone=zone)
        factories.consent(person=person, captured_at=now - dt.timedelta(days=60))

    assert outreach_demo(now=now) == 6
    assert outreach_demo(now=now) == 0

    sent = Newsletter.objects.get(status=NewsletterStatus.SENT)
    assert newsletter_report_text(newsletter=sent) == "unsubscribed: 2; sent: 4"
    assert Newsletter.objects.filter(status=NewsletterStatus.DRAFT).count() == 1
