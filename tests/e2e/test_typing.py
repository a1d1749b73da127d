"""“typing…” through aiogram's ChatActionSender: shown while the bot thinks, and a refused
chat action (a prospect who just blocked the bot) never surfaces as an error."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from app.factory import make_bot
from bot.scenario.funnel import Funnel
from bot.service import ScenarioHolder
from bot.telegram.channel import Channels
from fakes.bot_api import FakeBotAPI

USER = 4242


async def test_typing_repeats_while_the_block_runs_and_stops_after(
    tg: FakeBotAPI, mini: Funnel
) -> None:
    bot = make_bot("123456:typing", tg.base_url)
    try:
        chat = Channels(ScenarioHolder(mini), typing_every=0.05).chat(bot, USER)
        async with chat.typing():
            await asyncio.sleep(0.3)
        shown = len(tg.calls_of("sendChatAction"))
        await asyncio.sleep(0.2)
    finally:
        await bot.session.close()
    assert shown >= 3
    assert len(tg.calls_of("sendChatAction")) == shown  # nothing after the block ended
    assert {c.params["action"] for c in tg.calls_of("sendChatAction")} == {"typing"}


async def test_a_refused_chat_action_is_quiet(
    tg: FakeBotAPI, mini: Funnel, caplog: pytest.LogCaptureFixture
) -> None:
    tg.block_user(USER)
    bot = make_bot("123456:typing", tg.base_url)
    try:
        chat = Channels(ScenarioHolder(mini), typing_every=0.05).chat(bot, USER)
        with caplog.at_level(logging.ERROR):
            async with chat.typing():
                await asyncio.sleep(0.2)
            gc.collect()  # an unretrieved task exception would be logged now
            await asyncio.sleep(0)
    finally:
        await bot.session.close()
    assert [c.status for c in tg.calls_of("sendChatAction")][:2] == [403, 403]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_typing_in_a_business_chat_is_on_the_accounts_behalf(
    tg: FakeBotAPI, mini: Funnel, caplog: pytest.LogCaptureFixture
) -> None:
    """aiogram's sender cannot say on whose behalf: the channel's own loop does, and a
    refusal (the owner just disconnected the bot) ends it quietly as well."""
    tg.business_mode = True
    connection = tg.connect_business(7)["business_connection"]["id"]
    bot = make_bot("123456:typing", tg.base_url)
    try:
        chat = Channels(ScenarioHolder(mini), typing_every=0.05).chat(bot, USER, connection)
        async with chat.typing():
            await asyncio.sleep(0.3)
        shown = tg.calls_of("sendChatAction")
        tg.connect_business(7, connection_id=connection, enabled=False)
        with caplog.at_level(logging.ERROR):
            async with chat.typing():
                await asyncio.sleep(0.1)
    finally:
        await bot.session.close()
    assert len(shown) >= 3 and all(c.ok for c in shown)
    assert {c.params.get("business_connection_id") for c in shown} == {connection}
    assert tg.calls_of("sendChatAction")[-1].status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
