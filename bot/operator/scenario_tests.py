"""Scenario tests: expected conversations, written by operators, played through the engine.

A test file sits beside the scenario (``demo.tests.yaml`` for ``demo.yaml``). Each test says
what the prospect does and what the bot must answer; the classifier's answer can be given in
the file, so no model is called. Mismatches are reported with the step and both texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.engine.engine import Engine
from bot.engine.types import (
    AskKnowledge,
    CheckMembership,
    ClassifyRequest,
    Contact,
    Input,
    LeadState,
    Membership,
    Outcome,
    OutMessage,
    Press,
    Schedule,
    Start,
    Stop,
    Text,
    TimerFired,
)
from bot.knowledge.librarian import look_up_offline
from bot.qualification.offline import Decision, classify_offline
from bot.qualification.routing import route
from bot.scenario.funnel import Funnel
from bot.scenario.markup import strip_tags


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Classification(_Strict):
    segment: str
    confidence: Annotated[int, Field(ge=0, le=100)] = 90


class Action(_Strict):
    """One line of a conversation: exactly one of these keys."""

    bot: str | None = Field(default=None, description="The bot's next message contains this.")
    press: str | None = Field(default=None, description="Press the button with this label.")
    say: str | None = Field(default=None, description="Type this.")
    share_contact: str | None = None
    classify: Classification | str | None = Field(
        default=None, description="The classifier's answer: a segment id (and confidence)."
    )
    wait: Literal[True] | None = Field(default=None, description="The next timer fires now.")
    stop: Literal[True] | None = None
    start: str | Literal[True] | None = None
    silent: Literal[True] | None = Field(default=None, description="The bot said nothing more.")
    answer: str | None = Field(
        default=None,
        description="The bot's next message answers from this knowledge-base entry ('none': "
        "no entry fitted).",
    )


ACTIONS = tuple(Action.model_fields)


class Expect(_Strict):
    segment: str | None = None
    stage: str | None = None
    status: str | None = None
    step: str | None = None
    answers: dict[str, str] = Field(default_factory=dict)


class Case(_Strict):
    name: str
    source: str | None = None
    first_name: str = "Тест"
    conversation: list[Action] = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)
    variants: dict[str, str] = Field(
        default_factory=dict, description="A/B variant to show at a step: {step id: variant id}"
    )
    subscribed: bool = Field(
        default=True, description="Whether the prospect is in every gate's channel."
    )


class TestFile(_Strict):
    tests: list[Case] = Field(min_length=1)


@dataclass
class Failure:
    test: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.test} (line {self.line}): {self.message}"


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def tests_path_for(scenario: Path) -> Path:
    return scenario.with_name(scenario.stem + ".tests.yaml")


def load_tests(path: Path) -> tuple[TestFile, list[list[int]]]:
    """The tests and, for each conversation line, its line number in the file."""
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: list[list[int]] = []
    if root is not None:
        for key, value in getattr(root, "value", []):
            if key.value != "tests":
                continue
            for case in value.value:
                conv = next((v for k, v in case.value if k.value == "conversation"), None)
                lines.append([n.start_mark.line + 1 for n in getattr(conv, "value", [])])
    try:
        return TestFile.model_validate(yaml.safe_load(text)), lines
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        where = ".".join(str(p) for p in loc)
        line = ""
        if len(loc) >= 4 and loc[0] == "tests" and loc[2] == "conversation":
            case, index = int(loc[1]), int(loc[3])
            if case < len(lines) and index < len(lines[case]):
                line = f":{lines[case][index]}"
        raise ValueError(f"{path}{line}: {where}: {first['msg']}") from None


class _Player:
    """Plays one conversation against the engine with a fixed clock."""

    def __init__(self, funnel: Funnel, case: Case, lines: list[int]) -> None:
        self.funnel = funnel
        self.engine = Engine(funnel)
        self.case = case
        self.lines = lines
        self.state = LeadState(seed=1)
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.inbox: list[OutMessage] = []
        self.seen: list[OutMessage] = []
        self.timers: list[Schedule] = []
        self.pending_classify = False
        self.given: Classification | None = None
        self.kb_answers: dict[int, str] = {}  # id of a message -> the entry it answered from

    def feed(self, event: Input) -> None:
        outcome = self.engine.handle(self.state, event, self.now)
        self.absorb(outcome)

    def absorb(self, outcome: Outcome) -> None:
        self.state = outcome.state
        self.inbox += outcome.messages
        for action in outcome.actions:
            if isinstance(action, Schedule):
                self.timers.append(action)
        # A pause in typing is always taken: the answer is read at once.
        replies = [t for t in self.timers if t.kind == "reply" and t.token == self.state.timer]
        if replies:
            self.timers.remove(replies[-1])
            self.now = max(self.now, replies[-1].due)
            self.feed(TimerFired(replies[-1].token))
            return
        ask = next((a for a in outcome.actions if isinstance(a, AskKnowledge)), None)
        if ask is not None:  # the offline retrieval, as the bot without a key looks it up
            looked = look_up_offline(self.funnel, ask)
            answered = self.engine.handle(self.state, looked, self.now)
            if answered.messages:
                self.kb_answers[id(answered.messages[0])] = looked.entry or "none"
            self.absorb(answered)
            return
        check = next((a for a in outcome.actions if isinstance(a, CheckMembership)), None)
        if check is not None:  # a lead magnet's gate: as the case says the prospect stands
            member = Membership(check.step, self.case.subscribed, check.recheck)
            self.absorb(self.engine.handle(self.state, member, self.now))
            return
        if any(isinstance(a, ClassifyRequest) for a in outcome.actions):
            self.pending_classify = True
            if self.given is not None:
                self.classify()

    def classify(self) -> None:
        answers = dict(self.state.answers)
        if self.given is None:
            decision = classify_offline(self.funnel, answers)
        else:
            segment = self.funnel.segment(self.given.segment)
            readiness = segment.readiness.value if segment else "collecting_info"
            decision = Decision(
                self.given.segment,
                self.given.confidence,
                readiness,
                "given by the test",
                path="test",
            )
        from_model = self.given is not None
        self.pending_classify = False
        self.given = None
        # The threshold is for a model's answers, as in the bot; the offline scorer has none.
        self.feed(route(self.funnel, decision, answers, apply_threshold=from_model))

    def button(self, label: str) -> Press | None:
        for message in reversed(self.seen + self.inbox):
            for row in message.buttons:
                for button in row:
                    if button.data and _plain(button.text).casefold() == label.casefold():
                        return Press(button.data)
        return None

    def play(self) -> Failure | None:
        self.state.variants.update(self.case.variants)
        self.feed(Start(source=self.case.source, first_name=self.case.first_name))
        for index, action in enumerate(self.case.conversation):
            line = self.lines[index] if index < len(self.lines) else 0
            problem = self.act(action)
            if problem:
                return Failure(self.case.name, line, f"{problem} (at step '{self.state.step}')")
        return self.check_end()

    def act(self, action: Action) -> str | None:
        keys = [name for name, value in action.model_dump().items() if value is not None]
        if len(keys) != 1:
            return f"a conversation line needs exactly one of {', '.join(ACTIONS)}; got {keys}"
        waiting_for_bot = action.bot is not None or action.silent or action.answer is not None
        if self.pending_classify and waiting_for_bot and not self.inbox:
            self.classify()  # nothing given in the file: the offline classifier decides
        if action.bot is not None:
            if not self.inbox:
                return f"expected the bot to say {action.bot!r}, but it said nothing"
            message = self.inbox.pop(0)
            self.seen.append(message)
            if action.bot.casefold() not in _plain(message.text).casefold():
                return f"expected the bot to say {action.bot!r}, got {_plain(message.text)!r}"
            return None
        if action.answer is not None:
            known = {e.id for e in self.funnel.scenario.knowledge} | {"none"}
            if action.answer not in known:
                return f"no knowledge entry {action.answer!r}"
            if not self.inbox:
                return f"expected an answer from {action.answer!r}, but the bot said nothing"
            message = self.inbox.pop(0)
            self.seen.append(message)
            got = self.kb_answers.get(id(message))
            if got != action.answer:
                said = f"the answer of {got!r}" if got else repr(_plain(message.text))
                return f"expected an answer from {action.answer!r}, got {said}"
            return None
        if action.silent:
            if self.inbox:
                return f"expected silence, got {_plain(self.inbox[0].text)!r}"
            return None
        if action.classify is None:
            self.seen += self.inbox  # the prospect acts: what came before has been read
            self.inbox = []
        if action.press is not None:
            press = self.button(action.press)
            if press is None:
                return f"no button {action.press!r} to press"
            self.feed(press)
        elif action.say is not None:
            self.feed(Text(action.say))
        elif action.share_contact is not None:
            self.feed(Contact(action.share_contact))
        elif action.classify is not None:
            given = action.classify
            self.given = (
                given if isinstance(given, Classification) else Classification(segment=given)
            )
            if self.given.segment not in self.funnel.scenario.segments:
                return f"unknown segment {self.given.segment!r}"
            if self.pending_classify:
                self.classify()
        elif action.wait:
            pending = [t for t in self.timers if t.token == self.state.timer]
            if not pending:
                return "nothing is waiting"
            timer = pending[-1]
            self.timers.remove(timer)
            self.now = max(self.now, timer.due)
            self.feed(TimerFired(timer.token))
        elif action.stop:
            self.feed(Stop())
        elif action.start is not None:
            source = action.start if isinstance(action.start, str) else None
            self.feed(Start(source=source, first_name=self.case.first_name))
        else:
            return (
                "a conversation line needs one of: bot, press, say, share_contact, classify, wait"
            )
        return None

    def check_end(self) -> Failure | None:
        if self.pending_classify:
            self.classify()
        expect = self.case.expect
        last = len(self.lines) and self.lines[-1]
        actual: dict[str, Any] = {
            "segment": self.state.segment,
            "stage": self.state.stage,
            "status": self.state.status,
            "step": self.state.step,
        }
        for name in ("segment", "stage", "status", "step"):
            wanted = getattr(expect, name)
            if wanted is not None and wanted != actual[name]:
                return Failure(
                    self.case.name, last, f"expected {name} {wanted!r}, got {actual[name]!r}"
                )
        for key, value in expect.answers.items():
            if self.state.answers.get(key) != value:
                return Failure(
                    self.case.name,
                    last,
                    f"expected answer {key}={value!r}, got {self.state.answers.get(key)!r}",
                )
        return None


def _plain(text: str) -> str:
    return strip_tags(text)


def run_tests(funnel: Funnel, path: Path) -> Report:
    tests, lines = load_tests(path)
    report = Report()
    for index, case in enumerate(tests.tests):
        failure = _Player(funnel, case, lines[index] if index < len(lines) else []).play()
        if failure is None:
            report.passed.append(case.name)
        else:
            report.failures.append(failure)
    return report
