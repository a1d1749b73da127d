"""The Stars cap of a paid broadcast, kept in the database so no process overspends it.

Every message of a paid broadcast is counted against the cap *before* it is sent (in the
same transaction that claims its copy, or one conditional UPDATE, so concurrent senders in
this process or others cannot pass the cap together) and given back if Telegram refuses
it. Each claimed copy holds one message, the least any copy costs: when even that does not
fit, the copy is not run at all (it waits in the queue for a higher cap), so at the cap the
broadcast stops between leads, not halfway through one lead's messages. A process that dies
holding messages leaves them counted: the cap errs on the side of spending less.
"""

from __future__ import annotations

from storage import broadcasts
from storage.db import Database

#: Why a broadcast stopped at its cap (``broadcasts.stop_reason``, shown in its progress).
CAP_SPENT = "its Stars cap is spent"


class StarsBudget:
    """One touch's view of its broadcast's cap: what it holds, takes and gives back."""

    def __init__(self, db: Database, broadcast_id: int, held: int = 0) -> None:
        self.db = db
        self.broadcast_id = broadcast_id
        self.held = held  # counted against the cap already (at the claim), not sent yet

    async def hold(self, messages: int) -> bool:
        """Reserve ``messages`` ahead of the engine run; False if the cap has no room."""
        if not await self._reserve(messages):
            return False
        self.held += messages
        return True

    async def take(self, messages: int) -> bool:
        """Count ``messages`` about to be sent: from what is held first, then the cap."""
        from_held = min(self.held, messages)
        rest = messages - from_held
        if rest and not await self._reserve(rest):
            await self.halt(CAP_SPENT)
            return False
        self.held -= from_held
        return True

    async def give_back(self, messages: int) -> None:
        if messages > 0:
            async with self.db.session() as session, session.begin():
                await broadcasts.release_paid(session, self.broadcast_id, messages)

    async def settle(self) -> None:
        """The touch is over: what it held and did not send goes back to the cap."""
        held, self.held = self.held, 0
        await self.give_back(held)

    async def halt(self, reason: str) -> None:
        async with self.db.session() as session, session.begin():
            await broadcasts.stop(session, self.broadcast_id, reason)

    async def _reserve(self, messages: int) -> bool:
        async with self.db.session() as session, session.begin():
            return await broadcasts.reserve_paid(session, self.broadcast_id, messages)
