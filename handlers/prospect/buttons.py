"""Inline button presses. Every press is answered, even a stale or repeated one."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, Message

from bot.engine.types import Press
from bot.service import Channel, FunnelService, LeadKey
from bot.telegram.business import business_chat
from bot.telegram.channel import Channels
from handlers.reply import answer, business_key, lead_key

log = logging.getLogger(__name__)

#: Telegram gives up on an unanswered press after ~15 s; a slow classification must not
#: leave the button spinning, so the answer goes out early (without a toast) if needed.
ANSWER_WITHIN = 5.0


class Answer:
    """Answers one callback query exactly once."""

    def __init__(self, query: CallbackQuery) -> None:
        self.query = query
        self.sent = False

    async def __call__(self, text: str | None = None) -> None:
        if self.sent:
            return
        self.sent = True
        await answer(self.query, text)

    async def later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self()


async def press(query: CallbackQuery, service: FunnelService, channels: Channels, bot: Bot) -> None:
    once = Answer(query)
    if query.data is None:
        await once()
        return
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    key: LeadKey = lead_key(query.from_user)
    channel: Channel = channels.chat(bot, chat_id)
    business = query.message.business_connection_id if isinstance(query.message, Message) else None
    if business is not None:  # a button under a message in a Telegram Business chat
        found = await business_chat(service, channels, bot, chat_id, business)
        if found is None:
            await once()
            return
        key, channel = business_key(chat_id), found[1]
    watchdog = asyncio.create_task(once.later(ANSWER_WITHIN))
    try:
        result = await service.handle(key, Press(query.data), channel)
    finally:
        if not once.sent:
            watchdog.cancel()
        with suppress(asyncio.CancelledError):
            await watchdog  # an early answer already under way is let through
    await once(result.toast)


def router() -> Router:
    buttons = Router(name="buttons")
    buttons.callback_query.register(press)
    return buttons
