"""Prove the HTTP fakes behave like the real services for the real aiogram / openai clients.

Other tests rely on these doubles, so their fidelity (payload shapes, validation, error codes)
is checked here against the unmodified client libraries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Literal

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from openai import (
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from pydantic import BaseModel, ValidationError

from fakes.bot_api import FakeBotAPI, TelegramHTMLError, parse_telegram_html
from fakes.openai_server import (
    Classify,
    Delay,
    FakeOpenAI,
    Garbage,
    Refusal,
    RejectJsonSchema,
    Reply,
    Status,
)

TOKEN = "123456:TEST-fake-token"
USER = 4242


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


def make_bot(fake: FakeBotAPI) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))


@pytest.fixture
async def bot(tg: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = make_bot(tg)
    yield bot
    await bot.session.close()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=f"btn {i}", callback_data=d)] for i, d in enumerate(data)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


# -------------------------------------------------------------------------- Telegram: sending


async def test_get_me_and_send_message(tg: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "leadbot_test_bot"

    message = await bot.send_message(
        USER, "<b>Hi</b> Tom &amp; Jerry", reply_markup=keyboard("yes", "no")
    )

    assert message.chat.id == USER and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.id == 123456
    assert message.text == "Hi Tom & Jerry"
    assert message.entities is not None and message.entities[0].type == "bold"
    assert message.reply_markup is not None
    [call] = tg.sent(USER)
    assert call.method == "sendMessage" and call.chat_id == USER
    assert call.params["parse_mode"] == "HTML"
    assert call.text == "<b>Hi</b> Tom &amp; Jerry"
    assert call.callback_data == ["yes", "no"]
    assert call.button_texts == ["btn 0", "btn 1"]
    assert tg.sent(USER + 1) == []


async def test_document_upload_resend_and_download(tg: FakeBotAPI, bot: Bot) -> None:
    pdf = b"%PDF-1.4 fake price list"
    first = await bot.send_document(
        USER, BufferedInputFile(pdf, filename="prices.pdf"), caption="<i>Our prices</i>"
    )
    assert first.document is not None
    assert first.document.file_name == "prices.pdf" and first.document.file_size == len(pdf)
    assert first.caption == "Our prices"
    [upload] = tg.sent(USER)[0].files.values()
    assert upload.data == pdf and upload.filename == "prices.pdf"

    again = await bot.send_document(USER + 1, first.document.file_id)
    assert again.document is not None and again.document.file_id == first.document.file_id

    downloaded = await bot.download(first.document.file_id)
    assert downloaded is not None and downloaded.read() == pdf

    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(USER, "no-such-file-id")


async def test_send_photo_and_caption_limit(tg: FakeBotAPI, bot: Bot) -> None:
    photo = await bot.send_photo(USER, BufferedInputFile(b"\x89PNG...", filename="a.png"))
    assert photo.photo and photo.photo[-1].file_id in tg.files
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(USER, photo.photo[-1].file_id, caption="x" * 1025)


@pytest.mark.parametrize(
    "text",
    [
        "<b>unclosed",
        "<div>block</div>",
        "<b><i>crossed</b></i>",
        "closing only</b>",
        "1 < 2",
        "2 > 1",
        "Tom & Jerry",
        "no&nbsp;break",
        "&amp without semicolon",
        '<span class="other">x</span>',
        "line<br/>break",
        "<!-- comment -->",
    ],
)
async def test_malformed_html_is_rejected(bot: Bot, text: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, text)


async def test_plain_text_is_not_parsed_as_html(tg: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(USER, "1 < 2 & <b>", parse_mode=None)
    assert message.text == "1 < 2 & <b>"


def test_html_parser_accepts_telegram_subset() -> None:
    parsed = parse_telegram_html(
        '<a href="https://example.com/?a=1&amp;b=2">site</a> '
        '<pre><code class="language-python">x = 1</code></pre> '
        '<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler> '
        "<blockquote expandable>q</blockquote> &#128512; &#x41; &lt;tag&gt; &quot;"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert parsed.text == 'site x = 1 s t q 😀 A <tag> "👍'
    types = [entity["type"] for entity in parsed.entities]
    assert types == [
        "text_link",
        "pre",
        "spoiler",
        "spoiler",
        "expandable_blockquote",
        "custom_emoji",
    ]
    assert parsed.entities[1]["language"] == "python"
    with pytest.raises(TelegramHTMLError, match='expected "</i>", found "</b>"'):
        parse_telegram_html("<b><i>x</b>")


async def test_text_length_counts_visible_characters(bot: Bot) -> None:
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "<b> </b>")


async def test_callback_data_limit_is_in_bytes(bot: Bot) -> None:
    await bot.send_message(USER, "ok", reply_markup=keyboard("я" * 32))  # 64 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "too long", reply_markup=keyboard("я" * 33))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "too long", reply_markup=keyboard("x" * 65))


# -------------------------------------------------------------------------- Telegram: faults


async def test_retry_after_injection(tg: FakeBotAPI, bot: Bot) -> None:
    tg.fail_next("sendMessage", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "first")
    assert caught.value.retry_after == 7
    await bot.send_message(USER, "second")
    assert [c.status for c in tg.calls_of("sendMessage")] == [429, 200]
    assert tg.sent_texts(USER) == ["second"]


async def test_blocked_user_gets_forbidden(tg: FakeBotAPI, bot: Bot) -> None:
    tg.block_user(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(USER, "typing")
    await bot.send_message(USER + 1, "others still fine")
    tg.unblock_user(USER)
    await bot.send_message(USER, "welcome back")
    assert tg.sent_texts() == ["others still fine", "welcome back"]


async def test_rate_limits_answer_429() -> None:
    async with FakeBotAPI(per_chat_rate=1.0, per_chat_burst=3) as fake:
        bot = make_bot(fake)
        try:
            for i in range(3):
                await bot.send_message(USER, f"burst {i}")
            with pytest.raises(TelegramRetryAfter) as caught:
                await bot.send_message(USER, "one too many")
            await bot.send_message(USER + 1, "another chat has its own bucket")
        finally:
            await bot.session.close()
    assert caught.value.retry_after == 1
    assert fake.rejected_429 == 1


async def test_paid_broadcast_sends_skip_the_bots_limit_and_cost_stars() -> None:
    async with FakeBotAPI(global_rate=1, global_burst=5, star_balance="0.3") as fake:
        bot = make_bot(fake)
        try:
            for i in range(5):
                await bot.send_message(USER + i, "free")
            with pytest.raises(TelegramRetryAfter):  # the bot's overall limit is used up
                await bot.send_message(USER + 30, "free, one too many")
            for i in range(3):  # with the flag: past the limit, 0.1 Star each
                await bot.send_message(USER + 40 + i, "paid", allow_paid_broadcast=True)
            with pytest.raises(TelegramBadRequest) as caught:  # the balance is spent
                await bot.send_message(USER + 50, "paid, no Stars", allow_paid_broadcast=True)
        finally:
            await bot.session.close()
    assert "BALANCE_TOO_LOW" in caught.value.message
    assert fake.stars.balance == 0 and fake.stars.spent == Decimal("0.3")
    assert [c.chat_id for c in fake.stars.paid_calls] == [USER + 40, USER + 41, USER + 42]
    assert [c.paid for c in fake.sent()] == [False] * 5 + [True] * 3
    assert fake.rejected_429 == 1


async def test_paid_sends_have_their_own_1000_a_second_and_the_chats_limit() -> None:
    async with FakeBotAPI(per_chat_rate=1.0, per_chat_burst=1, star_balance=1000) as fake:
        bot = make_bot(fake)
        try:
            await bot.send_message(USER, "paid", allow_paid_broadcast=True)
            with pytest.raises(TelegramRetryAfter):  # a chat's own limit still holds
                await bot.send_message(USER, "paid again", allow_paid_broadcast=True)
        finally:
            await bot.session.close()
        bucket = fake.stars.bucket()
        assert bucket is not None and (bucket.rate, bucket.capacity) == (1000, 1000)
    assert fake.stars.spent == Decimal("0.1")  # the refused one cost nothing


async def test_unknown_method_is_404(tg: FakeBotAPI) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.base_url}/bot{TOKEN}/sendTeleport", data={"chat_id": "1"}) as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_wait_for_times_out_with_call_log(tg: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(USER, "visible in the log")
    call = await tg.wait_for_sent(USER, contains="visible")
    assert call.ok
    with pytest.raises(AssertionError, match="visible in the log"):
        await tg.wait_for(lambda c: c.method == "sendInvoice", timeout=0.1)


# -------------------------------------------------------------------------- Telegram: updates


async def test_get_updates_round_trip(tg: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Pick one", reply_markup=keyboard("a", "b"))
    tg.push_update(tg.message_update(USER, "/start ref42", first_name="Ann", username="ann"))
    tg.push_update(tg.contact_update(USER, "79161234567"))
    tg.push_update(tg.callback_update(USER, "a"))
    tg.push_update(tg.my_chat_member_update(USER, status="kicked"))

    updates = await bot.get_updates(timeout=1)

    assert [u.update_id for u in updates] == [1, 2, 3, 4]
    start = updates[0].message
    assert start is not None and start.text == "/start ref42"
    assert start.from_user is not None and start.from_user.username == "ann"
    assert start.entities is not None and start.entities[0].type == "bot_command"
    contact = updates[1].message
    assert contact is not None and contact.contact is not None
    assert contact.contact.phone_number == "79161234567" and contact.contact.user_id == USER
    query = updates[2].callback_query
    assert query is not None and query.data == "a"
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert query.message.text == "Pick one"
    member = updates[3].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"

    assert await bot.answer_callback_query(query.id, text="Got it")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    # Unconfirmed updates are delivered again; offset confirms them.
    assert len(await bot.get_updates()) == 4
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == []
    assert tg.pending_updates == []


async def test_get_updates_long_polls(tg: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2.5

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    tg.push_update(tg.message_update(USER, "hello"))
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert updates[0].message is not None and updates[0].message.text == "hello"


async def test_dispatcher_polling_end_to_end(tg: FakeBotAPI, bot: Bot) -> None:
    """aiogram's own polling loop: allowed_updates, offsets and callback answers all line up."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        await message.answer("Interested?", reply_markup=keyboard("yes"))

    @dispatcher.callback_query()
    async def on_button(query: CallbackQuery) -> None:
        await query.answer("Thanks!")
        if isinstance(query.message, Message):
            await query.message.edit_text(f"You said: <b>{query.data}</b>")

    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        tg.push_update(tg.message_update(USER, "/start"))
        await tg.wait_for_sent(USER, contains="Interested?")
        tg.push_update(tg.callback_update(USER, "yes"))
        edit = await tg.wait_for(lambda c: c.method == "editMessageText" and c.ok)
        assert edit.result["text"] == "You said: yes"
        assert tg.calls_of("answerCallbackQuery")[0].ok
        poll = tg.calls_of("getUpdates")[0]
        assert set(poll.params["allowed_updates"]) == {"message", "callback_query"}
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_second_poller_terminates_the_first(tg: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert await bot.get_updates() == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 2)


