"""The Dispatcher, with per-person order and a count of updates still being handled.

aiogram handles each polled update in its own task and runs synchronous filters in worker
threads, so two updates from one person could overtake each other before reaching the
service's per-lead lock. Taking a per-person lock first thing in ``feed_update`` (before any
await) keeps their arrival order; different people still run concurrently.

Every update is taken through ``Presence.take_update`` first: an update delivered twice (a
webhook retry, a post that reached two instances, a replay after a restart) is handled once,
here for every handler. A repeat whose first taker died before finishing it is handled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.service.presence import Presence

log = logging.getLogger(__name__)


class LeadDispatcher(Dispatcher):
    def __init__(self, presence: Presence | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.presence = presence
        self.repeats = 0
        self._people: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.last_update_id = 0

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        self.last_update_id = max(self.last_update_id, update.update_id)
        async with self._tracked(), self._in_order(update):
            presence = self.presence
            if presence is None:
                return await super().feed_update(bot, update, **kwargs)
            if not await presence.take_update(update.update_id):
                self.repeats += 1
                log.info("update %s was delivered again; dropped", update.update_id)
                return None
            result = await super().feed_update(bot, update, **kwargs)
            await presence.finish_update(update.update_id)
            return result

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
    if update.business_message is not None:
        # The chat is the customer's: their messages and the owner's keep one order.
        return int(update.business_message.chat.id)
    kinds = (update.message, update.callback_query, update.my_chat_member)
    for event in (*kinds, update.pre_checkout_query):
        user = getattr(event, "from_user", None)
        if user is not None:
            return int(user.id)
    return None
