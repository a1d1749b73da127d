"""``/web`` (a one-time sign-in link for the dashboard) and ``/admin`` with a Mini App button.

Registered before the admin look-ups: when the dashboard is configured (``web_gate`` and
``web_url`` in workflow data) these answer; otherwise they do not match and ``/admin`` is the
plain help (``handlers.admin.reports``).
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command, Filter
from aiogram.methods import SendMessage
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    WebAppInfo,
)

from bot.service import RecipientGone, SendRejected
from bot.telegram.channel import Channels
from handlers.admin.texts import say
from handlers.filters import IsAdmin
from web.auth import LINK_AGE, AuthError, Gate

log = logging.getLogger(__name__)


class WebReady(Filter):
    """The dashboard's public address is configured (``IsAdmin`` checks who asks)."""

    async def __call__(self, message: Message, web_url: str | None = None) -> bool:
        return bool(web_url)


async def _send(channels: Channels, bot: Bot, method: SendMessage) -> None:
    """Through the bot's one limiter, like every admin reply; a failure is logged only."""
    try:
        await channels.chat(bot, int(method.chat_id)).call(method)
    except (RecipientGone, SendRejected) as exc:
        log.warning("chat %s: a dashboard reply was not sent: %s", method.chat_id, exc)


async def web_link(
    message: Message, web_gate: Gate, web_url: str, channels: Channels, bot: Bot
) -> None:
    user = message.from_user
    assert user is not None
    try:
        token = web_gate.issue_link(user.id, user.full_name, user.language_code)
    except AuthError as exc:
        await _send(channels, bot, SendMessage(chat_id=message.chat.id, text=str(exc)))
        return
    lang = web_gate.lang(user.language_code)
    url = f"{web_url}/auth/link/{token}"
    text = say(lang, "web_link", minutes=LINK_AGE // 60, url=url)
    # No preview: Telegram's preview fetcher must not be the one to open the link.
    method = SendMessage(
        chat_id=message.chat.id,
        text=text,
        parse_mode=None,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    await _send(channels, bot, method)


async def admin_with_button(
    message: Message, web_gate: Gate, web_url: str, channels: Channels, bot: Bot
) -> None:
    user = message.from_user
    lang = web_gate.lang(user.language_code if user else None)
    button = InlineKeyboardButton(
        text=say(lang, "web_button"), web_app=WebAppInfo(url=f"{web_url}/app")
    )
    # Telegram opens Mini Apps over HTTPS only: with a plain-HTTP WEB_URL, /web is the way in.
    markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    method = SendMessage(
        chat_id=message.chat.id,
        text=say(lang, "help") + say(lang, "help_web"),
        reply_markup=markup if web_url.startswith("https://") else None,
    )
    await _send(channels, bot, method)


def router() -> Router:
    r = Router(name="web_access")
    r.message.filter(IsAdmin(private_only=True))
    r.message.register(web_link, Command("web"), WebReady())
    r.message.register(admin_with_button, Command("admin"), WebReady())
    return r
