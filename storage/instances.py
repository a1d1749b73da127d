"""Running instances' heartbeats, and the update ids they took: what several processes share.

A touch's ``claimed_by`` is its instance's id. An instance whose heartbeat stopped (killed,
frozen, its host gone) has its claims released by whoever notices first, so its work waits
about ``stale`` seconds instead of the touch lease; a restarted process releases the claims
of its own host's dead processes at once (a pid that no longer runs cannot be working).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Instance, ProcessedUpdate, ScheduledTouch
from storage.touches import in_flight


class InstanceRepo:
    """Heartbeats and the release of dead instances' claims, on a caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def beat(self, instance: str, host: str, pid: int, now: datetime) -> None:
        """Register ``instance`` or refresh its heartbeat."""
        row = await self.session.get(Instance, instance)
        if row is None:
            self.session.add(
                Instance(id=instance, host=host, pid=pid, started_at=now, heartbeat_at=now)
            )
        else:
            row.heartbeat_at = now

    async def release_dead(
        self,
        me: str,
        host: str,
        now: datetime,
        stale: timedelta,
        running: Callable[[int], bool],
    ) -> list[str]:
        """Forget instances that stopped beating (or whose pid on ``host`` is gone) and expire
        their claims' leases, so the next claim runs or settles them; returns their ids."""
        cutoff = now - stale
        rows = (
            await self.session.execute(
                select(Instance.id, Instance.host, Instance.pid, Instance.heartbeat_at).where(
                    Instance.id != me, or_(Instance.heartbeat_at < cutoff, Instance.host == host)
                )
            )
        ).all()
        dead = [
            instance
            for instance, where, pid, beat in rows
            if beat < cutoff or (where == host and not running(pid))
        ]
        if not dead:
            return []
        await self._forget(dead, now)
        return dead

    async def leave(self, instance: str, now: datetime) -> None:
        """A clean stop: whatever we still hold (a round cut off) is released, the row goes."""
        await self._forget([instance], now)

    async def _forget(self, instances: list[str], now: datetime) -> None:
        await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.claimed_by.in_(instances), in_flight(self.session))
            .values(lease_until=now)
        )
        await self.session.execute(delete(Instance).where(Instance.id.in_(instances)))

    async def live(self, now: datetime, stale: timedelta) -> set[str]:
        rows = await self.session.execute(
            select(Instance.id).where(Instance.heartbeat_at >= now - stale)
        )
        return set(rows.scalars())


class UpdateLog:
    """Update ids taken by an instance: a repeat is dropped unless its taker died mid-way."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, update_id: int, instance: str, now: datetime, live: set[str]) -> bool:
        """True if ``instance`` should handle the update (first delivery, or its previous
        taker died before finishing it); False for a repeat."""
        try:
            async with self.session.begin_nested():
                self.session.add(
                    ProcessedUpdate(update_id=update_id, instance=instance, done=False, seen_at=now)
                )
            return True
        except IntegrityError:
            pass
        row = await self.session.get(ProcessedUpdate, update_id, with_for_update=True)
        if row is None or row.done or row.instance in live:
            return False
        row.instance, row.seen_at = instance, now  # its taker died before it was handled
        return True

    async def finish(self, update_id: int) -> None:
        await self.session.execute(
            update(ProcessedUpdate).where(ProcessedUpdate.update_id == update_id).values(done=True)
        )

    async def prune(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.seen_at < before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
