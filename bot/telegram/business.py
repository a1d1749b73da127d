"""Telegram Business connections as the service keeps them, and the chats they reach.

The edge hears of a connection in a ``business_connection`` update; a message may also
arrive through one the bot has not heard of (it was connected before the bot asked for
business updates, or that update was lost): ``known_connection`` then asks Telegram
(``getBusinessConnection``) and keeps the answer.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetBusinessConnection
from aiogram.types import BusinessConnection

from bot.service import FunnelService
from bot.telegram.channel import Channels, TelegramChannel
from bot.vocabulary import business_source
from storage.business import Connection

log = logging.getLogger(__name__)


def connection_from(update: BusinessConnection) -> Connection:
    """Telegram's description of a connection as the service keeps it. The reply right is
    ``rights.can_reply`` since Bot API 9.0 (``can_reply`` before it)."""
    rights = update.rights.model_dump(exclude_none=True) if update.rights is not None else {}
    can_reply = rights.get("can_reply", update.can_reply)
    user = update.user
    return Connection(
        id=update.id,
        owner_id=user.id,
        owner_chat_id=update.user_chat_id,
        owner_username=user.username or "",
        owner_name=" ".join(p for p in (user.first_name, user.last_name) if p),
        enabled=update.is_enabled,
        can_reply=bool(can_reply),
        rights={k: bool(v) for k, v in rights.items()},
        connected_at=update.date,
    )


def owner_source(conn: Connection) -> str:
    """The source of the connection's leads: ``business:<owner's username or id>``."""
    return business_source(conn.owner_username or str(conn.owner_id))


async def known_connection(
    service: FunnelService, bot: Bot, connection_id: str
) -> Connection | None:
    """The connection as kept, else as Telegram describes it now (then kept); None when
    Telegram does not know it either."""
    conn = await service.business_connection(connection_id)
    if conn is not None:
        return conn
    try:
        described = await bot(GetBusinessConnection(business_connection_id=connection_id))
    except TelegramAPIError as exc:
        log.warning("business connection %s is unknown to Telegram: %s", connection_id, exc)
        return None
    conn = connection_from(described)
    await service.connection_changed(conn)
    return conn


async def business_chat(
    service: FunnelService, channels: Channels, bot: Bot, chat_id: int, connection_id: str
) -> tuple[Connection, TelegramChannel] | None:
    """The connection and the customer's chat through it; None when the bot may not write
    there (the connection is disabled, lacks the reply right, or is unknown): stay silent."""
    conn = await known_connection(service, bot, connection_id)
    if conn is None or not conn.usable:
        standing = conn.standing if conn is not None else "unknown"
        log.info("business chat %s: connection %s is %s", chat_id, connection_id, standing)
        return None
    return conn, channels.chat(bot, chat_id, conn.id)
