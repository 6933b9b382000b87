"""The journey editor's working copy: a journey as the form shows it, read from a journey or from
a POST, changed by the editor's buttons (add, remove, move up and down), and turned into the
plain data `journeys.services.journey_save` checks and writes — the same checks as the YAML
import, so the editor and YAML accept exactly the same journeys. The problems the service finds
come back here and are put next to the fields they name.

Field names in the form: name, description, audience, default, version; each start signal's
start-signals-<j>-<name|event|...>; steps-<i>-id, steps-<i>-name, steps-<i>-buyer_words,
steps-<i>-content_to_offer, steps-<i>-who_should_talk; and each exit signal's
steps-<i>-signals-<j>-<name|event|path_contains|properties|count|within_days>. The buttons send
action=<what>: save, add-start-signal, remove-start-signal-<j>, preview-start-<j>, add-step,
up-<i>, down-<i>, remove-step-<i>, add-signal-<i>, remove-signal-<i>-<j>, preview-<i>-<j>.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from leadline.journeys.models import Journey
from leadline.journeys.selectors import STEP_TEXT_FIELDS
from leadline.journeys.services import MAX_STEPS
from leadline.journeys.signals import RuleError, rule_parse

MAX_SIGNALS = 20  # exit signals on one step (and start signals of a journey), as offered
MAX_INDEX = 100  # rows read from a POST: more than the editor ever makes
# Events the product itself records, offered as suggestions for a signal's event.
KNOWN_EVENTS = (
    "page_view",
    "form_submitted",
    "contact_requested",
    "email_clicked",
    "webinar_attended",
    "trial_started",
    "proposal_requested",
)
JOURNEY_LABELS = {
    "name": "Name",
    "description": "Description",
    "audience": "Who it is for",
    "default": "Default journey",
    "start_signals": "Who starts on it",
    "steps": "Steps",
}
STEP_LABELS = {
    "name": "Step name",
    "buyer_words": "What the buyer says or does here",
    "content_to_offer": "Content to offer",
    "who_should_talk": "Who should talk to them",
}
SIGNAL_LABELS = {
    "name": "Signal name",
    "event": "Event",
    "path_contains": "Page address contains",
    "properties": "Only when",
    "count": "At least (times)",
    "within_days": "Within (days)",
}
# The service's words for a field, where the editor's form says it differently.
SIGNAL_WORDS = {
    "properties": "one condition per line, written as name = value (for example plan = team)",
}
_STEP_KEY = re.compile(r"steps-(\d{1,3})-name")
_PROBLEM = re.compile(r"steps\[(\d+)\](?:\.exit_signals\[(\d+)\])?(?:\.([a-z_]+))?")
_START_PROBLEM = re.compile(r"start_signals\[(\d+)\](?:\.([a-z_]+))?")
_START_ACTION = re.compile(r"(?P<what>remove-start-signal|preview-start)-(?P<j>\d{1,3})")
_ACTION = re.compile(
    r"(?P<what>up|down|remove-step|add-signal|remove-signal|preview)-(?P<i>\d{1,3})(?:-(?P<j>\d{1,3}))?"
)


def _number(text: str) -> Any:
    """ "3" → 3; anything else goes to the service as it is, which names the field."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return text


