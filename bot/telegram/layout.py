"""How one engine message becomes Bot API calls (its *pieces*), before any keyboard.

One engine message may need several calls: a file and then a text too long for a caption,
or a text over 4096 characters in parts. This module holds that arithmetic without aiogram,
so a face that only needs to count calls (a paid broadcast's price in the CLI) does not pay
aiogram's start-up (~4 s of pydantic model building on a small VM); ``bot.telegram.render``
puts the keyboards on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.engine.types import Invoice, OutMessage
from bot.telegram.split import MAX_CAPTION, MAX_TEXT, repair, split, visible_len, visible_text

if TYPE_CHECKING:
    from bot.telegram.keyboards import Markup

Kind = Literal["text", "photo", "document", "invoice", "invoice_link"]


@dataclass(frozen=True, slots=True)
class Piece:
    """One Bot API call: a text, a file (path relative to the scenario), an invoice, or a
    text with a button to an invoice link (a subscription; the channel creates the link)."""

    kind: Kind
    text: str | None = None
    file: str | None = None
    markup: Markup | None = None
    invoice: Invoice | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    """The pieces of a message: ``keyed`` carry its keyboards, ``after`` come behind them
    with none (an invoice has its own Pay button; a subscription's link is its button)."""

    keyed: list[Piece]
    after: list[Piece]

    def __len__(self) -> int:
        return len(self.keyed) + len(self.after)


def layout(message: OutMessage, text_limit: int = MAX_TEXT) -> Layout:
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
    return Layout(pieces, [])


def _with_invoice(message: OutMessage, invoice: Invoice, text_limit: int) -> Layout:
    """The invoice shows its own title and Pay button; other words go in a message before."""
    said = visible_text(message.text).strip()
    parts = [] if said == invoice.title else split(message.text, text_limit)
    return Layout([Piece("text", part) for part in parts], [Piece("invoice", invoice=invoice)])


def _with_invoice_link(message: OutMessage, invoice: Invoice, text_limit: int) -> Layout:
    """A subscription: its words, the last part carrying the one button, to the invoice
    link (Telegram bills periodically only through createInvoiceLink, not sendInvoice)."""
    parts = split(message.text, text_limit) or [invoice.title]
    pieces = [Piece("text", part) for part in parts[:-1]]
    return Layout([], [*pieces, Piece("invoice_link", parts[-1], invoice=invoice)])
