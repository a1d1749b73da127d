"""A slow or hanging model, over real HTTP: one holding message, then an answer in the budget.

The whole bot runs (``run_bot``, long polling against FakeBotAPI) with the LLM qualifier built
from the settings and pointed at FakeOpenAI, whose ``Delay`` makes the model late or silent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from app.runner import run_bot
from bot.scenario.loader import load_funnel
from fakes.bot_api import FakeBotAPI
from fakes.openai_server import Delay, FakeOpenAI, Reply
from tests.e2e.harness import MINI, PHONE
from tests.e2e.test_run import settings_for
from tests.qualification.conftest import answer

USER = 907
HOLD = load_funnel(MINI).scenario.texts.hold
HOLD_AFTER = 0.3  # the service's 2.5 s, shortened so the test stays quick


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@asynccontextmanager
async def bot_with_model(
    tg: FakeBotAPI, llm: FakeOpenAI, tmp_path: Path, budget: float
) -> AsyncIterator[None]:
    overrides: dict[str, Any] = {
        "openai_api_key": "test",
        "openai_base_url": llm.base_url,
        "openai_model": "gpt-test",
        "openai_budget": budget,
        "chat_rate": 100,  # Telegram's pace of 1/s per chat would blur the timings
    }
    settings = settings_for(tg, tmp_path, **overrides)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, polling_timeout=1))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def interview(tg: FakeBotAPI) -> float:
    """Up to the classification; returns when the contact (the last answer) was sent."""
    tg.push_update(tg.message_update(USER, "/start"))
    question = await tg.wait_for_sent(USER, "What do you need?")
    tg.push_update(tg.callback_update(USER, question.callback_data[0]))
    budget = await tg.wait_for_sent(USER, "Your budget?")
    tg.push_update(tg.callback_update(USER, budget.callback_data[0]))
    await tg.wait_for_sent(USER, "Tell us about your office.")
    tg.push_update(tg.message_update(USER, "We want to buy"))
    await tg.wait_for_sent(USER, "Leave your phone?")
    tg.push_update(tg.contact_update(USER, PHONE))
    return time.monotonic()


def after_phone(tg: FakeBotAPI) -> list[str]:
    texts = tg.sent_texts(USER)
    return texts[texts.index("Leave your phone?") + 1 :]


async def test_a_slow_model_gets_one_holding_message_then_its_answer(
    tg: FakeBotAPI, llm: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.service.core.HOLD_AFTER", HOLD_AFTER)
    # Later than the hold, well within the budget; the model disagrees with the offline
    # verdict (hot), so the answer shows whose verdict the prospect got.
    llm.script(Delay(1.2, Reply(answer("nope", 90, readiness="not_a_fit"))))
    async with bot_with_model(tg, llm, tmp_path, budget=6.0):
        await interview(tg)
        await tg.wait_for_sent(USER, "Sorry, we cannot help.", timeout=10)
        await asyncio.sleep(0.3)  # nothing more may follow
    print(after_phone(tg))
    assert after_phone(tg) == ["Thank you!", "Thinking…", HOLD, "Sorry, we cannot help."]
    assert len(llm.requests) == 1


async def test_a_quick_model_gets_no_holding_message(
    tg: FakeBotAPI, llm: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.service.core.HOLD_AFTER", 1.0)
    llm.script(Reply(answer("nope", 90, readiness="not_a_fit")))
    async with bot_with_model(tg, llm, tmp_path, budget=6.0):
        await interview(tg)
        await tg.wait_for_sent(USER, "Sorry, we cannot help.", timeout=10)
        await asyncio.sleep(0.3)
    assert HOLD not in tg.sent_texts(USER)


async def test_a_hanging_model_is_answered_offline_within_the_budget(
    tg: FakeBotAPI, llm: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.service.core.HOLD_AFTER", HOLD_AFTER)
    budget = 1.5
    llm.default = Delay(60, Reply(answer("nope", 90, readiness="not_a_fit")))
    async with bot_with_model(tg, llm, tmp_path, budget=budget):
        asked = await interview(tg)
        await tg.wait_for_sent(USER, "Machine X for", timeout=10)  # the offline verdict: hot
        waited = time.monotonic() - asked
        await asyncio.sleep(0.3)
    assert waited < budget + 1.0, f"the prospect waited {waited:.1f}s"
    assert after_phone(tg)[:4] == ["Thank you!", "Thinking…", HOLD, "Machine X for User907"]
    assert after_phone(tg).count(HOLD) == 1
