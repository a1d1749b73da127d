"""What every handler needs: whose lead an update is, and how to answer them."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import User

from bot.engine.types import OutMessage
from bot.scenario.model import Texts
from bot.service import FunnelService, LeadKey, RecipientGone, SendRejected
from bot.telegram.channel import CHANNEL, Channels

log = logging.getLogger(__name__)


def lead_key(user: User) -> LeadKey:
    return LeadKey(CHANNEL, user.id)


def texts(service: FunnelService) -> Texts:
    return service.scenario.funnel.scenario.texts


async def say(
    channels: Channels, bot: Bot, chat_id: int, text: str, remove_keyboard: bool = False
) -> None:
    """Send a text outside the funnel (help, apology); a failure is logged, never raised."""
    message = OutMessage(text=text, remove_keyboard=remove_keyboard)
    try:
        await channels.chat(bot, chat_id).send(message)
    except (RecipientGone, SendRejected) as exc:
        log.info("chat %s: could not send a notice: %s", chat_id, exc)
