"""From one engine message to the Bot API calls that show it: its pieces
(``bot.telegram.layout``) with its keyboards on.

Buttons always ride on the last piece, so they sit under the end of what the prospect reads.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from bot.engine.types import OutMessage
from bot.telegram.keyboards import Markup, ReplyMarkup, inline_keyboard, reply_keyboard
from bot.telegram.layout import Piece, layout
from bot.telegram.split import MAX_TEXT


def plan(message: OutMessage, text_limit: int = MAX_TEXT) -> list[Piece]:
    """The message's pieces (``bot.telegram.layout``) with its keyboards on."""
    pieces = layout(message, text_limit)
    if not pieces.keyed:
        return pieces.after
    keyed = _with_keyboards(pieces.keyed, inline_keyboard(message), reply_keyboard(message))
    return [*keyed, *pieces.after]


def _with_keyboards(
    pieces: list[Piece], inline: InlineKeyboardMarkup | None, reply: ReplyMarkup | None
) -> list[Piece]:
    """Inline buttons go on the last piece; a reply keyboard too, unless both are wanted.

    A Telegram message carries one keyboard, so with both the reply keyboard moves to the
    piece before; a single piece keeps the inline buttons, which the prospect must press.
    """
    if not pieces:
        return pieces
    last = len(pieces) - 1
    assignments: dict[int, Markup] = {}
    if reply is not None and (inline is None or last > 0):
        assignments[last if inline is None else last - 1] = reply
    if inline is not None:
        assignments[last] = inline
    return [
        Piece(p.kind, p.text, p.file, assignments.get(i, p.markup)) for i, p in enumerate(pieces)
    ]
