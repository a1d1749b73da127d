"""A request to join the operator's private channel or group (``chat_join_request``).

The bot must be an admin there with the right to add members. The request becomes a lead
(source: the invite link's name, so a report by source is a report by invite link) and the
funnel starts in a private chat with the person: Telegram lets a bot write to
``user_chat_id`` after a join request even if the person never opened the bot. When to
approve is the scenario's call (``join_requests.approve``), carried out by the channel.
"""

from __future__ import annotations

import re

from aiogram import Bot, Router
from aiogram.types import ChatJoinRequest

from bot.engine.types import JoinRequest
from bot.service import FunnelService
from bot.telegram.channel import Channels
from handlers.prospect.commands import source_from
from handlers.reply import lead_key

#: An invite link's name as a source: the characters a deep-link source may hold.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def invite_source(request: ChatJoinRequest) -> str | None:
    """The invite link's name (``vk_ads`` for "VK ads"), or None for a link without one."""
    link = request.invite_link
    if link is None or not link.name:
        return None
    return source_from(_UNSAFE.sub("_", link.name.strip()).strip("_")[:64] or None)


async def join_request(
    request: ChatJoinRequest, service: FunnelService, channels: Channels, bot: Bot
) -> None:
    user = request.from_user
    event = JoinRequest(
        chat=str(request.chat.id),
        source=invite_source(request),
        first_name=user.first_name,
        last_name=user.last_name or "",
        username=user.username or "",
        language=user.language_code or "",
    )
    await service.handle(lead_key(user), event, channels.chat(bot, request.user_chat_id))


def router() -> Router:
    joins = Router(name="join requests")
    joins.chat_join_request.register(join_request)
    return joins
