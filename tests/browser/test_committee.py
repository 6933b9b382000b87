"""The buying committee on a demo account's page, in a real Chromium against the real product:
the graph is drawn, and the coverage warnings appear and go as people are added by keyboard."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

# A marketer to log in as, and a demo account with two or more people, no committee yet and
# somebody we have not spoken to (listed first: they will be the signer).
_SETUP = """
import json
from django.db.models import Count, Q
from leadline.core.models import Account, Role, User
from leadline.journeys.committee import people_spoken_to
User.objects.create_user(username={username!r}, password={password!r}, role=Role.MARKETING,
                         first_name="Maria", last_name="Costa")
accounts = (
    Account.objects.filter(merged_into__isnull=True, stakeholders__isnull=True)
    .annotate(n=Count("memberships", filter=Q(memberships__is_current=True)))
    .filter(n__gte=2).order_by("pk")
)
for account in accounts:
    current = account.memberships.filter(is_current=True).select_related("person")
    people = [m.person for m in current]
    spoken = people_spoken_to([p.pk for p in people])
    if len(spoken) < len(people):
        people.sort(key=lambda p: p.pk in spoken)
        break
print(json.dumps({{"account": account.pk, "people": [str(p) for p in people[:2]]}}))
"""


def test_the_committee_graph_and_its_warnings_follow_the_people_added(
    page: Page, live_leadline: Any
) -> None:
    token = uuid.uuid4().hex[:8]
    username, password = f"maria{token}", f"pw-{token}"
    made = live_leadline.run("shell", "-c", _SETUP.format(username=username, password=password))
    found = json.loads(made.stdout.strip().splitlines()[-1])
    signer, champion = found["people"]
    base = str(live_leadline.url).rstrip("/")
    log_in(page, base, username, password)
    page.goto(f"{base}/accounts/{found['account']}/")

    committee = page.locator("#committee")
    warnings = committee.get_by_role("list", name="Coverage gaps")
    expect(warnings).to_contain_text("Nobody in the buying committee is known yet.")
    expect(committee.get_by_role("img")).to_have_count(0)

    def add(person: str, part: str, influence: str) -> None:
        forms = committee.locator("details.committee-forms")
        if not forms.evaluate("node => node.open"):
            forms.locator("summary").focus()
            page.keyboard.press("Enter")
        committee.get_by_label("Who", exact=True).select_option(label=person)
        committee.get_by_label("Their part in the decision").select_option(label=part)
        committee.get_by_label("Influence", exact=True).select_option(label=influence)
        committee.get_by_role("button", name="Add to committee").focus()
        page.keyboard.press("Enter")
        expect(committee.get_by_role("status")).to_have_text(f"{person} added to the committee.")

    add(signer, "Signs", "High")
    expect(warnings).to_contain_text("Nobody who decides or signs has been spoken to.")
    expect(warnings).to_contain_text("Only one contact")
    graph = committee.get_by_role("img", name="Buying committee of")
    expect(graph).to_be_visible()
    expect(graph.locator("g.node")).to_have_count(1)
    expect(graph.locator("g.node.not-spoken")).to_have_count(1)

    add(champion, "Champions", "Medium")
    expect(graph.locator("g.node")).to_have_count(2)
    expect(warnings).not_to_contain_text("Only one contact")
    expect(warnings).not_to_contain_text("No champion")
    expect(warnings).to_contain_text("Nobody who decides or signs has been spoken to.")
    # The table says the same as the picture, for screen readers.
    table = committee.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text(signer)
