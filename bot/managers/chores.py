"""One way to run the bot's periodic chores: win-back, hand-off time-outs, retention, reload.

Each chore is a ``Periodic``: a job run at most every ``every`` seconds. It runs either from
a host loop (the touch loop calls it after each round; it returns at once when not due) or
as a task of its own (``start``/``stop``), where a failure is logged and the job simply runs
again next time. ``wake`` asks for a run at the next chance (SIGHUP, /reload). Hand-written
rather than a scheduler library: the jobs are few, in-process, and must share the touch
loop's rhythm and its database pool, which a cron-style scheduler would not know about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T_co = TypeVar("T_co", covariant=True)


class Periodic(Generic[T_co]):
    """``job`` at most every ``every`` seconds; the first run is due at once."""

    def __init__(
        self,
        name: str,
        job: Callable[[], Awaitable[T_co]],
        every: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.job = job
        self.every = every
        self.clock = clock
        self.runs = 0
        self._next = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def due(self) -> bool:
        return self.clock() >= self._next

    async def __call__(self) -> T_co | None:
        """Run the job if it is due (from a host loop); None when it is not. Errors propagate:
        the host loop logs them and calls again next round."""
        if not self.due:
            return None
        self._next = self.clock() + self.every
        self.runs += 1
        return await self.job()

    def wake(self) -> None:
        """Make the job due now; a chore running on its own runs at once."""
        self._next = 0.0
        self._wake.set()

    def start(self) -> None:
        """Run on a task of its own until ``stop``."""
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run_forever(self) -> None:
        """The chore's own loop, on the caller's task, until cancelled."""
        while True:
            self._wake.clear()
            try:
                await self()
            except Exception:
                log.exception("%s failed; it runs again in %.0fs", self.name, self.every)
            wait = max(0.0, self._next - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
