"""Telegram Business: the funnel in the chats of the operator's own account.

With the bot connected to a business account (Telegram Settings → Telegram Business →
Chatbots), Telegram sends ``business_connection`` when the owner connects, changes the
bot's rights or disconnects it, and ``business_message`` for every message in the chats
the bot manages - the customer's and the owner's alike. The customer's become the funnel's
inputs (the first one starts it); the owner's own message makes the bot step back in that
chat. Messages the account sends by itself (a greeting, an away message, a scheduled one)
and the bot's own messages, which Telegram may show it again, change nothing. Edits and
deletions are not asked for (``edited_business_message`` and ``deleted_business_messages``
are left out of ``allowed_updates``).
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import BusinessConnection, Message, User

from bot.engine.types import Contact, CustomerWrote, Input, OwnerWrote
from bot.service import FunnelService
from bot.telegram.business import business_chat, connection_from, owner_source
from bot.telegram.channel import Channels
from handlers.reply import business_key

log = logging.getLogger(__name__)


async def connection(update: BusinessConnection, service: FunnelService) -> None:
    """The owner connected the bot, changed its rights, or disconnected it."""
    conn = connection_from(update)
    before = await service.connection_changed(conn)
    log.info(
        "business connection %s of user %s: %s%s",
        conn.id,
        conn.owner_id,
        conn.standing,
        " (new)" if before is None else "",
    )


def _by(user: User, bot_user: User | None) -> str:
    """Who wrote for the business (the lead log's ``by``): the owner, or a bot for them."""
    if bot_user is not None:
        return f"bot @{bot_user.username}" if bot_user.username else f"bot {bot_user.id}"
    return f"owner @{user.username}" if user.username else f"owner {user.full_name}"


def _words(message: Message) -> str:
    """What a message says; a shared contact is its number, media alone its kind."""
    if message.text or message.caption:
        return message.text or message.caption or ""
    if message.contact is not None:
        return message.contact.phone_number
    return ""


async def business_message(
    message: Message, service: FunnelService, channels: Channels, bot: Bot
) -> None:
    user, connection_id = message.from_user, message.business_connection_id
    if user is None or connection_id is None or message.is_from_offline:
        return  # the account's own greeting, away or scheduled message: nobody wrote
    helper = message.sender_business_bot
    if helper is not None and helper.id == bot.id:
        return  # what the bot itself said there
    chat_id = message.chat.id
    found = await business_chat(service, channels, bot, chat_id, connection_id)
    if found is None:
        return
    conn, channel = found
    source = owner_source(conn)
    event: Input
    if user.id == chat_id and helper is None:  # in a private chat, the customer's own id
        card = message.contact
        if card is not None and card.user_id == user.id:
            event = Contact(card.phone_number)
        else:
            event = CustomerWrote(
                _words(message),
                source,
                user.first_name,
                user.last_name or "",
                user.username or "",
                user.language_code or "",
            )
    else:
        chat = message.chat
        words = _words(message) or f"[{message.content_type}]"
        event = OwnerWrote(
            words,
            _by(user, helper),
            source,
            chat.first_name or "",
            chat.last_name or "",
            chat.username or "",
        )
    result = await service.handle(business_key(chat_id), event, channel)
    await service.link_business_chat(result.lead_id, conn.id)


def router() -> Router:
    business = Router(name="business")
    business.business_connection.register(connection)
    business.business_message.register(business_message)
    return business
