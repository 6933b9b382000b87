"""The prospect's view: a held meeting or a connected call asks one question by mail, the click
records the answer, the report shows it per rep, team and channel; stops are signals."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from leadline.booking.models import MeetingStatus
from leadline.booking.services import meeting_outcome_record
from leadline.calls.services import call_task_log
from leadline.core import clock
from leadline.core.models import Role, TimelineEvent
from leadline.feedback import services
from leadline.feedback.links import rating_token, rating_url
from leadline.feedback.models import AskStatus, RatingAsk, StopSignal
from leadline.feedback.selectors import ratings_summary
from leadline.outreach.models import ContactChannel
from leadline.outreach.services import contact_reserve, contact_unsubscribe, do_not_contact_set
from tests import factories
from tests.smtp import SmtpServer, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

MONDAY_10 = factories.MONDAY_10
DAY = {"start": MONDAY_10 - dt.timedelta(days=1), "end": MONDAY_10 + dt.timedelta(days=1)}


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.PUBLIC_URL = "https://leadline.example"


def _rep(**extra: Any) -> Any:
    team = extra.pop("team", None) or factories.team(name="Sales West")
    return factories.user(first_name="Sam", last_name="Reyes", team=team, **extra)


def _held(meeting: Any, actor: Any, capture: Any) -> None:
    with capture(execute=True):
        meeting_outcome_record(meeting=meeting, outcome="held", actor=actor)


def test_a_held_meeting_mails_the_ask_a_click_records_4_and_the_rep_sees_it(
    smtp_server: SmtpServer,  # noqa: F811
    run_worker: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with clock.frozen_at(MONDAY_10):
        rep = _rep()
        ann = factories.person(first_name="Ann", email="ann@acme.example")
        _held(factories.meeting(host=rep, person=ann), rep, django_capture_on_commit_callbacks)
        run_worker()
        assert len(smtp_server.messages) == 1, [m["Subject"] for m in smtp_server.messages]
        message = smtp_server.messages[0]
        assert message["To"] == "ann@acme.example"
        assert message["Subject"] == "Was this conversation with Sam useful to you?"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        links = dict(re.findall(r"  (\d): (https://leadline\.example/r/\S+)", text))
        assert sorted(links) == ["1", "2", "3", "4", "5"], text
        assert "Unsubscribe" in text
        assert "Unsubscribe</a>" in html
        assert links["4"] in html.replace("&amp;", "&")

        # The prospect clicks 4 (a minute later: no scanner burst).
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=5)):
        response = Client().get(urlsplit(links["4"]).path)
        assert response.status_code == 200
        assert "4 out of 5" in response.content.decode()
        ask = RatingAsk.objects.get(person=ann)
        assert (ask.score, ask.user, ask.channel) == (4, rep, "meeting")
        assert TimelineEvent.objects.filter(
            person=ann, kind="feedback.rated", summary="Rated the meeting with Sam 4/5"
        ).exists()

        rep_client = Client()
        rep_client.force_login(rep)
        page = rep_client.get("/insight/ratings/")
        assert page.status_code == 200
        body = page.content.decode()
        row = re.search(r'id="ratings-user".*?</table>', body, re.S)
        assert row is not None
        assert "Sam Reyes" in row.group(0)
        cells = re.findall(r'<td class="num"[^>]*>([^<]*)', row.group(0))
        # asked, not asked, answered, response, average, 1..5, stops
        assert cells[:5] == ["1", "0", "1", "100%", "4.0"], cells
        assert cells[5:11] == ["0", "0", "0", "1", "0", "0"], cells

        # A second meeting held in the same month asks nothing; the skip is kept.
        _held(factories.meeting(host=rep, person=ann), rep, django_capture_on_commit_callbacks)
        run_worker()
        assert len(smtp_server.messages) == 1
        skipped = RatingAsk.objects.filter(person=ann, status=AskStatus.SKIPPED).get()
        assert skipped.skip_reason == "asked_this_month"

    # Next month it asks again.
    with clock.frozen_at(dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)):
        _held(factories.meeting(host=rep, person=ann), rep, django_capture_on_commit_callbacks)
        run_worker()
        assert len(smtp_server.messages) == 2
        assert RatingAsk.objects.filter(person=ann, status=AskStatus.SENT).count() == 2


@pytest.mark.usefixtures("monday_morning")
def test_a_connected_call_asks_and_a_no_answer_does_not() -> None:
    caller_team = factories.team(name="CallCo")
    caller = factories.outside_caller(calling_team=caller_team)
    person = factories.person_with_phone(time_zone="Europe/London")
    missed = factories.call_task(person=person, assignee=caller)
    call_task_log(task=missed, outcome="no_answer", actor=caller)
    assert not RatingAsk.objects.exists()
    task = factories.call_task(person=person, assignee=caller)
    call_task_log(task=task, outcome="connected", actor=caller)
    ask = RatingAsk.objects.get()
    assert (ask.channel, ask.user, ask.team, ask.status) == ("call", caller, caller_team, "sent")
    assert ask.source_ref == f"call_task:{task.pk}"
    rows = ratings_summary(
        start=MONDAY_10 - dt.timedelta(days=1), end=MONDAY_10 + dt.timedelta(days=1), by="team"
    )
    assert [(r.label, r.outside_callers, r.asked) for r in rows] == [("CallCo", True, 1)]


@pytest.mark.usefixtures("monday_morning")
def test_consent_and_the_cap_skip_with_a_reason_and_send_nothing(settings: Any) -> None:
    from leadline.notify.models import OutgoingMail

    rep = _rep()
    gone = factories.person()
    contact_unsubscribe(person=gone, method="link")
    blocked = factories.person()
    do_not_contact_set(
        person=blocked, channel=ContactChannel.EMAIL, reason="asked", source="t", actor=None
    )
    capped = factories.person()
    for n in range(3):
        contact_reserve(person=capped, channel="manual", purpose="sales", source="t", ref=f"t:{n}")
    for person in (gone, blocked, capped):
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=person), outcome="held", actor=rep
        )
    reasons = dict(RatingAsk.objects.values_list("person_id", "skip_reason"))
    assert reasons == {gone.pk: "unsubscribed", blocked.pk: "do_not_contact", capped.pk: "cap"}
    assert not OutgoingMail.objects.filter(reason="feedback.rating").exists()
    rows = ratings_summary(**DAY, by="user")
    assert (rows[0].asked, rows[0].skipped) == (0, 3)

    settings.RATING_AFTER = []
    assert (
        services.rating_ask(channel="meeting", source_ref="meeting:x", person=capped, user=rep)
        is None
    )


@pytest.mark.usefixtures("monday_morning")
def test_outcome_rules() -> None:
    rep = _rep()
    other = factories.user()
    later = factories.meeting(host=rep, starts_at=clock.now() + dt.timedelta(hours=2))
    with pytest.raises(ValidationError):
        meeting_outcome_record(meeting=later, outcome="held", actor=rep)
    cancelled = factories.meeting(host=rep, status=MeetingStatus.CANCELLED)
    with pytest.raises(ValidationError):
        meeting_outcome_record(meeting=cancelled, outcome="held", actor=rep)
    past = factories.meeting(host=rep)
    with pytest.raises(PermissionDenied):
        meeting_outcome_record(meeting=past, outcome="held", actor=other)
    meeting_outcome_record(meeting=past, outcome="no_show", actor=rep)
    meeting_outcome_record(meeting=past, outcome="no_show", actor=rep)
    assert TimelineEvent.objects.filter(kind="meeting.no_show").count() == 1
    assert not RatingAsk.objects.exists()  # a no-show asks nothing
    manager = factories.user(role=Role.SALES_MANAGER)
    rep.team.manager = manager
    rep.team.save()
    past.refresh_from_db()
    meeting_outcome_record(meeting=past, outcome="held", actor=manager)
    assert RatingAsk.objects.get().source_ref == f"meeting:{past.pk}"

    # Through the person page's buttons.
    client = Client()
    client.force_login(rep)
    again = factories.meeting(host=rep)
    response = client.post(f"/booking/meetings/{again.pk}/outcome/", {"outcome": "held"})
    assert response.status_code == 302
    again.refresh_from_db()
    assert again.outcome == "held"
    client.force_login(other)
    third = factories.meeting(host=rep)
    assert (
        client.post(f"/booking/meetings/{third.pk}/outcome/", {"outcome": "held"}).status_code
        == 403
    )


@pytest.mark.usefixtures("monday_morning")
def test_bad_links_changed_answers_comments_and_scanner_bursts() -> None:
    rep = _rep()
    meeting = factories.meeting(host=rep)
    meeting_outcome_record(meeting=meeting, outcome="held", actor=rep)
    ask = RatingAsk.objects.get()
    client = Client(enforce_csrf_checks=True)
    assert client.get("/r/nonsense/4/").status_code == 400
    token = rating_token(ask.pk)
    assert client.get(f"/r/{token[:-2]}xx/4/").status_code == 400
    with clock.frozen_at(MONDAY_10 + dt.timedelta(days=61)):
        assert client.get(f"/r/{token}/4/").status_code == 400
    assert client.get(f"/r/{token}/9/").status_code == 400
    assert RatingAsk.objects.get().score is None

    # A scanner fetches every link within a second: no answer is recorded.
    for n in range(1, 6):
        assert client.get(urlsplit(rating_url(ask.pk, n)).path).status_code == 200
    ask.refresh_from_db()
    assert (ask.score, ask.scan_suspected) == (None, True)
    # The person clicks later: 2, then changes their mind: 5.
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=10)):
        client.get(f"/r/{token}/2/")
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=11)):
        page = client.get(f"/r/{token}/5/")
        client.get(f"/r/{token}/5/")  # the same again: no new row
    # The public page: the five scores as links, the chosen one marked; no staff navigation,
    # no script (it works without JavaScript), the comment a plain form.
    html = page.content.decode()
    assert re.findall(r'href="/r/[^"/]+/(\d)/"', html) == ["1", "2", "3", "4", "5"], html
    assert re.findall(r'/(\d)/" class="rating-choice" aria-current="true"', html) == ["5"]
    assert "<script" not in html
    assert 'aria-label="Main"' not in html
    assert "topbar" not in html
    assert '<form method="post" action="/r/' in html
    ask.refresh_from_db()
    assert ask.score == 5
    # The scanner's first fetch looked like a click (1); then 2 and 5: three rows, not four.
    assert TimelineEvent.objects.filter(kind="feedback.rated").count() == 3
    # The comment: CSRF-protected POST.
    assert client.post(f"/r/{token}/5/", {"comment": "Very clear"}).status_code == 403
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert csrf is not None
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=12)):
        response = client.post(
            f"/r/{token}/5/", {"comment": "Very clear", "csrfmiddlewaretoken": csrf.group(1)}
        )
    assert response.status_code == 200
    ask.refresh_from_db()
    assert (ask.score, ask.comment) == (5, "Very clear")
    assert TimelineEvent.objects.filter(
        kind="feedback.rated", summary="Rated the meeting with Sam 5/5: ‘Very clear’"
    ).exists()


@pytest.mark.usefixtures("monday_morning")
def test_a_stop_is_put_against_the_last_rep() -> None:
    rep = _rep()
    person = factories.person()
    factories.meeting(host=rep, person=person)
    contact_unsubscribe(person=person, method="link")
    signal = StopSignal.objects.get()
    assert (signal.user, signal.team, signal.channel, signal.reason) == (
        rep,
        rep.team,
        "meeting",
        "unsubscribed",
    )
    rows = ratings_summary(**DAY, by="user")
    assert [(r.label, r.stops) for r in rows] == [("Sam Reyes", 1)]

    # An unsubscribe from the rating mail itself is put against the call it asked about.
    caller = factories.outside_caller(calling_team=factories.team(name="CallCo"))
    asked = factories.person_with_phone(time_zone="Europe/London")
    call_task_log(
        task=factories.call_task(person=asked, assignee=caller), outcome="connected", actor=caller
    )
    assert RatingAsk.objects.get(person=asked).status == AskStatus.SENT
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=2)):
        contact_unsubscribe(person=asked, method="link")
    signal = StopSignal.objects.get(person=asked)
    assert (signal.user, signal.channel) == (caller, "call"), signal.last_touch_ref


@pytest.mark.usefixtures("monday_morning")
def test_access_outside_caller_403_and_a_rep_sees_only_theirs() -> None:
    team = factories.team(name="Sales West")
    sam = _rep(team=team)
    kim = factories.user(first_name="Kim", last_name="Lo", team=factories.team(name="Sales East"))
    for host in (sam, kim):
        meeting_outcome_record(meeting=factories.meeting(host=host), outcome="held", actor=host)
    client = Client()
    client.force_login(factories.outside_caller())
    assert client.get("/insight/ratings/").status_code == 403
    assert client.get("/api/v1/insight/ratings").status_code == 403
    client.force_login(sam)
    body = client.get("/insight/ratings/").content.decode()
    assert "Sam Reyes" in body
    assert "Kim Lo" not in body
    assert "Sales East" not in body
    api = client.get("/api/v1/insight/ratings?by=user").json()
    assert [r["label"] for r in api] == ["Sam Reyes"]
    client.force_login(factories.user(role=Role.SALES_MANAGER))
    body = client.get("/insight/ratings/").content.decode()
    assert "Sam Reyes" in body
    assert "Kim Lo" in body
    assert "Sales East" in body
    api = client.get("/api/v1/insight/ratings?by=team").json()
    assert sorted(r["label"] for r in api) == ["Sales East", "Sales West"]


NEW_YORK = "America/New_York"  # EST in late November: UTC-5


def _ny(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in New York time on a day of November 2026 (23rd: a Monday)."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=zoneinfo.ZoneInfo(NEW_YORK))


def test_quiet_hours_hold_the_ask_until_their_next_working_morning() -> None:
    from leadline.notify.models import OutgoingMail
    from leadline.outreach.models import ContactAttempt

    def mails() -> list[str]:
        return list(
            OutgoingMail.objects.filter(reason="feedback.rating").values_list(
                "subject_ref", flat=True
            )
        )

    # Held at 21:30 on Monday where Ann is: the ask waits for 08:00 on Tuesday there.
    with clock.frozen_at(_ny(23, 21, 30)):
        rep = _rep()
        ann = factories.person(first_name="Ann", time_zone=NEW_YORK)
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=ann), outcome="held", actor=rep
        )
        ask = RatingAsk.objects.get(person=ann)
        assert (ask.status, ask.skip_reason) == (AskStatus.WAITING, "")
        assert ask.send_at == _ny(24, 8), ask.send_at
        assert mails() == []
        # The contact limit counts it when it goes, not now.
        assert list(
            ContactAttempt.objects.filter(ref=ask.source_ref).values_list("at", flat=True)
        ) == [_ny(24, 8)]
        # A waiting ask is this month's ask: a second meeting that evening asks nothing.
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=ann), outcome="held", actor=rep
        )
        assert set(RatingAsk.objects.filter(person=ann).values_list("status", "skip_reason")) == {
            ("waiting", ""),
            ("skipped", "asked_this_month"),
        }
        rows = ratings_summary(start=_ny(23, 0), end=_ny(25, 0), by="user")
        assert (rows[0].asked, rows[0].waiting, rows[0].skipped) == (0, 1, 1)
        assert services.rating_asks_send_due() == 0

    with clock.frozen_at(_ny(24, 7, 59)):
        assert services.rating_asks_send_due() == 0
        assert mails() == [], "not before 08:00 where they are"

    with clock.frozen_at(_ny(24, 8)):
        assert services.rating_asks_send_due() == 1
        assert services.rating_asks_send_due() == 0  # a second sweep sends nothing more
        assert mails() == [f"rating_ask:{ask.pk}"]
        ask.refresh_from_db()
        assert (ask.status, ask.asked_at) == (AskStatus.SENT, _ny(24, 8))
        assert TimelineEvent.objects.filter(person=ann, kind="feedback.asked").count() == 1
        # Its links work like any sent ask's.
    with clock.frozen_at(_ny(24, 9)):
        token = rating_token(ask.pk)
        assert Client().get(f"/r/{token}/5/").status_code == 200
        ask.refresh_from_db()
        assert ask.score == 5

    # Held on Friday evening: Saturday and Sunday are quiet too, so Monday 08:00.
    with clock.frozen_at(_ny(27, 21, 30)):
        bo = factories.person(first_name="Bo", time_zone=NEW_YORK)
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=bo), outcome="held", actor=rep
        )
        friday = RatingAsk.objects.get(person=bo)
        assert (friday.status, friday.send_at) == (AskStatus.WAITING, _ny(30, 8))
        # Cy unsubscribes while their ask waits: it is not sent, and keeps the reason.
        cy = factories.person(first_name="Cy", time_zone=NEW_YORK)
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=cy), outcome="held", actor=rep
        )
        contact_unsubscribe(person=cy, method="link")
    with clock.frozen_at(_ny(28, 12)):
        assert services.rating_asks_send_due() == 0
    with clock.frozen_at(_ny(30, 8, 1)):
        assert services.rating_asks_send_due() == 1
        statuses = dict(RatingAsk.objects.values_list("person_id", "status"))
        assert (statuses[bo.pk], statuses[cy.pk]) == ("sent", "skipped")
        assert RatingAsk.objects.get(person=cy).skip_reason == "unsubscribed"
        cy_ref = RatingAsk.objects.get(person=cy).source_ref
        assert ContactAttempt.objects.get(ref=cy_ref).released_at is not None
        assert len(mails()) == 2


def test_quiet_hours_longer_than_the_hold_skip_with_their_reason(settings: Any) -> None:
    settings.RATING_HOLD_HOURS = 36
    with clock.frozen_at(_ny(27, 21, 30)):  # Friday evening: Monday 08:00 is 58½ hours away
        rep = _rep()
        dee = factories.person(time_zone=NEW_YORK)
        meeting_outcome_record(
            meeting=factories.meeting(host=rep, person=dee), outcome="held", actor=rep
        )
        ask = RatingAsk.objects.get(person=dee)
        assert (ask.status, ask.skip_reason, ask.send_at) == ("skipped", "quiet_hours", None)
        assert services.rating_asks_send_due() == 0
