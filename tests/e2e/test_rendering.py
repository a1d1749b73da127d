"""What Telegram receives for an engine message: sized parts, valid HTML, keyboards last,
files uploaded once, and Telegram's refusals translated for the service."""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine.types import Invoice, OutButton, OutMessage
from bot.service import RecipientGone, SendRejected
from bot.telegram.split import MAX_TEXT, repair, split, visible_text
from fakes.bot_api import FakeBotAPI, parse_telegram_html
from tests.e2e.harness import MINI, Harness, harness_for

USER = 777
BUTTONS = ((OutButton("Yes", data="b:9:0"),), (OutButton("Site", url="https://shop.test"),))


def words(text: str) -> list[str]:
    return text.split()


def long_html() -> str:
    sentence = "Our <b>coffee machines</b> make <i>great &amp; strong</i> coffee. "
    paragraphs = [sentence * 20 for _ in range(6)]  # ~1300 visible characters each
    paragraphs.append("<b>" + "A single paragraph that is far too long. " * 150 + "</b>")
    return "\n\n".join(paragraphs)


@pytest.fixture
async def quiet(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot's parts without polling: the channel is driven directly."""
    async with harness_for(tg, tmp_path) as harness:
        yield harness


async def test_long_text_is_split_and_every_part_accepted(quiet: Harness) -> None:
    source = long_html()
    assert len(visible_text(source)) > 2 * MAX_TEXT
    channel = quiet.channels.chat(quiet.bot, USER)
    await channel.send(OutMessage(text=source, buttons=BUTTONS))
    calls = quiet.tg.calls_of("sendMessage")
    assert len(calls) >= 4 and all(c.ok for c in calls), quiet.tg.describe_calls()
    assert all(len(c.result["text"]) <= MAX_TEXT for c in calls)
    assert [c.reply_markup is not None for c in calls] == [False] * (len(calls) - 1) + [True]
    assert calls[-1].callback_data == ["b:9:0"]
    assert words(" ".join(c.result["text"] for c in calls)) == words(visible_text(source))
    # paragraphs are kept whole where they fit; the long one is cut at sentence ends
    assert all(c.result["text"].rstrip().endswith(".") for c in calls)


def test_split_keeps_tags_balanced_and_never_cuts_an_entity() -> None:
    source = '<a href="https://x.test"><b>' + "Tom &amp; Jerry " * 40 + "</b></a>"
    parts = split(source, limit=50)
    assert len(parts) == 10
    for part in parts:
        parse_telegram_html(part)  # raises on anything Telegram would refuse
        assert part.startswith('<a href="https://x.test"><b>') and part.endswith("</b></a>")
        assert len(visible_text(part)) <= 50
    assert words(" ".join(visible_text(p) for p in parts)) == words(visible_text(source))


def test_split_without_any_space_cuts_hard_between_characters() -> None:
    parts = split("<i>" + "я" * 120 + "&lt;" + "</i>", limit=50)
    assert [len(visible_text(p)) for p in parts] == [50, 50, 21]
    for part in parts:
        parse_telegram_html(part)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("1 < 2 > 0", "1 &lt; 2 &gt; 0"),
        ("<b>open", "<b>open</b>"),
        ("closed</b> only", "closed only"),
        ("<b><i>crossed</b></i>", "<b><i>crossed</i></b>"),
        ("<div>block</div>", "&lt;div&gt;block&lt;/div&gt;"),
        ("line<br>break", "line\nbreak"),
        ("no&nbsp;break &copy;", "no\xa0break ©"),
        ("&unknown; &#169;", "&amp;unknown; &#169;"),
    ],
)
def test_repair_makes_html_telegram_accepts(source: str, expected: str) -> None:
    assert repair(source) == expected
    parse_telegram_html(repair(source))


async def test_long_caption_goes_as_a_separate_message(quiet: Harness) -> None:
    channel = quiet.channels.chat(quiet.bot, USER)
    text = "<b>Guide</b>: " + "read this carefully. " * 60  # > 1024 characters
    await channel.send(OutMessage(text=text, document="assets/guide.pdf", buttons=BUTTONS))
    document, message = quiet.tg.sent(USER)
    assert document.method == "sendDocument" and "caption" not in document.params
    assert document.reply_markup is None
    assert message.method == "sendMessage" and message.callback_data == ["b:9:0"]

    await channel.send(OutMessage(text="Short <i>caption</i>", document="assets/guide.pdf"))
    again = quiet.tg.sent(USER)[-1]
    assert again.text == "Short <i>caption</i>" and not again.files  # by file_id now


