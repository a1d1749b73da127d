"""aiogram's in-memory FSM storage without a record for every person who ever wrote.

aiogram's FSM middleware reads the state of every update's chat, and ``MemoryStorage``
answers from a ``defaultdict``: each read of a chat it has not seen stores an empty record
(and its key) for the life of the process. In a lead bot that is every prospect: some
20 MB per 100,000 people besides the keys, and as many more objects for each full garbage
collection to walk. Only the staff's broadcast dialog (``handlers/admin/broadcast``) keeps
anything here; so a read of a chat with nothing stored stores nothing, and a record that
goes back to empty (the dialog cleared) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from typing import Any, overload

from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage


class LeanMemoryStorage(MemoryStorage):
    """``MemoryStorage`` that keeps records only while they hold a state or data."""

    async def get_state(self, key: StorageKey) -> str | None:
        record = self.storage.get(key)
        return None if record is None else record.state

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self.storage.get(key)
        return {} if record is None else record.data.copy()

    @overload
    async def get_value(self, storage_key: StorageKey, dict_key: str) -> Any | None: ...

    @overload
    async def get_value(self, storage_key: StorageKey, dict_key: str, default: Any) -> Any: ...

    async def get_value(
        self, storage_key: StorageKey, dict_key: str, default: Any | None = None
    ) -> Any | None:
        record = self.storage.get(storage_key)
        return copy(default if record is None else record.data.get(dict_key, default))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await super().set_state(key, state)
        self._drop_if_empty(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await super().set_data(key, data)
        self._drop_if_empty(key)

    def _drop_if_empty(self, key: StorageKey) -> None:
        record = self.storage.get(key)
        if record is not None and record.state is None and not record.data:
            del self.storage[key]
