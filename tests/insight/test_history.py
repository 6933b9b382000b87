import datetime as dt

import pandas as pd
import pytest

from leadline.core import clock
from leadline.engagement.models import Opportunity
from leadline.insight import history
from leadline.journeys.models import Journey, JourneyRemoval, JourneyTransition, TransitionCause
from tests import factories

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_people_carry_custom_and_standard_fields_with_when_each_was_known() -> None:
    rep = factories.user()
    someone = factories.person(
        country="DE",
        attributes={"Lead Origin": "API", "TotalVisits": 5},
        attributes_at={"Lead Origin": T0.isoformat()},
    )
    factories.person_request(person=someone, source="form", campaign="Spring webinar")
    handoff = factories.handoff(person=someone, owner=rep)
    with clock.frozen_at(T0 + dt.timedelta(days=3)):
        from leadline.engagement.services import handoff_accept

        handoff_accept(handoff=handoff, actor=rep)

    values, known = history.subjects_frame("person")

    row = values.loc[someone.pk]
    assert row["Lead Origin"] == "API"
    assert row["TotalVisits"] == 5
    assert row["Country"] == "DE"
    assert row["First campaign"] == "Spring webinar"
    assert row[history.HANDOFF_FIELD] == "accepted"
    assert known.loc[someone.pk, "Lead Origin"] == pd.Timestamp(T0)
    assert known.loc[someone.pk, history.HANDOFF_FIELD] == pd.Timestamp(T0 + dt.timedelta(days=3))
    assert pd.isna(known.loc[someone.pk, "TotalVisits"])


def test_step_visits_follow_transitions_and_end_at_a_removal() -> None:
    journey = Journey.objects.get(is_default=True)
    first, second, third = list(journey.steps.order_by("position"))[:3]
    mover, stayer, removed = (factories.person() for _ in range(3))

    def move(person: object, to: object, days: int) -> None:
        JourneyTransition.objects.create(
            journey=journey, person=person, to_step=to, at=T0 + dt.timedelta(days=days),
            cause=TransitionCause.IMPORT,
        )  # fmt: skip

    move(mover, first, 0)
    move(mover, second, 4)
    move(mover, third, 10)
    move(stayer, first, 1)
    move(removed, first, 2)
    JourneyRemoval.objects.create(
        journey=journey, person=removed, step_name=first.name, at=T0 + dt.timedelta(days=5)
    )

    visits = history.step_visits_frame(journey.pk).set_index(["subject_id", "position"])

    assert len(visits) == 5
    assert visits.loc[(mover.pk, 1), "next_position"] == 2
    assert visits.loc[(mover.pk, 1), "left_at"] == pd.Timestamp(T0 + dt.timedelta(days=4))
    assert pd.isna(visits.loc[(mover.pk, 3), "left_at"])
    assert pd.isna(visits.loc[(stayer.pk, 1), "left_at"])
    assert bool(visits.loc[(removed.pk, 1), "removed"])
    assert pd.isna(visits.loc[(removed.pk, 1), "next_position"])


def test_opportunities_and_events_frames() -> None:
    buyer = factories.person()
    company = factories.account()
    Opportunity.objects.create(account=company, status="won", amount=1200, closed_at=T0)
    Opportunity.objects.create(person=buyer, status="open")
    factories.buyer_event(
        person=buyer, name="webinar_attended", at=T0, properties={"campaign": "Spring"}
    )

    opportunities = history.opportunities_frame()
    events = history.events_frame()

    assert opportunities["amount"].tolist()[0] == 1200.0
    assert pd.isna(opportunities["person_id"].iloc[0])
    assert events.loc[0, "campaign"] == "Spring"
    assert events.loc[0, "name"] == "webinar_attended"


