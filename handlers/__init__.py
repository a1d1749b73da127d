"""aiogram routers: translate Telegram updates into engine inputs, and nothing more.

Only private chats are served; groups and channels are ignored. Each module builds a fresh
router, so a process (or a test) may build several dispatchers.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import buttons, commands, errors, membership, messages, payments


def build_router() -> Router:
    root = Router(name="leadbot")
    root.message.filter(F.chat.type == ChatType.PRIVATE)
    root.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    root.my_chat_member.filter(F.chat.type == ChatType.PRIVATE)
    root.include_routers(
        commands.router(),
        buttons.router(),
        payments.router(),
        messages.router(),
        membership.router(),
        errors.router(),
    )
    return root
