"""Benchmark 4: time to claim the next batch of due touches with 10k and 1M pending rows.

The claim must use the (state, due_at) index, so its cost stays flat as the queue grows.
Rows are bulk-loaded, each claim runs in a transaction that is rolled back (the queue stays
the same size), and the median of several claims is reported.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.repo import TouchRepo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _fill(db: Database, rows: int) -> None:
    """``rows`` pending touches, 1% of them due, spread over 100k leads."""
    leads = min(rows, 100_000)
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.execute(text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :leads)"
                " INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                " language, stage, status, flags, state, created_at, updated_at)"
                " SELECT i, 'telegram', i, '', '', '', '', 'warm', 'active', '[]', '{}',"
                " '2026-01-01', '2026-01-01' FROM n"), {"leads": leads})
            await conn.execute(text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)"
                " INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                " attempts, created_at) SELECT (i % :leads) + 1,"
                " CASE WHEN i % 100 = 0 THEN '2026-03-01 00:00:00'"
                " ELSE '2026-04-01 00:00:00' END, 'x', 1, 'touch', 'pending', 0, '2026-01-01'"
                " FROM n"), {"rows": rows, "leads": leads})
        else:
            await conn.execute(text(
                "INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                " language, stage, status, flags, state, created_at, updated_at)"
                " SELECT i, 'telegram', i, '', '', '', '', 'warm', 'active', '[]', '{}',"
                " now(), now() FROM generate_series(1, :leads) AS i"), {"leads": leads})
            await conn.execute(text(
                "INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                " attempts, created_at) SELECT (i % :leads) + 1, CASE WHEN i % 100 = 0"
                " THEN timestamptz '2026-03-01' ELSE timestamptz '2026-04-01' END, 'x', 1,"
                " 'touch', 'pending', 0, now() FROM generate_series(1, :rows) AS i"),
                {"rows": rows, "leads": leads})
            await conn.execute(text("ANALYZE scheduled_touches"))


async def _claim_ms(db: Database, repeats: int = 15, batch: int = 100) -> float:
    timings = []
    for _ in range(repeats):
        async with db.session() as session:
            async with session.begin():
                start = time.perf_counter()
                claimed, _ = await TouchRepo(session).claim_due(
                    NOW, batch, "bench", timedelta(minutes=5)
                )
                await session.flush()
                timings.append((time.perf_counter() - start) * 1000)
                assert len(claimed) == batch
                await session.rollback()
    return statistics.median(timings)


async def measure(url: str, rows: int) -> float:
    db = Database(url)
    try:
        await db.upgrade()
        await _fill(db, rows)
        return await _claim_ms(db)
    finally:
        await db.close()


async def sqlite_url(tmp: str, tag: str) -> str:
    return f"sqlite+aiosqlite:///{tmp}/queue-{tag}.db"


async def postgres_url(base: str) -> tuple[str, str]:
    name = f"leadbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False), name


async def drop_postgres(base: str, name: str) -> None:
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()
