"""Telegram Business on the service's side: connections as Telegram describes them, and
which connection reaches a lead met in a business chat.

The faces tell the service what Telegram said (``connection_changed``) and through which
connection a customer wrote (``link_business_chat``); the Telegram channel asks which
connection reaches a lead before it sends a touch (``business_connection_of``). When the
bot loses the right to write somewhere (the owner disabled the connection or took its
reply right) or gets it back, every lead of that connection hears of it in its log.
"""

from __future__ import annotations

import logging

from bot.service.core import FunnelCore
from bot.vocabulary import EventType
from storage.business import BusinessRepo, Connection
from storage.leads import LeadRepo

log = logging.getLogger(__name__)


class BusinessService(FunnelCore):
    """Business connections and their chats (``FunnelService`` has these methods)."""

    async def business_connection(self, connection_id: str) -> Connection | None:
        async with self.db.session() as session:
            return await BusinessRepo(session).get(connection_id)

    async def connection_changed(self, conn: Connection) -> Connection | None:
        """Keep what Telegram says of ``conn``; returns what was known before (None: new).

        Losing or regaining the right to write is logged on each of its leads
        (``business_disconnected`` / ``business_connected``), in the same transaction.
        """
        now = self.clock()
        async with self.db.session() as session, session.begin():
            repo = BusinessRepo(session)
            before = await repo.save(conn, now)
            if before is None or before.usable == conn.usable:
                return before
            leads = await repo.leads_of(conn.id)
            kind = EventType.BUSINESS_CONNECTED if conn.usable else EventType.BUSINESS_DISCONNECTED
            payload = {"connection": conn.id, "standing": conn.standing}
            version = self.scenario.funnel.version
            await LeadRepo(session).insert_for_each(leads, (kind, None, payload), now, version)
        log.warning(
            "business connection %s of user %s is now %s (%d lead(s) of it)",
            conn.id,
            conn.owner_id,
            conn.standing,
            len(leads),
        )
        return before

    async def link_business_chat(self, lead_id: int, connection_id: str) -> None:
        """The lead's customer wrote through ``connection_id``: later sends go through it."""
        async with self.db.session() as session, session.begin():
            await BusinessRepo(session).link(lead_id, connection_id, self.clock())

    async def business_connection_of(self, lead_id: int) -> Connection | None:
        """The connection that reaches the lead (None for a lead met elsewhere)."""
        async with self.db.session() as session:
            return await BusinessRepo(session).of_lead(lead_id)
