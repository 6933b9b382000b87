"""What moves buyers on, through real HTTP: who may see it, the funnel, each step's card, the
horizon setting, and what makes deals win."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from leadline.core.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


def _client(role: str = Role.MARKETING) -> Client:
    client = Client()
    client.force_login(factories.user(role=role))
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(
    "url", ["/insight/journeys/", "/insight/journeys/buyers-journey/", "/insight/winning/"]
)
def test_only_the_insight_roles_may_look(url: str) -> None:
    assert _client(Role.SALES_REP).get(url).status_code == 403
    assert _client(Role.OUTSIDE_CALLER).get(url).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login")


def test_the_picker_lists_every_journey_with_its_steps() -> None:
    response = _client(Role.SALES_MANAGER).get("/insight/journeys/")

    assert response.status_code == 200
    html = _html(response)
    assert 'href="/insight/journeys/buyers-journey/"' in html
    assert "Comparing vendors" in html
    assert 'href="/insight/winning/"' in html


def test_a_journey_shows_its_funnel_its_steps_and_the_planted_driver_only() -> None:
    journey, _ = factories.journey_history(n=400, seed=5, planted=True, noise_fields=4)

    response = _client().get(f"/insight/journeys/{journey.slug}/")

    assert response.status_code == 200
    html = _html(response)
    text = _text(html)
    steps = list(journey.steps.order_by("position"))
    # The funnel: a plot named for screen readers, with its table.
    assert 'aria-labelledby="funnel-title"' in html
    assert "<svg" in html
    assert f"1. {steps[0].name}" in text
    assert "400 people reached the first step" in text
    # Step 1's card: reached, moved on, where they went, time in step with its table.
    card = html[html.index('id="step-1-heading"') : html.index('id="step-2-heading"')]
    card_text = _text(card)
    assert "Reached 400" in card_text
    assert "Where they went" in card_text
    assert f"{steps[1].name}" in card_text
    assert 'aria-labelledby="step-1-time-title"' in card
    assert "Share still in" in card_text
    assert "Half had left after" in card_text or "median is not known" in card_text
    # The planted driver, in words with its CI and n; nothing else named.
    assert (
        f"People with “webinar_attended” at least once moved to {steps[1].name} or further "
        "within 30 days 2.5× as often (95% CI" in card_text
    )
    assert "n=160)" in card_text
    assert card_text.count("× as often") == 1
    assert "made no significant difference and are not named" in card_text
    # Later steps have too little history to say anything.
    second = _text(html[html.index('id="step-2-heading"') : html.index('id="step-3-heading"')])
    assert "Too little history to tell yet" in second
    third = _text(html[html.index('id="step-3-heading"') : html.index('id="step-4-heading"')])
    assert "Nobody has reached this step yet." in third


def test_the_horizon_is_a_setting_and_a_bad_one_is_refused_by_name() -> None:
    journey, _ = factories.journey_history(n=60, seed=1, planted=True, noise_fields=0)
    client = _client()

    fine = client.get(f"/insight/journeys/{journey.slug}/", {"horizon": "14"})
    assert fine.status_code == 200
    assert "within 14 days" in _text(_html(fine))
    assert 'value="14"' in _html(fine)

    for bad in ("abc", "0", "999", "-3"):
        refused = client.get(f"/insight/journeys/{journey.slug}/", {"horizon": bad})
        assert refused.status_code == 400
        assert "horizon:" in _text(_html(refused))
        assert 'aria-invalid="true"' in _html(refused)


def test_an_unknown_journey_is_not_found() -> None:
    assert _client().get("/insight/journeys/no-such-journey/").status_code == 404


def test_winning_says_too_little_history_and_leaves_out_late_fields() -> None:
    for k in range(12):
        buyer = factories.person(
            attributes={"Tags": "won it" if k % 2 else "lost it"},
            attributes_at={"Tags": "2027-01-01T00:00:00+00:00"},
        )
        factories.deal(person=buyer, status="won" if k % 2 else "lost")

    response = _client(Role.ADMIN).get("/insight/winning/")

    assert response.status_code == 200
    text = _text(_html(response))
    assert "12 closed deals: 6 won, 6 lost" in text
    assert "Too little history to tell yet (n=12" in text
    assert "Left out" in text
    assert "Tags" in text
    assert "× as often" not in text
