"""Keyboards for an engine message: inline buttons, or a reply keyboard (contact, choices)."""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.engine.types import OutMessage

MAX_CALLBACK_BYTES = 64

ReplyMarkup = ReplyKeyboardMarkup | ReplyKeyboardRemove


def inline_keyboard(message: OutMessage) -> InlineKeyboardMarkup | None:
    """The message's buttons: URL buttons open links, the rest carry the engine's data."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in message.buttons:
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
    rows: list[list[KeyboardButton]] = []
    if message.contact_button:
        rows.append([KeyboardButton(text=message.contact_button, request_contact=True)])
    rows.extend([KeyboardButton(text=option)] for option in message.reply_options)
    if rows:
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    if message.remove_keyboard:
        return ReplyKeyboardRemove()
    return None
