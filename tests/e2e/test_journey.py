"""A prospect's whole way through the mini scenario, over polling, checked against the
simulator: both faces must write the same lead log through the same service."""

from __future__ import annotations

import io
from pathlib import Path

from bot.simulator import run_chat
from tests.e2e.harness import PHONE, Harness

USER, SECOND = 501, 502


async def walk_to_magnet(h: Harness, user: int, source: str | None = "vk_ads_nov") -> None:
    """/start → two button answers → free text → the contact button → lead magnet."""
    await h.say(
        user,
        f"/start {source}" if source else "/start",
        expect="What do you need?",
        first_name="Анна",
    )
    await h.press(user, "Just looking")
    await h.expect(user, "Your budget?")
    await h.press(user, "Big")
    await h.expect(user, "Tell us about your office.")
    contact_prompt = await h.say(user, "We compare a few options", expect="Leave your phone?")
    assert contact_prompt is not None
    keyboard = contact_prompt.reply_markup or {}
    assert keyboard["keyboard"][0][0] == {"text": "Share my phone number", "request_contact": True}
    assert keyboard["one_time_keyboard"] and keyboard["resize_keyboard"]
    thanks = await h.share_contact(user, "Thank you!")
    assert thanks.reply_markup == {"remove_keyboard": True}
    await h.tg.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == user and c.ok)


async def test_full_journey_matches_the_simulator(h: Harness, tmp_path: Path) -> None:
    await walk_to_magnet(h, USER)
    [document] = [c for c in h.tg.sent(USER) if c.method == "sendDocument"]
    assert document.text == "Our guide" and document.files  # uploaded

    await h.skip_wait(USER)  # the one-day wait: the touch loop sends the offer
    offer = await h.expect(USER, "Trial pack")
    assert offer.button_texts == ["I want it"]
    await h.expect(USER, "See you.")
    answer = await h.press(USER, "I want it")
    assert answer.ok and "text" not in answer.params
    invoice = await h.tg.wait_for(lambda c: c.method == "sendInvoice")
    assert invoice.ok, h.tg.describe_calls()
    assert invoice.params["prices"] == [{"label": "Trial pack", "amount": 990}]
    assert (invoice.params["currency"], invoice.params["payload"]) == ("RUB", "offer:info_big")

    # Telegram asks before charging, then reports the payment.
    checkout = h.push(h.tg.pre_checkout_update(USER, 990, currency="RUB", payload="offer:info_big"))
    approved = await h.tg.wait_for(lambda c: c.method == "answerPreCheckoutQuery")
    assert approved.ok and approved.params["ok"] is True
    assert approved.params["pre_checkout_query_id"] == checkout["pre_checkout_query"]["id"]
    payment = h.tg.message_update(USER, None)
    payment["message"]["successful_payment"] = {
        "currency": "RUB",
        "total_amount": 990,
        "invoice_payload": "offer:info_big",
        "telegram_payment_charge_id": "tg-charge-1",
        "provider_payment_charge_id": "provider-charge-1",
    }
    h.push(payment)
    await h.expect(USER, "Payment received")
    await h.expect(USER, "Here is a bonus for customers.")
    await h.settle()

    lead = await h.lead(USER)
    assert lead is not None
    assert (lead.source, lead.segment, lead.phone) == ("vk_ads_nov", "info", PHONE)
    assert (lead.first_name, lead.stage) == ("Анна", "customer")
    telegram = await h.event_types(USER)
    assert "error" not in telegram and "order_paid" in telegram
    assert all(c.ok for c in h.tg.calls if c.method != "getUpdates"), h.tg.describe_calls()

    # The same journey in the terminal simulator, on the same service and database. The bot's
    # touch loop is stopped first: it would claim the terminal lead's touches too.
    await h.dp["touches"].stop()
    script = io.StringIO("2\n1\nWe compare a few options\n1\n/skip\n1\n1\n")
    await run_chat(h.service, USER, "vk_ads_nov", "Анна", PHONE, stdin=script, out=io.StringIO())
    terminal = await h.event_types(USER, "terminal")
    assert telegram == terminal
    assert telegram[:3] == ["started", "step_sent", "question_asked"]
    started = (await h.events(USER))[0]
    assert started.payload == {"source": "vk_ads_nov"}


async def test_lead_magnet_is_uploaded_once_then_sent_by_file_id(h: Harness) -> None:
    await walk_to_magnet(h, USER)
    await walk_to_magnet(h, SECOND, source=None)
    first, second = [c for c in h.tg.calls if c.method == "sendDocument"]
    assert first.ok and second.ok and second.chat_id == SECOND
    assert [f.filename for f in first.files.values()] == ["guide.pdf"]
    file_id = first.result["document"]["file_id"]
    assert not second.files and second.params["document"] == file_id
    lead = await h.lead(SECOND)
    assert lead is not None and lead.source is None


async def test_hot_prospect_gets_the_offer_and_clicks_it(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?", first_name="Bob")
    await h.press(USER, "Buy now")
    await h.press(USER, "Big")
    await h.say(USER, "We want to buy three", expect="Leave your phone?")
    await h.share_contact(USER, "Machine X for Bob")
    await h.press(USER, "I want it")
    await h.expect(USER, "A manager will call you.")
    lead = await h.lead(USER)
    assert lead is not None and (lead.segment, lead.status) == ("hot", "handed_off")
    assert (await h.event_types(USER))[-3:] == ["touch_scheduled", "offer_clicked", "handed_off"]
    assert [t.state for t in await h.touches(USER)] == ["cancelled", "cancelled"]