@dataclasses.dataclass
class SignalRow:
    """One exit signal as its row in the form shows it (numbers and conditions as typed)."""

    name: str = ""
    event: str = ""
    path_contains: str = ""
    properties: str = ""
    count: str = "1"
    within_days: str = ""
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    # Its place in the step's exit_signals as sent to the service (blank rows are not sent).
    sent_as: int | None = None
    focus: str = ""  # which of its inputs takes the focus after a swap ("name")
    # "exit" (a step's) or "start" (the journey's); where the row is, for the template's ids,
    # field names and buttons (set by Draft.place_focus).
    kind: str = "exit"
    dom_id: str = ""
    field_prefix: str = ""
    title: str = ""
    preview_action: str = ""
    remove_action: str = ""

    @property
    def general_error(self) -> str:
        return self.errors.get("", "")

    @classmethod
    def from_rule(cls, raw: Any) -> SignalRow:
        raw = raw if isinstance(raw, Mapping) else {}
        properties = raw.get("properties")
        return cls(
            name=str(raw.get("name", "")),
            event=str(raw.get("event", "")),
            path_contains=str(raw.get("path_contains", "")),
            properties="\n".join(
                f"{key} = {value}"
                for key, value in (properties.items() if isinstance(properties, Mapping) else [])
            ),
            count=str(raw.get("count", 1)),
            within_days=str(raw.get("within_days") or ""),
        )

    def is_blank(self) -> bool:
        """A row added and left empty: not sent, not an error."""
        return not any(
            s.strip() for s in (self.name, self.event, self.path_contains, self.properties)
        )

    def as_data(self) -> dict[str, Any]:
        """The rule in its stored (and YAML) shape; what cannot be read goes as typed, for
        rule_parse to refuse by name."""
        data: dict[str, Any] = {"name": self.name.strip(), "event": self.event.strip()}
        if self.path_contains.strip():
            data["path_contains"] = self.path_contains.strip()
        if self.properties.strip():
            data["properties"] = _conditions(self.properties)
        if self.count.strip():
            data["count"] = _number(self.count)
        if self.within_days.strip():
            data["within_days"] = _number(self.within_days)
        return data

    def preview(self) -> tuple[str, str]:
        """(what the rule looks for, in words; or the first problem with it)."""
        if self.is_blank():
            return "", "Fill in a name and an event to see what this signal looks for."
        try:
            rule = rule_parse(self.as_data(), where="")
        except RuleError as exc:
            field, _, message = str(exc).lstrip(".").partition(": ")
            label = SIGNAL_LABELS.get(field, "")
            return "", f"{label}: {SIGNAL_WORDS.get(field, message)}" if label else message
        if self.kind == "start":
            return f"Starts them on this journey after {rule.describe()}.", ""
        return f"Moves them on after {rule.describe()}.", ""


def _conditions(text: str) -> Any:
    """ "plan = team" lines → {"plan": "team"}; text that is not such lines goes as it is."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return text
        out[key.strip()] = value.strip()
    return out


@dataclasses.dataclass
class StepRow:
    """One step as the form shows it. `id`: the stored step it is (None: new)."""

    id: int | None = None
    name: str = ""
    buyer_words: str = ""
    content_to_offer: str = ""
    who_should_talk: str = ""
    signals: list[SignalRow] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    people: int = 0
    accounts: int = 0
    focus: str = ""  # which of its parts takes the focus after a swap ("up", "h", "name" ...)

    @property
    def general_error(self) -> str:
        return self.errors.get("", "")


@dataclasses.dataclass
class Problem:
    """A line of the summary above the form: the field's id, its label, what is wrong."""

    anchor: str
    label: str
    message: str


