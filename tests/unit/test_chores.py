"""The one periodic-chore helper: pacing from a host loop, its own loop, wake, failures."""

from __future__ import annotations

import asyncio

import pytest

from bot.managers.chores import Periodic
from bot.telegram.callbacks import BroadcastButton, Handover, ManagerButton, PreviewAction


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_chore_runs_at_most_every_interval_from_a_host_loop() -> None:
    clock, runs = Ticks(), []

    async def job() -> int:
        runs.append(clock.now)
        return len(runs)

    chore = Periodic("job", job, every=30.0, clock=clock)
    assert await chore() == 1  # due at once
    assert await chore() is None  # not yet
    clock.now += 29.9
    assert await chore() is None
    clock.now += 0.1
    assert await chore() == 2
    chore.wake()
    assert await chore() == 3  # woken: due again at once
    assert runs == [100.0, 130.0, 130.0]


async def test_an_own_loop_survives_a_failure_and_wakes_on_demand(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0
    ran = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        ran.set()
        if calls == 1:
            raise RuntimeError("the database is down")

    chore = Periodic("flaky", flaky, every=3600.0)
    chore.start()
    try:
        await asyncio.wait_for(ran.wait(), 2)
        ran.clear()
        chore.wake()  # an hour early: SIGHUP, /reload
        await asyncio.wait_for(ran.wait(), 2)
    finally:
        await chore.stop()
    assert calls == 2
    assert "flaky failed; it runs again in 3600s" in caplog.text


def test_staff_buttons_pack_within_telegram_limits_and_reject_forgeries() -> None:
    data = ManagerButton.of(Handover.TAKE, 42, "hot_segment").pack()
    assert data == "mgr:take:42:h"  # the format cards already in chats carry
    back = ManagerButton.unpack(data)
    assert (back.action, back.lead_id, back.reason) == (Handover.TAKE, 42, "hot_segment")
    assert ManagerButton.unpack(ManagerButton.of(Handover.RELEASE, 7, None).pack()).reason is None
    with pytest.raises(ValueError):
        ManagerButton.unpack("mgr:delete:42:h")
    longest = BroadcastButton(action=PreviewAction.CANCEL, nonce="f" * 8).pack()
    assert len(ManagerButton.of(Handover.RELEASE, 2**63, "handoff").pack().encode()) <= 64
    assert longest == "bcast:cancel:ffffffff"
