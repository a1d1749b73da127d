"""The Stars subscriptions aggregate: one row per subscription a lead bought, its renewals,
its cancellation by the bot and its churn (see ``storage.models.Subscription``).

The engine decides what a payment means (``RecordSubscription``); this repository only keeps
the rows. State changes that must happen once (cancel, churn) are conditional UPDATEs, so two
instances running the same chore cannot both log them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import SubscriptionState
from storage.models import Subscription

#: Subscriptions still paid up or awaiting their renewal: they can lapse into churn.
LIVE = (SubscriptionState.ACTIVE.value, SubscriptionState.CANCELED.value)


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A subscription as services see it."""

    id: int
    lead_id: int
    offer_step: str
    title: str
    amount: Decimal
    currency: str
    charge_id: str  # the first payment's: what editUserStarSubscription names
    state: str
    renewals: int
    started_at: datetime
    expires_at: datetime | None
    canceled_at: datetime | None


def _record(row: Subscription) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        lead_id=row.lead_id,
        offer_step=row.offer_step,
        title=row.title,
        amount=row.amount,
        currency=row.currency,
        charge_id=row.charge_id,
        state=row.state,
        renewals=row.renewals,
        started_at=row.started_at,
        expires_at=row.expires_at,
        canceled_at=row.canceled_at,
    )


SUBSCRIPTIONS: Table = Subscription.__table__  # type: ignore[assignment]


def record_payment(
    conn: Connection,
    lead_id: int,
    step: str,
    title: str,
    amount: Decimal,
    currency: str,
    charge_id: str,
    expires_at: datetime | None,
    renewal: bool,
    now: datetime,
) -> None:
    """A first payment starts a subscription; a renewal moves the end of the lead's newest
    one of that offer (and revives it if the chore had given it up: the money came after
    all). A renewal of a subscription this database never saw starts one.

    Plain Core on a sync connection: it runs inside the update's unit of work
    (``storage.unit``), in the transaction that logs the payment.
    """
    t = SUBSCRIPTIONS
    row = None
    if renewal:
        newest = (
            select(t.c.id, t.c.state, t.c.expires_at)
            .where(t.c.lead_id == lead_id, t.c.offer_step == step)
            .order_by(t.c.id.desc())
            .limit(1)
        )
        row = conn.execute(newest).first()
    if row is None:
        conn.execute(
            insert(t).values(
                lead_id=lead_id,
                offer_step=step[:64],
                title=title[:200],
                amount=amount,
                currency=currency,
                charge_id=charge_id[:128],
                state=SubscriptionState.ACTIVE.value,
                renewals=1 if renewal else 0,
                started_at=now,
                expires_at=expires_at,
                renewed_at=now if renewal else None,
                canceled_by="",
            )
        )
        return
    values: dict[str, object] = {
        "renewals": t.c.renewals + 1,
        "renewed_at": now,
        "expires_at": expires_at or row.expires_at,
    }
    if row.state == SubscriptionState.CHURNED:
        values["state"] = SubscriptionState.ACTIVE.value
    conn.execute(update(t).where(t.c.id == row.id).values(**values))


class SubscriptionRepo:
    """Subscriptions within one session (the caller owns the transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_lead(self, lead_id: int) -> list[SubscriptionRecord]:
        stmt = select(Subscription).where(Subscription.lead_id == lead_id).order_by(Subscription.id)
        return [_record(row) for row in (await self.session.execute(stmt)).scalars()]

    async def mark_canceled(self, subscription_id: int, by: str, now: datetime) -> bool:
        """Renewal turned off (Telegram agreed); False if it was no longer active."""
        stmt = (
            update(Subscription)
            .where(
                Subscription.id == subscription_id,
                Subscription.state == SubscriptionState.ACTIVE.value,
            )
            .values(state=SubscriptionState.CANCELED.value, canceled_at=now, canceled_by=by[:128])
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def lapsed(self, cutoff: datetime, limit: int = 200) -> list[SubscriptionRecord]:
        """Live subscriptions whose paid period ended before ``cutoff``, oldest first."""
        stmt = (
            select(Subscription)
            .where(Subscription.state.in_(LIVE), Subscription.expires_at < cutoff)
            .order_by(Subscription.expires_at, Subscription.id)
            .limit(limit)
        )
        return [_record(row) for row in (await self.session.execute(stmt)).scalars()]

    async def mark_churned(self, subscription_id: int, now: datetime) -> bool:
        """Given up, once: False if another instance (or a late renewal) got there first."""
        stmt = (
            update(Subscription)
            .where(Subscription.id == subscription_id, Subscription.state.in_(LIVE))
            .values(state=SubscriptionState.CHURNED.value, churned_at=now)
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))