def test_events_read_their_properties_the_same_way_on_every_database() -> None:
    """PostgreSQL reads the properties in the database (decision 15); values that are not
    strings fall back to Python's reading, so both give these exact columns."""
    buyer, other = factories.person(), factories.person()
    cases = [  # properties → (campaign, channel, content)
        ({"campaign": "Spring", "utm_medium": "cpc"}, ("Spring", "cpc", "")),
        ({"campaign": "", "utm_campaign": "Fall", "content": None}, ("Fall", "", "")),
        ({"utm_content": "hero", "channel": "email"}, ("", "email", "hero")),
        ({"campaign": 7, "utm_campaign": "x"}, ("7", "", "")),
        ({"campaign": 0, "utm_campaign": "zero"}, ("zero", "", "")),
        ({"channel": True, "content": False, "utm_content": "b"}, ("", "True", "b")),
        ({"campaign": ["a"], "other": 1}, ("['a']", "", "")),
        ({}, ("", "", "")),
    ]
    moment = T0 + dt.timedelta(microseconds=123_457)
    for index, (properties, _) in enumerate(cases):
        factories.buyer_event(
            person=buyer if index % 2 else other,
            name=f"signal_{index % 3}",
            at=moment + dt.timedelta(minutes=index),
            properties=properties,
        )
    factories.buyer_event(person=buyer, name="too_late", at=T0 + dt.timedelta(days=1))

    events = history.events_frame(until=T0 + dt.timedelta(hours=1))

    assert list(events.columns) == ["person_id", "name", "at", "campaign", "channel", "content"]
    assert [tuple(row) for row in events[["campaign", "channel", "content"]].to_numpy()] == [
        expected for _, expected in cases
    ]
    assert events["at"].tolist() == [
        pd.Timestamp(moment + dt.timedelta(minutes=i)) for i in range(len(cases))
    ]
    assert str(events["at"].dt.tz) == "UTC"
    assert events["person_id"].tolist() == [
        (buyer if i % 2 else other).pk for i in range(len(cases))
    ]
    assert events["person_id"].dtype == "int64"
    assert events["name"].dtype == "category"
    only_buyer = history.events_frame(person_ids=[buyer.pk], until=T0 + dt.timedelta(hours=1))
    assert only_buyer["campaign"].tolist() == ["Fall", "7", "", ""]


def test_win_examples_join_fields_and_count_events_before_the_opportunity_opened() -> None:
    from leadline.insight import features

    company = factories.account(industry="Retail", attributes={"sector": "retail"})
    buyer = factories.person(attributes={"Lead Origin": "API"})
    factories.membership(person=buyer, account=company)
    factories.buyer_event(person=buyer, name="webinar_attended", at=T0)
    factories.buyer_event(person=buyer, name="webinar_attended", at=T0 + dt.timedelta(days=30))
    won = Opportunity.objects.create(
        person=buyer, status="won", amount=10, opened_at=T0 + dt.timedelta(days=10),
        closed_at=T0 + dt.timedelta(days=40), attributes={"product": "GTX"},
    )  # fmt: skip
    Opportunity.objects.create(account=company, status="lost", closed_at=T0)
    Opportunity.objects.create(person=buyer, status="open")

    examples = features.win_examples()

    assert len(examples) == 2
    assert bool(examples.y.loc[won.pk])
    row = examples.X.loc[won.pk]
    assert row["product"] == "GTX"
    assert row["Lead Origin"] == "API"
    assert row["sector"] == "retail"
    assert row["Industry"] == "Retail"
    assert row[features.EVENTS_PREFIX + "webinar_attended"] == 1  # the later one came after


def test_step_examples_only_count_stays_that_had_the_whole_horizon() -> None:
    from leadline.insight import features

    journey = Journey.objects.get(is_default=True)
    first, second = list(journey.steps.order_by("position"))[:2]
    quick, slow, waiting, recent = (factories.person() for _ in range(4))
    for person, entered in ((quick, 0), (slow, 0), (waiting, 0), (recent, 50)):
        JourneyTransition.objects.create(
            journey=journey, person=person, to_step=first, at=T0 + dt.timedelta(days=entered),
            cause=TransitionCause.IMPORT,
        )  # fmt: skip
    for person, moved in ((quick, 5), (slow, 45), (recent, 52)):
        JourneyTransition.objects.create(
            journey=journey, person=person, to_step=second, at=T0 + dt.timedelta(days=moved),
            cause=TransitionCause.IMPORT,
        )  # fmt: skip

    examples = features.step_examples(
        journey_id=journey.pk, position=1, as_of=T0 + dt.timedelta(days=60)
    )

    outcome = dict(zip(examples.subject["subject_id"], examples.y, strict=True))
    # quick moved within 30 days; slow and waiting did not; recent moved within 30 days too.
    assert outcome == {quick.pk: True, slow.pk: False, waiting.pk: False, recent.pk: True}
