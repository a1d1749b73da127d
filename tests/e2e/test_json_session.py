"""The bot's session posts calls as one JSON body (``bot.telegram.session``); a call with a
file still goes as multipart, the only way to upload bytes. The funnel's texts read back
only their message id (``bot.telegram.methods``)."""

from __future__ import annotations

import json

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from app.factory import make_bot
from bot.telegram.methods import SendText, Sent
from bot.telegram.session import JsonSession
from fakes.bot_api import FakeBotAPI

USER = 4343
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy now", callback_data="b:1")]]
)


def test_a_call_without_files_is_one_json_object() -> None:
    bot = make_bot("123456:json", "http://127.0.0.1:9")
    session = bot.session
    assert isinstance(session, JsonSession)
    body = session.json_body(bot, SendMessage(chat_id=USER, text="Hi", reply_markup=KEYBOARD))
    assert body is not None
    sent = json.loads(body)
    assert sent["chat_id"] == USER and sent["text"] == "Hi"
    assert sent["parse_mode"] == "HTML"  # the bot's default, resolved as for a form
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Buy now", "callback_data": "b:1"}]]
    }
    assert "reply_to_message_id" not in sent  # unset values are left out
    upload = SendDocument(chat_id=USER, document=BufferedInputFile(b"%PDF", "guide.pdf"))
    assert session.json_body(bot, upload) is None  # multipart, aiogram's way


async def test_messages_and_uploads_reach_the_bot_api(tg: FakeBotAPI) -> None:
    bot = make_bot("123456:json", tg.base_url)
    try:
        sent = await bot.send_message(USER, "<b>Hi</b>", reply_markup=KEYBOARD)
        await bot.send_document(USER, BufferedInputFile(b"%PDF-1.4", "guide.pdf"))
    finally:
        await bot.session.close()
    assert sent.text == "Hi" and sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "b:1"
    (message,) = tg.calls_of("sendMessage")
    assert message.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Buy now"
    (document,) = tg.calls_of("sendDocument")
    assert [f.filename for f in document.files.values()] == ["guide.pdf"]


async def test_a_funnel_text_reads_back_only_its_id_and_errors_still_raise(
    tg: FakeBotAPI,
) -> None:
    """``SendText`` (bot/telegram/methods.py): the answer parsed as its message id only; a
    refusal still becomes aiogram's exception, which the channel turns into "gone"."""
    bot = make_bot("123456:json", tg.base_url)
    try:
        sent = await bot(SendText(chat_id=USER, text="Hello", reply_markup=KEYBOARD))
        tg.block_user(USER + 1)
        with pytest.raises(TelegramForbiddenError):
            await bot(SendText(chat_id=USER + 1, text="Hello"))
    finally:
        await bot.session.close()
    assert isinstance(sent, Sent)
    (call,) = tg.calls_of("sendMessage")[:1]
    assert sent.message_id == call.response["result"]["message_id"]