async def test_edit_delete_and_not_modified(tg: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(USER, "Step 1", reply_markup=keyboard("next"))
    edited = await bot.edit_message_text(
        "<b>Step 2</b>", chat_id=USER, message_id=message.message_id
    )
    assert isinstance(edited, Message) and edited.text == "Step 2"
    assert tg.messages[(USER, message.message_id)].get("reply_markup") is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("<b>Step 2</b>", chat_id=USER, message_id=message.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER, message_id=message.message_id)
    await bot.edit_message_reply_markup(
        chat_id=USER, message_id=message.message_id, reply_markup=keyboard("done")
    )
    assert await bot.delete_message(USER, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, message.message_id)
    assert [c.method for c in tg.calls if c.ok] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
    ]


async def test_a_press_lands_on_the_latest_message_left(tg: FakeBotAPI, bot: Bot) -> None:
    first = await bot.send_message(USER, "One", reply_markup=keyboard("a"))
    second = await bot.send_message(USER, "Two", reply_markup=keyboard("b"))
    await bot.send_message(USER + 1, "Someone else's")
    assert tg.callback_update(USER, "b")["callback_query"]["message"]["message_id"] == (
        second.message_id
    )
    assert await bot.delete_message(USER, second.message_id)
    press = tg.callback_update(USER, "a")
    assert press["callback_query"]["message"]["message_id"] == first.message_id


