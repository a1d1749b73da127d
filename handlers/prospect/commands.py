"""``/start`` (with a deep-link source), ``/stop``, ``/help`` and ``/forget``."""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message, ReplyKeyboardRemove

from bot.engine.types import Start, Stop
from bot.service import FunnelService
from bot.telegram.channel import Channels
from handlers.filters import Magic
from handlers.reply import lead_key, reply, texts

#: What Telegram itself allows in ``t.me/<bot>?start=<payload>``.
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def source_from(payload: str | None) -> str | None:
    """A deep-link payload as the lead's source; anything malformed means no source."""
    if payload is None:
        return None
    payload = payload.strip()
    return payload if _PAYLOAD.fullmatch(payload) else None


async def start(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
) -> None:
    """First contact, or coming back (after /stop too): the engine decides which."""
    user = message.from_user
    if user is None:
        return
    event = Start(
        source=source_from(command.args),
        first_name=user.first_name,
        last_name=user.last_name or "",
        username=user.username or "",
        language=user.language_code or "",
    )
    await service.handle(lead_key(user), event, channels.chat(bot, message.chat.id))


async def stop(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    if message.from_user is None:
        return
    await service.handle(lead_key(message.from_user), Stop(), channels.chat(bot, message.chat.id))


async def help_(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    await reply(channels, bot, message.chat.id, texts(service, message.from_user).help)


async def forget(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    """Erase the prospect's personal data at their request, then confirm it."""
    if message.from_user is None:
        return
    await service.forget(lead_key(message.from_user))
    said = texts(service, message.from_user).forgotten
    await reply(channels, bot, message.chat.id, said, ReplyKeyboardRemove())


def router() -> Router:
    commands = Router(name="commands")
    # One cheap check before the Command filters parse the text (most texts are answers).
    commands.message.filter(Magic(F.text.startswith("/")))
    commands.message.register(start, CommandStart())
    commands.message.register(stop, Command("stop"))
    commands.message.register(help_, Command("help"))
    commands.message.register(forget, Command("forget"))
    return commands
