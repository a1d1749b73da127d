"""The Dispatcher, with per-person order and a count of updates still being handled.

aiogram handles each polled update in its own task and runs synchronous filters in worker
threads, so two updates from one person could overtake each other before reaching the
service's per-lead lock. Taking a per-person lock first thing in ``feed_update`` (before any
await) keeps their arrival order; different people still run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update


class LeadDispatcher(Dispatcher):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._people: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.last_update_id = 0

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        self.last_update_id = max(self.last_update_id, update.update_id)
        async with self._tracked(), self._in_order(update):
            return await super().feed_update(bot, update, **kwargs)

    @contextlib.asynccontextmanager
    async def _in_order(self, update: Update) -> AsyncIterator[None]:
        person = _person(update)
        if person is None:
            yield
            return
        lock = self._people.get(person)
        if lock is None:
            lock = self._people[person] = asyncio.Lock()
        async with lock:
            yield

    @contextlib.asynccontextmanager
    async def _tracked(self) -> AsyncIterator[None]:
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded shutdown
        """Wait for updates being handled to finish; ``False`` if some still run."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def _person(update: Update) -> int | None:
    kinds = (update.message, update.callback_query, update.my_chat_member)
    for event in (*kinds, update.pre_checkout_query):
        user = getattr(event, "from_user", None)
        if user is not None:
            return int(user.id)
    return None
