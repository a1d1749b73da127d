"""Touches: claiming due timers and mailing messages, and running each through the engine.

Chain touches and mailings keep to the sending window; a reply the prospect is waiting
for (the pause after typing) does not.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.engine.quiet import hold
from bot.engine.types import Broadcast, Input, Resume, TimerFired
from bot.scenario.model import MessageStep
from bot.service.core import FunnelCore
from bot.service.ports import ChannelFor, Due, LeadKey, TouchLost
from bot.vocabulary import RESUME_KIND, BroadcastState, EventType, TouchState
from storage import broadcasts
from storage.leads import LeadRepo
from storage.touches import TouchRepo

log = logging.getLogger(__name__)

#: A touch that failed before sending (e.g. the database hiccuped) is due again after this.
RETRY_FAILED = timedelta(seconds=30)


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
            repo = LeadRepo(session)
            for touch in doubtful:
                log.warning(
                    "touch %s of lead %s may or may not have been sent", touch.id, touch.lead_id
                )
                repo.add_events(
                    touch.lead_id, self.doubt_events(touch.step, {"touch": touch.id}), now
                )
        for due in batch:
            # One touch's failure is that touch's: the round goes on with the others.
            try:
                await self.fire_touch(due, channel_for)
            except TouchLost:
                log.info("touch %s was released before it ran; skipped", due.touch_id)
            except Exception:
                log.exception("touch %s of lead %s failed", due.touch_id, due.lead_id)
                await self.settle_failed(due)
        return len(batch)

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
        """Run a touch the dispatcher claimed, then mark it sent."""
        async with self.db.session() as session:
            lead = await LeadRepo(session).record(due.lead_id)
            mailing = await broadcasts.get(session, due.broadcast_id) if due.broadcast_id else None
        if lead is None:
            await self.finish_touch(due.touch_id, TouchState.CANCELLED)
            return
        key, channel = LeadKey(lead.channel, lead.user_id), channel_for(lead)
        if mailing is not None and mailing.state != BroadcastState.ACTIVE:
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
