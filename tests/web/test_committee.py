"""The buying committee on the account page: the graph, the warnings, the forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from leadline.core.models import Account, Person, Role
from leadline.journeys.committee import stakeholder_add
from leadline.journeys.conversations import conversation_log
from leadline.journeys.models import Stakeholder, StakeholderLink
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_record_in_view(settings: Any) -> None:
    """These tests look at people and accounts as users who own none of them; who sees which
    record is tests/test_visibility.py's subject (issue 9), so here everyone sees every one."""
    settings.RECORD_VISIBILITY = "all"


RoleClient = Callable[[str], Client]


def test_the_account_page_draws_the_committee_and_its_gaps(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    account, ann, vera = acme
    stakeholder_add(account=account, person=ann, part="champions", added_by=None)
    stakeholder_add(account=account, person=vera, part="signs", influence="high", added_by=None)

    html = role_client(Role.SALES_REP).get(f"/accounts/{account.pk}/").content.decode()

    assert 'role="img"' in html
    assert "Buying committee of Acme Widgets" in html
    assert "Vera Stone: signs, unknown, high influence, not spoken to" in html  # the SVG's desc
    assert "Nobody who decides or signs has been spoken to." in html

    conversation_log(kind="meeting", summary="Budget review", people=[vera], logged_by=None)
    html = role_client(Role.SALES_REP).get(f"/accounts/{account.pk}/").content.decode()
    assert "Nobody who decides or signs has been spoken to." not in html


def test_adding_changing_linking_and_removing_through_the_forms(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    account, ann, vera = acme
    rep = role_client(Role.SALES_REP)
    base = f"/accounts/{account.pk}/committee"

    added = rep.post(
        f"{base}/add/",
        {"person": ann.pk, "part": "champions", "stance": "supportive", "influence": "medium"},
        headers={"HX-Request": "true"},
    )
    assert added.status_code == 200
    assert "Ann Lee added to the committee." in added.content.decode()
    assert "Only one contact" in added.content.decode()

    rep.post(
        f"{base}/add/",
        {"person": vera.pk, "part": "signs", "stance": "unknown", "influence": "high"},
    )
    ann_s, vera_s = Stakeholder.objects.get(person=ann), Stakeholder.objects.get(person=vera)

    changed = rep.post(
        f"{base}/{vera_s.pk}/",
        {
            f"s{vera_s.pk}-part": "signs",
            f"s{vera_s.pk}-stance": "opposed",
            f"s{vera_s.pk}-influence": "high",
        },
        headers={"HX-Request": "true"},
    )
    assert "Vera Stone opposes or blocks, with high influence." in changed.content.decode()

    rep.post(f"{base}/links/", {"source": ann_s.pk, "kind": "reports_to", "target": vera_s.pk})
    assert StakeholderLink.objects.get().kind == "reports_to"
    html = rep.get(f"/accounts/{account.pk}/").content.decode()
    assert "Ann Lee reports to Vera Stone" in html

    plain = rep.post(f"{base}/{ann_s.pk}/", {"remove": "1"})
    assert plain.status_code == 302
    assert plain["Location"].endswith("#committee")
    assert not Stakeholder.objects.filter(pk=ann_s.pk).exists()


def test_bad_input_is_refused_and_names_the_problem(
    role_client: RoleClient, acme: tuple[Account, Person, Person]
) -> None:
    account, ann, _ = acme
    rep = role_client(Role.SALES_REP)
    base = f"/accounts/{account.pk}/committee"
    stranger = factories.person()  # not at this account
    bad = rep.post(
        f"{base}/add/",
        {"person": stranger.pk, "part": "signs", "stance": "unknown", "influence": "high"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    s = stakeholder_add(account=account, person=ann, part="uses", added_by=None)
    same = rep.post(
        f"{base}/links/",
        {"source": s.pk, "kind": "trusts", "target": s.pk},
        headers={"HX-Request": "true"},
    )
    assert same.status_code == 400
    assert "cannot be linked to themselves" in same.content.decode()
    assert not StakeholderLink.objects.exists()


@pytest.mark.parametrize("role", [Role.OUTSIDE_CALLER])
def test_outside_callers_may_not_change_a_committee(
    role_client: RoleClient, acme: tuple[Account, Person, Person], role: str
) -> None:
    account, ann, _ = acme
    response = role_client(role).post(
        f"/accounts/{account.pk}/committee/add/",
        {"person": ann.pk, "part": "signs", "stance": "unknown", "influence": "high"},
    )
    assert response.status_code == 403
    assert not Stakeholder.objects.exists()
