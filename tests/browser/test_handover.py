"""A handover end to end, in a real Chromium against the real product: a manager plans the
handover of a rep who leaves, reviews the plan, gives one relationship to the other rep (the
loads update in place), applies it, and the database shows every relationship with its new
owner."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

_SETUP = """
import json
from leadline.core import clock
from leadline.core.models import Person, PersonEmail, Role, Team, User
from leadline.routing.models import Ownership, Touch, TouchKind
team = Team.objects.create(name="Handover {token}")
def make(name, first, last, role=Role.SALES_REP, password="x-{token}"):
    return User.objects.create_user(username=f"{{name}}{token}", password=password, role=role,
                                    first_name=first, last_name=last, team=team)
manager = make("mona", "Mona", "Manager", Role.SALES_MANAGER, {password!r})
leaver = make("lena", "Lena", "Leaving{token}")
bea = make("bea", "Bea", "Able{token}")
carl = make("carl", "Carl", "Cole{token}")
people = []
for n in range(4):
    person = Person.objects.create(first_name=f"Client{{n}}", last_name="{token}")
    PersonEmail.objects.create(person=person, email=f"client{{n}}.{token}@example.com",
                               is_primary=True)
    Ownership.objects.create(owner=leaver, person=person)
    Touch.objects.create(person=person, user=leaver, kind=TouchKind.EMAIL, at=clock.now())
    people.append(person.pk)
print(json.dumps({{"manager": manager.username, "leaver": leaver.pk, "bea": bea.pk,
                  "carl": carl.pk, "people": people, "today": clock.now().date().isoformat()}}))
"""

_OWNERS = """
import json
from leadline.relationships.models import HandoverItem
from leadline.routing.models import Ownership
current = Ownership.objects.filter(person__in={people}, ended_at__isnull=True)
planned = HandoverItem.objects.filter(kind="person", object_id__in={people})
print(json.dumps({{
    "owners": {{str(o.person_id): o.owner_id for o in current}},
    "planned": {{str(i.object_id): i.new_owner_id for i in planned}},
    "applied": sorted({{i.plan.status for i in planned}}),
}}))
"""


def test_a_manager_plans_reviews_changes_and_applies_a_handover(
    page: Page, live_leadline: Any
) -> None:
    token = uuid.uuid4().hex[:8]
    password = f"pw-{token}"
    made = live_leadline.run("shell", "-c", _SETUP.format(token=token, password=password))
    found = json.loads(made.stdout.strip().splitlines()[-1])
    people: list[int] = found["people"]
    when = dt.date.fromisoformat(found["today"]) + dt.timedelta(days=10)
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, found["manager"], password)

    # Plan it.
    page.goto(f"{base}/handovers/")
    page.get_by_role("link", name="Plan a handover").click()
    page.get_by_role("combobox", name="Seller").select_option(str(found["leaver"]))
    page.get_by_label("Leaving the company").check()
    expect(page.get_by_label("Team they move to")).to_be_hidden()  # only for a move
    page.get_by_label("Date").fill(when.isoformat())
    page.get_by_label("A note for the people taking over").fill("Lena moves abroad.")
    page.get_by_role("button", name="Plan the handover").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Handover of Lena Leaving{token}")
    groups = page.locator("article.handover-group")
    expect(groups).to_have_count(4)
    expect(page.get_by_role("alert")).to_have_count(0)  # no problems: it can be applied

    # Give the first client to whoever does not have them, with the mouse.
    first = page.locator("article.handover-group", has_text=f"Client0 {token}")
    select = first.get_by_label(f"New owner of Client0 {token}")
    before = int(select.input_value())
    other = found["carl"] if before == found["bea"] else found["bea"]
    other_name = f"Carl Cole{token}" if other == found["carl"] else f"Bea Able{token}"
    loads = page.locator("#handover-loads")
    other_load = loads.locator("li", has_text=other_name)
    adding_before = _adding(other_load.inner_text())
    select.select_option(str(other))

    expect(page.locator("#handover-said")).to_contain_text(f"now goes to {other_name}")
    expect(other_load).to_contain_text(f"(+{adding_before + 1})")
    expect(first.get_by_label(f"New owner of Client0 {token}")).to_have_value(str(other))

    # And back and forth with the keyboard: focus stays on the select after the swap.
    second = page.locator("article.handover-group", has_text=f"Client1 {token}")
    keyboard_select = second.get_by_label(f"New owner of Client1 {token}")
    keyboard_before = keyboard_select.input_value()
    keyboard_select.focus()
    # Bea comes before Carl in the list.
    page.keyboard.press("ArrowDown" if keyboard_before == str(found["bea"]) else "ArrowUp")
    expect(page.locator("#handover-said")).to_contain_text("Client1")
    expect(page.locator(f"#{keyboard_select.get_attribute('id')}")).to_be_focused()
    keyboard_after = page.locator(f"#{keyboard_select.get_attribute('id')}").input_value()
    assert keyboard_after != keyboard_before

    # Apply, confirming.
    page.get_by_text("Apply the handover…").click()
    page.get_by_role("button", name="Yes, apply it now").click()
    expect(page.locator(".messages")).to_contain_text("Applied: everything")
    expect(page.get_by_role("heading", name="What applying did")).to_be_visible()

    result = live_leadline.run("shell", "-c", _OWNERS.format(people=people))
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["applied"] == ["applied"]
    assert len(state["owners"]) == 4
    assert state["owners"] == state["planned"]
    assert state["owners"][str(people[0])] == other
    assert state["owners"][str(people[1])] == int(keyboard_after)
    assert set(state["owners"].values()) <= {found["bea"], found["carl"]}


def _adding(text: str) -> int:
    found = re.search(r"\(\+(\d+)\)", text)
    return int(found.group(1)) if found else 0
