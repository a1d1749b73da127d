"""The demo scenario's own dialog tests (``demo.tests.yaml``) replayed over Telegram.

``leadbot test-scenario`` plays them against the engine alone; here the same conversations
go through polling, the handlers, the service, the database and the touch loop, so the
Telegram face is held to what the operator wrote down.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.engine.types import Classified
from bot.operator import scenario_tests
from bot.operator.scenario_tests import Action, Case, Classification
from bot.qualification.offline import Decision, classify_offline
from bot.qualification.routing import route
from bot.scenario.funnel import Funnel
from bot.scenario.loader import ScenarioError, load_funnel
from fakes.bot_api import Call, FakeBotAPI
from storage.models import Answer, ScheduledTouch
from tests.e2e.harness import DEMO, PHONE, Harness, harness_for, polling, until

USER = 1001
DEMO_CHANNEL = "@teplylead"  # the channel of the demo's subscription gate
_TAG = re.compile(r"<[^>]+>")
#: Replayed by default (the engine-level runner covers every case; this one crosses what the
#: Telegram face adds: deep link, buttons, free text, consent, contact button, offer click,
#: hand-off). LEADBOT_E2E_ALL_DEMO=1 replays them all (about a minute: waits are real).
CHOSEN: tuple[int | str, ...] = (0,)


class ScriptedQualifier:
    """Answers as the test file says (``classify:``), or as the offline classifier would."""

    def __init__(self) -> None:
        self.pending: asyncio.Future[Classification | None] | None = None

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        self.pending = asyncio.get_running_loop().create_future()
        given = await self.pending
        self.pending = None
        if given is None:
            decision = classify_offline(funnel, answers)
        else:
            segment = funnel.segment(given.segment)
            readiness = segment.readiness.value if segment else "collecting_info"
            decision = Decision(given.segment, given.confidence, readiness, "given", path="test")
        return route(funnel, decision, answers, apply_threshold=True)

    def answer(self, given: Classification | None) -> bool:
        if self.pending is None or self.pending.done():
            return False
        self.pending.set_result(given)
        return True


def demo_cases() -> list[Case]:
    if not DEMO.exists():
        return []
    tests, _ = scenario_tests.load_tests(scenario_tests.tests_path_for(DEMO))
    return tests.tests


def chosen() -> list[Any]:
    """The cases in CHOSEN, or every case with LEADBOT_E2E_ALL_DEMO=1."""
    cases = demo_cases()
    if os.environ.get("LEADBOT_E2E_ALL_DEMO"):
        return [pytest.param(case, id=f"demo-{i}") for i, case in enumerate(cases)]
    picked = []
    for i, case in enumerate(cases):
        if any(
            choice == i or (isinstance(choice, str) and choice in case.name) for choice in CHOSEN
        ):
            picked.append(pytest.param(case, id=f"demo-{i}"))
    return picked or [pytest.param(None, id="no demo")]


def noon_in_moscow() -> timedelta:
    """Clock offset putting the test at midday, inside the demo's sending window."""
    now = datetime.now(UTC)
    noon = now.astimezone(ZoneInfo("Europe/Moscow")).replace(hour=12, minute=0, second=0)
    return noon - now


