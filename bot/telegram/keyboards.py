"""Keyboards for an engine message: inline buttons, or a reply keyboard (contact, choices)."""

from __future__ import annotations

from functools import lru_cache

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.engine.types import OutButton, OutMessage

MAX_CALLBACK_BYTES = 64

ReplyMarkup = ReplyKeyboardMarkup | ReplyKeyboardRemove
Markup = InlineKeyboardMarkup | ReplyMarkup  # what one message carries


def inline_keyboard(message: OutMessage) -> InlineKeyboardMarkup | None:
    """The message's buttons: URL buttons open links, the rest carry the engine's data."""
    return _inline(message.buttons) if message.buttons else None


# Keyboards are remembered by their buttons (a funnel shows the same ones to every lead; a
# pydantic model built per message was a tenth of the sending CPU); nothing mutates them.
@lru_cache(maxsize=1024)
def _inline(layout: tuple[tuple[OutButton, ...], ...]) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    for row in layout:
        buttons = []
        for button in row:
            if button.url:
                buttons.append(InlineKeyboardButton(text=button.text, url=button.url))
                continue
            assert button.data is not None, "a button needs a url or callback data"
            assert len(button.data.encode()) <= MAX_CALLBACK_BYTES, button.data
            buttons.append(InlineKeyboardButton(text=button.text, callback_data=button.data))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def reply_keyboard(message: OutMessage) -> ReplyMarkup | None:
    """A one-time keyboard (share the phone, plain choices), or removal of the last one."""
    return _reply(message.contact_button, message.reply_options, message.remove_keyboard)


@lru_cache(maxsize=256)
def _reply(contact: str | None, options: tuple[str, ...], remove: bool) -> ReplyMarkup | None:
    rows: list[list[KeyboardButton]] = []
    if contact:
        rows.append([KeyboardButton(text=contact, request_contact=True)])
    rows.extend([KeyboardButton(text=option)] for option in options)
    if rows:
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    if remove:
        return _REMOVE
    return None


_REMOVE = ReplyKeyboardRemove()
