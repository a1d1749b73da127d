"""The bot's session posts calls as one JSON body (``bot.telegram.session``); a call with a
file still goes as multipart, the only way to upload bytes."""

from __future__ import annotations

import json

from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from app.factory import make_bot
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