@pytest.fixture
async def demo(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[tuple[Harness, ScriptedQualifier]]:
    if not DEMO.exists():
        pytest.skip("scenarios/demo.yaml is not written yet")
    try:
        load_funnel(DEMO)
    except ScenarioError as exc:
        pytest.skip(f"scenarios/demo.yaml does not validate yet: {exc.problems[0]}")
    qualifier = ScriptedQualifier()
    offset = noon_in_moscow()
    async with (
        harness_for(tg, tmp_path, DEMO, qualifier, lambda: datetime.now(UTC) + offset) as h,
        polling(h),
    ):
        yield h, qualifier


class Replay:
    """Plays one conversation: the prospect's lines become updates, the bot's are awaited."""

    def __init__(self, h: Harness, qualifier: ScriptedQualifier, case: Case) -> None:
        self.h = h
        self.qualifier = qualifier
        self.case = case
        self.read = 0  # messages the prospect has seen

    def unread(self) -> list[Call]:
        return [c for c in self.h.tg.sent(USER)[self.read :] if plain(c)]

    async def play(self) -> None:
        case, h = self.case, self.h
        start = f"/start {case.source}" if case.source else "/start"
        update = h.tg.message_update(USER, start, first_name=case.first_name)
        h.tg.add_channel(DEMO_CHANNEL)  # the demo's gated checklist: a member unless not
        h.tg.join_channel(DEMO_CHANNEL, USER, joined=case.subscribed)
        h.push(update)
        for number, line in enumerate(case.conversation, 1):
            where = f"line {number} of {case.name!r}: {line.model_dump(exclude_none=True)}"
            try:
                await self.act(line)
            except AssertionError as exc:
                raise AssertionError(f"{where}\n{exc}") from None
        await self.quiet()

    async def act(self, line: Action) -> None:
        h = self.h
        if line.bot is not None:
            await self.expect(line.bot)
        elif line.silent:
            await self.quiet()
            assert not self.unread(), f"expected silence, got {plain(self.unread()[0])!r}"
        elif line.classify is not None:
            given = line.classify
            if not isinstance(given, Classification):
                given = Classification(segment=given)
            await until(lambda: self.qualifier.answer(given), h.tg.describe_calls, 10)
        elif line.press is not None:
            await self.press(line.press)
        elif line.say is not None:
            self.read = len(h.tg.sent(USER))
            h.push(h.tg.message_update(USER, line.say))
        elif line.share_contact is not None:
            self.read = len(h.tg.sent(USER))
            h.push(h.tg.contact_update(USER, PHONE))
        elif line.wait:
            await self.quiet()
            self.read = len(h.tg.sent(USER))
            await h.skip_wait(USER)
        elif line.stop:
            self.read = len(h.tg.sent(USER))
            h.push(h.tg.message_update(USER, "/stop"))
        elif line.start is not None:
            self.read = len(h.tg.sent(USER))
            source = line.start if isinstance(line.start, str) else ""
            h.push(h.tg.message_update(USER, f"/start {source}".strip()))

    async def expect(self, text: str) -> None:
        def arrived() -> bool:
            return bool(self.unread()) or self.qualifier.answer(None)  # offline if none given

        await until(arrived, self.h.tg.describe_calls, 10)
        await until(lambda: bool(self.unread()), self.h.tg.describe_calls, 10)
        message = self.unread()[0]
        assert text.casefold() in plain(message).casefold(), f"got {plain(message)!r}"
        self.read = self.h.tg.sent(USER).index(message) + 1

    async def press(self, label: str) -> None:
        h = self.h

        def button() -> tuple[Call, str] | None:
            for call in reversed(h.tg.sent(USER)):
                for text, data in zip(call.button_texts, call_data(call), strict=True):
                    if data and label.casefold() == plain_text(text).casefold():
                        return call, data
            return None

        call, data = await until(button, h.tg.describe_calls, 10)
        self.read = len(h.tg.sent(USER))
        update = h.push(h.tg.callback_update(USER, data, call.result["message_id"]))
        query = update["callback_query"]["id"]

        def handled() -> bool:  # or held up by a classification the file answers next
            answers = h.tg.calls_of("answerCallbackQuery")
            done = any(c.params.get("callback_query_id") == query for c in answers)
            return done or self.qualifier.pending is not None

        await until(handled, h.tg.describe_calls, 10)

    async def quiet(self) -> None:
        """Nothing in flight, nothing being typed (a reply timer), the bot silent."""
        if self.qualifier.pending:
            self.qualifier.answer(None)
        await until(self.no_reply_timer, self.h.tg.describe_calls, 10)
        await self.h.settle()

    async def no_reply_timer(self) -> bool:
        lead = await self.h.lead(USER)
        if lead is None:
            return True
        async with self.h.db.session() as session:
            stmt = select(ScheduledTouch).where(
                ScheduledTouch.lead_id == lead.id,
                ScheduledTouch.kind == "reply",
                ScheduledTouch.state.in_(("pending", "claimed")),
            )
            return (await session.execute(stmt)).first() is None


def call_data(call: Call) -> list[str | None]:
    return [b.get("callback_data") for b in call.buttons]


def plain_text(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def plain(call: Call) -> str:
    result = call.result or {}
    return str(result.get("text") or result.get("caption") or "")


@pytest.mark.parametrize("case", chosen())
async def test_demo_conversation_over_telegram(
    demo: tuple[Harness, ScriptedQualifier], case: Case | None
) -> None:
    h, qualifier = demo
    assert case is not None
    await Replay(h, qualifier, case).play()

    lead = await h.lead(USER)
    assert lead is not None
    expect = case.expect
    for name in ("segment", "stage", "status", "step"):
        wanted = getattr(expect, name)
        assert wanted is None or getattr(lead, name) == wanted, (name, getattr(lead, name))
    async with h.db.session() as session:
        stmt = select(Answer).where(Answer.lead_id == lead.id)
        answers = {a.key: a.answer for a in (await session.execute(stmt)).scalars()}
    for key, value in expect.answers.items():
        assert answers.get(key) == value, (key, answers)
    types = await h.event_types(USER)
    assert "error" not in types, types
    refused = [c for c in h.tg.calls if c.done and not c.ok and c.method != "getUpdates"]
    assert not refused, h.tg.describe_calls()
    assert lead.source == case.source
