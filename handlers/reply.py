"""What every handler needs: whose lead an update is, and the one way to answer a chat.

``reply`` is the edge's only send helper outside the funnel (help, apologies, admin
answers, previews): Telegram HTML cut into as many messages as it takes, through the
process's one limiter (``TelegramChannel.call``), a failure logged and never raised; what
Telegram refuses as a message anyway goes out as a text file. Text
from the database or a person goes through ``bot.telegram.views.esc`` (aiogram's
``html.quote``) before it gets here.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile, CallbackQuery, ReplyMarkupUnion, User

from bot.scenario.model import Texts
from bot.service import FunnelService, LeadKey, RecipientGone, SendRejected
from bot.telegram.channel import BUSINESS, CHANNEL, Channels
from bot.telegram.split import visible_text
from bot.telegram.views import esc, parts, short

log = logging.getLogger(__name__)

MAX_TOAST = 200  # Telegram refuses longer callback answers
FALLBACK_FILE = "message.txt"


def lead_key(user: User) -> LeadKey:
    return LeadKey(CHANNEL, user.id)


def business_key(chat_id: int) -> LeadKey:
    """The lead of the customer in a chat of the operator's Telegram Business account:
    apart from their lead in the bot's own chat."""
    return LeadKey(BUSINESS, chat_id)


def texts(service: FunnelService, user: User | None = None) -> Texts:
    """The scenario's texts in the language of ``user`` (of the main file without one)."""
    language = user.language_code if user else None
    return service.scenario.funnel.for_language(language).scenario.texts


async def reply(
    channels: Channels,
    bot: Bot,
    chat_id: int,
    text: str,
    markup: ReplyMarkupUnion | None = None,
) -> bool:
    """Send ``text`` (Telegram HTML); ``markup`` (a keyboard, or its removal) rides on the
    last part. False when Telegram did not take it (logged)."""
    chat = channels.chat(bot, chat_id)
    pieces = parts(text)
    for i, part in enumerate(pieces):
        keyboard = markup if i == len(pieces) - 1 else None
        try:
            await chat.call(SendMessage(chat_id=chat_id, text=part, reply_markup=keyboard))
        except RecipientGone as exc:
            log.info("chat %s: a reply was not sent: %s", chat_id, exc)
            return False
        except SendRejected as exc:
            return await _as_file(channels, bot, chat_id, pieces[i:], str(exc))
    return True


async def _as_file(
    channels: Channels, bot: Bot, chat_id: int, pieces: list[str], refusal: str
) -> bool:
    """What Telegram refused as a message (the rest of it), sent as a plain-text file.

    Splitting and escaping keep replies within Telegram's rules as far as they are known;
    should Telegram refuse one anyway, the reader still gets it - never silence.
    """
    log.warning("chat %s: Telegram refused a reply (%s); sending it as a file", chat_id, refusal)
    body = "\n\n".join(visible_text(piece) for piece in pieces)
    method = SendDocument(
        chat_id=chat_id,
        document=BufferedInputFile(body.encode(), filename=FALLBACK_FILE),
        caption=esc(short(f"Telegram refused this as a message ({refusal}): here it is.", 1000)),
    )
    try:
        await channels.chat(bot, chat_id).call(method)
    except (RecipientGone, SendRejected) as exc:
        log.warning("chat %s: the reply was not sent as a file either: %s", chat_id, exc)
        return False
    return True


async def answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (a toast, or just stop the spinner); a refusal is ignored."""
    with suppress(TelegramAPIError):
        await query.answer(text=text[:MAX_TOAST] if text else None)
