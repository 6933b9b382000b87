"""The attribution page, its CSV, and the campaigns list with its inline edit, through HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from leadline.campaigns.models import Campaign
from leadline.core import clock
from leadline.core.models import Role
from tests import factories

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _now() -> object:
    with clock.frozen_at(NOW):
        yield


def history() -> None:
    """Ann (Acme) came by the Webinar, her colleague Vera by Ads; Acme's deal of 1000 won.
    Sol came by Ads; his deal of 300 was lost. Webinar cost 400."""
    acme = factories.account(name="Acme")
    ann, vera, sol = factories.person(), factories.person(), factories.person()
    for someone in (ann, vera):
        factories.membership(person=someone, account=acme)
    factories.campaign(name="Webinar", channel="webinar", cost=Decimal("400"))
    start = NOW - dt.timedelta(days=60)
    factories.person_request(person=ann, created_at=start, campaign="Webinar")
    factories.campaign_touch(person=vera, campaign="Ads", at=start + dt.timedelta(days=2),
                             channel="cpc")  # fmt: skip
    factories.campaign_touch(person=sol, campaign="Ads", at=start + dt.timedelta(days=1))
    opened = start + dt.timedelta(days=5)
    factories.deal(person=ann, status="won", opened_at=opened, days_open=10, amount=1000)
    factories.deal(person=sol, status="lost", opened_at=opened, amount=300)


@pytest.mark.parametrize("name", ["web:attribution", "web:attribution_csv", "web:campaigns"])
def test_a_sales_rep_may_not_see_them(role_client: Callable[[str], Client], name: str) -> None:
    from django.urls import reverse

    assert role_client(Role.SALES_REP).get(reverse(name)).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get("/insight/attribution/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_page_shows_each_campaign_by_the_chosen_model(marketing_client: Client) -> None:
    history()
    response = marketing_client.get("/insight/attribution/?model=linear")
    assert response.status_code == 200
    page = response.content.decode()
    # Linear on Acme's won deal: Webinar 500, Ads 500; return on Webinar (500 - 400) / 400.
    assert "Webinar" in page
    assert "+25%" in page
    assert "1,300" in page  # Ads influenced pipeline: 1000 + 300
    assert "<svg" in page
    assert 'role="img"' in page
    assert "2 deals, pipeline 1,300" in page

    first = marketing_client.get("/insight/attribution/?model=first_touch").content.decode()
    # First touch: Acme's won deal all to the Webinar (Ann's touch came first): 1000 - 400.
    assert "+150%" in first
    assert "First touch" in first


def test_a_sales_manager_may_read_it(role_client: Callable[[str], Client]) -> None:
    history()
    assert role_client(Role.SALES_MANAGER).get("/insight/attribution/").status_code == 200


def test_an_unknown_model_or_date_falls_back_and_says_so(marketing_client: Client) -> None:
    page = marketing_client.get("/insight/attribution/?model=v_shaped&since=soon").content.decode()
    assert "There is no model “v_shaped”; showing Linear instead." in page
    assert "“soon” is not a date" in page


def test_the_csv_has_a_row_per_campaign_and_model(marketing_client: Client) -> None:
    history()
    response = marketing_client.get("/insight/attribution.csv?since=2026-01-01&until=2026-06-01")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2 * 7
    webinar = {r["model"]: r for r in rows if r["campaign"] == "Webinar"}
    assert webinar["linear"]["attributed_revenue"] == "500.00"
    assert webinar["linear"]["cost"] == "400.00"
    assert webinar["linear"]["return"] == "0.2500"
    assert webinar["first_touch"]["attributed_revenue"] == "1000.00"
    ads = {r["model"]: r for r in rows if r["campaign"] == "Ads"}
    assert ads["linear"]["influenced_pipeline"] == "1300.00"
    assert ads["linear"]["cost"] == ""
    assert ads["linear"]["return"] == ""
    # Every model shares out the same revenue: 1000.
    for model in webinar:
        total = float(webinar[model]["attributed_revenue"]) + float(
            ads[model]["attributed_revenue"]
        )
        assert total == pytest.approx(1000)


def test_the_campaigns_list_shows_entered_and_seen_campaigns(marketing_client: Client) -> None:
    history()
    page = marketing_client.get("/campaigns/").content.decode()
    assert "Webinar" in page
    assert "Ads" in page
    assert "only in touches" in page  # Ads has no row yet
    assert "Add Ads as a campaign" in page


def test_a_campaign_seen_in_touches_is_added_in_one_click(marketing_client: Client) -> None:
    history()
    response = marketing_client.post("/campaigns/", {"name": "Ads", "channel": "paid search"},
                                     headers=HTMX)  # fmt: skip
    assert response.status_code == 200
    made = Campaign.objects.get(name="Ads")
    assert made.channel == "paid search"
    assert made.currency == "EUR"
    assert f'id="campaign-row-{made.pk}"' in response.content.decode()
    assert "only in touches" not in response.content.decode()


def test_the_cost_is_edited_in_place(marketing_client: Client) -> None:
    history()
    webinar = Campaign.objects.get(name="Webinar")
    form = marketing_client.get(f"/campaigns/{webinar.pk}/edit/", headers=HTMX)
    assert 'name="cost"' in form.content.decode()
    assert 'value="400.00"' in form.content.decode()

    response = marketing_client.post(
        f"/campaigns/{webinar.pk}/edit/",
        {"name": "Webinar", "channel": "webinar", "cost": "750", "currency": "eur",
         "starts_on": "2026-03-01", "ends_on": "2026-03-31", "notes": ""},
        headers=HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    webinar.refresh_from_db()
    assert webinar.cost == Decimal("750")
    assert webinar.currency == "EUR"
    assert webinar.ends_on == dt.date(2026, 3, 31)
    assert "campaign-row-saved" in response.content.decode()
    assert "750" in response.content.decode()


def test_errors_are_shown_beside_their_field(marketing_client: Client) -> None:
    history()
    factories.campaign(name="Brand")
    webinar = Campaign.objects.get(name="Webinar")
    response = marketing_client.post(
        f"/campaigns/{webinar.pk}/edit/",
        {"name": "BRAND", "cost": "-5", "starts_on": "2026-03-10", "ends_on": "2026-03-01"},
        headers=HTMX,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="c{webinar.pk}-cost-error"' in page
    assert 'aria-invalid="true"' in page
    webinar.refresh_from_db()
    assert webinar.cost == Decimal("400")
    # The form is fine but the service refuses: the name is taken and the dates run backwards.
    response = marketing_client.post(
        f"/campaigns/{webinar.pk}/edit/",
        {"name": "BRAND", "cost": "5", "starts_on": "2026-03-10", "ends_on": "2026-03-01"},
        headers=HTMX,
    )
    page = response.content.decode()
    assert f'id="c{webinar.pk}-name-error"' in page
    assert "There is already a campaign called “Brand”." in page
    assert f'id="c{webinar.pk}-ends_on-error"' in page
    webinar.refresh_from_db()
    assert webinar.name == "Webinar"


def test_a_new_campaign_from_the_form_at_the_top(marketing_client: Client) -> None:
    response = marketing_client.post("/campaigns/", {"name": "Trade show", "cost": "5000"})
    assert response.status_code == 302
    assert Campaign.objects.get(name="Trade show").cost == Decimal("5000")
    response = marketing_client.post("/campaigns/", {"name": "trade SHOW"})
    assert response.status_code == 422
    assert "There is already a campaign called" in response.content.decode()
