"""Instances' heartbeats: a dead instance's claims are released within seconds, not after
the 10-minute lease; a restart on the same host releases its predecessor's at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.service.presence import Presence
from bot.vocabulary import TouchState
from storage.db import Database
from storage.instances import InstanceRepo
from storage.leads import LeadRepo
from storage.models import ScheduledTouch
from storage.touches import TouchRepo
from tests.conftest import in_unit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
STALE = timedelta(seconds=20)
MINUTE = timedelta(minutes=1)


async def two_claimed_touches(db: Database, worker: str) -> None:
    """One touch claimed by ``worker``, another already in the middle of its send."""
    async with db.session() as session, session.begin():
        lead = await LeadRepo(session).get_or_create("telegram", 7, NOW)
        await session.flush()
        lead_id = lead.id
        await in_unit(session, lambda u: u.schedule(lead_id, NOW - MINUTE, "a", 1, NOW))
        await in_unit(session, lambda u: u.schedule(lead_id, NOW - MINUTE, "b", 1, NOW))
    async with db.session() as session, session.begin():
        claimed, _ = await TouchRepo(session).claim_due(NOW, 10, worker, LEASE)
        assert await in_unit(session, lambda u: u.mark_sending(claimed[1].id, NOW))


async def beat(db: Database, instance: str, host: str, pid: int, at: datetime) -> list[str]:
    async with db.session() as session, session.begin():
        repo = InstanceRepo(session)
        await repo.beat(instance, host, pid, at)
        return await repo.release_dead(instance, host, at, STALE, lambda _pid: True)


async def test_a_silent_instance_s_claims_are_released_within_seconds(db: Database) -> None:
    await beat(db, "dead", "host-a", 1, NOW)
    await two_claimed_touches(db, "dead")
    assert await beat(db, "alive", "host-b", 2, NOW + timedelta(seconds=10)) == []
    later = NOW + timedelta(seconds=25)  # "dead" last beat 25 s ago
    assert await beat(db, "alive", "host-b", 2, later) == ["dead"]
    async with db.session() as session, session.begin():
        run, doubt = await TouchRepo(session).claim_due(later, 10, "alive", LEASE)
    # Not started: it runs again now. Mid-send: in doubt, never sent twice.
    assert [t.step for t in run] == ["a"] and [t.step for t in doubt] == ["b"]
    assert run[0].claimed_by == "alive" and doubt[0].state == TouchState.UNKNOWN


async def test_a_restart_on_the_same_host_releases_at_once(db: Database) -> None:
    before = Presence(db, clock=lambda: NOW)
    await before.beat()
    await two_claimed_touches(db, before.id)
    after = Presence(db, clock=lambda: NOW + timedelta(seconds=1))
    after.pid = before.pid  # as the same pid in a restarted container: not the one running
    await after.beat()  # one second later: the heartbeat rule alone would wait 20 s
    assert after.released == [before.id]
    async with db.session() as session:
        leases = list((await session.execute(select(ScheduledTouch.lease_until))).scalars())
    assert leases and all(lease is not None and lease <= after.clock() for lease in leases)


async def test_a_claim_released_meanwhile_is_not_sent(db: Database) -> None:
    await two_claimed_touches(db, "slow")
    async with db.session() as session, session.begin():
        await InstanceRepo(session).leave("slow", NOW)
        touch = (
            await session.execute(select(ScheduledTouch).where(ScheduledTouch.step == "a"))
        ).scalar_one()
        assert not await in_unit(session, lambda u: u.mark_sending(touch.id, NOW))
