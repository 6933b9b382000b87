from __future__ import annotations

import datetime as dt

import pytest

from leadline.journeys.signals import EventFacts, RuleError, rule_evidence, rule_parse

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def view(n: int, path: str, days_ago: float) -> EventFacts:
    return EventFacts(id=n, name="page_view", path=path, occurred_at=NOW - dt.timedelta(days_ago))


PRICING_TWICE = rule_parse(
    {
        "name": "Visited pricing twice",
        "event": "page_view",
        "path_contains": "/pricing",
        "count": 2,
        "within_days": 30,
    }
)


def test_a_rule_holds_with_enough_matching_events_in_its_window() -> None:
    events = [view(1, "/pricing", 40), view(2, "/blog", 1), view(3, "/pricing/team", 3)]
    assert rule_evidence(PRICING_TWICE, events, now=NOW) is None  # one is too old
    events.append(view(4, "/pricing", 0.5))
    assert rule_evidence(PRICING_TWICE, events, now=NOW) == [3, 4]


def test_events_before_a_move_by_hand_do_not_count() -> None:
    events = [view(1, "/pricing", 5), view(2, "/pricing", 4), view(3, "/pricing", 1)]
    since = NOW - dt.timedelta(days=3)
    assert rule_evidence(PRICING_TWICE, events, now=NOW, since=since) is None


def test_property_values_must_match() -> None:
    rule = rule_parse(
        {"name": "Finance joined", "event": "conversation", "properties": {"function": "finance"}}
    )
    call = EventFacts(id=1, name="conversation", occurred_at=NOW, properties={"function": "it"})
    assert rule_evidence(rule, [call], now=NOW) is None
    finance = EventFacts(
        id=2, name="conversation", occurred_at=NOW, properties={"function": "finance"}
    )
    assert rule_evidence(rule, [call, finance], now=NOW) == [2]


def test_a_rule_reads_back_as_it_was_written() -> None:
    written = {
        "name": "Visited pricing twice",
        "event": "page_view",
        "path_contains": "/pricing",
        "count": 2,
        "within_days": 30,
    }
    assert rule_parse(written).as_dict() == written
    assert PRICING_TWICE.describe() == (
        "2 page views of a page whose address contains “/pricing” within 30 days"
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"event": "page_view"}, "name"),
        ({"name": "x", "event": "Page View!"}, "event"),
        ({"name": "x", "event": "a", "count": 0}, "count"),
        ({"name": "x", "event": "a", "count": True}, "count"),
        ({"name": "x", "event": "a", "within_days": "30"}, "within_days"),
        ({"name": "x", "event": "a", "properties": ["a"]}, "properties"),
        ({"name": "x", "event": "a", "colour": "red"}, "colour"),
        ("pricing", "mapping"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(RuleError, match=field):
        rule_parse(raw)
