"""A background queue for side work (manager alerts, CRM calls) that must never hold up a lead.

The service calls notifiers while it holds the lead's lock; a slow manager chat or a CRM that
is down would make the prospect wait. So that work is queued here and done by one task, in
order; a full queue drops the newest job with a warning instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Outbox:
    def __init__(self, name: str, size: int = 1000) -> None:
        self.name = name
        self._queue: asyncio.Queue[Job] = asyncio.Queue(size)
        self._task: asyncio.Task[None] | None = None

    def put(self, job: Job) -> bool:
        """Queue a job; False (and a warning) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("%s: the queue is full; a job was dropped", self.name)
            return False
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def join(self) -> None:
        """Wait until every queued job is done (tests, shutdown)."""
        await self._queue.join()

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a bounded shutdown
        """Finish what is queued (up to ``timeout``), then end the task."""
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("%s: %d job(s) left undone at shutdown", self.name, self._queue.qsize())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await job()
            except Exception:
                log.exception("%s: a job failed", self.name)
            finally:
                self._queue.task_done()
