"""The last resort: a failed update is logged with its id and the prospect gets an apology."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.types import ErrorEvent, Message

from bot.service import FunnelService
from bot.telegram.channel import Channels
from handlers.reply import answer, reply, texts

log = logging.getLogger(__name__)


async def apologise(
    event: ErrorEvent, service: FunnelService, channels: Channels, bot: Bot
) -> bool:
    update = event.update
    log.error(
        "update %s failed: %s: %s",
        update.update_id,
        type(event.exception).__name__,
        event.exception,
        exc_info=event.exception,
    )
    query = update.callback_query
    if query is not None:
        await answer(query)
    chat = None
    user = query.from_user if query is not None else None
    if update.message is not None:
        chat, user = update.message.chat, update.message.from_user
    elif query is not None and query.message is not None:
        chat = query.message.chat
        if isinstance(query.message, Message) and query.message.business_connection_id:
            chat = None  # a business chat: the bot's own chat with them is another place
    if chat is not None and chat.type == ChatType.PRIVATE:
        try:
            text = texts(service, user).apology
        except Exception:  # the scenario itself may be what failed
            log.exception("no apology text available")
            return True
        await reply(channels, bot, chat.id, text)
    return True


def router() -> Router:
    errors = Router(name="errors")
    errors.errors.register(apologise)
    return errors
