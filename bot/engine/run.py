"""The run context: one input's worth of work, collecting actions while it moves the state.

Everything the concerns share lives here: logging an event, saying something, buttons,
stages, timers, and walking the chain. Which step kind does what is not here: the step
handlers come in as a table (``bot.engine.steps``), so this module never imports them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.engine.quiet import hold
from bot.engine.text import fill
from bot.engine.types import (
    MAX_LIVE_MESSAGES,
    Action,
    CancelTimers,
    ClassifyRequest,
    LeadState,
    Log,
    OutButton,
    OutMessage,
    Priority,
    Schedule,
    Send,
)
from bot.scenario.funnel import INTERVIEW, Funnel, Placed
from bot.scenario.model import ClassifyStep, Texts, Variant
from bot.vocabulary import STAGE_ORDER, Consent, EventType, LeadStatus, Stage, Waiting

MAX_STEPS_PER_INPUT = 100

#: Runs one step; returns (the next step id, whether the chain now waits).
StepHandler = Callable[["Run", Placed], tuple[str | None, bool]]


class Run:
    """One input's worth of work: the state being moved and the actions collected."""

    def __init__(
        self,
        funnel: Funnel,
        steps: Mapping[str, StepHandler],
        state: LeadState,
        now: datetime,
    ) -> None:
        self.funnel = funnel
        self.texts: Texts = funnel.scenario.texts
        self.steps = steps
        self.state = state
        self.now = now
        self.actions: list[Action] = []
        self.toast: str | None = None
        self.priority: Priority = "reply"

    # --- saying and logging ------------------------------------------------------------

    def log(self, type_: EventType, step: str | None = None, **payload: object) -> None:
        self.actions.append(Log(type_, step, dict(payload)))

    def say(self, text: str, step: str | None = None, **kw: Any) -> None:
        self.actions.append(
            Send(OutMessage(text=self.fill(text), step=step, priority=self.priority, **kw))
        )

    def fill(self, text: str) -> str:
        segment = self.funnel.segment(self.state.segment)
        return fill(text, self.state, segment.title if segment else "")

    def buttons_for(
        self, step_id: str, labels: list[tuple[str, str | None]]
    ) -> tuple[tuple[OutButton, ...], ...]:
        """One button per row; callback buttons carry ``b:<seq>:<index>`` (always < 64 bytes)."""
        if not labels:
            return ()
        seq: int | None = None
        rows = []
        for index, (text, url) in enumerate(labels):
            if url:
                rows.append((OutButton(text=self.fill(text), url=url),))
                continue
            if seq is None:
                self.state.seq += 1
                seq = self.state.seq
                self.state.live[str(seq)] = step_id
                while len(self.state.live) > MAX_LIVE_MESSAGES:
                    oldest = next(iter(self.state.live))
                    self.state.live.pop(oldest)
                    self.state.broadcast_buttons.pop(oldest, None)
            rows.append((OutButton(text=self.fill(text), data=f"b:{seq}:{index}"),))
        return tuple(rows)

    # --- the lead's standing -----------------------------------------------------------

    def set_stage(self, stage: Stage, step: str | None = None) -> None:
        if stage == self.state.stage:
            return
        old = self.state.stage
        self.state.stage = stage
        self.log(EventType.STAGE_CHANGED, step, old=old, new=stage)

    def raise_stage(self, stage: Stage, step: str | None = None) -> None:
        """Move up the ladder only (a click never makes a hot lead warm)."""
        if STAGE_ORDER.index(stage) > STAGE_ORDER.index(self.state.stage):
            self.set_stage(stage, step)

    def variant(self, placed: Placed, variants: list[Variant]) -> Variant | None:
        """The lead's variant of a step: picked once by weight, stable from then on."""
        if not variants:
            return None
        chosen = self.state.variants.get(placed.id)
        found = next((v for v in variants if v.id == chosen), None)
        if found is not None:
            return found
        total = sum(v.weight for v in variants)
        point = zlib.crc32(f"{self.state.seed}:{placed.id}".encode()) % total
        for candidate in variants:
            if point < candidate.weight:
                found = candidate
                break
            point -= candidate.weight
        assert found is not None
        self.state.variants[placed.id] = found.id
        return found

    def variant_of(self, placed: Placed) -> dict[str, str]:
        chosen = self.state.variants.get(placed.id)
        return {"variant": chosen} if chosen else {}

    def may_ask_contact(self) -> bool:
        return not self.funnel.scenario.require_consent or self.state.consent == Consent.GIVEN

    # --- timers ------------------------------------------------------------------------

    def acknowledge(self, sent: int) -> None:
        """A press that only starts a wait still hears something ("Да, напомните" → "Готово").

        ``sent`` is how many actions there were before the press ran its target.
        """
        quiet = not any(isinstance(a, Send) for a in self.actions[sent:])
        if quiet and self.state.waiting == Waiting.TIMER:
            self.say(self.texts.button_noted)

    def cancel_timers(self, reason: str) -> None:
        if self.state.timer:
            self.state.timer = 0
            self.actions.append(CancelTimers(reason))

    def schedule(self, placed: Placed, due: datetime) -> None:
        """A timer for a touch; it falls inside the sending window (quiet hours)."""
        window = self.funnel.scenario.sending_window
        if window is not None:
            held = hold(due, window.start, window.end, self.funnel.timezone)
            if held != due:
                self.log(
                    EventType.TOUCH_HELD, placed.id, due=due.isoformat(), until=held.isoformat()
                )
                due = held
        self.state.timer += 1
        if placed.step.kind == "wait":
            self.state.waiting = Waiting.TIMER
        self.actions.append(Schedule(self.state.timer, due, placed.id))
        self.log(EventType.TOUCH_SCHEDULED, placed.id, due=due.isoformat())

    # --- walking the chain -------------------------------------------------------------

    def run(self, step_id: str) -> None:
        """Run steps from ``step_id`` until one has to wait for something."""
        current: str | None = step_id
        for _ in range(MAX_STEPS_PER_INPUT):
            if current is None:
                return
            placed = self.funnel.get(current)
            if placed is None:
                self.log(EventType.ERROR, current, reason="unknown step")
                self.finish(None)
                return
            self.state.step = placed.id
            self.state.waiting = None
            nxt, done = self.steps[placed.step.kind](self, placed)
            if done:
                return
            if nxt is None:
                if placed.chain == INTERVIEW:
                    self.classify(None)
                else:
                    self.finish(placed.id)
                return
            current = nxt
        self.log(EventType.ERROR, current, reason="too many steps without a pause")

    def advance(self, placed: Placed) -> None:
        """Go on after ``placed``: the next step of its chain, or the chain's natural end."""
        nxt = self.funnel.following(placed.id)
        if nxt is not None:
            self.run(nxt)
        elif placed.chain == INTERVIEW:
            self.classify(None)
        else:
            self.finish(placed.id)

    def resume(self) -> None:
        """Pick the chain up where it stopped (after /stop, a block, or a manager)."""
        st = self.state
        if st.step is None:
            self.run(self.funnel.start)
            return
        placed = self.funnel.get(st.step)
        if placed is None:
            self.run(self.funnel.start)
        elif st.waiting in {Waiting.TIMER, Waiting.MANAGER, None} and placed.step.kind in {
            "wait",
            "handoff",
        }:
            self.advance(placed)
        else:
            self.run(st.step)

    def classify(self, placed: Placed | None) -> None:
        """Hand the answers to qualification; the chain waits for ``Classified``."""
        st = self.state
        if (
            placed is not None
            and isinstance(placed.step, ClassifyStep)
            and isinstance(placed.step.classify, str)
        ):
            self.say(placed.step.classify, placed.id)
        st.waiting = Waiting.CLASSIFY
        questions = self.funnel.answer_keys()
        answers = tuple((k, questions.get(k, k), v) for k, v in st.answers.items())
        self.actions.append(ClassifyRequest(answers, st.step))

    def finish(self, step_id: str | None) -> None:
        st = self.state
        st.status = LeadStatus.COMPLETED
        st.waiting = None
        self.cancel_timers(EventType.FINISHED)
        self.log(EventType.FINISHED, step_id)
