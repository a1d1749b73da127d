"""Touches: claiming due timers and mailing messages, and running each through the engine.

Chain touches and mailings keep to the sending window; a reply the prospect is waiting
for (the pause after typing) does not.

A round runs its touches one after another, which keeps pace with Telegram's ~30 messages
a second. On PostgreSQL the copies of a paid broadcast (up to 1000 a second) run
``PAID_PARALLEL`` at a time instead, one lead's touches still in order, so the database and
HTTP round trips of one copy do not hold up the next. On SQLite they stay one at a time:
its writes take turns anyway, and copies in parallel only waited for each other's locks
(about 20% slower, measured with 1,000 paid copies). The Throttle's lane for the broadcast
sets the pace either way, up to what one process manages (see docs/broadcasts.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.quiet import hold
from bot.engine.types import Broadcast, Input, Resume, TimerFired
from bot.scenario.model import MessageStep
from bot.service.core import FunnelCore
from bot.service.ports import Channel, ChannelFor, Due, LeadKey, PaidSend, PaysForSpeed, TouchLost
from bot.service.stars import CAP_SPENT, StarsBudget
from bot.vocabulary import RESUME_KIND, BroadcastState, EventType, TouchState
from storage import broadcasts
from storage.leads import LeadRecord, LeadRepo
from storage.models import Broadcast as BroadcastRow
from storage.touches import TouchRepo

log = logging.getLogger(__name__)

#: A touch that failed before sending (e.g. the database hiccuped) is due again after this.
RETRY_FAILED = timedelta(seconds=30)
#: Copies of paid broadcasts in flight at once (each waits on its lane of the Throttle).
PAID_PARALLEL = 8
#: A paid broadcast's rate when none is stored (Telegram's ceiling for paid broadcasts).
PAID_RATE = 1000.0


class TouchService(FunnelCore):
    """The touch queue's side of the service (the dispatcher loops call ``fire_due``)."""

    async def fire_due(
        self,
        channel_for: ChannelFor,
        worker: str,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=10),
        channel: str | tuple[str, ...] | None = None,
    ) -> int:
        """Claim and run due touches (of one channel's leads, or a few channels', if given);
        returns how many."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            claimed, doubtful = await TouchRepo(session).claim_due(
                now, limit, worker, lease, channel
            )
            batch = [Due(t.id, t.lead_id, t.token, t.kind, t.broadcast_id) for t in claimed]
            batch, paid = await self._hold_paid(session, batch, now)
            repo = LeadRepo(session)
            for touch in doubtful:
                log.warning(
                    "touch %s of lead %s may or may not have been sent", touch.id, touch.lead_id
                )
                repo.add_events(
                    touch.lead_id, self.doubt_events(touch.step, {"touch": touch.id}), now
                )
        fast = [due for due in batch if due.broadcast_id in paid]
        rest = [due for due in batch if due.broadcast_id not in paid]
        if fast and rest:  # a paid broadcast's copies do not wait for the others' 30/s
            await asyncio.gather(
                self._in_turn(rest, channel_for), self._in_flight(fast, channel_for)
            )
        elif fast:
            await self._in_flight(fast, channel_for)
        else:  # in this task: a process dying mid-send (KeyboardInterrupt) stops right here
            await self._in_turn(rest, channel_for)
        return len(batch)  # those run: copies put back for want of Stars are not counted

    async def _hold_paid(
        self, session: AsyncSession, batch: list[Due], now: datetime
    ) -> tuple[list[Due], set[int]]:
        """Hold one message of its broadcast's Stars cap for each paid copy claimed, in the
        claim's own transaction; copies past the cap go back to the queue unrun, and a
        broadcast whose cap holds none of them stops. Returns the batch to run and the ids of
        the paid broadcasts in it."""
        wants = Counter(d.broadcast_id for d in batch if d.broadcast_id is not None)
        if not wants:
            return batch, set()
        grants = await broadcasts.grant_paid(session, dict(wants))
        if not grants:
            return batch, set()
        left = dict(grants)
        run: list[Due] = []
        touches = TouchRepo(session)
        for due in batch:
            bid = due.broadcast_id
            if bid is None or bid not in grants:
                run.append(due)
            elif left[bid] > 0:
                left[bid] -= 1
                run.append(due._replace(paid_held=1))
            else:
                await touches.postpone(due.touch_id, now)
        for bid in (b for b, granted in grants.items() if not granted):
            # Stopped only once its held copies are out: a claim that holds none stops it.
            await broadcasts.stop(session, bid, CAP_SPENT)
        return run, set(grants)

    async def _in_turn(self, batch: Sequence[Due], channel_for: ChannelFor) -> None:
        for due in batch:
            await self._fire_one(due, channel_for)

    async def _in_flight(self, batch: Sequence[Due], channel_for: ChannelFor) -> None:
        """Paid copies, ``PAID_PARALLEL`` leads at a time (one lead's touches in order)."""
        if not batch:
            return
        if self.db.is_sqlite:
            await self._in_turn(batch, channel_for)
            return
        by_lead: dict[int, list[Due]] = {}
        for due in batch:
            by_lead.setdefault(due.lead_id, []).append(due)
        gate = asyncio.Semaphore(PAID_PARALLEL)

        async def lead_turn(touches: list[Due]) -> None:
            async with gate:
                await self._in_turn(touches, channel_for)

        await asyncio.gather(*(lead_turn(touches) for touches in by_lead.values()))

    async def _fire_one(self, due: Due, channel_for: ChannelFor) -> None:
        # One touch's failure is that touch's: the round goes on with the others.
        try:
            await self.fire_touch(due, channel_for)
        except TouchLost:
            log.info("touch %s was released before it ran; skipped", due.touch_id)
        except Exception:
            log.exception("touch %s of lead %s failed", due.touch_id, due.lead_id)
            await self.settle_failed(due)

    async def settle_failed(self, due: Due) -> None:
        """A touch that raised: in doubt if it got as far as sending, else due again soon."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            sending = await TouchRepo(session).settle_failed(due.touch_id, now, RETRY_FAILED)
            if sending:
                LeadRepo(session).add_events(
                    due.lead_id, self.doubt_events(None, {"touch": due.touch_id}), now
                )

    async def fire_touch(self, due: Due, channel_for: ChannelFor) -> None:
        """Run a touch the dispatcher claimed, then mark it sent.

        A paid broadcast's copy comes with one message of its cap held at the claim
        (``Due.paid_held``); whatever it does not send goes back to the cap at the end.
        """
        async with self.db.session() as session:
            lead = await LeadRepo(session).record(due.lead_id)
            mailing = await broadcasts.get(session, due.broadcast_id) if due.broadcast_id else None
        budget = None
        if mailing is not None and mailing.paid:
            budget = StarsBudget(self.db, mailing.id, held=due.paid_held)
        try:
            await self._run_touch(due, lead, mailing, budget, channel_for)
        finally:
            if budget is not None:
                await budget.settle()

    async def _run_touch(
        self,
        due: Due,
        lead: LeadRecord | None,
        mailing: BroadcastRow | None,
        budget: StarsBudget | None,
        channel_for: ChannelFor,
    ) -> None:
        if lead is None:
            await self.finish_touch(due.touch_id, TouchState.CANCELLED)
            return
        key, channel = LeadKey(lead.channel, lead.user_id), channel_for(lead)
        if mailing is not None and not _may_send(mailing, budget):
            # Paused or cancelled after this batch was claimed: back to the queue, or dropped.
            if mailing.state == BroadcastState.CANCELLED:
                await self.finish_touch(due.touch_id, TouchState.CANCELLED)
            else:
                async with self.db.session() as session, session.begin():
                    await TouchRepo(session).postpone(due.touch_id, self.clock())
            return
        window = self.scenario.funnel.scenario.sending_window
        now = self.clock()
        if window is not None and due.kind not in {"reply", RESUME_KIND}:
            opens = hold(now, window.start, window.end, self.scenario.funnel.timezone)
            if opens != now:
                async with self.db.session() as session, session.begin():
                    await TouchRepo(session).postpone(due.touch_id, opens)
                    LeadRepo(session).add_events(
                        due.lead_id,
                        [(EventType.TOUCH_HELD, None, {"until": opens.isoformat()})],
                        now,
                    )
                return
        event: Input = Resume() if due.kind == RESUME_KIND else TimerFired(due.token)
        if mailing is not None:
            message = MessageStep.model_validate(mailing.message) if mailing.message else None
            event = Broadcast(mailing.id, message=message, chain=mailing.chain)
        if mailing is not None and budget is not None:
            if not budget.held and not await budget.hold(1):
                # Not even one more message fits the cap: stop; this copy waits in the queue.
                await budget.halt(CAP_SPENT)
                async with self.db.session() as session, session.begin():
                    await TouchRepo(session).postpone(due.touch_id, self.clock())
                return
            terms = PaidSend(mailing.id, mailing.paid_rate or PAID_RATE, budget)
            channel = _paid(channel, terms)
        result = await self.handle(key, event, channel, touch_id=due.touch_id)
        doubt = bool(result.in_doubt)
        await self.finish_touch(due.touch_id, TouchState.UNKNOWN if doubt else TouchState.SENT)

    async def finish_touch(self, touch_id: int, state: TouchState) -> None:
        async with self.db.session() as session, session.begin():
            await TouchRepo(session).finish(touch_id, state, self.clock())

    async def skip_wait(self, key: LeadKey) -> bool:
        """Make the lead's next pending touch due now (for testers in the simulator)."""
        async with self.db.session() as session, session.begin():
            lead = await LeadRepo(session).record_for_update(key.channel, key.user_id)
            if lead is None:
                return False
            touches = TouchRepo(session)
            touch = await touches.next_pending(lead.id)
            if touch is None:
                return False
            await touches.make_due(touch.id, self.clock() - timedelta(seconds=1))
            return True


def _paid(channel: Channel, terms: PaidSend) -> Channel:
    """The lead's channel sending with ``allow_paid_broadcast``, if it can (Telegram's)."""
    return channel.paid(terms) if isinstance(channel, PaysForSpeed) else channel


def _may_send(mailing: BroadcastRow, budget: StarsBudget | None) -> bool:
    """An active mailing's copy goes; so does a paid copy holding its message of a cap that
    another process found spent meanwhile (it was counted before the broadcast stopped)."""
    if mailing.state == BroadcastState.ACTIVE:
        return True
    return (
        mailing.state == BroadcastState.STOPPED
        and mailing.stop_reason == CAP_SPENT
        and budget is not None
        and budget.held > 0
    )
