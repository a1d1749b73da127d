"""Spend per traffic source as managers enter it on the dashboard (``source_spend``).

Kept in the database rather than in the web process so it survives a restart and every
dashboard (beside the bot, or ``leadbot web``) sees the same numbers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SourceSpend


async def all_spend(session: AsyncSession) -> dict[str, tuple[Decimal, str]]:
    """Every source's (amount, currency)."""
    rows = await session.execute(
        select(SourceSpend.source, SourceSpend.amount, SourceSpend.currency)
    )
    return {source: (amount, currency) for source, amount, currency in rows}


async def set_spend(
    session: AsyncSession,
    source: str,
    amount: Decimal,
    currency: str,
    by: str,
    now: datetime,
) -> None:
    """Replace the source's spend (a zero amount removes it)."""
    await session.execute(delete(SourceSpend).where(SourceSpend.source == source))
    if amount:
        session.add(
            SourceSpend(
                source=source, amount=amount, currency=currency, updated_by=by[:128], updated_at=now
            )
        )
