"""Stars subscriptions after the sale: turning renewal off, and noticing churn.

Telegram tells the bot about payments only. A subscriber who cancels in Telegram's own
settings is noticed when the paid period ends and no renewal came: once the scenario's
``subscription_grace`` has passed too, the chore gives the subscription up and logs
``subscription_churned``, once. Turning renewal off from our side (a manager's /cancelsub,
at the prospect's request) is Telegram's editUserStarSubscription, through the prospect's
channel; the subscription stays paid up to the end of its period and then churns the same
way, so the report counts every ending alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.managers.chores import Periodic
from bot.service import FunnelService
from bot.service.ports import ChannelFor
from bot.vocabulary import EventType, SubscriptionState
from storage.leads import LeadRepo
from storage.subscriptions import SubscriptionRecord, SubscriptionRepo

log = logging.getLogger(__name__)

CHECK_EVERY = 300.0  # seconds; a period is 30 days and the grace a day by default


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What /cancelsub did for one lead: whether it exists, what it had, what Telegram
    agreed to turn off."""

    lead_id: int
    found: bool
    active: int = 0  # subscriptions still renewing before the command
    canceled: tuple[SubscriptionRecord, ...] = ()

    @property
    def refused(self) -> int:
        return self.active - len(self.canceled)


class Subscriptions:
    """The lead's subscriptions as managers and the chores act on them."""

    def __init__(self, service: FunnelService) -> None:
        self.service = service

    async def cancel(self, lead_id: int, by: str, channel_for: ChannelFor) -> Cancellation:
        """Turn off the renewal of the lead's active subscriptions (each logged)."""
        service = self.service
        async with service.db.session() as session:
            lead = await LeadRepo(session).record(lead_id)
            held = await SubscriptionRepo(session).of_lead(lead_id) if lead else []
        if lead is None:
            return Cancellation(lead_id, found=False)
        active = [s for s in held if s.state == SubscriptionState.ACTIVE]
        channel = channel_for(lead)
        canceled: list[SubscriptionRecord] = []
        for sub in active:
            if not await channel.cancel_subscription(sub.charge_id):
                continue
            now = service.clock()
            async with service.db.session() as session, session.begin():
                if not await SubscriptionRepo(session).mark_canceled(sub.id, by, now):
                    continue  # churned or canceled meanwhile: said once, by whoever was first
                until = sub.expires_at.isoformat() if sub.expires_at else None
                payload = {"title": sub.title, "charge_id": sub.charge_id, "by": by,
                           "until": until}  # fmt: skip
                event = (EventType.SUBSCRIPTION_CANCELED, sub.offer_step, payload)
                LeadRepo(session).add_events(lead_id, [event], now, service.scenario.funnel.version)
            canceled.append(sub)
            log.info("lead %s: subscription %s no longer renews (%s)", lead_id, sub.id, by)
        return Cancellation(lead_id, True, len(active), tuple(canceled))

    async def churn(self) -> int:
        """Give up the subscriptions whose period ended more than the grace ago without a
        renewal; each is logged as ``subscription_churned`` once. Returns how many."""
        service = self.service
        grace = service.scenario.funnel.scenario.subscription_grace
        async with service.db.session() as session:
            lapsed = await SubscriptionRepo(session).lapsed(service.clock() - grace)
        churned = 0
        for sub in lapsed:
            now = service.clock()
            async with service.db.session() as session, session.begin():
                if not await SubscriptionRepo(session).mark_churned(sub.id, now):
                    continue
                payload = {
                    "title": sub.title,
                    "charge_id": sub.charge_id,
                    "expired_at": sub.expires_at.isoformat() if sub.expires_at else None,
                    "renewals": sub.renewals,
                    "canceled": sub.state == SubscriptionState.CANCELED,
                }
                event = (EventType.SUBSCRIPTION_CHURNED, sub.offer_step, payload)
                repo = LeadRepo(session)
                repo.add_events(sub.lead_id, [event], now, service.scenario.funnel.version)
            churned += 1
            log.info("lead %s: subscription %s ended without a renewal", sub.lead_id, sub.id)
        return churned


def churn_chore(service: FunnelService, every: float = CHECK_EVERY) -> Periodic[int]:
    """The churn check as a chore of the touch loop, at most every ``every`` seconds."""
    return Periodic("subscription churn", Subscriptions(service).churn, every)
