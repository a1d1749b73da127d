"""Prospect-facing routers: what a person writes, presses, pays or blocks in a private chat
(the bot's own, or one of the operator's Telegram Business account), translated into
engine inputs. Other chats are ignored here. Order matters: commands before the texts,
texts before the catch-all for media, errors last. The texts come right after the commands
(buttons and payments take no text): aiogram walks the routers in order, each level some
ten microseconds, and a typed answer is the commonest update."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers.filters import Magic
from handlers.prospect import (
    business,
    buttons,
    commands,
    errors,
    joins,
    membership,
    messages,
    payments,
)


def router() -> Router:
    prospects = Router(name="prospects")
    prospects.message.filter(Magic(F.chat.type == ChatType.PRIVATE))
    prospects.callback_query.filter(Magic(F.message.chat.type == ChatType.PRIVATE))
    prospects.my_chat_member.filter(Magic(F.chat.type == ChatType.PRIVATE))
    prospects.include_routers(
        commands.router(),
        messages.router(),
        buttons.router(),
        payments.router(),
        membership.router(),
        joins.router(),
        business.router(),
        errors.router(),
    )
    return prospects