async def test_invoice_payment_commands_and_chat_action(tg: FakeBotAPI, bot: Bot) -> None:
    invoice = await bot.send_invoice(
        USER,
        title="Consultation",
        description="30 minutes with an expert",
        payload="lead-1",
        currency="XTR",
        prices=[LabeledPrice(label="Consultation", amount=250)],
    )
    assert invoice.invoice is not None and invoice.invoice.total_amount == 250
    update = tg.push_update(tg.pre_checkout_update(USER, 250, payload="lead-1"))
    assert await bot.answer_pre_checkout_query(update["pre_checkout_query"]["id"], ok=True)

    assert await bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert tg.calls_of("setMyCommands")[0].params["commands"] == [
        {"command": "start", "description": "Begin"}
    ]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start Now", description="Bad")])
    assert await bot.send_chat_action(USER, "typing")


async def test_business_connection_sends_and_refusals(tg: FakeBotAPI, bot: Bot) -> None:
    """Telegram Business: only a bot in Business Mode is connected; a send on the account's
    behalf is the account's message in its own chat (and comes back as one); an unknown,
    disabled or reply-less connection is refused."""
    with pytest.raises(ValueError, match="Business Mode"):
        tg.connect_business(7)
    tg.business_mode = True
    assert (await bot.get_me()).can_connect_to_business is True
    update = tg.push_update(tg.connect_business(7, username="shop", first_name="Ivan"))
    cid = update["business_connection"]["id"]
    described = await bot.get_business_connection(cid)
    assert described.user.username == "shop" and described.is_enabled
    assert described.rights is not None and described.rights.can_reply is True

    incoming = tg.push_update(tg.business_message_update(cid, USER, "Hi", first_name="Anna"))
    assert incoming["business_message"]["from"]["id"] == USER
    assert incoming["business_message"]["business_connection_id"] == cid
    sent = await bot.send_message(USER, "Hello, Anna", business_connection_id=cid)
    assert sent.business_connection_id == cid and sent.from_user is not None
    assert sent.from_user.id == 7 and sent.sender_business_bot is not None
    assert sent.message_id == 2  # the business chat's own numbering (Anna's "Hi" was 1)
    echo = tg.pending_updates[-1]["business_message"]
    assert echo["message_id"] == 2 and echo["sender_business_bot"]["id"] == bot.id
    assert await bot.send_chat_action(USER, "typing", business_connection_id=cid)
    press = tg.business_callback_update(cid, USER, "b:1:0")
    assert press["callback_query"]["message"]["business_connection_id"] == cid

    with pytest.raises(TelegramBadRequest, match="business connection not found"):
        await bot.send_message(USER, "Hello", business_connection_id="nope")
    with pytest.raises(TelegramBadRequest, match="business connection not found"):
        await bot.get_business_connection("nope")
    tg.connect_business(7, connection_id=cid, can_reply=False)
    with pytest.raises(TelegramBadRequest, match="BOT_ACCESS_FORBIDDEN"):
        await bot.send_message(USER, "Hello", business_connection_id=cid)
    tg.connect_business(7, connection_id=cid, enabled=False)
    with pytest.raises(TelegramBadRequest, match="BUSINESS_CONNECTION_INVALID"):
        await bot.send_message(USER, "Hello", business_connection_id=cid)
    assert (await bot.get_business_connection(cid)).is_enabled is False


