"""The outgoing limiter on a fake clock: global and per-chat budgets, replies first, 429."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from bot.telegram.throttle import Lane, Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sends_in(
    throttle: Throttle,
    clock: FakeClock,
    seconds: float,
    *,
    chat: int | None = None,
    priority: str = "touch",
    chats: int = 0,
) -> int:
    """How many sends go out in ``seconds`` if senders retry every 10 ms."""
    sent, end = 0, clock.now + seconds
    while clock.now < end:
        target = chat if chats == 0 else (sent % chats) + 1
        if throttle.wait_time(priority, target) == 0:  # type: ignore[arg-type]
            sent += 1
        else:
            clock.now += 0.01
    return sent


def test_global_rate_holds_over_time() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    sent = sends_in(throttle, clock, 10, chats=10_000)
    assert 300 <= sent <= 330  # 30/s plus the initial burst, minus the replies' reserve


def test_one_chat_gets_about_one_a_second_after_a_short_burst() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, chat_burst=3, clock=clock)
    assert sends_in(throttle, clock, 10, chat=7, priority="reply") in range(12, 14)


def test_touches_leave_a_reserve_for_replies() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 100, reserve=5, clock=clock)
    while throttle.wait_time("touch", None) == 0:
        pass
    assert throttle.wait_time("touch", None) > 0
    assert throttle.wait_time("reply", 1) == 0  # a prospect talking now still gets through


def test_429_pauses_every_sender() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    throttle.penalize(3)
    assert throttle.wait_time("reply", 1) == 3
    assert throttle.wait_time("reply", 2) == 3
    clock.now = 3.0
    assert throttle.wait_time("touch", 3) > 0  # the budget starts empty after the pause
    clock.now = 4.0
    assert throttle.wait_time("reply", 3) == 0


def test_a_chat_429_pauses_that_chat_only() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    throttle.penalize(5, chat_id=1)
    assert throttle.wait_time("reply", 1) == 5
    assert throttle.wait_time("reply", 2) == 0  # everyone else goes on at full speed
    assert throttle.global_penalties == 0
    clock.now = 5.0
    assert throttle.wait_time("reply", 1) == 0


def test_429s_from_several_chats_at_once_are_the_bots_limit() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    throttle.penalize(2, chat_id=1)
    clock.now = 0.5
    throttle.penalize(2, chat_id=2)
    assert throttle.global_penalties == 1
    assert throttle.wait_time("reply", 3) == 2.0  # a chat that never flooded waits too


def lane_sends(throttle: Throttle, clock: FakeClock, seconds: float, lane: Lane) -> int:
    """Sends of a paid broadcast to distinct chats in ``seconds`` (retrying every 1 ms)."""
    sent, end = 0, clock.now + seconds
    while clock.now < end:
        if throttle.wait_time("touch", 1_000_000 + sent, lane) == 0:
            sent += 1
        else:
            clock.now += 0.001
    return sent


def test_a_paid_broadcasts_lane_runs_at_its_own_rate_past_the_global_one() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    lane = throttle.lane(7, 1000)
    assert 1990 <= lane_sends(throttle, clock, 1.0, lane) <= 2001  # its burst, then 1000/s
    slower = throttle.lane(8, 200)
    assert 390 <= lane_sends(throttle, clock, 1.0, slower) <= 401  # an operator's lower rate


def test_replies_and_touches_keep_their_budget_while_a_paid_broadcast_sends() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    lane = throttle.lane(7, 1000)
    lane_sends(throttle, clock, 0.5, lane)  # 1,500 paid sends took nothing from the 30/s
    assert throttle.wait_time("reply", 1) == 0
    assert sends_in(throttle, clock, 10, chats=10_000) in range(300, 331)  # as before


def test_per_chat_limits_and_a_chats_pause_hold_for_paid_sends_too() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, chat_burst=3, clock=clock)
    lane = throttle.lane(7, 1000)
    assert [throttle.wait_time("touch", 5, lane) == 0 for _ in range(4)] == [1, 1, 1, 0]
    throttle.penalize(4, chat_id=9)
    assert throttle.wait_time("touch", 9, lane) == 4


def test_a_paid_429_of_the_bots_kind_pauses_its_lane_not_everyone() -> None:
    clock = FakeClock()
    throttle = Throttle(30, 1, clock=clock)
    lane = throttle.lane(7, 1000)
    throttle.penalize(2, chat_id=1, lane=lane)
    throttle.penalize(2, chat_id=2, lane=lane)
    assert throttle.wait_time("touch", 3, lane) == 2.0  # the paid broadcast waits
    assert throttle.wait_time("reply", 3) == 0  # the bot's own 30/s goes on


def test_send_rate_is_bounded_in_one_line_and_a_test_server_can_go_unpaced() -> None:
    """Benchmark 3 sets SEND_RATE=100000 against its fake; a typo past that is refused."""
    assert load_settings(send_rate="100000").send_rate == 100_000
    with pytest.raises(SettingsError, match=r"^Setting SEND_RATE: .*less than or equal to 100000$"):
        load_settings(send_rate="1e6")
    with pytest.raises(SettingsError, match=r"^Setting CHAT_RATE: .*greater than 0$"):
        load_settings(chat_rate="0")
    clock = FakeClock()
    unpaced = Throttle(rate=100_000, per_chat=100, clock=clock)
    waits = [unpaced.wait_time("touch", chat) for chat in range(1, 5_001)]
    assert waits == [0] * 5_000  # 5,000 sends in no time at all
