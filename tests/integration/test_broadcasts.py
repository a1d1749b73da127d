"""Broadcasts and win-back through the durable queue: the right people, once, in order."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.broadcasts.service import BroadcastError, progress, run_winback, set_state, start
from bot.engine.types import OutMessage, Start, Stop
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage import broadcasts
from storage.broadcasts import Audience
from storage.db import Database
from storage.models import Event
from tests.conftest import Clock
from tests.integration.test_instances import seed

N = 12
MESSAGE = {"message": "News for {first_name}", "buttons": [{"text": "Tell me", "goto": "hot_call"}]}


class Inbox(Collect):
    """Every lead's messages, by user id."""

    def __init__(self, sent: dict[int, list[OutMessage]], user_id: int) -> None:
        super().__init__()
        self.all, self.user_id = sent, user_id

    async def send(self, message: OutMessage) -> None:
        self.all.setdefault(self.user_id, []).append(message)


async def drain(service: FunnelService, sent: dict[int, list[OutMessage]]) -> int:
    total = 0
    while ran := await service.fire_due(lambda lead: Inbox(sent, lead.user_id), worker="w"):
        total += ran
    return total


async def test_broadcast_reaches_the_audience_once_and_never_the_unsubscribed(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed(service, N)  # hot leads waiting at hot-2
    await service.handle(LeadKey("telegram", 1), Stop(), Collect())
    audience = Audience(segment="hot")
    started = await start(db, mini, name="spring", audience=audience, message=MESSAGE, now=clock())
    assert started.queued == N - 1
    again = await start(
        db, mini, name="spring again", audience=audience, message=MESSAGE, now=clock()
    )
    await set_state(db, again.broadcast_id, "cancelled", clock())
    sent: dict[int, list[OutMessage]] = {}
    assert await drain(service, sent) == N - 1
    news = Counter(uid for uid, msgs in sent.items() for m in msgs if m.text == "News for Ann")
    assert news == Counter({uid: 1 for uid in range(2, N + 1)})
    assert 1 not in sent
    done = await progress(db, started.broadcast_id)
    assert (done.sent, done.queued) == (N - 1, 0)
    assert (await progress(db, again.broadcast_id)).cancelled == N - 1
    # A button on the broadcast leads into the scenario as usual.
    press = Inbox(sent, 2)
    press.sent = sent[2]
    result = await service.handle(LeadKey("telegram", 2), press.press("Tell me"), press)
    assert result.state.status == "handed_off"


async def test_pause_resume_and_a_stop_in_between(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed(service, N)
    started = await start(db, mini, name="promo", audience=Audience(), message=MESSAGE, now=clock())
    await set_state(db, started.broadcast_id, "paused", clock())
    sent: dict[int, list[OutMessage]] = {}
    assert await drain(service, sent) == 0
    await service.handle(LeadKey("telegram", 5), Stop(), Collect())  # unsubscribes meanwhile
    await set_state(db, started.broadcast_id, "active", clock())
    assert await drain(service, sent) == N
    assert 5 not in sent and len(sent) == N - 1
    state = await progress(db, started.broadcast_id)
    assert state.skipped == 1 and state.sent == N


async def test_winback_fires_once_and_only_once(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed(service, N)  # everyone waits at hot-2 (a 2h wait)
    clock.advance(days=1)
    assert await run_winback(db, mini, clock()) == {"offer_quiet": 0}  # not quiet long enough
    await service.handle(LeadKey("telegram", 3), Start(first_name="Ann"), Collect())
    clock.advance(days=2, hours=1)
    queued = await run_winback(db, mini, clock())
    assert queued == {"offer_quiet": N - 1}  # lead 3 spoke a day later: not quiet for 3 days
    assert await run_winback(db, mini, clock()) == {"offer_quiet": 0}
    sent: dict[int, list[OutMessage]] = {}
    await drain(service, sent)
    comeback = [
        uid for uid, msgs in sent.items() if any(m.text.startswith("Still thinking") for m in msgs)
    ]
    assert len(comeback) == N - 1 and 3 not in comeback
    clock.advance(days=10)
    assert (await run_winback(db, mini, clock()))["offer_quiet"] <= 1  # only lead 3, once
    async with db.session() as session:
        logged = (
            (await session.execute(select(Event.payload).where(Event.type == "broadcast_sent")))
            .scalars()
            .all()
        )
    assert all(p["chain"] == "comeback" for p in logged)


async def test_bad_broadcast_content_is_refused(mini: Funnel, db: Database, clock: Clock) -> None:
    with pytest.raises(BroadcastError, match="unknown step 'nowhere'"):
        await start(
            db,
            mini,
            name="x",
            audience=Audience(),
            now=clock(),
            message={"message": "hi", "buttons": [{"text": "go", "goto": "nowhere"}]},
        )
    with pytest.raises(BroadcastError, match="no chain 'nope2'"):
        await start(db, mini, name="x", audience=Audience(), chain="nope2", now=clock())


async def test_audience_filters(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed(service, N)
    async with db.session() as session:
        assert await broadcasts.count(session, Audience(stopped_at=("hot-2",)), clock()) == N
        assert await broadcasts.count(session, Audience(segment="info"), clock()) == 0
        assert await broadcasts.count(session, Audience(idle_days=1), clock()) == 0
        assert (
            await broadcasts.count(session, Audience(idle_days=1), clock() + timedelta(days=2)) == N
        )
        assert await broadcasts.count(session, Audience(joined_after=clock()), clock()) == N
        assert (
            await broadcasts.count(
                session, Audience(joined_before=clock() - timedelta(days=1)), clock()
            )
            == 0
        )


async def test_two_instances_running_winback_make_one_rule_row(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    import asyncio

    from storage.models import Broadcast as BroadcastRow

    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed(service, 3)
    clock.advance(days=4)
    results = await asyncio.gather(
        *(run_winback(db, mini, clock()) for _ in range(3)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert sum(r["offer_quiet"] for r in results if isinstance(r, dict)) == 3
    async with db.session() as session:
        rows = (await session.execute(select(BroadcastRow))).scalars().all()
    assert [(r.rule, r.kind) for r in rows] == [("offer_quiet", "winback")]
