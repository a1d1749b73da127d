"""The Stars cap of a paid broadcast, on each backend: never passed, however many senders;
the terms and the preview's cost as every face gets them; resuming with a higher cap.

On PostgreSQL two services on one database stand for two bot processes, their touch rounds
running at once; SQLite is for one bot process (docs/deployment.md), so there it is one.
The face here pays for each message as Telegram's does (``PaysForSpeed``), without HTTP:
the end-to-end run over HTTP is ``test_paid``.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import timedelta

import pytest

from bot.broadcasts.audience import AudienceWords, parse_words
from bot.broadcasts.flow import make_draft, preview
from bot.broadcasts.paid import Cost, paid_terms
from bot.broadcasts.service import BroadcastError, control, progress, progress_text, start
from bot.engine.types import OutMessage, Stop
from bot.qualification import OfflineQualifier
from bot.reports.broadcast import as_dict, broadcast_view, build_broadcast_report
from bot.reports.render import console
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder, SendRejected
from bot.service.ports import PaidSend
from fakes.channels import Collect
from storage.broadcasts import Audience, PaidTerms
from storage.db import Database
from storage.leads import LeadRecord
from tests.broadcasts.conftest import add_leads
from tests.conftest import Clock

NEWS = {"message": "Flash sale for {first_name}"}


class Wallet:
    """What went out, and how much of it was paid."""

    def __init__(self) -> None:
        self.paid: list[int] = []
        self.free: list[int] = []


class PayingChat:
    """A face that sends paid copies as Telegram does: each message counted first."""

    def __init__(self, wallet: Wallet, user_id: int, terms: PaidSend | None = None) -> None:
        self.wallet, self.user_id, self.terms = wallet, user_id, terms

    def paid(self, terms: PaidSend) -> PayingChat:
        return PayingChat(self.wallet, self.user_id, terms)

    async def send(self, message: OutMessage) -> None:
        if self.terms is None:
            self.wallet.free.append(self.user_id)
            return
        if not await self.terms.budget.take(1):
            raise SendRejected("not sent: the paid broadcast's Stars cap is spent")
        await asyncio.sleep(0)  # others get a turn between counting and sending
        self.wallet.paid.append(self.user_id)

    def typing(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()

    async def is_member(self, chat: str) -> bool | None:
        return None

    async def decide_join(self, chat: str, approve: bool) -> bool:
        return False

    async def cancel_subscription(self, charge_id: str) -> bool:
        return False


async def run_out(services: list[FunnelService], wallet: Wallet) -> None:
    """Every service fires due touches at once, round after round, until none fires."""

    def channel_for(lead: LeadRecord) -> PayingChat:
        return PayingChat(wallet, lead.user_id)

    while True:
        fired = await asyncio.gather(
            *(s.fire_due(channel_for, worker=f"bot:{n}", limit=40) for n, s in enumerate(services))
        )
        if not any(fired):
            return


async def test_senders_at_once_never_pass_the_cap(db: Database, mini: Funnel) -> None:
    clock = Clock()
    await add_leads(db, 300, clock(), first_user=1000)
    started = await start(
        db, mini, name="flash", audience=Audience(), message=NEWS, now=clock(),
        paid=PaidTerms(rate=1000, cap=125),
    )  # fmt: skip
    senders = 1 if db.is_sqlite else 2
    services = [
        FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock) for _ in range(senders)
    ]
    wallet = Wallet()
    await run_out(services, wallet)

    p = await progress(db, started.broadcast_id)
    assert len(wallet.paid) == 125 == p.broadcast.paid_spent  # 12.5 Stars: the cap exactly
    assert len(set(wallet.paid)) == 125 and not wallet.free
    assert p.broadcast.state == "stopped" and p.broadcast.stop_reason == "its Stars cap is spent"
    assert (p.delivered, p.queued, p.failed + p.rejected) == (125, 175, 0)
    assert "stopped (its Stars cap is spent)" in progress_text(p, clock(), mini.timezone)
    assert "12.5 of 12.5 Stars" in progress_text(p, clock(), mini.timezone)

    with pytest.raises(BroadcastError, match="resume it with a higher one"):
        await control(db, started.broadcast_id, "resume", clock())
    with pytest.raises(BroadcastError, match="cannot be lower"):
        await control(db, started.broadcast_id, "resume", clock(), stars_cap="10")
    await control(db, started.broadcast_id, "resume", clock(), stars_cap="20")
    await run_out(services, wallet)
    p = await progress(db, started.broadcast_id)
    assert len(wallet.paid) == 200 == p.broadcast.paid_spent and len(set(wallet.paid)) == 200
    assert (p.broadcast.state, p.queued) == ("stopped", 100)

    report = await build_broadcast_report(
        db, mini, started.broadcast_id, timedelta(days=3), clock()
    )
    assert as_dict(report)["paid"] == {
        "rate": 1000.0, "messages": 200, "stars_spent": "20", "stars_cap": "20",
        "stop_reason": "its Stars cap is spent",
    }  # fmt: skip
    out = console()
    with out.capture() as shown:
        out.print(broadcast_view(report, mini.timezone))
    assert "20 of 20 (200 message(s))" in shown.get()


class SlowChat(PayingChat):
    """Waits on ``gate`` before its first paid message goes."""

    gate = asyncio.Event()

    def paid(self, terms: PaidSend) -> PayingChat:
        return SlowChat(self.wallet, self.user_id, terms)

    async def send(self, message: OutMessage) -> None:
        if self.terms is not None and not self.wallet.paid:
            await self.gate.wait()
        await super().send(message)


async def test_copies_counted_before_another_sender_found_the_cap_spent_still_go(
    db: Database, mini: Funnel
) -> None:
    clock = Clock()
    await add_leads(db, 5, clock(), first_user=1000)
    started = await start(
        db, mini, name="flash", audience=Audience(), message=NEWS, now=clock(),
        paid=PaidTerms(rate=1000, cap=3),
    )  # fmt: skip
    first, second = (
        FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock) for _ in "ab"
    )
    wallet = Wallet()
    SlowChat.gate = asyncio.Event()
    holding = asyncio.create_task(
        first.fire_due(lambda lead: SlowChat(wallet, lead.user_id), worker="bot:a", limit=3)
    )
    await asyncio.sleep(0.3)  # the first holds three messages of the cap, sending one
    assert await second.fire_due(lambda lead: PayingChat(wallet, lead.user_id), "bot:b") == 0
    assert (await progress(db, started.broadcast_id)).broadcast.state == "stopped"
    SlowChat.gate.set()
    assert await holding == 3
    p = await progress(db, started.broadcast_id)
    assert len(wallet.paid) == 3 == p.broadcast.paid_spent and p.queued == 2


async def test_leads_that_cannot_be_written_to_cost_nothing(db: Database, mini: Funnel) -> None:
    clock = Clock()
    await add_leads(db, 5, clock(), first_user=1000)
    started = await start(
        db, mini, name="flash", audience=Audience(), message=NEWS, now=clock(),
        paid=PaidTerms(rate=1000, cap=10),
    )  # fmt: skip
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await service.handle(LeadKey("telegram", 1000), Stop(), Collect())  # unsubscribes first
    wallet = Wallet()
    await run_out([service], wallet)
    p = await progress(db, started.broadcast_id)
    assert len(wallet.paid) == 4 == p.broadcast.paid_spent  # the held message went back
    assert p.done and p.skipped == 1 and p.broadcast.state == "active"


async def test_the_terms_as_every_face_types_them() -> None:
    assert paid_terms(False) is None
    assert paid_terms(True, None, "250") == PaidTerms(rate=1000, cap=2500)
    assert paid_terms(True, "500", "12,35") == PaidTerms(rate=500, cap=123)  # 0.1 Star steps
    for paid, rate, cap, why in [
        (False, None, "10", "go with a paid broadcast"),
        (True, None, None, "needs stars-cap"),
        (True, None, "0.05", "at least 0.1"),
        (True, None, "lots", "not a number of Stars"),
        (True, "1500", "10", "1 to 1000 messages a second"),
    ]:
        with pytest.raises(BroadcastError, match=why):
            paid_terms(paid, rate, cap)
    request = parse_words(["source=ads", "paid=yes", "stars-cap=250", "rate=300"])
    assert (request.paid, request.stars_cap, request.rate) == (True, "250", "300")
    with pytest.raises(BroadcastError, match="yes or no"):
        parse_words(["paid=maybe"])


async def test_the_preview_prices_the_copy_as_telegram_gets_it(
    sqlite_db: Database, mini: Funnel
) -> None:
    clock = Clock()
    await add_leads(sqlite_db, 30, clock(), first_user=1000)
    long_text = "Our guide, and all about it. " * 50  # too long for a caption: two messages
    message = {"message": long_text, "document": "assets/guide.pdf"}
    draft = make_draft(
        mini, AudienceWords(), clock(), mini.timezone, message=message, paid=True,
        stars_cap="5",
    )  # fmt: skip
    shown = await preview(sqlite_db, mini, draft, clock())
    assert shown.cost == Cost(leads=30, per_lead=2, cap=50, rate=1000)
    assert (shown.cost.messages, shown.cost.covered) == (60, 25)
    english = "\n".join(shown.cost.lines("en"))
    assert "30 lead(s) × 2 message(s) = 60 messages × 0.1 ⭐ = 6 Stars" in english
    assert "covers 25 of 30 leads (5 Stars)" in english
    assert "stops by itself" in english and "Telegram charges every message" in english
    russian = "\n".join(shown.cost.lines("ru"))
    assert "30 лид(ов) × 2 сообщ. = 60 сообщений × 0,1 ⭐ = 6 Stars" in russian
    assert "хватит на 25 из 30 лидов" in russian and "Telegram берёт плату" in russian

    enough = make_draft(
        mini, AudienceWords(), clock(), mini.timezone, message=NEWS, paid=True, stars_cap="3"
    )
    shown = await preview(sqlite_db, mini, enough, clock())
    assert (
        shown.cost is not None and shown.cost.lines("en")[2] == "Stars cap 3: it covers everyone."
    )

    too_little = make_draft(
        mini, AudienceWords(), clock(), mini.timezone, message=message, paid=True,
        stars_cap="0.1",
    )  # fmt: skip
    with pytest.raises(BroadcastError, match="does not pay for one lead's 2 message"):
        await preview(sqlite_db, mini, too_little, clock())


async def test_only_a_paid_broadcast_takes_a_cap(sqlite_db: Database, mini: Funnel) -> None:
    clock = Clock()
    await add_leads(sqlite_db, 3, clock(), first_user=1000)
    started = await start(
        sqlite_db, mini, name="free", audience=Audience(), message=NEWS,
        now=clock() + timedelta(hours=1),
    )  # fmt: skip
    await control(sqlite_db, started.broadcast_id, "pause", clock())
    with pytest.raises(BroadcastError, match="only a paid broadcast"):
        await control(sqlite_db, started.broadcast_id, "resume", clock(), stars_cap="5")
