"""Commitments through the API: make one, list with filters, keep (on time or late), cancel, the
report, and who may do what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from leadline.commitments.models import Commitment, CommitmentStatus
from leadline.commitments.services import commitment_timers_fire_due
from leadline.core import clock
from leadline.core.models import Role, User
from tests import factories
from tests.api.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]
MONDAY_10 = factories.MONDAY_10
DAY = dt.timedelta(days=1)


def post(api: Client, url: str, body: dict[str, Any]) -> Any:
    return api.post(url, body, content_type="application/json")


@pytest.fixture
def rep() -> User:
    return factories.user(username="rita", first_name="Rita", time_zone="Europe/Berlin")


def test_make_one_then_list_it_with_filters(rep: User) -> None:
    ann = factories.person(first_name="Ann")
    conversation = factories.conversation(people=[ann])
    api = bearer(rep)

    response = post(
        api,
        "/api/v1/commitments",
        {
            "person_id": ann.pk,
            "what": "Send the pricing",
            "due_on": "2026-11-27",
            "conversation_id": conversation.pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["what"] == "Send the pricing"
    assert body["promised_by"] == "rita"
    assert body["status"] == "open"
    assert body["overdue"] is False
    assert body["kept_on_time"] is None
    assert body["conversation_id"] == conversation.pk
    assert dt.datetime.fromisoformat(body["due_at"]) == dt.datetime(
        2026, 11, 27, 22, 59, 59, tzinfo=dt.UTC
    )

    other = factories.commitment(what="Call back", due_at=MONDAY_10 + dt.timedelta(hours=1))
    everything = api.get("/api/v1/commitments").json()
    assert [c["what"] for c in everything["items"]] == ["Call back", "Send the pricing"]
    mine = api.get(f"/api/v1/commitments?promised_by_id={rep.pk}").json()
    assert [c["id"] for c in mine["items"]] == [body["id"]]
    hers = api.get(f"/api/v1/commitments?person_id={ann.pk}").json()
    assert hers["count"] == 1
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=2)):
        overdue = api.get("/api/v1/commitments?overdue=true").json()
        assert [c["id"] for c in overdue["items"]] == [other.pk]
        assert overdue["items"][0]["overdue"] is True
    assert api.get("/api/v1/commitments?person_id=999999").json()["count"] == 0
    assert api.get(f"/api/v1/commitments/{body['id']}").json()["what"] == "Send the pricing"
    assert api.get("/api/v1/commitments/999999").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"what": "Send it"}, "due"),
        ({"what": "Send it", "due_on": "2026-11-20"}, "due_on"),
        ({"what": "Send it", "due_at": "2026-11-27T12:00:00"}, "due_at"),
        ({"what": "", "due_on": "2026-11-27"}, "what"),
        ({"what": "Send it", "due_on": "2026-11-27", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field(rep: User, body: dict[str, Any], field: str) -> None:
    ann = factories.person()
    response = post(bearer(rep), "/api/v1/commitments", {"person_id": ann.pk, **body})
    assert response.status_code == 422, response.content
    assert field in {error["loc"][-1] for error in response.json()["detail"]}
    assert not Commitment.objects.exists()


def test_keep_on_time_and_late(rep: User) -> None:
    api = bearer(rep)
    early = factories.commitment(promised_by=rep, due_at=MONDAY_10 + DAY)
    late = factories.commitment(promised_by=rep, due_at=MONDAY_10 + dt.timedelta(hours=1))

    kept = post(api, f"/api/v1/commitments/{early.pk}/kept", {"note": "Sent by mail"})
    assert kept.status_code == 200, kept.content
    assert kept.json()["status"] == "kept"
    assert kept.json()["kept_on_time"] is True
    assert kept.json()["note"] == "Sent by mail"

    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=3)):
        commitment_timers_fire_due()
        assert api.get(f"/api/v1/commitments/{late.pk}").json()["status"] == "broken"
        body = post(api, f"/api/v1/commitments/{late.pk}/kept", {}).json()
    assert body["status"] == "kept"
    assert body["kept_on_time"] is False
    assert body["broken_at"] is not None


def test_cancel_needs_a_reason_and_a_kept_one_cannot_be_cancelled(rep: User) -> None:
    api = bearer(rep)
    promise = factories.commitment(promised_by=rep)
    assert post(api, f"/api/v1/commitments/{promise.pk}/cancel", {}).status_code == 422
    done = post(api, f"/api/v1/commitments/{promise.pk}/cancel", {"reason": "No longer needed"})
    assert done.status_code == 200
    assert done.json()["status"] == "cancelled"
    assert done.json()["cancel_reason"] == "No longer needed"
    refused = post(api, f"/api/v1/commitments/{promise.pk}/kept", {})
    assert refused.status_code == 422
    kept = factories.commitment(promised_by=rep)
    post(api, f"/api/v1/commitments/{kept.pk}/kept", {})
    assert post(api, f"/api/v1/commitments/{kept.pk}/cancel", {"reason": "x"}).status_code == 422


def test_who_may_do_what(rep: User) -> None:
    promise = factories.commitment(promised_by=rep)
    ann = factories.person()
    other_rep = bearer(factories.user(role=Role.SALES_REP))
    caller = bearer(factories.user(role=Role.OUTSIDE_CALLER))
    manager_user = factories.user(role=Role.SALES_MANAGER)
    manager = bearer(manager_user)

    assert post(other_rep, f"/api/v1/commitments/{promise.pk}/kept", {}).status_code == 403
    assert caller.get("/api/v1/commitments").status_code == 403
    assert post(caller, f"/api/v1/commitments/{promise.pk}/kept", {}).status_code == 403
    body = {"person_id": ann.pk, "what": "Send it", "due_on": "2026-11-27"}
    assert post(caller, "/api/v1/commitments", body).status_code == 403
    # A rep records only their own promises; a manager may record one for a rep.
    assert (
        post(other_rep, "/api/v1/commitments", {**body, "promised_by_id": rep.pk}).status_code
        == 403
    )
    made = post(manager, "/api/v1/commitments", {**body, "promised_by_id": rep.pk})
    assert made.status_code == 201
    assert made.json()["promised_by"] == "rita"
    promise.refresh_from_db()
    assert promise.status == CommitmentStatus.OPEN
    assert post(manager, f"/api/v1/commitments/{promise.pk}/kept", {}).status_code == 200
    assert Client().get("/api/v1/commitments").status_code == 401


def test_the_report_for_managers_only(rep: User) -> None:
    factories.commitment(promised_by=rep, due_at=MONDAY_10 + dt.timedelta(hours=1))
    kept = factories.commitment(promised_by=rep)
    post(bearer(rep), f"/api/v1/commitments/{kept.pk}/kept", {})

    assert bearer(rep).get("/api/v1/commitments/report").status_code == 403
    manager = bearer(factories.user(role=Role.SALES_MANAGER))
    with clock.frozen_at(MONDAY_10 + dt.timedelta(hours=2)):
        report = manager.get("/api/v1/commitments/report").json()
    assert report["end"] == "2026-11-23"
    [row] = report["sellers"]
    assert row["seller"] == "Rita"
    assert (row["made"], row["kept_on_time"], row["broken"], row["open_overdue"]) == (2, 1, 1, 1)
    assert row["kept_rate"] == 0.5
    assert report["total"]["seller"] == "Everyone"
    earlier = manager.get("/api/v1/commitments/report?start=2026-10-01&end=2026-11-22").json()
    assert earlier["sellers"] == []
    assert (
        manager.get("/api/v1/commitments/report?start=2026-12-01&end=2026-11-01").status_code == 422
    )
