"""Who this database surely has never seen: the read a first contact can skip (PostgreSQL).

Why: an optimistic unit of work (``storage.unit``) reads the lead, then lands every write in
one checked statement. For someone never seen, the read finds nothing, and an ad campaign's
burst is mostly such people: each ``/start`` paid a round trip, and the server a query, to
learn that. ``KnownLeads`` holds every ``(channel, user_id)`` with a lead row in a Bloom
filter: it can say "maybe seen" of someone new (a false positive: the lead is read, as
before) but never "never seen" of someone it was told about. When it says "never seen", the
unit skips the read and inserts the lead with the state the engine gave it.

It can be wrong only about leads made since it was filled by another process (another
instance, a command): then the new lead's ``INSERT … ON CONFLICT DO NOTHING`` finds the row,
the whole statement fails (``storage.batch``), and the update runs again the locking way,
which reads the lead. So a guess costs a retry, never a duplicate or a lost write
(``tests/integration/test_first_contacts.py``).

Filled once at start, in the background (``app.maintenance``); until then every lead is
read. Every lead a unit reads or makes is added as it goes. Sized at start for twice the
leads there are (at least a million) at 1 % false positives, 1.2 MB a million: past that
the false positives grow (more reads, nothing wrong) until the next start.

Why a library (``rbloom``, Rust): a Python set of a million keys holds ~60 MB, a
hand-written filter would hash in Python on every update.
"""

from __future__ import annotations

import logging
import time

from rbloom import Bloom
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.leads import LEADS

log = logging.getLogger(__name__)

MIN_CAPACITY = 1_000_000
FALSE_POSITIVES = 0.01
_BATCH = 10_000


class KnownLeads:
    """A Bloom filter of the leads' ``(channel, user_id)``; see the module's docstring."""

    def __init__(self) -> None:
        self._bloom: Bloom | None = None  # created by ``load``: before that, nothing is kept
        self.ready = False  # filled with every lead there was when ``load`` began
        self.capacity = 0

    def sight(self, channel: str, user_id: int) -> bool:
        """Note someone a unit of work is about to read or make; True when they surely have
        no lead row (then the read can be skipped)."""
        bloom = self._bloom
        if bloom is None:
            return False
        key = (channel, user_id)
        never = self.ready and key not in bloom
        bloom.add(key)
        return never

    async def load(self, engine: AsyncEngine) -> int:
        """Fill the filter with every lead (streamed); returns how many. Leads made while it
        runs are added by the units that make them, as the filter exists from the start."""
        started = time.monotonic()
        self.ready = False  # a filter being refilled guesses nothing until it is full
        async with engine.connect() as conn:
            count = int((await conn.execute(select(func.count()).select_from(LEADS))).scalar_one())
            self.capacity = max(MIN_CAPACITY, 2 * count)
            self._bloom = bloom = Bloom(self.capacity, FALSE_POSITIVES)
            keys = select(LEADS.c.channel, LEADS.c.user_id).execution_options(yield_per=_BATCH)
            rows = await conn.stream(keys)
            loaded = 0
            async for batch in rows.partitions(_BATCH):
                bloom.update((row[0], row[1]) for row in batch)
                loaded += len(batch)
            await conn.rollback()  # it only read
        self.ready = True
        log.info(
            "first contacts: %d leads known in %.1fs; someone new is no longer read first",
            loaded,
            time.monotonic() - started,
        )
        return loaded
