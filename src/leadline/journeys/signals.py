"""Exit signals: rules over a buyer's events that show they have left a journey step.

A rule, as stored on `JourneyStep.exit_signals` and written in YAML:

    name: Visited pricing twice     # what the timeline says moved them
    event: page_view                # the event's name
    path_contains: /pricing         # optional: only page views of such paths
    properties: {plan: team}        # optional: only events with these property values
    count: 2                        # optional (1): how many such events
    within_days: 30                 # optional: only events this recent

Pure functions; the services read the events and store the moves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# An event's name, wherever one comes in (t.js, the events API, a rule); use fullmatch.
EVENT_NAME = re.compile(r"[a-z0-9_.:-]{1,80}")
RULE_KEYS = {"name", "event", "path_contains", "properties", "count", "within_days"}


class RuleError(ValueError):
    """A rule that cannot be used; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    event: str
    path_contains: str = ""
    properties: tuple[tuple[str, str], ...] = ()
    count: int = 1
    within_days: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "event": self.event}
        if self.path_contains:
            out["path_contains"] = self.path_contains
        if self.properties:
            out["properties"] = dict(self.properties)
        if self.count != 1:
            out["count"] = self.count
        if self.within_days is not None:
            out["within_days"] = self.within_days
        return out

    def describe(self) -> str:
        """In words, for the page that shows what moves a buyer on."""
        what = "page view" if self.event == "page_view" else f"“{self.event}” event"
        text = f"{self.count} {what}{'s' if self.count != 1 else ''}"
        if self.path_contains:
            text += f" of a page whose address contains “{self.path_contains}”"
        for key, value in self.properties:
            text += f", {key} = {value}"
        if self.within_days is not None:
            text += f" within {self.within_days} days"
        return text


@dataclasses.dataclass(frozen=True)
class EventFacts:
    """What a rule looks at in one event."""

    id: int
    name: str
    occurred_at: dt.datetime
    path: str = ""
    properties: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def rule_parse(raw: Any, *, where: str = "exit signal") -> Rule:
    """A rule from its stored (or YAML) form; RuleError names the field that is wrong."""
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: must be a mapping with at least name and event")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise RuleError(f"{where}.name: a text of 1 to 200 characters is required")
    event = raw.get("event")
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        raise RuleError(f"{where}.event: an event name of a-z, 0-9, _ . : - is required")
    path_contains = raw.get("path_contains", "")
    if not isinstance(path_contains, str) or len(path_contains) > 500:
        raise RuleError(f"{where}.path_contains: text of at most 500 characters")
    properties = raw.get("properties", {})
    if not isinstance(properties, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool)
        for k, v in properties.items()
    ):
        raise RuleError(f"{where}.properties: a mapping of names to plain values")
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise RuleError(f"{where}.count: a whole number from 1 to 1000")
    within = raw.get("within_days")
    if within is not None and (
        isinstance(within, bool) or not isinstance(within, int) or not 1 <= within <= 3650
    ):
        raise RuleError(f"{where}.within_days: a whole number of days from 1 to 3650")
    return Rule(
        name=name.strip(),
        event=event,
        path_contains=path_contains,
        properties=tuple(sorted((str(k), str(v)) for k, v in properties.items())),
        count=count,
        within_days=within,
    )


def rules_parse(raw: Any, *, where: str = "exit_signals") -> list[Rule]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise RuleError(f"{where}: a list of rules")
    return [rule_parse(item, where=f"{where}[{n}]") for n, item in enumerate(raw)]


def _matches(rule: Rule, event: EventFacts) -> bool:
    if event.name != rule.event:
        return False
    if rule.path_contains and rule.path_contains not in event.path:
        return False
    return all(_has(event.properties.get(key), value) for key, value in rule.properties)


def _has(actual: Any, wanted: str) -> bool:
    """A property matches its value, or holds it when it is a list ("functions": [...])."""
    if isinstance(actual, list):
        return wanted in [str(item) for item in actual]
    return str(actual) == wanted


def rule_evidence(
    rule: Rule, events: Iterable[EventFacts], *, now: dt.datetime, since: dt.datetime | None = None
) -> list[int] | None:
    """The ids of the events that make `rule` hold (the latest `count` of them), or None.

    `since`: events before it do not count (a person moved the buyer by hand then; what came
    before that was already weighed).
    """
    floor = since
    if rule.within_days is not None:
        window = now - dt.timedelta(days=rule.within_days)
        floor = window if floor is None else max(floor, window)
    matching = sorted(
        (e for e in events if _matches(rule, e) and (floor is None or e.occurred_at >= floor)),
        key=lambda e: (e.occurred_at, e.id),
    )
    if len(matching) < rule.count:
        return None
    return [e.id for e in matching[-rule.count :]]


def first_rule_holding(
    rules: Sequence[Rule],
    events: Sequence[EventFacts],
    *,
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> tuple[Rule, list[int]] | None:
    """The first rule, in the step's order, that holds, with its evidence."""
    for rule in rules:
        evidence = rule_evidence(rule, events, now=now, since=since)
        if evidence is not None:
            return rule, evidence
    return None