@dataclasses.dataclass
class Draft:
    """The whole journey as the form shows it, with its problems, and after a button: what to
    say (`announcement`) and the id of the element that takes the focus (`focus`)."""

    name: str = ""
    description: str = ""
    default: bool = False
    version: str = ""
    steps: list[StepRow] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    announcement: str = ""
    focus: str = ""
    audience: str = ""
    start_signals: list[SignalRow] = dataclasses.field(default_factory=list)

    # Reading ---------------------------------------------------------------------------------

    @classmethod
    def blank(cls) -> Draft:
        return cls(steps=[StepRow()])

    @classmethod
    def from_journey(cls, journey: Journey) -> Draft:
        return cls(
            name=journey.name,
            description=journey.description,
            default=journey.is_default,
            version=journey.updated_at.isoformat(),
            audience=journey.audience,
            start_signals=[
                SignalRow.from_rule(raw)
                for raw in (
                    journey.start_signals if isinstance(journey.start_signals, list) else []
                )
            ],
            steps=[
                StepRow(
                    id=step.pk,
                    name=step.name,
                    buyer_words=step.buyer_words,
                    content_to_offer=step.content_to_offer,
                    who_should_talk=step.who_should_talk,
                    signals=[
                        SignalRow.from_rule(raw)
                        for raw in (
                            step.exit_signals if isinstance(step.exit_signals, list) else []
                        )
                    ],
                )
                for step in journey.steps.order_by("position")
            ],
        )

    @classmethod
    def from_post(cls, post: Mapping[str, Any], *, editing: bool) -> Draft:
        """The form as sent. `editing`: an existing journey (step ids are read; a new
        journey's steps are all new, whatever the form says)."""

        def get(key: str) -> str:
            value = post.get(key, "")
            return value if isinstance(value, str) else ""

        indexes = sorted(
            int(found.group(1))
            for key in post
            if (found := _STEP_KEY.fullmatch(key)) and int(found.group(1)) < MAX_INDEX
        )
        steps = []
        for i in indexes:
            prefix = f"steps-{i}-"
            raw_id = get(f"{prefix}id")
            signal_indexes = sorted(
                int(found.group(1))
                for key in post
                if (found := re.fullmatch(rf"{prefix}signals-(\d{{1,3}})-name", key))
                and int(found.group(1)) < MAX_INDEX
            )
            step = StepRow(
                id=int(raw_id)
                if editing and raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 16
                else None,
                name=get(f"{prefix}name"),
            )
            for field in STEP_TEXT_FIELDS:
                setattr(step, field, get(f"{prefix}{field}"))
            for j in signal_indexes:
                signal = SignalRow()
                for field in SIGNAL_LABELS:
                    setattr(signal, field, get(f"{prefix}signals-{j}-{field}"))
                step.signals.append(signal)
            steps.append(step)
        start_signals = []
        for j in sorted(
            int(found.group(1))
            for key in post
            if (found := re.fullmatch(r"start-signals-(\d{1,3})-name", key))
            and int(found.group(1)) < MAX_INDEX
        ):
            signal = SignalRow(kind="start")
            for field in SIGNAL_LABELS:
                setattr(signal, field, get(f"start-signals-{j}-{field}"))
            start_signals.append(signal)
        return cls(
            name=get("name"),
            description=get("description"),
            default=bool(get("default")),
            version=get("version"),
            steps=steps,
            audience=get("audience"),
            start_signals=start_signals,
        )

    def version_time(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(self.version) if self.version else None
        except ValueError:
            return None

    def add_counts(self, counts: Mapping[int, tuple[int, int]]) -> None:
        """How many people and accounts are at each stored step now (step id → counts)."""
        for step in self.steps:
            if step.id is not None:
                step.people, step.accounts = counts.get(step.id, (0, 0))

    # For the service ---------------------------------------------------------------------------

    def as_data(self) -> dict[str, Any]:
        """The journey in the shape journey_save (and the YAML import) reads."""
        steps = []
        for step in self.steps:
            rules: list[dict[str, Any]] = []
            for signal in step.signals:
                signal.sent_as = None if signal.is_blank() else len(rules)
                if signal.sent_as is not None:
                    rules.append(signal.as_data())
            steps.append(
                {
                    "name": step.name,
                    **{field: getattr(step, field) for field in STEP_TEXT_FIELDS},
                    "exit_signals": rules,
                }
            )
        starts: list[dict[str, Any]] = []
        for signal in self.start_signals:
            signal.sent_as = None if signal.is_blank() else len(starts)
            if signal.sent_as is not None:
                starts.append(signal.as_data())
        return {
            "name": self.name,
            "description": self.description,
            "audience": self.audience,
            "default": self.default,
            "start_signals": starts,
            "steps": steps,
        }

    def step_ids(self) -> list[int | None]:
        return [step.id for step in self.steps]

    def add_problems(self, problems: Sequence[tuple[str, str]]) -> None:
        """Each problem the service found, next to its field ("steps[1].exit_signals[0].count")."""
        for field, message in problems:
            start = _START_PROBLEM.fullmatch(field)
            if start is not None:
                sent_as, name = int(start.group(1)), start.group(2) or ""
                row = next((s for s in self.start_signals if s.sent_as == sent_as), None)
                if row is None:
                    self.errors.setdefault("start_signals", message)
                else:
                    key = name if name in SIGNAL_LABELS else ""
                    row.errors.setdefault(key, SIGNAL_WORDS.get(key, message))
                continue
            found = _PROBLEM.fullmatch(field)
            if found is None:
                key = field if field in JOURNEY_LABELS else ""
                self.errors.setdefault(key, message)
                continue
            i, j, name = int(found.group(1)), found.group(2), found.group(3) or ""
            if i >= len(self.steps):
                self.errors.setdefault("steps", message)
                continue
            step = self.steps[i]
            if j is None:
                step.errors.setdefault(name if name in STEP_LABELS else "", message)
                continue
            row = next((s for s in step.signals if s.sent_as == int(j)), None)
            if row is None:
                step.errors.setdefault("", message)
            else:
                key = name if name in SIGNAL_LABELS else ""
                row.errors.setdefault(key, SIGNAL_WORDS.get(key, message))
        first = self.problems()
        self.focus = "error-summary" if first else ""

    def problems(self) -> list[Problem]:
        """All problems, in the order of the form, for the summary above it."""
        out = [
            Problem(
                anchor="journey-name" if key in ("", "name") else f"journey-{key}",
                label=JOURNEY_LABELS.get(key, ""),
                message=message,
            )
            for key, message in self.errors.items()
        ]
        for j, signal in enumerate(self.start_signals):
            for key, message in signal.errors.items():
                label = f"Who starts on it, start signal {j + 1}"
                if key:
                    label += f", {SIGNAL_LABELS[key].lower()}"
                out.append(
                    Problem(
                        anchor=f"start-signal-{j}-{key or 'name'}", label=label, message=message
                    )
                )
        for i, step in enumerate(self.steps):
            where = f"Step {i + 1}"
            for key, message in step.errors.items():
                anchor = f"step-{i}-{key}" if key else f"step-{i}-h"
                label = f"{where}, {STEP_LABELS[key].lower()}" if key else where
                out.append(Problem(anchor=anchor, label=label, message=message))
            for j, signal in enumerate(step.signals):
                for key, message in signal.errors.items():
                    anchor = f"step-{i}-signal-{j}-{key or 'name'}"
                    label = f"{where}, exit signal {j + 1}"
                    if key:
                        label += f", {SIGNAL_LABELS[key].lower()}"
                    out.append(Problem(anchor=anchor, label=label, message=message))
        return out

    @property
    def general_error(self) -> str:
        return self.errors.get("", "")

    def place_focus(self) -> None:
        """Mark the row that `focus` names, for the template's autofocus; and tell each signal
        row where it is (its ids, field names, title and buttons)."""
        for j, signal in enumerate(self.start_signals):
            signal.kind = "start"
            signal.dom_id = f"start-signal-{j}"
            signal.field_prefix = f"start-signals-{j}-"
            signal.title = f"Start signal {j + 1}"
            signal.preview_action = f"preview-start-{j}"
            signal.remove_action = f"remove-start-signal-{j}"
            mine = f"{signal.dom_id}-"
            signal.focus = self.focus.removeprefix(mine) if self.focus.startswith(mine) else ""
        for i, step in enumerate(self.steps):
            prefix = f"step-{i}-"
            step.focus = self.focus.removeprefix(prefix) if self.focus.startswith(prefix) else ""
            for j, signal in enumerate(step.signals):
                signal.dom_id = f"step-{i}-signal-{j}"
                signal.field_prefix = f"steps-{i}-signals-{j}-"
                signal.title = f"Exit signal {j + 1} of step {i + 1}"
                signal.preview_action = f"preview-{i}-{j}"
                signal.remove_action = f"remove-signal-{i}-{j}"
                mine = f"signal-{j}-"
                signal.focus = step.focus.removeprefix(mine) if step.focus.startswith(mine) else ""

    # The editor's buttons ----------------------------------------------------------------------

    def act(self, action: str, *, refusal: Callable[[int], str]) -> bool:
        """Do what a button asks; False for an action that is not one of the editor's.
        `refusal(step id)`: why a stored step cannot be removed ("" when it can)."""
        if action == "add-step":
            if len(self.steps) >= MAX_STEPS:
                self.errors["steps"] = f"at most {MAX_STEPS} steps"
                self.announcement = f"Not added: a journey has at most {MAX_STEPS} steps."
                self.focus = "add-step"
                return True
            self.steps.append(StepRow())
            n = len(self.steps)
            self.announcement = f"Step {n} added."
            self.focus = f"step-{n - 1}-name"
            return True
        if action == "add-start-signal":
            if len(self.start_signals) >= MAX_SIGNALS:
                self.errors["start_signals"] = f"at most {MAX_SIGNALS} start signals"
                self.announcement = f"Not added: at most {MAX_SIGNALS} start signals."
            else:
                self.start_signals.append(SignalRow(kind="start"))
                n = len(self.start_signals)
                self.announcement = f"Start signal {n} added."
                self.focus = f"start-signal-{n - 1}-name"
                return True
            self.focus = "add-start-signal"
            return True
        start = _START_ACTION.fullmatch(action)
        if start is not None:
            k = int(start.group("j"))
            if start.group("what") != "remove-start-signal" or k >= len(self.start_signals):
                return False
            del self.start_signals[k]
            self.announcement = f"Start signal {k + 1} removed."
            self.focus = "add-start-signal"
            return True
        found = _ACTION.fullmatch(action)
        if found is None:
            return False
        what, i = found.group("what"), int(found.group("i"))
        j = int(found.group("j")) if found.group("j") is not None else None
        if i >= len(self.steps) or (what in ("remove-signal", "preview")) != (j is not None):
            return False
        step = self.steps[i]
        if what in ("up", "down"):
            other = i - 1 if what == "up" else i + 1
            if not 0 <= other < len(self.steps):
                return False
            self.steps[i], self.steps[other] = self.steps[other], self.steps[i]
            self.announcement = (
                f"“{step.name or 'Unnamed step'}” is now step {other + 1} of {len(self.steps)}."
            )
            # The same button again, or the other one when this one has run out.
            again = what if 0 < other < len(self.steps) - 1 else ("down" if other == 0 else "up")
            self.focus = f"step-{other}-{again}" if len(self.steps) > 1 else f"step-{other}-h"
        elif what == "remove-step":
            problem = refusal(step.id) if step.id is not None else ""
            if problem:
                step.errors[""] = problem
                self.announcement = f"Not removed: {problem}."
                self.focus = f"step-{i}-remove"
                return True
            del self.steps[i]
            self.announcement = (
                f"Step {i + 1} “{step.name or 'Unnamed step'}” removed; saving makes it final."
            )
            self.focus = f"step-{i}-h" if i < len(self.steps) else "add-step"
        elif what == "add-signal":
            if len(step.signals) >= MAX_SIGNALS:
                step.errors[""] = f"at most {MAX_SIGNALS} exit signals on a step"
                self.announcement = f"Not added: at most {MAX_SIGNALS} exit signals on a step."
                self.focus = f"step-{i}-add-signal"
                return True
            step.signals.append(SignalRow())
            self.announcement = f"Exit signal {len(step.signals)} added to step {i + 1}."
            self.focus = f"step-{i}-signal-{len(step.signals) - 1}-name"
        elif what == "remove-signal":
            assert j is not None
            if j >= len(step.signals):
                return False
            del step.signals[j]
            self.announcement = f"Exit signal {j + 1} removed from step {i + 1}."
            self.focus = f"step-{i}-add-signal"
        return True

    def signal_at(self, action: str) -> SignalRow | None:
        """The row a preview-<i>-<j> (or preview-start-<j>) action is about."""
        start = _START_ACTION.fullmatch(action)
        if start is not None:
            j = int(start.group("j"))
            if start.group("what") != "preview-start" or j >= len(self.start_signals):
                return None
            return self.start_signals[j]
        found = _ACTION.fullmatch(action)
        if found is None or found.group("what") != "preview" or found.group("j") is None:
            return None
        i, j = int(found.group("i")), int(found.group("j"))
        if i >= len(self.steps) or j >= len(self.steps[i].signals):
            return None
        return self.steps[i].signals[j]
