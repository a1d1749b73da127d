"""The prospect blocking or unblocking the bot (``my_chat_member`` in a private chat)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from bot.engine.types import Blocked
from bot.service import FunnelService
from bot.telegram.channel import Channels
from handlers.reply import lead_key

log = logging.getLogger(__name__)


async def blocked(
    event: ChatMemberUpdated, service: FunnelService, channels: Channels, bot: Bot
) -> None:
    """Stop the touches now, before one of them fails with 403."""
    channel = channels.chat(bot, event.chat.id)
    await service.handle(lead_key(event.from_user), Blocked("blocked the bot"), channel)


async def unblocked(event: ChatMemberUpdated) -> None:
    """Nothing is sent: Telegram shows the prospect a Restart button, which sends /start,
    and the engine re-subscribes them then. Writing first would feel pushy."""
    log.info("user %s unblocked the bot; waiting for their /start", event.from_user.id)


def router() -> Router:
    membership = Router(name="membership")
    membership.my_chat_member.register(
        blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED)
    )
    membership.my_chat_member.register(
        unblocked, ChatMemberUpdatedFilter(member_status_changed=KICKED >> MEMBER)
    )
    return membership
