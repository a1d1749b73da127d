"""One outgoing limiter for the whole process: global and per chat, replies first.

Telegram allows about 30 messages a second per bot and about one a second per chat (short
bursts are tolerated). Scheduled touches leave a reserve of the global budget that only
replies may use, so a burst of due touches never makes a prospect who is typing now wait.
When Telegram still answers 429, ``penalize`` pauses that chat for ``retry_after``: one
chat flooding must not slow everyone else. Telegram's 429 does not say which limit was hit,
so the scope is read from the pattern: when 429s come from ``GLOBAL_AFTER`` different chats
within ``GLOBAL_WINDOW`` seconds, the limit is the bot's, and every sender pauses.

A paid broadcast (Telegram's ``allow_paid_broadcast``: up to 1000 messages a second, paid in
Stars) sends through a *lane* of its own instead of the global budget: a bucket at that
broadcast's rate, with its own pauses. Its sends neither wait for nor use up the ~30/s that
replies and touches share; the per-chat limit and a chat's pause apply to every send alike.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine.types import Priority

MAX_TRACKED_CHATS = 50_000
GLOBAL_AFTER = 2
GLOBAL_WINDOW = 2.0
#: A lane not used for this long is forgotten (its broadcast finished or stopped).
LANE_IDLE = 60.0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class Lane:
    """A paid broadcast's budget in place of the global one: its rate, burst and pauses."""

    rate: float
    burst: int
    bucket: _Bucket
    paused_until: float = 0.0
    recent: dict[int, float] = field(default_factory=dict)  # chat -> its last 429


class Throttle:
    """Token buckets: ``rate`` a second overall (burst ``burst``), ``per_chat`` per chat."""

    def __init__(
        self,
        rate: float = 30.0,
        per_chat: float = 1.0,
        *,
        burst: int | None = None,
        chat_burst: int = 3,
        reserve: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.per_chat = per_chat
        self.burst = burst or max(1, int(rate))
        self.chat_burst = chat_burst
        default_reserve = max(1, self.burst // 6)
        self.reserve = min(default_reserve if reserve is None else reserve, self.burst - 1)
        self.clock = clock
        self._global = _Bucket(float(self.burst), clock())
        self._chats: dict[int, _Bucket] = {}
        self.paused_until = 0.0
        self.penalties = 0
        self.global_penalties = 0
        self._chat_paused: dict[int, float] = {}
        self._recent: dict[int, float] = {}  # chat -> when its last 429 came
        self._lanes: dict[int, Lane] = {}

    def lane(self, key: int, rate: float) -> Lane:
        """The lane of paid broadcast ``key`` at ``rate`` messages a second (made once)."""
        now = self.clock()
        found = self._lanes.get(key)
        if found is None:
            for old in [k for k, v in self._lanes.items() if now - v.bucket.stamp > LANE_IDLE]:
                del self._lanes[old]
            burst = max(1, int(rate))
            found = self._lanes[key] = Lane(rate, burst, _Bucket(float(burst), now))
        elif found.rate != rate:
            found.rate, found.burst = rate, max(1, int(rate))
        return found

    def _refill(self, bucket: _Bucket, rate: float, cap: int, now: float) -> None:
        bucket.tokens = min(cap, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now

    def _chat(self, chat_id: int, now: float) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= MAX_TRACKED_CHATS:
                self._forget_idle(now)
                # Every chat still busy: drop the longest-known ones down to 3/4 of the cap,
                # so the table stays bounded and the scan runs once per cap/4 new chats.
                excess = len(self._chats) - MAX_TRACKED_CHATS * 3 // 4
                for old in list(itertools.islice(self._chats, max(0, excess))):
                    del self._chats[old]
            bucket = self._chats[chat_id] = _Bucket(float(self.chat_burst), now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        full = self.chat_burst / self.per_chat
        for chat_id in [c for c, b in self._chats.items() if now - b.stamp > full]:
            del self._chats[chat_id]

    def wait_time(
        self, priority: Priority = "reply", chat_id: int | None = None, lane: Lane | None = None
    ) -> float:
        """How long until a send could go; 0 means it may go now (and takes its tokens).

        With a ``lane`` (a paid broadcast's send) the lane stands in for the global budget.
        """
        now = self.clock()
        paused = self.paused_until if lane is None else lane.paused_until
        if now < paused:
            return paused - now
        if chat_id is not None and (until := self._chat_paused.get(chat_id)) is not None:
            if now < until:
                return until - now
            del self._chat_paused[chat_id]
        if lane is None:
            budget, rate = self._global, self.rate
            need = 1.0 if priority == "reply" else 1.0 + self.reserve
            self._refill(budget, rate, self.burst, now)
        else:
            budget, rate, need = lane.bucket, lane.rate, 1.0
            self._refill(budget, rate, lane.burst, now)
        waits = [(need - budget.tokens) / rate]
        chat = None
        if chat_id is not None:
            chat = self._chat(chat_id, now)
            self._refill(chat, self.per_chat, self.chat_burst, now)
            waits.append((1.0 - chat.tokens) / self.per_chat)
        wait = max(waits)
        if wait <= 0:
            budget.tokens -= 1
            if chat is not None:
                chat.tokens -= 1
            return 0.0
        return wait

    async def acquire(
        self, priority: Priority = "reply", chat_id: int | None = None, lane: Lane | None = None
    ) -> None:
        while True:
            wait = self.wait_time(priority, chat_id, lane)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def penalize(
        self, retry_after: float, chat_id: int | None = None, lane: Lane | None = None
    ) -> None:
        """Telegram said 429: that chat waits; everyone waits when it is the bot's limit
        (no chat given, or several chats hit at once), and the global budget starts empty.
        A paid send's 429 of that kind pauses only its lane (the paid limit is its own)."""
        now = self.clock()
        self.penalties += 1
        if chat_id is not None:
            if len(self._chat_paused) >= MAX_TRACKED_CHATS:
                self._chat_paused = {c: t for c, t in self._chat_paused.items() if t > now}
            self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, 0.0), now + retry_after)
            recent = self._recent if lane is None else lane.recent
            fresh = {c: t for c, t in recent.items() if now - t <= GLOBAL_WINDOW}
            fresh[chat_id] = now
            if lane is None:
                self._recent = fresh
            else:
                lane.recent = fresh
            if len(fresh) < GLOBAL_AFTER:
                return
        self.global_penalties += 1
        if lane is not None:
            lane.paused_until = max(lane.paused_until, now + retry_after)
            lane.bucket.tokens, lane.bucket.stamp = 0.0, lane.paused_until
            return
        self.paused_until = max(self.paused_until, now + retry_after)
        self._global.tokens = 0.0
        self._global.stamp = self.paused_until
