"""The background loop that sends due scheduled touches while the bot runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence

from bot.service import Channel, FunnelService
from bot.telegram.channel import BUSINESS, CHANNEL
from storage.leads import LeadRecord

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who claimed a touch, for the operator reading the queue (host and process)."""
    return f"bot:{socket.gethostname()}:{os.getpid()}"[:64]


class TouchLoop:
    """Every ``interval`` seconds, fire what is due; a failing round is logged, not fatal.

    A full round (``batch`` touches) means more may be due already: the next round starts at
    once instead of after ``interval``, so a backlog drains at the Throttle's rate (a pause
    after each round of 100 cost ~6% of it; see bench/RESULTS.md). ``chores`` run after each
    round (e.g. hand-off time-outs); each paces itself.
    """

    def __init__(
        self,
        service: FunnelService,
        channel_for: Callable[[LeadRecord], Channel],
        *,
        worker: str | None = None,
        interval: float = 1.0,
        chores: Sequence[Callable[[], Awaitable[object]]] = (),
        batch: int = 100,
    ) -> None:
        self.service = service
        self.channel_for = channel_for
        self.worker = worker or worker_name()
        self.interval = interval
        self.batch = batch
        self.chores = list(chores)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="touch-loop")

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a bounded shutdown
        """Let the round in progress finish (up to ``timeout``), then end the loop.

        A touch cut off by the timeout stays claimed and is retried once its lease expires.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            log.warning("touch loop did not finish in %ss; cancelling it", timeout)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            fired = 0
            try:
                fired = await self.service.fire_due(
                    self.channel_for,
                    worker=self.worker,
                    limit=self.batch,
                    channel=(CHANNEL, BUSINESS),  # the bot's chats and the business chats
                )
                if fired:
                    log.info("fired %d scheduled touch(es)", fired)
            except Exception:
                log.exception("firing scheduled touches failed; trying again shortly")
            for chore in self.chores:
                try:
                    await chore()
                except Exception:
                    log.exception("a periodic chore failed; trying again next round")
            if fired >= self.batch:
                continue  # a full round: more is probably due, go on without a pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
