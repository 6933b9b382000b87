"""The contact gate: one weekly cap across every channel, quiet hours in the person's time zone,
do-not-contact per channel, consent and unsubscribes by purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from leadline.core import clock
from leadline.core.models import Person, PersonPhone, TimelineEvent
from leadline.outreach import selectors, services
from leadline.outreach.models import ContactAttempt
from tests import factories

pytestmark = pytest.mark.django_db

MONDAY_10 = factories.MONDAY_10  # Monday 23 Nov 2026, 10:00 UTC = 11:00 in Berlin


@pytest.fixture(autouse=True)
def _monday() -> Iterator[None]:
    with clock.frozen_at(MONDAY_10):
        yield


def _person(**extra: object) -> Person:
    extra.setdefault("time_zone", "Europe/Berlin")
    person = factories.person(**extra)
    PersonPhone.objects.create(person=person, e164="+4930123456")
    return person


def _reserve(person: Person, channel: str = "email", purpose: str = "marketing", **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("source", "cadence")
    kw.setdefault("ref", f"test:{person.pk}")
    return services.contact_reserve(person=person, channel=channel, purpose=purpose, **kw)  # type: ignore[arg-type]


def test_the_cap_holds_across_channels_with_reason_and_next_time() -> None:
    ann = _person()
    minutes = dt.timedelta(minutes=5)
    assert _reserve(ann, "email", source="cadence", ref="enrolment:1", at=MONDAY_10).allowed
    assert _reserve(ann, "email", source="newsletter", ref="newsletter:1", at=MONDAY_10 + minutes)
    assert _reserve(
        ann, "phone", "sales", source="call_task", ref="task:1", at=MONDAY_10 + 2 * minutes
    ).allowed

    fourth = _reserve(ann, "manual", "sales", at=MONDAY_10 + 3 * minutes)

    assert not fourth.allowed
    assert fourth.code == "cap"
    assert fourth.reason == "3 touches this week (the limit is 3)"
    # The first touch leaves the 7-day window a week later, on a Monday at 11:00 in Berlin.
    assert fourth.next_allowed_at == MONDAY_10 + dt.timedelta(days=7)
    assert ContactAttempt.objects.filter(person=ann).count() == 3
    # Another person is not affected.
    assert _reserve(_person(), "email", at=MONDAY_10 + 3 * minutes).allowed


def test_a_released_reservation_stops_counting() -> None:
    ann = _person()
    for n in range(3):
        assert _reserve(ann, ref=f"enrolment:{n}").allowed
    assert _reserve(ann).code == "cap"

    assert services.contact_release(ref="enrolment:1") == 1
    assert services.contact_release(ref="enrolment:1") == 0

    assert _reserve(ann).allowed


def test_the_window_is_rolling_seven_days() -> None:
    ann = _person()
    week_ago = MONDAY_10 - dt.timedelta(days=7)
    for n in range(3):
        assert _reserve(ann, at=week_ago + dt.timedelta(minutes=n)).allowed
    assert _reserve(ann, at=MONDAY_10 - dt.timedelta(minutes=1)).code == "cap"
    assert _reserve(ann, at=MONDAY_10).allowed  # the first one has just left the window


def test_touches_planned_ahead_count_too() -> None:
    ann = _person()
    for days in (1, 2, 3):  # call tasks due on Tuesday, Wednesday, Thursday
        assert _reserve(ann, "phone", "sales", at=MONDAY_10 + dt.timedelta(days=days)).allowed

    today = _reserve(ann, "email", "marketing", at=MONDAY_10)

    assert today.code == "cap"
    # Not until the Tuesday touch is more than 7 days back: the next Tuesday, 10:00 UTC.
    assert today.next_allowed_at == MONDAY_10 + dt.timedelta(days=8)


def test_the_policy_sets_the_cap() -> None:
    factories.contact_policy(weekly_cap=1)
    ann = _person()
    assert _reserve(ann).allowed
    refused = _reserve(ann, "phone", "sales")
    assert (refused.code, refused.reason) == ("cap", "1 touches this week (the limit is 1)")


@pytest.mark.parametrize(
    ("extra", "allowed", "next_at"),
    [
        # 02:00 in Los Angeles: quiet until 08:00 there (16:00 UTC).
        ({"time_zone": "America/Los_Angeles"}, False, dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)),
        ({"time_zone": "Europe/Berlin"}, True, None),  # 11:00
        ({"time_zone": "Asia/Tokyo"}, True, None),  # 19:00
        # No time zone: the country's main zone (US → New York, 05:00: quiet until 08:00).
        ({"time_zone": "", "country": "US"}, False, dt.datetime(2026, 11, 23, 13, tzinfo=dt.UTC)),
        # Nothing known: the policy's default zone (UTC, 10:00).
        ({"time_zone": ""}, True, None),
    ],
)
def test_quiet_hours_in_the_persons_time_zone(
    extra: dict[str, str], allowed: bool, next_at: dt.datetime | None
) -> None:
    person = _person(**extra)
    verdict = _reserve(person)
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.code == "quiet_hours"
        assert "Quiet hours where they are" in verdict.reason
        assert verdict.next_allowed_at == next_at
        assert not ContactAttempt.objects.filter(person=person).exists()


def test_quiet_in_the_evening_until_the_next_morning() -> None:
    tokyo = _person(time_zone="Asia/Tokyo")
    evening = dt.datetime(2026, 11, 23, 11, 30, tzinfo=dt.UTC)  # 20:30 in Tokyo
    verdict = _reserve(tokyo, at=evening)
    assert verdict.code == "quiet_hours"
    assert verdict.next_allowed_at == dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)  # 08:00


def test_weekends_are_quiet_unless_the_policy_says_otherwise() -> None:
    ann = _person()
    saturday = dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC)
    verdict = _reserve(ann, at=saturday)
    assert verdict.code == "quiet_hours"
    # Monday 08:00 in Berlin.
    assert verdict.next_allowed_at == dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)

    factories.contact_policy(weekends_quiet=False)
    assert _reserve(ann, at=saturday).allowed


def test_the_cap_and_quiet_hours_together_give_the_first_time_both_allow() -> None:
    ann = _person()
    factories.contact_policy(quiet_start=dt.time(0), quiet_end=dt.time(0))  # no quiet hours
    last_tuesday = dt.datetime(2026, 11, 17, 19, 30, tzinfo=dt.UTC)  # 20:30 in Berlin
    for n in range(3):
        assert _reserve(ann, at=last_tuesday + dt.timedelta(minutes=n)).allowed
    factories.contact_policy(quiet_start=dt.time(20), quiet_end=dt.time(8))

    verdict = _reserve(ann, at=MONDAY_10)

    assert verdict.code == "cap"
    # The touches leave the window on Tuesday at 20:30 in Berlin: quiet hours by then, so the
    # first time both allow is Wednesday 08:00 in Berlin.
    assert verdict.next_allowed_at == dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)


def test_do_not_contact_is_per_channel_and_for_every_purpose() -> None:
    ann = _person()
    services.do_not_contact_set(
        person=ann, channel="email", reason="Asked on the phone", source="by_hand", actor=None
    )
    services.do_not_contact_set(
        person=ann, channel="email", reason="Again", source="by_hand", actor=None
    )

    for purpose in ("marketing", "sales"):
        verdict = _reserve(ann, "email", purpose)
        assert (verdict.allowed, verdict.code, verdict.next_allowed_at) == (
            False,
            "do_not_contact",
            None,
        )
        assert verdict.reason == "Do not contact by email: Asked on the phone"
    assert _reserve(ann, "phone", "sales").allowed
    events = TimelineEvent.objects.filter(person=ann, kind="contact.do_not_contact")
    assert [e.data["channel"] for e in events] == ["email"]  # idempotent: once

    assert services.do_not_contact_lift(person=ann, channel="email", actor=None)
    assert _reserve(ann, "email", "sales").allowed


def test_no_address_on_the_channel() -> None:
    ann = factories.person(time_zone="Europe/Berlin")  # an email address, no phone
    verdict = _reserve(ann, "phone", "sales")
    assert (verdict.code, verdict.reason) == ("no_address", "No phone number")
    assert _reserve(ann, "email", "sales").allowed


def test_withdrawn_marketing_consent_stops_marketing_not_sales() -> None:
    ann = _person()
    factories.consent(person=ann, granted=True, captured_at=MONDAY_10 - dt.timedelta(days=30))
    factories.consent(person=ann, granted=False, captured_at=MONDAY_10 - dt.timedelta(days=2))

    refused = _reserve(ann, "email", "marketing")
    assert (refused.code, refused.reason) == (
        "no_consent",
        "Said no to marketing email on 21 Nov 2026",
    )
    assert _reserve(ann, "phone", "marketing").code == "no_consent"
    assert _reserve(ann, "email", "sales").allowed

    factories.consent(person=ann, granted=True, captured_at=MONDAY_10 - dt.timedelta(days=1))
    assert _reserve(ann, "email", "marketing").allowed  # the latest word counts


def test_a_marketing_unsubscribe_stops_marketing_but_not_a_reps_sales_touch() -> None:
    ann = _person()
    assert services.contact_unsubscribe(person=ann, method="link")
    assert not services.contact_unsubscribe(person=ann, method="link")  # already

    assert _reserve(ann, "email", "marketing").code == "unsubscribed"
    assert _reserve(ann, "phone", "marketing").code == "unsubscribed"
    assert _reserve(ann, "email", "sales").allowed
    [event] = TimelineEvent.objects.filter(person=ann, kind="contact.unsubscribed")
    assert event.summary == "Unsubscribed from marketing email on the unsubscribe page"


def test_an_unsubscribe_from_a_sales_mail_stops_sales_email_but_not_calls() -> None:
    ann = _person()
    services.contact_unsubscribe(person=ann, purpose="sales", method="one_click")

    assert _reserve(ann, "email", "sales").code == "unsubscribed"
    assert _reserve(ann, "email", "marketing").code == "unsubscribed"
    assert _reserve(ann, "phone", "sales").allowed


def test_contact_check_reads_without_reserving() -> None:
    ann = _person()
    for _ in range(2):
        verdict = selectors.contact_check(person=ann, channel="email", purpose="marketing")
        assert verdict == selectors.ALLOWED
    assert not ContactAttempt.objects.exists()
    for n in range(3):
        _reserve(ann, ref=f"x:{n}")
    assert selectors.contact_check(person=ann, channel="phone", purpose="sales").code == "cap"


def test_unknown_channel_or_purpose_is_a_programming_error() -> None:
    ann = _person()
    with pytest.raises(ValueError, match="channel"):
        _reserve(ann, "fax")
    with pytest.raises(ValueError, match="purpose"):
        _reserve(ann, "email", "gossip")


def test_stop_handlers_hear_of_unsubscribes_and_do_not_contact(settings: object) -> None:
    heard.clear()
    settings.OUTREACH_STOP_HANDLERS = ["tests.outreach.test_gate.record_stop"]  # type: ignore[attr-defined]
    ann = _person()
    services.contact_unsubscribe(person=ann, method="link")
    services.do_not_contact_set(person=ann, channel="phone", reason="", source="x", actor=None)
    assert heard == [(ann.pk, "unsubscribed", "email"), (ann.pk, "do_not_contact", "phone")]


heard: list[tuple[int, str, str]] = []


def record_stop(*, person: Person, reason: str, channel: str) -> None:
    heard.append((person.pk, reason, channel))
