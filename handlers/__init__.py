"""aiogram routers: translate Telegram updates into engine inputs, and nothing more.

Prospects are served in private chats only; admins also in the managers' chat (see
``handlers.admin``); other groups and channels are ignored. Each module builds a fresh
router, so a process (or a test) may build several dispatchers.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import (
    admin,
    broadcast,
    buttons,
    commands,
    errors,
    membership,
    messages,
    payments,
    web_access,
)


def build_router() -> Router:
    """Admins and managers first (their filters let everyone else through), then prospects."""
    root = Router(name="leadbot")
    prospects = Router(name="prospects")
    prospects.message.filter(F.chat.type == ChatType.PRIVATE)
    prospects.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    prospects.my_chat_member.filter(F.chat.type == ChatType.PRIVATE)
    prospects.include_routers(
        commands.router(),
        buttons.router(),
        payments.router(),
        messages.router(),
        membership.router(),
        errors.router(),
    )
    root.include_router(broadcast.router())  # /broadcast: admins only, in a private chat
    root.include_router(web_access.router())  # /web, /admin + Mini App: when WEB_URL is set
    root.include_routers(admin.router(), prospects)
    return root
