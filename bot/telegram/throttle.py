"""One send budget for the whole bot, where replies go before scheduled touches.

Telegram allows about 30 messages a second per bot. A burst of due touches must not make
a prospect who is typing right now wait, so touches leave a reserve only replies may use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.engine.types import Priority


class Throttle:
    """A token bucket: ``rate`` sends a second, bursts up to ``burst``."""

    def __init__(
        self,
        rate: float = 25.0,
        burst: int = 25,
        reserve: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.reserve = min(reserve, burst - 1)
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self, priority: Priority = "reply") -> None:
        need = 1 if priority == "reply" else 1 + self.reserve
        while True:
            self._refill()
            if self.tokens >= need:
                self.tokens -= 1
                return
            await asyncio.sleep((need - self.tokens) / self.rate)
