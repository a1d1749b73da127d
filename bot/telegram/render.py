"""From one engine message to the Bot API calls that show it (its *pieces*).

One engine message may need several calls: a file and then a text too long for a caption,
or a text over 4096 characters in parts. Buttons always ride on the last piece, so they sit
under the end of what the prospect reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiogram.types import InlineKeyboardMarkup

from bot.engine.types import Invoice, OutMessage
from bot.telegram.keyboards import ReplyMarkup, inline_keyboard, reply_keyboard
from bot.telegram.split import MAX_CAPTION, MAX_TEXT, repair, split, visible_len, visible_text

Kind = Literal["text", "photo", "document", "invoice", "invoice_link"]
Markup = InlineKeyboardMarkup | ReplyMarkup


@dataclass(frozen=True, slots=True)
class Piece:
    """One Bot API call: a text, a file (path relative to the scenario), an invoice, or a
    text with a button to an invoice link (a subscription; the channel creates the link)."""

    kind: Kind
    text: str | None = None
    file: str | None = None
    markup: Markup | None = None
    invoice: Invoice | None = None


def plan(message: OutMessage, text_limit: int = MAX_TEXT) -> list[Piece]:
    if message.invoice is not None and message.invoice.period:
        return _with_invoice_link(message, message.invoice, text_limit)
    if message.invoice is not None:
        return _with_invoice(message, message.invoice, text_limit)
    files: list[tuple[Kind, str]] = []
    if message.image:
        files.append(("photo", message.image))
    if message.document:
        files.append(("document", message.document))
    length = visible_len(message.text)
    pieces = [Piece(kind, file=path) for kind, path in files]
    if pieces and length <= MAX_CAPTION:
        last = pieces[-1]
        pieces[-1] = Piece(last.kind, repair(message.text) if length else None, last.file)
    else:
        pieces += [Piece("text", part) for part in split(message.text, text_limit)]
    return _with_keyboards(pieces, inline_keyboard(message), reply_keyboard(message))


def _with_invoice(message: OutMessage, invoice: Invoice, text_limit: int) -> list[Piece]:
    """The invoice shows its own title and Pay button; other words go in a message before."""
    said = visible_text(message.text).strip()
    parts = [] if said == invoice.title else split(message.text, text_limit)
    pieces = _with_keyboards(
        [Piece("text", part) for part in parts], inline_keyboard(message), reply_keyboard(message)
    )
    return [*pieces, Piece("invoice", invoice=invoice)]


def _with_invoice_link(message: OutMessage, invoice: Invoice, text_limit: int) -> list[Piece]:
    """A subscription: its words, the last part carrying the one button, to the invoice
    link (Telegram bills periodically only through createInvoiceLink, not sendInvoice)."""
    parts = split(message.text, text_limit) or [invoice.title]
    pieces = [Piece("text", part) for part in parts[:-1]]
    return [*pieces, Piece("invoice_link", parts[-1], invoice=invoice)]


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