async def test_stars_subscription_links_renewals_and_cancelling(tg: FakeBotAPI, bot: Bot) -> None:
    """createInvoiceLink takes a subscription only as Telegram does (XTR, 30 days, at most
    10000 Stars); the scripted payments follow the bot's answers and its cancellation."""
    club: dict[str, Any] = {
        "title": "Club", "description": "Monthly tastings", "payload": "offer:club"
    }  # fmt: skip
    stars = [LabeledPrice(label="Club", amount=250)]
    month = 30 * 24 * 3600
    with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION_PERIOD_INVALID"):
        await bot.create_invoice_link(**club, currency="XTR", prices=stars,
                                      subscription_period=7 * 24 * 3600)  # fmt: skip
    with pytest.raises(TelegramBadRequest, match="currency must be XTR"):
        rub = [LabeledPrice(label="Club", amount=25000)]
        await bot.create_invoice_link(**club, currency="RUB", prices=rub, provider_token="t",
                                      subscription_period=month)  # fmt: skip
    with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION_PRICE_INVALID"):
        dear = [LabeledPrice(label="Club", amount=10001)]
        await bot.create_invoice_link(**club, currency="XTR", prices=dear,
                                      subscription_period=month)  # fmt: skip
    link = await bot.create_invoice_link(
        **club, currency="XTR", prices=stars, subscription_period=month
    )
    assert link.startswith("https://t.me/$") and tg.invoice_links[link]["subscription_period"]

    checkout = tg.push_update(tg.invoice_checkout_update(USER, link))
    with pytest.raises(AssertionError, match="answerPreCheckoutQuery"):
        tg.successful_payment_update(checkout)  # not charged before the bot says yes
    assert await bot.answer_pre_checkout_query(checkout["pre_checkout_query"]["id"], ok=True)
    first = tg.successful_payment_update(checkout)["message"]["successful_payment"]
    assert (first["is_recurring"], first["is_first_recurring"]) == (True, True)
    assert first["total_amount"] == 250 and first["invoice_payload"] == "offer:club"
    charge = first["telegram_payment_charge_id"]
    renewal = tg.renewal_update(charge)["message"]["successful_payment"]
    assert renewal["is_recurring"] and "is_first_recurring" not in renewal
    assert renewal["subscription_expiration_date"] == first["subscription_expiration_date"] + month
    assert renewal["telegram_payment_charge_id"] != charge

    with pytest.raises(TelegramBadRequest, match="CHARGE_ID_INVALID"):
        await bot.edit_user_star_subscription(USER, "no-such-charge", is_canceled=True)
    with pytest.raises(TelegramBadRequest, match="USER_ID_INVALID"):
        await bot.edit_user_star_subscription(USER + 1, charge, is_canceled=True)
    assert await bot.edit_user_star_subscription(USER, charge, is_canceled=True)
    with pytest.raises(AssertionError, match="no renewal"):
        tg.renewal_update(charge)  # Telegram does not renew what the bot cancelled


