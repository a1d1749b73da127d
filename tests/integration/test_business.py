"""Telegram Business connections in the service, on each database; the channel's one place
that puts a call on the account's behalf; Telegram's description read the way it says it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.methods import GetChatMember, SendInvoice, SendMessage
from aiogram.types import BusinessConnection, LabeledPrice
from sqlalchemy import select

from bot.engine.types import CustomerWrote, OutMessage, Start
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, RecipientGone, ScenarioHolder, SendRejected
from bot.telegram.business import connection_from, owner_source
from bot.telegram.channel import BUSINESS, Channels, LinkedChat
from fakes.channels import Collect
from storage.business import Connection
from storage.db import Database
from storage.leads import LeadRecord
from storage.models import Event
from tests.conftest import Clock

OWNER = 4242
SINCE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def shop(*, can_reply: bool = True) -> Connection:
    return Connection("bc-1", OWNER, OWNER, "coffee_shop", "Ivan", True, can_reply, {}, SINCE)


SHOP = shop()


async def logged(db: Database, lead_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with db.session() as session:
        stmt = select(Event.type, Event.payload).where(Event.lead_id == lead_id).order_by(Event.id)
        return [(t, p) for t, p in (await session.execute(stmt)).all()]


async def test_connections_and_the_chats_they_reach(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    assert await service.connection_changed(SHOP) is None  # new: nothing known before
    assert await service.business_connection("bc-1") == SHOP
    other = Connection("bc-2", 77, 77, "", "Olga", can_reply=True, connected_at=SINCE)
    await service.connection_changed(other)

    chat = Collect()
    anna = await service.handle(LeadKey(BUSINESS, 911), CustomerWrote("Hi", "x", "Anna"), chat)
    boris = await service.handle(LeadKey(BUSINESS, 912), CustomerWrote("Hi", "x", "Boris"), chat)
    bot_chat = await service.handle(LeadKey("telegram", 911), Start(first_name="Anna"), chat)
    assert len({anna.lead_id, boris.lead_id, bot_chat.lead_id}) == 3
    await service.link_business_chat(anna.lead_id, "bc-1")
    await service.link_business_chat(anna.lead_id, "bc-1")  # again: nothing changes
    await service.link_business_chat(boris.lead_id, "bc-1")
    assert await service.business_connection_of(anna.lead_id) == SHOP
    assert await service.business_connection_of(bot_chat.lead_id) is None
    await service.link_business_chat(boris.lead_id, "bc-2")  # he wrote to the other account
    assert await service.business_connection_of(boris.lead_id) == other

    # The owner takes the reply right: the connection's leads (only Anna now) hear of it.
    muted = shop(can_reply=False)
    assert await service.connection_changed(muted) == SHOP
    assert (await service.business_connection("bc-1")) == muted
    changes = {"business_connected", "business_disconnected"}
    anna_log = [(t, p) for t, p in await logged(db, anna.lead_id) if t in changes]
    assert anna_log == [
        ("business_disconnected", {"connection": "bc-1", "standing": "without the right to reply"})
    ]
    assert not [t for t, _ in await logged(db, boris.lead_id) if t in changes]
    await service.connection_changed(muted)  # the same again: nothing more logged
    await service.connection_changed(SHOP)  # given back
    types = [t for t, _ in await logged(db, anna.lead_id) if t in changes]
    assert types == ["business_disconnected", "business_connected"]


def described(**fields: Any) -> BusinessConnection:
    body: dict[str, Any] = {
        "id": "bc-9",
        "user": {"id": OWNER, "is_bot": False, "first_name": "Ivan", "last_name": "Petrov"},
        "user_chat_id": OWNER,
        "date": 1760000000,
        "is_enabled": True,
        **fields,
    }
    return BusinessConnection.model_validate(body)


def test_telegrams_description_and_the_source() -> None:
    now_style = connection_from(described(rights={"can_reply": True, "can_read_messages": True}))
    assert now_style.can_reply and now_style.usable and now_style.owner_name == "Ivan Petrov"
    assert now_style.rights == {"can_reply": True, "can_read_messages": True}
    assert now_style.connected_at == datetime.fromtimestamp(1760000000, UTC)
    assert connection_from(described(can_reply=True)).can_reply  # before Bot API 9.0
    reading_only = connection_from(described(rights={"can_read_messages": True}))
    assert not reading_only.usable and reading_only.standing == "without the right to reply"
    off = connection_from(described(is_enabled=False, rights={"can_reply": True}))
    assert not off.usable and off.standing == "disabled"
    assert owner_source(off) == f"business:{OWNER}"  # no username: the owner's id
    assert owner_source(SHOP) == "business:coffee_shop"


def test_calls_go_out_on_the_accounts_behalf_in_one_place(mini: Funnel) -> None:
    channels = Channels(ScenarioHolder(mini))
    bot = cast("Bot", None)
    business, own = channels.chat(bot, 911, "bc-1"), channels.chat(bot, 911)
    send = SendMessage(chat_id=911, text="Hello")
    sent = business.on_behalf(send)
    assert isinstance(sent, SendMessage) and sent.business_connection_id == "bc-1"
    assert send.business_connection_id is None  # the method itself is not changed
    assert own.on_behalf(send) is send
    member = GetChatMember(chat_id="@channel", user_id=911)
    assert business.on_behalf(member) is member  # not a message: asked as the bot
    invoice = SendInvoice(
        chat_id=911,
        title="X",
        description="Y",
        payload="offer:x",
        currency="XTR",
        prices=[LabeledPrice(label="X", amount=1)],
    )
    with pytest.raises(SendRejected, match="no invoice"):
        business.on_behalf(invoice)


class Reach:
    def __init__(self, conn: Connection | None) -> None:
        self.conn = conn

    async def business_connection_of(self, lead_id: int) -> Connection | None:
        return self.conn


def lead(lead_id: int = 1) -> LeadRecord:
    return LeadRecord(
        lead_id, BUSINESS, 911, "Anna", "", "", "", None, None, "cold", "active", None
    )


@pytest.mark.parametrize(
    ("conn", "why"),
    [
        (None, "no business connection reaches this chat"),
        (Connection("bc-1", 1, 1, enabled=False, can_reply=True), "bc-1 is disabled"),
        (Connection("bc-1", 1, 1, can_reply=False), "bc-1 is without the right to reply"),
    ],
)
async def test_a_lead_out_of_reach_gets_nothing_sent(
    mini: Funnel, conn: Connection | None, why: str
) -> None:
    channels = Channels(ScenarioHolder(mini), reach=Reach(conn))
    chat = channels.for_leads(cast("Bot", None))(lead())
    assert isinstance(chat, LinkedChat)
    with pytest.raises(RecipientGone, match=why):
        await chat.send(OutMessage("Hello"))
    async with chat.typing():  # the send that follows says why
        pass
    assert await chat.is_member("@channel") is None
