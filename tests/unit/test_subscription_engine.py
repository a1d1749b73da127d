"""A Stars subscription on plain values: the offer's link, the first payment, renewals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine.types import (
    Paid,
    RecordOrder,
    RecordSubscription,
    Start,
    Stop,
    TimerFired,
)
from bot.scenario.funnel import Funnel
from bot.scenario.loader import ScenarioError, load_funnel
from bot.scenario.model import SUBSCRIPTION_PERIOD
from bot.vocabulary import OrderKind
from tests.unit.test_engine import NOW, Walk

CLUB = Path(__file__).resolve().parent.parent / "data" / "club.yaml"
ENDS = NOW + SUBSCRIPTION_PERIOD


@pytest.fixture(scope="module")
def club() -> Funnel:
    return load_funnel(CLUB)


def at_the_club(club: Funnel) -> Walk:
    """Ann, classified, past the beans and the wait: the club offer is on screen."""
    walk = Walk(club)
    walk(Start(first_name="Ann"))
    walk(walk.button("Espresso"))
    walk.classify("fans")
    walk.fire()
    assert walk.texts()[-1].startswith("The tasting club")
    return walk


def test_the_buy_button_sends_a_subscription_invoice(club: Funnel) -> None:
    walk = at_the_club(club)
    out = walk(walk.button("Join the club"))
    [message] = out.messages
    invoice = message.invoice
    assert invoice is not None and invoice.period == 30 * 24 * 3600
    assert (invoice.amount, invoice.currency, invoice.payload) == (250, "XTR", "offer:club")
    assert invoice.button == "Subscribe"
    assert message.text.startswith("«Tasting club»: 250 ⭐ every 30 days")
    sent = next(log for log in out.logs if log.type == "invoice_sent")
    assert sent.payload == {"amount": "250", "currency": "XTR", "subscription": "monthly"}


def test_first_payment_starts_it_and_a_renewal_is_an_order_that_moves_nothing(
    club: Funnel,
) -> None:
    walk = at_the_club(club)
    first = walk(Paid("offer:club", 250, "XTR", "charge-1", True, True, ENDS))
    order = next(log for log in first.logs if log.type == "order_paid")
    assert order.payload["kind"] == "subscription" and order.payload["amount"] == "250"
    started = next(log for log in first.logs if log.type == "subscription_started")
    assert started.payload["expires_at"] == ENDS.isoformat()
    assert RecordOrder("club", "upsell", "Tasting club", 250, "XTR", "charge-1",
                       OrderKind.SUBSCRIPTION) in first.actions  # fmt: skip
    assert RecordSubscription("club", "Tasting club", 250, "XTR", "charge-1", ENDS) in first.actions
    assert walk.texts()[0].startswith("Subscription «Tasting club» is on")
    assert first.state.stage == "customer" and first.state.status == "completed"

    later = ENDS + SUBSCRIPTION_PERIOD
    renewal = walk(Paid("offer:club", 250, "XTR", "charge-2", True, False, later))
    assert [log.type for log in renewal.logs] == ["order_paid", "subscription_renewed"]
    assert renewal.logs[0].payload["kind"] == "renewal"
    assert RecordSubscription("club", "Tasting club", 250, "XTR", "charge-2", later,
                              renewal=True) in renewal.actions  # fmt: skip
    assert walk.texts() == ["Your subscription «Tasting club» is renewed — thank you for "
                            "staying with us!"]  # fmt: skip
    assert (renewal.state.status, renewal.state.step) == ("completed", first.state.step)

    again = walk(Paid("offer:club", 250, "XTR", "charge-2", True, False, later))
    assert [log.type for log in again.logs] == ["payment_duplicate"] and not again.messages


def test_a_renewal_keeps_the_funnel_where_it_is(club: Funnel) -> None:
    """A renewal while the lead waits in a chain: nothing cancelled, nothing moved."""
    walk = at_the_club(club)
    timer = walk.state.timer
    out = walk(Paid("offer:club", 250, "XTR", "charge-9", True, False, ENDS))
    assert out.state.timer == timer and out.state.step == "fans-4"
    assert "stage_changed" not in walk.types() and "finished" not in walk.types()
    assert walk(TimerFired(timer)).state.status == "completed"  # the chain goes on as planned


def test_a_renewal_of_an_unsubscribed_lead_is_counted_but_not_said(club: Funnel) -> None:
    walk = at_the_club(club)
    walk(Paid("offer:club", 250, "XTR", "charge-1", True, True, ENDS))
    walk(Stop())
    out = walk(Paid("offer:club", 250, "XTR", "charge-2", True, False, ENDS + timedelta(30)))
    assert "order_paid" in walk.types() and out.messages == []


# --- the scenario option: what Telegram accepts, said at the line it is written ----------------

CLUB_TEXT = CLUB.read_text(encoding="utf-8")


def club_problems(tmp_path: Path, text: str) -> list[str]:
    target = tmp_path / "club.yaml"
    target.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_funnel(target)
    return [str(p) for p in info.value.problems]


def line(text: str, needle: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)


def test_only_stars_whole_prices_and_thirty_days(tmp_path: Path) -> None:
    text = (
        CLUB_TEXT.replace("      price: 250\n", "      price: 12.5\n")
        .replace("      currency: XTR\n", "      currency: RUB\n")
        .replace("subscription: monthly", "subscription: weekly")
    )
    found = club_problems(tmp_path, text)
    assert len(found) == 1, found  # a broken field stops the step; its other checks wait
    assert found[0].endswith(
        f":{line(text, 'subscription: weekly')} funnels.fans[2].subscription: 'weekly':"
        " Telegram renews a Stars subscription every 30 days only; write 'subscription: monthly'"
    )
    text = text.replace("subscription: weekly", "subscription: 30d")
    found = club_problems(tmp_path, text)
    assert [p.split(" ", 1)[0].rsplit(":", 1)[1] for p in found] == [
        str(line(text, "price: 12.5")),
        str(line(text, "currency: RUB")),
    ]
    assert found[0].endswith(
        "funnels.fans[2].price: a subscription costs a whole number of Stars from 1 to 10000"
        " a period (not 12.5)"
    )
    assert found[1].endswith(
        "funnels.fans[2].currency: a subscription is paid in Telegram Stars: write"
        " 'currency: XTR' (not RUB)"
    )


@pytest.mark.parametrize("price", ["0", "10001"])
def test_a_subscription_price_within_telegram_limits(tmp_path: Path, price: str) -> None:
    text = CLUB_TEXT.replace("      price: 250\n", f"      price: {price}\n")
    [problem] = club_problems(tmp_path, text)
    assert f":{line(text, f'price: {price}')} funnels.fans[2].price:" in problem


def test_a_subscription_is_not_sold_by_a_link(tmp_path: Path) -> None:
    text = CLUB_TEXT.replace(
        "      subscription: monthly\n",
        "      subscription: monthly\n      link: https://coffee.test/club\n",
    )
    [problem] = club_problems(tmp_path, text)
    assert f":{line(text, 'coffee.test/club')} funnels.fans[2].link: a subscription" in problem
