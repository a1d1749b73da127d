"""The baseline of benchmarks 3 and 5: a bare aiogram bot, in a process of its own.

``python -m bench.bare_bot`` long-polls the Bot API at ``TELEGRAM_API_URL`` with
``BOT_TOKEN`` and does the least a bot can do with each update: echo a text; answer a button
press and send "pressed". No database, no limiter; aiogram's defaults otherwise. It logs the
way ``leadbot run`` does by default (INFO, aiogram's per-update line off), so the two differ
by what they do with an update, not by what they write to the log.

Like leadbot it waits out a 429 instead of dropping the reply (benchmark 5's fake enforces
Telegram's limits), and it removes a webhook before polling, which the benchmarks watch for
to know it is up.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import CallbackQuery, Message

PRESSED = "pressed"


async def send(bot: Bot, chat_id: int, text: str) -> None:
    for _ in range(20):
        try:
            await bot.send_message(chat_id, text)
            return
        except TelegramRetryAfter as exc:
            await asyncio.sleep(exc.retry_after)


async def echo(message: Message, bot: Bot) -> None:
    await send(bot, message.chat.id, message.text or "?")


async def pressed(query: CallbackQuery, bot: Bot) -> None:
    await query.answer()
    await send(bot, query.from_user.id, PRESSED)


async def main() -> None:
    api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
    bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
    dp = Dispatcher()
    dp.message.register(echo)
    dp.callback_query.register(pressed)
    await bot.delete_webhook()
    await dp.start_polling(bot, polling_timeout=10, allowed_updates=dp.resolve_used_update_types())


if __name__ == "__main__":
    FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    asyncio.run(main())
