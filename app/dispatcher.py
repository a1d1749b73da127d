"""The Dispatcher, with per-person order and a count of updates still being handled.

aiogram handles each polled update in its own task and runs synchronous filters in worker
threads, so two updates from one person could overtake each other before reaching the
service's per-lead lock. Taking a per-person lock first thing in ``feed_update`` (before any
await) keeps their arrival order; different people still run concurrently.

An update delivered twice (a webhook retry, a post that reached two instances, a replay after
a restart) is handled once. A prospect's update is recorded as handled inside the transaction
of the engine run it causes (``UpdateMark``): no statement or transaction of its own, and its
effects and its "done" commit together. The staff's updates (and anything not from a person
in a private chat) are taken through ``Presence.take_update`` first and finished after, as
their handlers write what they write. A repeat whose first taker died before finishing it is
handled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.enums import ChatType
from aiogram.types import Update

from bot.managers.staff import Staff
from bot.service.ports import UpdateMark, current_update
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
            if self._from_prospect(update):
                return await self._marked(presence, bot, update, **kwargs)
            if not await presence.take_update(update.update_id):
                self.repeats += 1
                log.info("update %s was delivered again; dropped", update.update_id)
                return None
            result = await super().feed_update(bot, update, **kwargs)
            await presence.finish_update(update.update_id)
            return result

    async def _marked(self, presence: Presence, bot: Bot, update: Update, **kwargs: Any) -> Any:
        mark = UpdateMark(update.update_id, presence.id, presence.stale)
        token = current_update.set(mark)
        try:
            result = await super().feed_update(bot, update, **kwargs)
        finally:
            current_update.reset(token)
        if mark.repeated:
            self.repeats += 1
        elif not mark.recorded:  # handled without an engine run (a sticker, /help, a payment)
            await presence.finish_update(update.update_id, taken=False)
        return result

    def _from_prospect(self, update: Update) -> bool:
        """A message or press from a person in a private chat who is not on the staff."""
        if update.message is not None:
            chat, user = update.message.chat, update.message.from_user
        elif update.callback_query is not None and update.callback_query.message is not None:
            chat, user = update.callback_query.message.chat, update.callback_query.from_user
        else:
            return False
        if user is None or chat.type != ChatType.PRIVATE:
            return False
        staff = self.workflow_data.get("staff")
        return not (isinstance(staff, Staff) and staff.is_admin(user.id))

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
