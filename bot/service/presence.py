"""This process's identity among the bot's instances: a heartbeat, dead peers' claims, and
the update ids already taken (so a repeated update is handled once).

Why a heartbeat: a touch claimed by a killed process used to wait out its 10-minute lease.
Every instance beats every ``BEAT_EVERY`` s on a task of its own (never behind a slow touch
round) and, on each beat, releases the claims of instances silent for ``STALE``: a dead
instance's work waits at most about ``STALE + BEAT_EVERY`` s. At start it also releases at
once the claims of its own host's processes that no longer run (a restart after kill -9).
The lease stays the last resort, for a claimer that is not an instance (the simulator).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

from bot.managers.chores import Periodic
from bot.service.ports import Clock, utcnow
from storage.db import Database
from storage.instances import InstanceRepo, UpdateLog
from storage.unit import Unit

log = logging.getLogger(__name__)

BEAT_EVERY = 5.0
STALE = timedelta(seconds=20)
#: How long an update id is remembered: far beyond Telegram's retries of a webhook post.
REMEMBER_UPDATES = timedelta(hours=24)


def pid_running(pid: int) -> bool:
    """Whether ``pid`` runs on this host as some process other than this one.

    Our own pid under another instance id is a previous run (a container restarts as pid 1).
    """
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True


class Presence:
    """One per process: ``id`` is what this instance's touch claims carry."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utcnow,
        beat_every: float = BEAT_EVERY,
        stale: timedelta = STALE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.stale = stale
        self.host = socket.gethostname()[:40]
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"[:64]
        self.released: list[str] = []
        self.heart = Periodic("heartbeat", self.beat, beat_every)

    async def start(self) -> None:
        await self.beat()
        self.heart.start()

    async def stop(self) -> None:
        await self.heart.stop()
        async with self.db.session() as session, session.begin():
            await InstanceRepo(session).leave(self.id, self.clock())

    async def beat(self) -> None:
        """Refresh our heartbeat; release the claims of instances that stopped beating."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            repo = InstanceRepo(session)
            await repo.beat(self.id, self.host, self.pid, now)
            dead = await repo.release_dead(self.id, self.host, now, self.stale, pid_running)
            await UpdateLog(session).prune(now - REMEMBER_UPDATES)
        if dead:
            self.released += dead
            log.warning("released the claims of stopped instance(s): %s", ", ".join(dead))

    async def take_update(self, update_id: int) -> bool:
        """True to handle the update; False for a repeat someone handled or is handling."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            live = await InstanceRepo(session).live(now, self.stale)
            return await UpdateLog(session).take(update_id, self.id, now, live | {self.id})

    async def finish_update(self, update_id: int, *, taken: bool = True) -> None:
        """Mark a taken update done; ``taken=False``: record one handled without a take
        (a prospect's update that caused no engine run, so nothing recorded it yet)."""
        if taken:
            async with self.db.session() as session, session.begin():
                await UpdateLog(session).finish(update_id)
            return
        now = self.clock()
        handled = await self.db.transact(
            lambda c: Unit(c).handled(update_id, self.id, now, self.stale)
        )
        if not handled:
            log.info("update %s was handled twice (no engine run recorded it)", update_id)
