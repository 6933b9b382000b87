"""An outside caller against the real product (gunicorn + worker) in a real Chromium: they log in,
see only their own queue (not another calling team's call), log what came of a call, and get
403 on the person's full page.

The set-up goes through `leadline shell`, the way an operator would add a calling team; the
demo data's own teams are left as they are.
"""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in
from tests.server import LiveLeadline

pytestmark = [pytest.mark.browser, pytest.mark.server]

_SETUP = """
import json
from leadline.calls.services import call_task_create
from leadline.core import clock
from leadline.core.models import Account, Membership, Person, PersonPhone, Role, Team, User
spec = json.loads({spec!r})
ours = Team.objects.create(name=spec["team"])
others = Team.objects.create(name=spec["other_team"])
User.objects.create_user(
    username=spec["username"], password=spec["password"], role=Role.OUTSIDE_CALLER, team=ours,
    first_name="Olga", last_name="Caller",
)
def someone(first, last, phone):
    person = Person.objects.create(
        first_name=first, last_name=last, time_zone="Europe/Berlin",
        personal_context="Only for the sales team",
    )
    PersonPhone.objects.create(person=person, e164=phone)
    return person
ours_person = someone(spec["first"], "Lindgren", "+4930111222")
account = Account.objects.create(name=spec["company"])
Membership.objects.create(person=ours_person, account=account)
theirs_person = someone(spec["other_first"], "Okafor", "+4930333444")
mine = call_task_create(
    person=ours_person, title="Intro call", script="Ask how month-end close goes.",
    due_at=clock.now(), team=ours, source="browser-test",
)
theirs = call_task_create(
    person=theirs_person, title="Other team's call", due_at=clock.now(), team=others,
    source="browser-test",
)
print(json.dumps({{"mine": mine.pk, "theirs": theirs.pk, "person": ours_person.pk}}))
"""


def test_an_outside_caller_works_their_queue_only(page: Page, live_leadline: LiveLeadline) -> None:
    tag = uuid.uuid4().hex[:8]
    spec = {
        "team": f"Callsource {tag}",
        "other_team": f"Other callers {tag}",
        "username": f"olga-{tag}",
        "password": "a-long-enough-password",
        "first": f"Freya{tag}",
        "other_first": f"Chidi{tag}",
        "company": f"Nordlicht {tag}",
    }
    made = live_leadline.run("shell", "-c", _SETUP.format(spec=json.dumps(spec)))
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    base = live_leadline.url.rstrip("/")

    log_in(page, base, spec["username"], spec["password"])
    expect(page).to_have_url(f"{base}/calls/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_count(1)
    expect(nav.get_by_role("link", name="Calls")).to_be_visible()
    expect(page.get_by_role("link", name=f"{spec['first']} Lindgren")).to_be_visible()
    expect(page.get_by_text(spec["other_first"])).to_have_count(0)

    page.get_by_role("link", name=f"{spec['first']} Lindgren").click()
    expect(page).to_have_url(f"{base}/calls/{ids['mine']}/")
    expect(page.get_by_role("heading", name=f"{spec['first']} Lindgren")).to_be_visible()
    expect(page.get_by_text("+4930111222")).to_be_visible()
    expect(page.get_by_text(spec["company"]).first).to_be_visible()
    expect(page.get_by_text("Ask how month-end close goes.")).to_be_visible()
    expect(page.get_by_text("Only for the sales team")).to_have_count(0)
    expect(page.get_by_role("link", name="Full record")).to_have_count(0)

    page.get_by_label("Left a voicemail").check()
    page.get_by_label("Note", exact=True).fill("Back on Thursday, call after 3pm")
    page.get_by_role("button", name="Log outcome").click()
    expect(page).to_have_url(f"{base}/calls/")
    expect(page.get_by_role("status")).to_contain_text("Logged: Left a voicemail")
    expect(page.get_by_role("link", name=f"{spec['first']} Lindgren")).to_have_count(0)

    another = page.request.get(f"{base}/calls/{ids['theirs']}/")
    assert another.status == 404
    response = page.goto(f"{base}/people/{ids['person']}/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_text("Only for the sales team")).to_have_count(0)
