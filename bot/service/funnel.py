"""``FunnelService``: the one service every face uses (inputs, touches, managers, privacy).

Managers' hand-overs (Take, Return) and erasure live here; running inputs is in
``bot.service.core``, the touch queue in ``bot.service.touches`` and Telegram Business
connections in ``bot.service.business``.
"""

from __future__ import annotations

from bot.engine.types import Log, Outcome, Release
from bot.privacy import forget_user
from bot.service.business import BusinessService
from bot.service.ports import ChannelFor, Handover, LeadKey
from bot.service.touches import TouchService
from bot.vocabulary import EventType, LeadStatus
from storage.leads import LeadRecord, LeadRepo
from storage.touches import TouchRepo

MISSING = "missing"  # Handover.status when there is no such lead


class FunnelService(TouchService, BusinessService):
    """Inputs, touches, business connections, managers' Take and Return, and erasure, for
    every face."""

    async def key_of(self, lead_id: int) -> LeadKey | None:
        async with self.db.session() as session:
            lead = await LeadRepo(session).record(lead_id)
            return LeadKey(lead.channel, lead.user_id) if lead is not None else None

    async def record_of(self, key: LeadKey) -> LeadRecord | None:
        """The lead of ``key`` as stored, None before its first contact."""
        async with self.db.session() as session, session.begin():
            return await LeadRepo(session).record_for_update(key.channel, key.user_id)

    async def take(self, lead_id: int, by: str, manager_id: int | None = None) -> Handover:
        """A manager takes the lead: touches cancelled, the bot silent until released.

        Only an active lead, or one already with managers (a hand-off step, another
        manager), can be taken: the bot is not writing to the others anyway.
        """
        key = await self.key_of(lead_id)
        if key is None:
            return Handover(lead_id, False, MISSING)
        async with self.serial(key):
            now = self.clock()
            async with self.db.session() as session, session.begin():
                repo = LeadRepo(session)
                lead = await repo.record_for_update(key.channel, key.user_id)
                if lead is None:
                    return Handover(lead_id, False, MISSING)
                if lead.status not in {LeadStatus.ACTIVE, LeadStatus.HANDED_OFF}:
                    return Handover(lead_id, False, lead.status)
                await TouchRepo(session).cancel_pending(lead.id, now)
                state = await repo.hand_to_managers(lead.id, now)
                taken = Log(EventType.TAKEN, lead.step, {"by": by, "manager_id": manager_id})
                version = self.scenario.funnel.version
                repo.add_events(lead.id, [(taken.type, taken.step, taken.payload)], now, version)
        self.publish(lead_id, Outcome(state, [taken]))
        return Handover(lead_id, True, LeadStatus.HANDED_OFF)

    async def release(self, lead_id: int, by: str, channel_for: ChannelFor) -> Handover:
        """Give a lead back to the bot: the engine's ``Release`` resumes its chain."""
        async with self.db.session() as session:
            lead = await LeadRepo(session).record(lead_id)
        if lead is None:
            return Handover(lead_id, False, MISSING)
        if lead.status != LeadStatus.HANDED_OFF:
            return Handover(lead_id, False, lead.status)
        key, channel = LeadKey(lead.channel, lead.user_id), channel_for(lead)
        result = await self.handle(key, Release(by), channel)
        return Handover(lead_id, result.state.status != LeadStatus.HANDED_OFF, result.state.status)

    async def forget(self, key: LeadKey) -> bool:
        """Erase a prospect's personal data at their request (after anything in flight)."""
        async with self.serial(key):
            return await forget_user(
                self.db, self.scenario.funnel, key.channel, key.user_id, self.clock()
            )
