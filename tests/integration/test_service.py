"""The funnel service on a real database: what a prospect does ends up in the lead log."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.engine.types import Contact, OutMessage, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, RecipientGone, ScenarioHolder, SendRejected
from fakes.channels import Collect
from storage.db import Database
from storage.models import Event, Lead, ScheduledTouch
from storage.touches import TouchRepo
from tests.conftest import Clock
from tests.unit.test_quiet_hours import windowed

KEY = LeadKey("telegram", 1001)


async def events_of(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(select(Event.type).order_by(Event.id))
        return list(rows.scalars())


async def test_journey_through_the_service(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await service.handle(KEY, Start(source="vk_ads_nov", first_name="Ann"), chat)
    await service.handle(KEY, chat.press("Buy now"), chat)
    await service.handle(KEY, chat.press("Big"), chat)
    await service.handle(KEY, Text("We want to buy two machines"), chat)
    result = await service.handle(KEY, Contact("+79991234567"), chat)
    assert chat.typing_count == 1
    assert result.state.segment == "hot"
    assert [m.text for m in chat.sent][-1] == "Machine X for Ann"
    clock.advance(hours=3)
    assert await service.fire_due(lambda lead: chat, worker="t") == 1
    assert chat.sent[-1].text == "Here is a discount."
    assert chat.sent[-1].priority == "touch"
    async with db.session() as session:
        lead = (await session.execute(select(Lead))).scalar_one()
        assert (lead.source, lead.segment, lead.stage, lead.phone) == (
            "vk_ads_nov",
            "hot",
            "hot",
            "+79991234567",
        )
        touches = (await session.execute(select(ScheduledTouch.state))).scalars().all()
        assert sorted(touches) == ["cancelled", "pending", "sent"]
    types = await events_of(db)
    for expected in [
        "started",
        "question_asked",
        "answer_given",
        "contact_shared",
        "classified",
        "offer_shown",
        "touch_scheduled",
        "step_sent",
    ]:
        assert expected in types


async def test_blocked_recipient_is_marked_and_touches_cancelled(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await service.handle(KEY, Start(first_name="Ann"), chat)
    await service.handle(KEY, chat.press("Buy now"), chat)
    await service.handle(KEY, chat.press("Big"), chat)  # schedules the no-reply timeout
    chat.fail = RecipientGone("Forbidden: bot was blocked by the user")
    await service.handle(KEY, Text("hello"), chat)
    async with db.session() as session:
        lead = (await session.execute(select(Lead))).scalar_one()
        assert lead.status == "blocked"
        states = (await session.execute(select(ScheduledTouch.state))).scalars().all()
        assert "pending" not in states
    assert "blocked" in await events_of(db)


async def test_rejected_message_is_logged_and_the_funnel_goes_on(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect(fail=SendRejected("Bad Request: can't parse entities"))
    result = await service.handle(KEY, Start(first_name="Ann"), chat)
    assert result.state.step == "q_need"
    types = await events_of(db)
    assert types.count("error") == 2  # greeting and question, each logged with its step


async def test_a_new_process_continues_the_same_lead(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    first = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await first.handle(KEY, Start(first_name="Ann"), chat)
    await first.handle(KEY, chat.press("Just looking"), chat)
    second = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    result = await second.handle(KEY, chat.press("Tiny"), chat)
    assert result.state.answers == {"need": "look", "budget": "tiny"}
    assert chat.sent[-1].text == "Tell us about your office."
    clock.advance(minutes=10)
    assert await second.skip_wait(KEY)
    await second.fire_due(lambda lead: chat, worker="t", lease=timedelta(minutes=1))
    assert chat.sent[-1].text == "Leave a contact for the guide"  # timeout -> classify -> info


async def hot_lead_waiting(db: Database, mini: Funnel, clock: Clock) -> Collect:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await service.handle(KEY, Start(first_name="Ann"), chat)
    await service.handle(KEY, chat.press("Buy now"), chat)
    await service.handle(KEY, chat.press("Big"), chat)
    await service.handle(KEY, Text("buy"), chat)
    await service.handle(KEY, Contact("+79991234567"), chat)
    return chat


async def test_claimed_by_a_dead_process_is_sent_once_after_the_lease(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    chat = await hot_lead_waiting(db, mini, clock)
    clock.advance(hours=3)
    async with db.session() as session, session.begin():  # a process claims, then dies
        claimed, _ = await TouchRepo(session).claim_due(clock(), 10, "dead", timedelta(minutes=5))
        assert len(claimed) == 1
    restarted = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    assert await restarted.fire_due(lambda lead: chat, worker="new") == 0  # lease still held
    clock.advance(minutes=6)
    assert await restarted.fire_due(lambda lead: chat, worker="new") == 1
    assert await restarted.fire_due(lambda lead: chat, worker="new") == 0
    assert [m.text for m in chat.sent].count("Here is a discount.") == 1


async def test_died_while_sending_is_logged_not_repeated(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    chat = await hot_lead_waiting(db, mini, clock)
    clock.advance(hours=3)

    class Dies(Collect):
        async def send(self, message: OutMessage) -> None:
            raise KeyboardInterrupt  # the process goes away mid-send

    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    with suppress(KeyboardInterrupt):
        await service.fire_due(lambda lead: Dies(), worker="dying")
    clock.advance(minutes=11)
    assert await service.fire_due(lambda lead: chat, worker="new") == 0
    assert "Here is a discount." not in [m.text for m in chat.sent]
    assert "delivery_unknown" in await events_of(db)
    async with db.session() as session:
        states = (await session.execute(select(ScheduledTouch.state))).scalars().all()
        assert "unknown" in states and "pending" in states  # the chain's next wait is there


async def test_touch_due_at_night_waits_for_the_window(
    db: Database, mini: Funnel, clock: Clock, tmp_path: Path
) -> None:
    chat = await hot_lead_waiting(db, mini, clock)
    night = windowed(mini, tmp_path)
    clock.now = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)
    service = FunnelService(db, ScenarioHolder(night), OfflineQualifier(), clock)
    assert await service.fire_due(lambda lead: chat, worker="w") == 1
    assert "Here is a discount." not in [m.text for m in chat.sent]
    assert "touch_held" in await events_of(db)
    clock.now = datetime(2026, 3, 3, 9, 0, 1, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)
    assert await service.fire_due(lambda lead: chat, worker="w") == 1
    assert chat.sent[-1].text == "Here is a discount."


async def test_payment_is_recorded_as_an_order(db: Database, mini: Funnel, clock: Clock) -> None:
    from decimal import Decimal

    from bot.engine.types import Paid
    from storage.models import Order

    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await service.handle(KEY, Start(first_name="Ann"), chat)
    await service.handle(KEY, chat.press("Just looking"), chat)
    await service.handle(KEY, chat.press("Big"), chat)
    await service.handle(KEY, Text("office"), chat)
    await service.handle(KEY, Contact("+79990001122"), chat)
    clock.advance(days=2)
    await service.fire_due(lambda lead: chat, worker="t")
    await service.handle(KEY, chat.press("I want it"), chat)
    invoice = chat.sent[-1].invoice
    assert invoice is not None
    assert service.check_invoice(invoice.payload, "RUB", 990) is None
    assert service.check_invoice(invoice.payload, "RUB", 1) == (
        "the price has changed; please open the offer again"
    )
    assert service.check_invoice("offer:nope", "RUB", 990) == "this offer is no longer available"
    result = await service.handle(KEY, Paid(invoice.payload, 990, "RUB", "tg-charge-1"), chat)
    assert result.state.stage == "customer"
    async with db.session() as session:
        order = (await session.execute(select(Order))).scalar_one()
    assert (order.amount, order.currency, order.tier, order.offer_step) == (
        Decimal("9.90"),
        "RUB",
        "tripwire",
        "info_big",
    )
