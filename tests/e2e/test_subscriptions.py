"""A Stars subscription over HTTP against the fake Bot API: the club offer's invoice link, the
first payment, a renewal, a manager's /cancelsub, churn found by the chore, and the reports
(/report in Telegram and ``leadbot report``) that show them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.scenario.model import SUBSCRIPTION_PERIOD
from bot.service import utcnow
from fakes.bot_api import FakeBotAPI
from storage.models import Order, Subscription
from tests.conftest import DATA, ROOT, Clock
from tests.e2e.harness import Harness, until
from tests.e2e.test_admin import ADMIN, staffed

CLUB = DATA / "club.yaml"
ANN, BEN = 901, 902


@pytest.fixture
def clock() -> Clock:
    return Clock(utcnow())  # the fake dates subscriptions by the real time


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path, clock: Clock) -> AsyncIterator[Harness]:
    async with staffed(tg, tmp_path, CLUB, clock) as harness:
        yield harness


async def subscribe(h: Harness, user: int, name: str) -> str:
    """From /start to the first payment of the club; returns its charge id."""
    await h.say(user, "/start club_ads", expect="What do you drink?", first_name=name)
    await h.press(user, "Espresso")
    await h.expect(user, "A kilo of our espresso beans")
    await h.settle()
    await h.skip_wait(user)
    await h.expect(user, "The tasting club")
    await h.press(user, "Join the club")
    offer = await h.expect(user, "«Tasting club»: 250 ⭐ every 30 days")
    [button] = offer.buttons
    assert button["text"] == "Subscribe" and "callback_data" not in button
    checkout = h.push(h.tg.invoice_checkout_update(user, button["url"]))
    query = checkout["pre_checkout_query"]["id"]
    answer = await h.tg.wait_for(
        lambda c: (
            c.method == "answerPreCheckoutQuery" and c.params["pre_checkout_query_id"] == query
        )
    )
    assert answer.ok and answer.params["ok"] is True
    payment = h.push(h.tg.successful_payment_update(checkout))
    await h.expect(user, "Subscription «Tasting club» is on")
    await h.settle()
    charge: str = payment["message"]["successful_payment"]["telegram_payment_charge_id"]
    return charge


async def test_subscribe_renew_cancel_churn_and_report(h: Harness, clock: Clock) -> None:
    start = clock.now
    ann_charge = await subscribe(h, ANN, "Ann")
    [link] = h.tg.calls_of("createInvoiceLink")
    assert link.params["subscription_period"] == 2592000 and link.params["currency"] == "XTR"
    assert link.params["prices"] == [{"label": "Tasting club", "amount": 250}]

    # Telegram charges the next month by itself: an order and a renewal, the funnel unmoved.
    since = len(h.tg.sent(ANN))
    h.push(h.tg.renewal_update(ann_charge))
    await h.expect(ANN, "Your subscription «Tasting club» is renewed", since)
    await h.settle()
    events = await h.event_types(ANN)
    assert events.count("order_paid") == 2 and events[-2:] == ["order_paid", "subscription_renewed"]
    assert events.count("subscription_started") == 1

    # Ben subscribes too and asks a person to stop it: the admin's /cancelsub.
    ben_charge = await subscribe(h, BEN, "Ben")
    assert len(h.tg.calls_of("createInvoiceLink")) == 1  # one link for the offer, shared
    ben = await h.lead(BEN)
    assert ben is not None
    h.push(h.tg.message_update(ADMIN, f"/cancelsub {ben.id}", first_name="Maria"))
    reply = await h.expect(ADMIN, "will not renew")
    assert f"Lead #{ben.id}: «Tasting club» will not renew" in (reply.text or "")
    [edit] = h.tg.calls_of("editUserStarSubscription")
    assert edit.ok and edit.params == {"user_id": BEN, "telegram_payment_charge_id": ben_charge,
                                       "is_canceled": True}  # fmt: skip
    with pytest.raises(AssertionError, match="no renewal"):
        h.tg.renewal_update(ben_charge)
    assert (await h.event_types(BEN))[-1] == "subscription_canceled"
    answers = [(f"/cancelsub {ben.id}", "nothing to cancel"),
               ("/cancelsub 999", "No lead 999."), ("/cancelsub", "Usage")]  # fmt: skip
    for command, answer in answers:
        since = len(h.tg.sent(ADMIN))
        h.push(h.tg.message_update(ADMIN, command))
        await h.expect(ADMIN, answer, since)
    assert len(h.tg.calls_of("editUserStarSubscription")) == 1

    async with h.db.session() as session:
        kinds = [
            o.kind for o in (await session.execute(select(Order).order_by(Order.id))).scalars()
        ]
        rows = list(
            (await session.execute(select(Subscription).order_by(Subscription.id))).scalars()
        )
    assert kinds == ["subscription", "renewal", "subscription"]
    assert [(s.state, s.renewals) for s in rows] == [("active", 1), ("canceled", 0)]

    # Two months on, nobody paid again: past the day of grace, the chore churns both, once.
    clock.now = (
        start + 2 * SUBSCRIPTION_PERIOD + h.service.scenario.funnel.scenario.subscription_grace
    )
    clock.advance(hours=1)
    h.dp["churn"].wake()

    async def churned() -> bool:
        counts = [(await h.event_types(u)).count("subscription_churned") for u in (ANN, BEN)]
        return counts == [1, 1]

    await until(churned, h.tg.describe_calls)
    h.dp["churn"].wake()
    await asyncio.sleep(0.3)  # another round: nothing new
    for user in (ANN, BEN):
        assert (await h.event_types(user)).count("subscription_churned") == 1

    # /report in Telegram: the subscription rung's lines.
    since = len(h.tg.sent(ADMIN))
    h.push(h.tg.message_update(ADMIN, "/report 90d"))
    report = await h.expect(ADMIN, "subscriptions", since)
    text = " ".join((report.text or "").split())
    for line in ("subscriptions 0 / 2", "renewals 1", "churned 2 (100%)",
                 "recurring revenue 750.00 XTR", "MRR 0"):  # fmt: skip
        assert line in text, text

    # `leadbot report`, as a manager runs it on the same database.
    data = await leadbot_report(h, "--format", "json")
    total: dict[str, Any] = data["total"]
    assert total["subscriptions"] == {"started": 2, "active": 0, "canceled": 0, "churned": 2,
                                      "renewals": 1, "churn_rate": 1.0}  # fmt: skip
    assert total["recurring_revenue"] == {"XTR": 750.0} and total["orders"] == 3
    table = await leadbot_report(h)
    assert "Subscriptions: new" in table and "recurring revenue" in table


async def leadbot_report(h: Harness, *args: str) -> Any:
    url = str(h.db.url.render_as_string(hide_password=False))
    env = {**os.environ, "DATABASE_URL": url, "SCENARIO": str(CLUB), "TIMEZONE": "UTC",
           "OPENAI_API_KEY": ""}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "report", "--since", "7d", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out) if "json" in args else out.decode()
