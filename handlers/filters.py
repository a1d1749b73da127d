"""Who may use the staff's commands and buttons.

Registered before the prospect handlers, these filters let through only the staff; for
anyone else they simply do not match, so ``/stats`` from a prospect travels on and gets
whatever any text gets: the bot does not even admit the commands exist.
"""

from __future__ import annotations

from typing import Any

from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject
from magic_filter import MagicFilter

from bot.managers.staff import Staff


def _chat(event: Message | CallbackQuery) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    return event.message.chat if event.message is not None else None


class IsAdmin(Filter):
    """An admin (ADMIN_IDS) in a private chat, or also in the managers' chat unless
    ``private_only``. The one admin filter, for messages and button presses alike."""

    def __init__(self, *, private_only: bool = False) -> None:
        self.private_only = private_only

    async def __call__(self, event: Message | CallbackQuery, staff: Staff | None = None) -> bool:
        user, chat = event.from_user, _chat(event)
        if staff is None or user is None or chat is None or not staff.is_admin(user.id):
            return False
        if chat.type == ChatType.PRIVATE:
            return True
        return not self.private_only and chat.id == staff.manager_chat_id


class IsStaff(Filter):
    """An admin anywhere, or anyone in the managers' chat: the root filter of the staff's
    routers, so a prospect's update passes them with one check instead of one per router
    (each router below still applies its own, stricter filter)."""

    async def __call__(self, event: Message | CallbackQuery, staff: Staff | None = None) -> bool:
        if staff is None or event.from_user is None:
            return False
        if staff.is_admin(event.from_user.id):
            return True
        chat = _chat(event)
        return chat is not None and chat.id == staff.manager_chat_id


class InManagersChat(Filter):
    """A press in the managers' chat (anyone there: they are the managers), or an admin's
    anywhere: Take / Return under an alert card."""

    async def __call__(self, query: CallbackQuery, staff: Staff | None = None) -> bool:
        if staff is None:
            return False
        chat = _chat(query)
        in_managers = chat is not None and chat.id == staff.manager_chat_id
        return in_managers or staff.is_admin(query.from_user.id)


class Magic(Filter):
    """A magic filter (``F.text``, ``F.chat.type == …``) checked in the event loop.

    aiogram 3.31 runs every synchronous filter through ``asyncio.to_thread``
    (``CallableObject.call``), so a bare ``F.`` filter costs a thread hop per update; on
    the prospect routes that was four hops for each text. Wrapped, it is a plain call.
    """

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> bool | dict[str, Any]:
        result = self.magic.resolve(event)
        return result if isinstance(result, dict) else bool(result)

    def __str__(self) -> str:
        return f"Magic({self.magic!r})"
