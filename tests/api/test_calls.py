"""The calls API: my queue, one call (restricted for outside callers), logging an outcome."""

from __future__ import annotations

import pytest

from leadline.calls.models import TaskStatus
from leadline.calls.services import call_task_log
from leadline.core.models import Role, User
from tests import factories
from tests.api.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_morning")]


@pytest.fixture
def olive() -> User:
    return factories.outside_caller(username="olive")


def test_my_queue_lists_my_and_my_teams_open_calls(olive: User) -> None:
    mine = factories.call_task(assignee=olive, title="Mine")
    team = factories.call_task(team=olive.team, title="Team")
    factories.call_task(team=factories.team(), title="Other team")
    done = factories.call_task(assignee=olive, title="Done")
    call_task_log(task=done, outcome="connected", actor=olive)
    body = bearer(olive).get("/api/v1/calls").json()
    assert body["count"] == 2
    assert [item["id"] for item in body["items"]] == [mine.pk, team.pk]
    assert set(body["items"][0]) == {"id", "title", "name", "due_at", "status"}


def test_one_call_has_only_what_a_call_needs_for_an_outside_caller(olive: User) -> None:
    ann = factories.person_with_phone(first_name="Ann", last_name="Lee", email="ann@acme.example")
    factories.membership(person=ann, account=factories.account(name="Acme Widgets"))
    rita = factories.user(username="rita")
    earlier = factories.call_task(person=ann, assignee=rita)
    call_task_log(task=earlier, outcome="connected", note="Budget frozen", private=True, actor=rita)
    task = factories.call_task(person=ann, assignee=olive, script="Ask about month-end")
    response = bearer(olive).get(f"/api/v1/calls/{task.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Ann Lee"
    assert body["phones"] == ["+4930123456"]
    assert body["company"] == "Acme Widgets"
    assert body["time_zone"] == "Europe/Berlin"
    assert body["local_time"].startswith("2026-11-23T11:00:00+01:00")
    assert body["script"] == "Ask about month-end"
    assert body["person_id"] is None
    assert body["earlier_calls"] == [
        {"at": "2026-11-23T10:00:00Z", "outcome": "Spoke to them", "note": ""}
    ]
    assert "ann@acme.example" not in response.content.decode()
    # Staff see the private note and who the person is.
    staff = bearer(rita).get(f"/api/v1/calls/{task.pk}").json()
    assert staff["person_id"] == ann.pk
    assert staff["earlier_calls"][0]["note"] == "Budget frozen"


def test_logging_an_outcome_once(olive: User) -> None:
    task = factories.call_task(team=olive.team)
    client = bearer(olive)
    url = f"/api/v1/calls/{task.pk}/outcome"
    response = client.post(
        url, {"outcome": "no_answer", "note": "Rang out"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert response.json()["outcome"] == "no_answer"
    task.refresh_from_db()
    assert (task.status, task.done_by, task.outcome_note) == (TaskStatus.DONE, olive, "Rang out")
    again = client.post(url, {"outcome": "connected"}, content_type="application/json")
    assert again.status_code == 422
    assert "already logged" in again.json()["detail"][0]["msg"]


def test_an_unknown_outcome_and_a_private_note_from_an_outside_caller_are_refused(
    olive: User,
) -> None:
    task = factories.call_task(assignee=olive, outcome_options=["connected", "no_answer"])
    client = bearer(olive)
    url = f"/api/v1/calls/{task.pk}/outcome"
    wrong = client.post(url, {"outcome": "voicemail"}, content_type="application/json")
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "payload", "outcome"]
    assert "'voicemail'" in wrong.json()["detail"][0]["msg"]
    private = client.post(
        url, {"outcome": "connected", "note": "x", "private": True}, content_type="application/json"
    )
    assert private.status_code == 422
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_another_teams_call_is_not_found_and_other_apis_are_forbidden(olive: User) -> None:
    other = factories.call_task(team=factories.team())
    client = bearer(olive)
    assert client.get(f"/api/v1/calls/{other.pk}").status_code == 404
    assert client.get("/api/v1/people").status_code == 403
    assert client.get(f"/api/v1/people/{other.person_id}").status_code == 403


def test_a_rep_logs_their_own_call_with_a_private_note() -> None:
    rita = factories.user(role=Role.SALES_REP)
    task = factories.call_task(assignee=rita)
    response = bearer(rita).post(
        f"/api/v1/calls/{task.pk}/outcome",
        {"outcome": "connected", "note": "Budget frozen", "private": True},
        content_type="application/json",
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.note_private
