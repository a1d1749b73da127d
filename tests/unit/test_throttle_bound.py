"""The per-chat table stays bounded even when no chat has been idle long enough to forget."""

from __future__ import annotations

from bot.telegram.throttle import MAX_TRACKED_CHATS, Throttle


def test_chat_table_is_bounded_when_every_chat_is_busy() -> None:
    throttle = Throttle(rate=1e9, per_chat=1.0, burst=10**9, clock=lambda: 100.0)  # time stands
    for chat_id in range(MAX_TRACKED_CHATS * 2):
        assert throttle.wait_time("reply", chat_id) == 0.0
    assert len(throttle._chats) <= MAX_TRACKED_CHATS
    # The newest chat keeps its bucket (its limit still holds), the oldest were let go.
    assert MAX_TRACKED_CHATS * 2 - 1 in throttle._chats
    assert 0 not in throttle._chats