async def test_changed_file_is_uploaded_again(tg: FakeBotAPI, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario"
    (scenario / "assets").mkdir(parents=True)
    (scenario / "mini.yaml").write_text(MINI.read_text())
    pdf = scenario / "assets" / "guide.pdf"
    pdf.write_bytes(b"%PDF-1.4 one")
    async with harness_for(tg, tmp_path, scenario / "mini.yaml") as quiet:
        channel = quiet.channels.chat(quiet.bot, USER)
        message = OutMessage(text="Guide", document="assets/guide.pdf")
        await channel.send(message)
        await channel.send(message)
        pdf.write_bytes(b"%PDF-1.4 two, longer")
        stamp = time.time() + 5
        os.utime(pdf, (stamp, stamp))
        await channel.send(message)
        uploads = [bool(c.files) for c in quiet.tg.calls_of("sendDocument")]
        assert uploads == [True, False, True]


async def test_missing_file_is_a_rejected_message(quiet: Harness) -> None:
    channel = quiet.channels.chat(quiet.bot, USER)
    with pytest.raises(SendRejected, match=r"assets/nope\.pdf"):
        await channel.send(OutMessage(text="x", document="assets/nope.pdf"))


async def test_flood_control_is_waited_out(quiet: Harness) -> None:
    quiet.tg.fail_next("sendMessage", 429, retry_after=1)
    channel = quiet.channels.chat(quiet.bot, USER)
    await channel.send(OutMessage(text="Hello"))
    refused, accepted = quiet.tg.calls_of("sendMessage")
    assert refused.status == 429 and accepted.ok
    assert accepted.time - refused.time >= 0.95


async def test_flood_control_gives_up_after_bounded_attempts(quiet: Harness) -> None:
    quiet.channels.max_attempts = 2
    quiet.tg.fail_next("sendMessage", 429, retry_after=1, count=5)
    with pytest.raises(SendRejected, match="flood control"):
        await quiet.channels.chat(quiet.bot, USER).send(OutMessage(text="Hello"))
    assert len(quiet.tg.calls_of("sendMessage")) == 2


async def test_telegram_refusals_become_service_errors(quiet: Harness) -> None:
    channel = quiet.channels.chat(quiet.bot, USER)
    quiet.tg.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(SendRejected, match="chat not found"):
        await channel.send(OutMessage(text="Hello"))
    quiet.tg.block_user(USER)
    with pytest.raises(RecipientGone, match="blocked by the user"):
        await channel.send(OutMessage(text="Hello"))
    quiet.tg.unblock_user(USER)
    quiet.tg.fail_next("sendMessage", 500, count=1)
    await channel.send(OutMessage(text="Hello again"))  # a server hiccup is retried
    assert quiet.tg.sent(USER)[-1].text == "Hello again"


async def test_reply_keyboards(quiet: Harness) -> None:
    channel = quiet.channels.chat(quiet.bot, USER)
    await channel.send(OutMessage(text="Phone?", contact_button="Share", reply_options=("Skip",)))
    await channel.send(OutMessage(text="Thanks", remove_keyboard=True))
    ask, thanks = quiet.tg.sent(USER)
    assert ask.reply_markup == {
        "keyboard": [[{"text": "Share", "request_contact": True}], [{"text": "Skip"}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    assert thanks.reply_markup == {"remove_keyboard": True}


async def test_html_in_names_and_answers_stays_well_formed(h: Harness) -> None:
    name = "<b>Боб & Co</b>"
    hello = await h.say(h_user := 601, "/start", expect="Hello", first_name=name)
    assert hello is not None
    assert hello.text == "Hello, &lt;b&gt;Боб &amp; Co&lt;/b&gt;!"
    assert hello.result["text"] == f"Hello, {name}!"
    await h.press(h_user, "Buy now")
    await h.press(h_user, "Big")
    await h.say(h_user, "</i><script>", expect="Leave your phone?")
    await h.share_contact(h_user, "Machine X for")
    offer = h.tg.sent(h_user)[-1]
    assert offer.result["text"] == f"Machine X for {name}"
    await h.settle()
    assert "error" not in await h.event_types(h_user)
    failed = [c for c in h.tg.calls if c.done and not c.ok and c.method != "getUpdates"]
    assert not failed, h.tg.describe_calls()
    lead = await h.lead(h_user)
    assert lead is not None and lead.first_name == name
    assert re.search("script", offer.text or "") is None


async def test_invoices_in_stars_and_in_money(quiet: Harness) -> None:
    channel = quiet.channels.chat(quiet.bot, USER)
    stars = Invoice("Audit", "A funnel audit", "offer:audit", "XTR", 500)
    await channel.send(OutMessage(text="Audit", invoice=stars))
    [call] = quiet.tg.calls_of("sendInvoice")
    assert call.ok and "provider_token" not in call.params
    assert call.params["prices"] == [{"label": "Audit", "amount": 500}]

    quiet.channels.provider_token = ""
    roubles = Invoice("Audit", "A funnel audit", "offer:audit", "RUB", 99000)
    with pytest.raises(SendRejected, match="PAYMENT_PROVIDER_TOKEN"):
        await channel.send(OutMessage(text="<b>Pay</b> for the audit:", invoice=roubles))
    assert [c.text for c in quiet.tg.sent(USER)] == ["<b>Pay</b> for the audit:"]