async def test_webhook_mode(tg: FakeBotAPI, bot: Bot) -> None:
    """setWebhook blocks getUpdates (409); post_webhook drives aiogram and runs its reply."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> Any:
        return SendMessage(chat_id=message.chat.id, text=f"<b>echo:</b> {message.text}")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token="s3cret", handle_in_background=False
    ).register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
        assert await bot.set_webhook("https://bot.example.com/hook", secret_token="s3cret")
        info = await bot.get_webhook_info()
        assert info.url == "https://bot.example.com/hook"
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()

        url = f"http://127.0.0.1:{port}/hook"
        update = tg.message_update(USER, "ping")
        assert await tg.post_webhook(url, update) == 401  # aiogram rejects a missing secret
        assert await tg.post_webhook(url, update, secret="s3cret") == 200
        reply = await tg.wait_for_sent(USER, contains="echo")
        assert reply.via_webhook and reply.text == "<b>echo:</b> ping"
        assert reply.result["text"] == "echo: ping"

        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == []
    finally:
        await runner.cleanup()


# -------------------------------------------------------------------------- OpenAI


class LeadAssessment(BaseModel):
    intent: Literal["buy", "browse", "spam"]
    budget: int | None
    summary: str


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def client(llm: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=llm.base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


async def assess(client: AsyncOpenAI, text: str = "I want to buy", **kwargs: Any) -> Any:
    return await client.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Classify the lead."},
            {"role": "user", "content": text},
        ],
        response_format=LeadAssessment,
        **kwargs,
    )


async def test_openai_structured_output(llm: FakeOpenAI, client: AsyncOpenAI) -> None:
    llm.script(
        Reply(
            {"intent": "buy", "budget": 5000, "summary": "hot"},
            prompt_tokens=7,
            completion_tokens=3,
        )
    )
    completion = await assess(client)
    message = completion.choices[0].message
    assert message.parsed == LeadAssessment(intent="buy", budget=5000, summary="hot")
    assert message.refusal is None
    assert completion.usage is not None and completion.usage.total_tokens == 10
    assert completion.model == "gpt-4o-mini"
    request = llm.last_request
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "LeadAssessment"
    assert "I want to buy" in llm.prompt_text()
    assert llm.remaining == 0


async def test_openai_refusal(llm: FakeOpenAI, client: AsyncOpenAI) -> None:
    llm.script(Refusal("I can't help with that."))
    message = (await assess(client)).choices[0].message
    assert message.parsed is None and message.content is None
    assert message.refusal == "I can't help with that."


async def test_openai_status_errors(llm: FakeOpenAI, client: AsyncOpenAI) -> None:
    llm.script(Status(500), Status(429, retry_after=2))
    with pytest.raises(APIStatusError) as caught:
        await assess(client)
    assert isinstance(caught.value, InternalServerError) and caught.value.status_code == 500
    with pytest.raises(RateLimitError) as limited:
        await assess(client)
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"


async def test_openai_delay_garbage_and_default(llm: FakeOpenAI, client: AsyncOpenAI) -> None:
    llm.script(Delay(1.0), Garbage("not json"))
    with pytest.raises(APITimeoutError):
        await assess(client, timeout=0.2)
    with pytest.raises(ValidationError):
        await assess(client)
    with pytest.raises(InternalServerError, match="script is empty"):
        await assess(client)
    llm.default = Reply({"intent": "spam", "budget": None, "summary": "bot"})
    assert (await assess(client)).choices[0].message.parsed.intent == "spam"


async def test_openai_json_schema_rejection_and_classify(
    llm: FakeOpenAI, client: AsyncOpenAI
) -> None:
    def by_prompt(request: dict[str, Any]) -> dict[str, Any]:
        text = request["messages"][-1]["content"]
        intent = "buy" if "price" in text else "browse"
        return {"intent": intent, "budget": None, "summary": text}

    llm.default = RejectJsonSchema(then=Classify(by_prompt))
    with pytest.raises(BadRequestError) as caught:
        await assess(client, "what is the price?")
    assert caught.value.param == "response_format"

    fallback = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "what is the price?"}],
        response_format={"type": "json_object"},
    )
    content = fallback.choices[0].message.content
    assert content is not None
    assert LeadAssessment.model_validate_json(content).intent == "buy"
    assert len(llm.requests) == 2
