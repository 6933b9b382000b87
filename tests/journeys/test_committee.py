from __future__ import annotations

import pytest

from leadline.core.models import TimelineEvent
from leadline.journeys.committee import (
    committee_of,
    stakeholder_add,
    stakeholder_link_add,
    stakeholder_update,
)
from leadline.journeys.conversations import conversation_log
from leadline.routing.services import touch_record
from tests import factories

pytestmark = pytest.mark.django_db


def test_coverage_warnings_appear_and_go_as_the_committee_fills_in() -> None:
    account = factories.account()
    user = factories.user()
    assert committee_of(account=account).warnings == [
        "Nobody in the buying committee is known yet."
    ]

    champion = stakeholder_add(
        account=account,
        person=factories.person(),
        part="champions",
        stance="supportive",
        added_by=user,
    )
    assert committee_of(account=account).warnings == [
        "Nobody who decides or signs is known.",
        "Only one contact: if they leave or go quiet, we lose the account.",
    ]

    cfo = factories.person(first_name="Vera", last_name="Stone")
    signer = stakeholder_add(account=account, person=cfo, part="signs", added_by=user)
    assert committee_of(account=account).warnings == [
        "Nobody who decides or signs has been spoken to."
    ]

    conversation_log(kind="call", summary="Budget call", people=[cfo], logged_by=user)
    assert committee_of(account=account).warnings == []

    stakeholder_update(stakeholder=signer, stance="opposed", influence="high", changed_by=user)
    assert committee_of(account=account).warnings == [
        "Vera Stone opposes or blocks, with high influence."
    ]
    assert TimelineEvent.objects.filter(account=account, kind="committee.changed").exists()

    link = stakeholder_link_add(source=champion, target=signer, kind="reports_to", added_by=user)
    assert committee_of(account=account).links == [link]


@pytest.mark.usefixtures("monday_morning")
@pytest.mark.parametrize(
    ("kind", "outcome", "spoken"),
    [
        ("call", "connected", True),
        ("meeting", "", True),
        ("call", "no_answer", False),
        ("call", "voicemail", False),
        ("email", "", False),
    ],
)
def test_a_seller_s_call_that_reached_them_or_a_meeting_counts_as_spoken_to(
    kind: str, outcome: str, spoken: bool
) -> None:
    account, rep = factories.account(), factories.user()
    request = factories.routed_request(at=factories.MONDAY_10, owner=rep)
    stakeholder_add(account=account, person=request.person, part="signs", added_by=rep)
    stakeholder_add(account=account, person=factories.person(), part="champions", added_by=rep)

    touch_record(request=request, user=rep, kind=kind, outcome=outcome)

    not_spoken = "Nobody who decides or signs has been spoken to."
    assert (not_spoken not in committee_of(account=account).warnings) is spoken
    assert [m.spoken_to for m in committee_of(account=account).members] == [spoken, False]


def test_bad_committee_input_names_the_field() -> None:
    account, user = factories.account(), factories.user()
    person = factories.person()
    with pytest.raises(ValueError, match="part: one of"):
        stakeholder_add(account=account, person=person, part="boss", added_by=user)
    ann = stakeholder_add(account=account, person=person, part="uses", added_by=user)
    with pytest.raises(ValueError, match="in this committee already"):
        stakeholder_add(account=account, person=person, part="signs", added_by=user)
    with pytest.raises(ValueError, match="themselves"):
        stakeholder_link_add(source=ann, target=ann, kind="trusts", added_by=user)
    other = stakeholder_add(
        account=account,
        person=factories.person(),
        part="signs",
        decision="Renewal 2027",
        added_by=user,
    )
    with pytest.raises(ValueError, match="same committee"):
        stakeholder_link_add(source=ann, target=other, kind="trusts", added_by=user)
