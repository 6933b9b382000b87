"""The transitions API through real requests with bearer keys: the journeys, one journey's
transitions with every figure, the horizon (422 naming it), winning drivers, and refusals."""

from __future__ import annotations

import pytest

from leadline.core.models import Role
from tests import factories
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_a_wrong_role_is_refused_everywhere(api_as: ApiClient) -> None:
    rep = api_as(Role.SALES_REP)
    for url in (
        "/api/v1/insight/journeys",
        "/api/v1/insight/journeys/1/transitions",
        "/api/v1/insight/journeys/winning/drivers",
    ):
        response = rep.get(url)
        assert response.status_code == 403, url
        assert response.json()["missing"] == "access_insight"


def test_the_journeys_are_listed_with_their_steps(api_as: ApiClient) -> None:
    journeys = api_as(Role.MARKETING).get("/api/v1/insight/journeys").json()

    default = next(j for j in journeys if j["is_default"])
    assert default["slug"] == "buyers-journey"
    assert default["steps"][2] == "Comparing vendors"


def test_a_journeys_transitions_with_every_figure(api_as: ApiClient) -> None:
    journey, _ = factories.journey_history(n=400, seed=5, planted=True, noise_fields=4)

    response = api_as(Role.SALES_MANAGER).get(
        f"/api/v1/insight/journeys/{journey.pk}/transitions", {"horizon_days": 30}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["horizon_days"] == 30
    first = body["steps"][0]
    assert first["reached"] == 400
    assert first["moved_on"] > 160  # 128 within the horizon, and some later
    assert first["next_step"] == "Exploring ways to solve it"
    assert sum(d["count"] for d in first["went"]) == first["arrivals"] == 400
    assert first["time_in_step"]["stays"] == 400
    assert first["time_in_step"]["median_days"] is None or first["time_in_step"]["median_days"] > 0
    drivers = first["drivers"]
    assert drivers["n"] == 400
    assert drivers["positives"] == 128
    assert drivers["significant"] == 1
    assert drivers["tested"] == len(drivers["drivers"]) > 4
    top = drivers["drivers"][0]
    assert (top["field"], top["value"], top["significant"]) == (
        "Events: webinar_attended",
        "at least once",
        True,
    )
    assert top["lift"] == pytest.approx(2.5)
    assert top["low"] < 2.5 < top["high"]
    assert top["q"] < 0.05
    assert top["words"].startswith("People with “webinar_attended” at least once")
    # The others are listed with their figures, but never put into words.
    assert all(d["words"] is None for d in drivers["drivers"][1:])
    assert all(not d["significant"] for d in drivers["drivers"][1:])
    assert body["steps"][-1]["drivers"] is None


def test_the_horizon_is_checked_and_a_missing_journey_is_404(api_as: ApiClient) -> None:
    client = api_as(Role.ADMIN)

    for bad in ("0", "400", "soon"):
        response = client.get("/api/v1/insight/journeys/1/transitions", {"horizon_days": bad})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "horizon_days"
    missing = client.get("/api/v1/insight/journeys/999999/transitions")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no journey 999999"}


def test_winning_drivers(api_as: ApiClient) -> None:
    for k in range(90):
        buyer = factories.person(attributes={"Lead Origin": "API" if k % 3 else "Form"})
        factories.deal(person=buyer, status="won" if k % 2 else "lost")

    body = api_as(Role.MARKETING).get("/api/v1/insight/journeys/winning/drivers").json()

    assert (body["won"], body["lost"]) == (45, 45)
    assert body["drivers"]["outcome"] == "won"
    assert body["drivers"]["significant"] == 0
    assert body["drivers"]["tested"] == 1  # Lead Origin: "API" against "Form"
    assert body["drivers"]["verdict"].startswith("No field or signal made a significant")
