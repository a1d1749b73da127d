"""``LeanMemoryStorage``: no FSM record for people who only wrote; the staff's dialogs work."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from app.fsm_storage import LeanMemoryStorage


class Dialog(StatesGroup):
    text = State()


def _key(n: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=n, user_id=n)


async def test_reading_chats_with_nothing_stored_stores_nothing() -> None:
    """aiogram's FSM middleware reads every update's state: a prospect leaves no record."""
    storage = LeanMemoryStorage()
    for n in range(1000):
        assert await storage.get_state(_key(n)) is None
        assert await storage.get_data(_key(n)) == {}
        assert await storage.get_value(_key(n), "draft", "none") == "none"
    assert len(storage.storage) == 0


async def test_a_dialog_keeps_its_state_and_data_until_cleared() -> None:
    storage = LeanMemoryStorage()
    dialog = FSMContext(storage, _key(7))
    await dialog.set_state(Dialog.text)
    await dialog.update_data(draft="Hello")
    assert await dialog.get_state() == Dialog.text.state
    assert await dialog.get_data() == {"draft": "Hello"}
    assert await storage.get_value(_key(7), "draft") == "Hello"
    await dialog.set_state(None)
    assert await dialog.get_data() == {"draft": "Hello"}  # data alone keeps the record
    assert len(storage.storage) == 1
    await dialog.clear()
    assert len(storage.storage) == 0
    assert await dialog.get_state() is None
