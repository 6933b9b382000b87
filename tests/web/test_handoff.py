"""Handoffs in the web UI, through real requests: marketing hands over from the person page,
sales accepts or rejects (with a reason) on the Handoffs page or the person page, marketing
sees the reason on the person page and in the lead-quality report; who may do what."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from django.test import Client
from django.urls import reverse

from leadline.core import clock
from leadline.core.models import Person, Role, User
from leadline.engagement.models import Handoff, HandoffStatus, Opportunity, RejectionReason, Stage
from leadline.notify.models import InboxItem
from tests import factories
from tests.engagement.conftest import Sales, sales

__all__ = ["sales"]

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
NOW = factories.MONDAY_10
HTMX = {"HX-Request": "true"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: object) -> str:
    return html_lib.unescape(response.content.decode())  # type: ignore[attr-defined]


def card(html: str) -> str:
    found = re.search(r'<section class="card person-engagement".*?</section>', html, re.S)
    assert found is not None
    return found.group(0)


def lead(sales: Sales, *, campaign: str = "Q4 finance push") -> Person:
    person = factories.person(first_name="Ann", last_name="Lee")
    factories.person_request(
        person=person, wants_contact=True, campaign=campaign, utm_source="linkedin"
    )
    return person


def hand_over(sales: Sales, person: Person, note: str = "Asked about pricing twice") -> Handoff:
    from leadline.routing.models import Ownership

    Ownership.objects.get_or_create(owner=sales.rita, person=person)
    response = client_for(sales.marketer).post(
        reverse("web:person_hand_over", args=[person.pk]), {"note": note}
    )
    assert response.status_code == 302
    return Handoff.objects.get(person=person)


# Handing over ------------------------------------------------------------------------------------


def test_marketing_hands_over_from_the_person_page_and_the_owner_hears(sales: Sales) -> None:
    person = lead(sales)
    page = text(client_for(sales.marketer).get(reverse("web:person", args=[person.pk])))
    assert "Hand over to sales…" in card(page)
    handoff = hand_over(sales, person)
    assert (handoff.owner, handoff.trigger, handoff.handed_by) == (
        sales.rita,
        "marketing",
        sales.marketer,
    )
    assert handoff.due_at == NOW + dt.timedelta(days=1)
    [item] = InboxItem.objects.filter(user=sales.rita, kind="handoff.created")
    assert "Ann Lee" in item.title
    page = card(text(client_for(sales.marketer).get(reverse("web:person", args=[person.pk]))))
    assert "Stage: <strong>Marketing-qualified</strong>" in page
    assert "Handed over by Mia: Asked about pricing twice" in page
    assert "Hand over to sales…" not in page  # one open handoff at a time


def test_handing_over_with_htmx_answers_with_the_card(sales: Sales) -> None:
    person = lead(sales)
    response = client_for(sales.marketer).post(
        reverse("web:person_hand_over", args=[person.pk]), {"note": ""}, headers=HTMX
    )
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith("<section")
    assert 'role="status"' in body
    assert "Handed to" in body


def test_a_rep_may_not_hand_over_or_move_the_stage(sales: Sales) -> None:
    person = lead(sales)
    rep = client_for(sales.rita)
    assert rep.post(reverse("web:person_hand_over", args=[person.pk])).status_code == 403
    response = rep.post(
        reverse("web:person_stage_set", args=[person.pk]), {"stage": "engaged", "reason": "x"}
    )
    assert response.status_code == 403
    assert not Handoff.objects.exists()
    assert "Hand over to sales…" not in text(rep.get(reverse("web:person", args=[person.pk])))


def test_moving_the_stage_by_hand_needs_a_reason_and_shows_in_the_history_in_order(
    sales: Sales,
) -> None:
    person = lead(sales)
    marketer = client_for(sales.marketer)
    url = reverse("web:person_stage_set", args=[person.pk])
    refused = marketer.post(url, {"stage": "engaged", "reason": " "}, headers=HTMX)
    assert refused.status_code == 400
    assert 'id="stage-reason-error"' in text(refused)
    assert "Say why they move" in text(refused)
    with clock.frozen_at(NOW - dt.timedelta(hours=2)):
        marketer.post(url, {"stage": "engaged", "reason": "Came to the webinar"})
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        marketer.post(url, {"stage": "disqualified", "reason": "A student"})
    marketer.post(url, {"stage": "engaged", "reason": "Works at a customer now"})
    history = card(text(marketer.get(reverse("web:person", args=[person.pk]))))
    history = history[history.index("Lifecycle history") :]
    order = [history.index(s) for s in ("Came to the webinar", "A student", "Works at a customer")]
    assert order == sorted(order)
    assert "Engaged (from disqualified): Works at a customer now" in re.sub(r"<[^>]+>", "", history)


# Deciding ----------------------------------------------------------------------------------------


def test_the_handoffs_page_puts_the_reps_own_first_with_deadlines(sales: Sales) -> None:
    mine = hand_over(sales, lead(sales))
    other = factories.handoff(owner=sales.tom)
    page = text(client_for(sales.rita).get(reverse("web:handoffs")))
    assert page.index(f'id="handoff-{mine.pk}"') < page.index(f'id="handoff-{other.pk}"')
    assert page.index("Yours to decide") < page.index(f'id="handoff-{mine.pk}"')
    assert "Decide by" in page
    assert 'datetime="2026-11-24T10:00:00+00:00"' in page  # the deadline, machine-readable
    # Rita may decide hers, not Tom's.
    assert reverse("web:handoff_accept", args=[mine.pk]) in page
    assert reverse("web:handoff_accept", args=[other.pk]) not in page
    response = client_for(sales.rita).post(reverse("web:handoff_accept", args=[other.pk]))
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.status == HandoffStatus.OPEN


def test_rejecting_without_a_reason_names_the_fields_and_stores_nothing(sales: Sales) -> None:
    handoff = hand_over(sales, lead(sales))
    url = reverse("web:handoff_reject", args=[handoff.pk])
    response = client_for(sales.rita).post(url, {"reason": "", "reason_text": ""}, headers=HTMX)
    assert response.status_code == 400
    body = text(response)
    assert f'id="reject-{handoff.pk}-reason-error"' in body
    assert "Reason</a>: Choose a reason from the list" in body
    assert "Why, in your words</a>: Say in a few words why" in body
    assert 'aria-invalid="true"' in body

    reason = factories.rejection_reason(name="No budget / no project")
    only_reason = client_for(sales.rita).post(url, {"reason": reason.pk, "reason_text": " "})
    assert only_reason.status_code == 400  # without htmx: the page, with the same errors
    assert "Say in a few words why" in text(only_reason)
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reason) == (HandoffStatus.OPEN, None)


def test_a_rejection_goes_back_to_nurture_and_marketing_sees_why_and_in_the_report(
    sales: Sales,
) -> None:
    handoff = hand_over(sales, lead(sales, campaign="Spring webinar"))
    hand_over(sales, lead(sales, campaign="Q4 finance push"))
    reason = factories.rejection_reason(name="No budget / no project")
    response = client_for(sales.rita).post(
        reverse("web:handoff_reject", args=[handoff.pk]),
        {"reason": reason.pk, "reason_text": "Budget frozen until Q3", "from": "person"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "goes back to marketing" in text(response)
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reason, handoff.reason_text) == (
        HandoffStatus.REJECTED,
        reason,
        "Budget frozen until Q3",
    )

    marketer = client_for(sales.marketer)
    page = card(text(marketer.get(reverse("web:person", args=[handoff.person_id]))))
    assert "Stage: <strong>Recycled (back to nurture)</strong>" in page
    assert "No budget / no project</strong> — “Budget frozen until Q3”" in page

    report = text(marketer.get(reverse("web:lead_quality")))
    campaigns = report[report.index('id="lq-campaign"') :]
    campaigns = campaigns[: campaigns.index("</section>")]
    assert '<th scope="col" class="num lq-reason">No budget / no project</th>' in campaigns
    spring = re.search(r'<th scope="row">Spring webinar</th>(.*?)</tr>', campaigns, re.S)
    assert spring is not None
    cells = re.findall(r'<td class="num[^"]*">(\d+)</td>', spring.group(1))
    # handed over, accepted, rejected, rejected for "No budget", open, won, won revenue
    assert cells == ["1", "0", "1", "1", "0", "0", "0"]
    q4 = re.search(r'<th scope="row">Q4 finance push</th>(.*?)</tr>', campaigns, re.S)
    assert q4 is not None
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', q4.group(1)) == [
        "1",
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
    ]


def test_accepting_opens_an_opportunity_and_winning_it_shows_in_the_report(sales: Sales) -> None:
    handoff = hand_over(sales, lead(sales))
    rita = client_for(sales.rita)
    response = rita.post(
        reverse("web:handoff_accept", args=[handoff.pk]), {"amount": "12,000"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "is now an opportunity" in text(response)
    opportunity = Opportunity.objects.get(handoff=handoff)
    assert (opportunity.owner, str(opportunity.amount)) == (sales.rita, "12000.00")

    person_url = reverse("web:person", args=[handoff.person_id])
    page = card(text(rita.get(person_url)))
    assert "Stage: <strong>Opportunity</strong>" in page
    close = reverse("web:opportunity_close", args=[opportunity.pk])
    assert close in page
    refused = rita.post(close, {"outcome": ""}, headers=HTMX)
    assert refused.status_code == 400
    assert 'id="close-outcome-error"' in text(refused)
    assert rita.post(close, {"outcome": "won", "amount": "15000"}).status_code == 302
    assert "Stage: <strong>Customer</strong>" in card(text(rita.get(person_url)))

    report = text(client_for(sales.marketer).get(reverse("web:lead_quality")))
    assert "1 handed over · 1 accepted · 0 rejected · 0 open · 1 won (100%)" in report
    assert "15,000 won revenue" in report  # the outcome fed back to the source


def test_the_report_filters_by_the_day_handed_over(sales: Sales) -> None:
    with clock.frozen_at(NOW - dt.timedelta(days=10)):
        hand_over(sales, lead(sales, campaign="Old campaign"))
    hand_over(sales, lead(sales, campaign="New campaign"))
    marketer = client_for(sales.marketer)
    recent = text(marketer.get(reverse("web:lead_quality"), {"start": "2026-11-20"}))
    assert "New campaign" in recent
    assert "Old campaign" not in recent
    bad = text(marketer.get(reverse("web:lead_quality"), {"start": "yesterday"}))
    assert "“yesterday” is not a date" in bad
    assert "Old campaign" in bad


def test_who_may_see_the_report_the_list_and_the_reasons(sales: Sales, role_client: object) -> None:
    rep = client_for(sales.rita)
    assert rep.get(reverse("web:lead_quality")).status_code == 403
    assert rep.get(reverse("web:handoff_reasons")).status_code == 403
    assert rep.get(reverse("web:handoffs")).status_code == 200
    caller = role_client(Role.OUTSIDE_CALLER)  # type: ignore[operator]
    assert caller.get(reverse("web:handoffs")).status_code == 403
    # Marketing sees handoffs but decides none.
    handoff = factories.handoff(owner=sales.rita)
    marketer = client_for(sales.marketer)
    assert marketer.post(reverse("web:handoff_accept", args=[handoff.pk])).status_code == 403
    # A manager decides anyone's.
    manager = client_for(sales.manager)
    assert manager.post(reverse("web:handoff_accept", args=[handoff.pk])).status_code == 302


def test_marketing_manages_the_rejection_reasons(sales: Sales) -> None:
    marketer = client_for(sales.marketer)
    page = text(marketer.get(reverse("web:handoff_reasons")))
    assert "Not a fit: company too small" in page
    assert (
        marketer.post(
            reverse("web:handoff_reasons"), {"name": "Wrong country", "sends_to_nurture": "no"}
        ).status_code
        == 302
    )
    made = RejectionReason.objects.get(name="Wrong country")
    assert not made.sends_to_nurture
    clash = marketer.post(reverse("web:handoff_reasons"), {"name": "wrong country"})
    assert clash.status_code == 400
    assert "is on the list already" in text(clash)
    marketer.post(
        reverse("web:handoff_reasons"),
        {"pk": made.pk, "name": "Wrong country", "sends_to_nurture": "no", "is_active": "no"},
    )
    made.refresh_from_db()
    assert not made.is_active
    handoff = factories.handoff(owner=sales.rita)
    offered = text(client_for(sales.rita).get(reverse("web:handoffs")))
    assert f'id="handoff-{handoff.pk}"' in offered
    assert "Wrong country" not in offered  # turned off: no longer offered


def test_stage_names_are_the_users_words() -> None:
    assert dict(Stage.choices)["marketing_qualified"] == "Marketing-qualified"
