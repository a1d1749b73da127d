"""Telegram Business: the bot's connections to business accounts, and the chats they reach.

Telegram describes a connection in ``business_connection`` updates (connected, rights
changed, disabled) and in ``getBusinessConnection``; the latest description is kept here,
one row per connection. A lead met in a business chat is linked to the connection its
customer last wrote through, so a touch or a manager's message goes out through it - and
not at all once the owner has disabled it or taken the bot's reply right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import upsert_insert
from storage.models import BusinessChat, BusinessConnection

CONNECTIONS: Table = BusinessConnection.__table__  # type: ignore[assignment]
CHATS: Table = BusinessChat.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Connection:
    """A business connection as services and faces see it."""

    id: str
    owner_id: int
    owner_chat_id: int
    owner_username: str = ""
    owner_name: str = ""
    enabled: bool = True
    can_reply: bool = False
    rights: Mapping[str, bool] = field(default_factory=dict)
    connected_at: datetime | None = None

    @property
    def usable(self) -> bool:
        """Whether the bot may write in this connection's chats."""
        return self.enabled and self.can_reply

    @property
    def standing(self) -> str:
        """Why it is (not) usable, for the log and the lead log."""
        if not self.enabled:
            return "disabled"
        return "enabled" if self.can_reply else "without the right to reply"


def connection_of(row: BusinessConnection) -> Connection:
    return Connection(
        id=row.id,
        owner_id=row.owner_id,
        owner_chat_id=row.owner_chat_id,
        owner_username=row.owner_username,
        owner_name=row.owner_name,
        enabled=row.enabled,
        can_reply=row.can_reply,
        rights={str(k): bool(v) for k, v in (row.rights or {}).items()},
        connected_at=row.connected_at,
    )


class BusinessRepo:
    """Connections and their chats, within one session (the caller owns the transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table: Table) -> Any:
        return upsert_insert(self.session.get_bind().dialect.name)(table)

    async def get(self, connection_id: str) -> Connection | None:
        row = await self.session.get(BusinessConnection, connection_id)
        return connection_of(row) if row is not None else None

    async def save(self, conn: Connection, now: datetime) -> Connection | None:
        """Keep Telegram's latest description of ``conn``; returns the one it replaces."""
        row = await self.session.get(BusinessConnection, conn.id, with_for_update=True)
        before = connection_of(row) if row is not None else None
        values = {
            "owner_id": conn.owner_id,
            "owner_chat_id": conn.owner_chat_id,
            "owner_username": conn.owner_username[:64],
            "owner_name": conn.owner_name[:256],
            "enabled": conn.enabled,
            "can_reply": conn.can_reply,
            "rights": dict(conn.rights),
            "connected_at": conn.connected_at or now,
            "updated_at": now,
        }
        if row is None:
            self.session.add(BusinessConnection(id=conn.id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
        await self.session.flush()
        return before

    async def link(self, lead_id: int, connection_id: str, now: datetime) -> None:
        """The lead's customer wrote through ``connection_id``: replies go out through it.
        One statement, which writes nothing when the link is already that one."""
        stmt = self._insert(CHATS).values(
            lead_id=lead_id, connection_id=connection_id, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={"connection_id": stmt.excluded.connection_id, "updated_at": now},
            where=CHATS.c.connection_id != stmt.excluded.connection_id,
        )
        await self.session.execute(stmt)

    async def of_lead(self, lead_id: int) -> Connection | None:
        """The connection that reaches the lead, None for a lead met elsewhere."""
        stmt = (
            select(BusinessConnection)
            .join(BusinessChat, BusinessChat.connection_id == BusinessConnection.id)
            .where(BusinessChat.lead_id == lead_id)
        )
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        return connection_of(row) if row is not None else None

    async def leads_of(self, connection_id: str) -> list[int]:
        """The leads this connection reaches (oldest first)."""
        stmt = (
            select(BusinessChat.lead_id)
            .where(BusinessChat.connection_id == connection_id)
            .order_by(BusinessChat.lead_id)
        )
        return list((await self.session.execute(stmt)).scalars().all())
