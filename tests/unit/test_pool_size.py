"""The PostgreSQL pool holds every update the dispatcher runs at once, and then some.

A pool smaller than that opens and closes overflow connections all through a burst (a server
fork each), which benchmark 3's profile showed; this keeps the two numbers together.
"""

from app.runner import CONCURRENT_UPDATES
from storage.db import POSTGRES_POOL_SIZE, Database


def test_the_pool_outnumbers_concurrent_updates() -> None:
    assert POSTGRES_POOL_SIZE >= CONCURRENT_UPDATES + 2  # + the touch loop and a heartbeat


def test_a_postgres_database_keeps_that_many_connections() -> None:
    db = Database("postgresql+asyncpg://leadbot@localhost/leadbot")  # never connects here
    assert db.engine.pool.size() == POSTGRES_POOL_SIZE  # type: ignore[attr-defined]
