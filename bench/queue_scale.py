"""Benchmark 4: time to claim the next batch of due touches with 10k and 1M pending rows.

The claim must use the (state, due_at) index, so its cost stays flat as the queue grows.
Rows are bulk-loaded, each claim runs in a transaction that is rolled back (the queue stays
the same size), and the median of several claims is reported.
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.touches import TouchRepo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _fill(db: Database, rows: int) -> None:
    """``rows`` pending touches, 1% of them due, spread over 100k leads."""
    leads = min(rows, 100_000)
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS"
                    " (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :leads)"
                    " INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                    " language, stage, status, flags, state, created_at, updated_at)"
                    " SELECT i, 'telegram', i, '', '', '', '', 'warm', 'active', '[]', '{}',"
                    " '2026-01-01', '2026-01-01' FROM n"
                ),
                {"leads": leads},
            )
            await conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS"
                    " (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)"
                    " INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                    " attempts, created_at) SELECT (i % :leads) + 1,"
                    " CASE WHEN i % 100 = 0 THEN '2026-03-01 00:00:00'"
                    " ELSE '2026-04-01 00:00:00' END, 'x', 1, 'touch', 'pending', 0, '2026-01-01'"
                    " FROM n"
                ),
                {"rows": rows, "leads": leads},
            )
        else:
            await conn.execute(
                text(
                    "INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                    " language, stage, status, flags, state, created_at, updated_at)"
                    " SELECT i, 'telegram', i, '', '', '', '', 'warm', 'active', '[]', '{}',"
                    " now(), now() FROM generate_series(1, :leads) AS i"
                ),
                {"leads": leads},
            )
            await conn.execute(
                text(
                    "INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                    " attempts, created_at) SELECT (i % :leads) + 1, CASE WHEN i % 100 = 0"
                    " THEN timestamptz '2026-03-01' ELSE timestamptz '2026-04-01' END, 'x', 1,"
                    " 'touch', 'pending', 0, now() FROM generate_series(1, :rows) AS i"
                ),
                {"rows": rows, "leads": leads},
            )
            await conn.execute(text("ANALYZE leads"))
            await conn.execute(text("ANALYZE scheduled_touches"))


#: The channels the bot's touch loop claims for: its own chats and Telegram Business chats.
LOOP_CHANNELS = ("telegram", "business")


async def _claim_ms(
    db: Database, repeats: int = 15, batch: int = 100, channel: tuple[str, ...] | None = None
) -> float:
    timings = []
    for _ in range(repeats):
        async with db.session() as session, session.begin():
            start = time.perf_counter()
            claimed, _ = await TouchRepo(session).claim_due(
                NOW, batch, "bench", timedelta(minutes=5), channel
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


async def measure_all(url: str, rows: int) -> tuple[dict[str | None, float], list[str]]:
    """Median claim time (ms) without and with the channel filter the bot's loop uses, and
    the query plans of the claim's SELECTs (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN
    on SQLite), as the database ran them with ``rows`` waiting."""
    db = Database(url)
    try:
        await db.upgrade()
        await _fill(db, rows)
        timings = {
            None: await _claim_ms(db),
            "telegram": await _claim_ms(db, channel=LOOP_CHANNELS),
        }
        return timings, await _plans(db)
    finally:
        await db.close()


async def _plans(db: Database, channel: tuple[str, ...] = LOOP_CHANNELS) -> list[str]:
    """EXPLAIN the SELECTs ``claim_due`` sends (captured as sent, with their parameters)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "scheduled_touches" in statement:
            captured.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.session() as session, session.begin():
            await TouchRepo(session).claim_due(NOW, 100, "bench", timedelta(minutes=5), channel)
            await session.rollback()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    async with db.engine.connect() as conn:
        for statement, parameters in captured:
            transaction = await conn.begin()
            rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
            await transaction.rollback()
            lines = [str(r[-1]) for r in rows]
            plans.append("\n".join(lines))
    return plans


def uses_index(plan: str) -> bool:
    """The plan reads scheduled_touches through its (state, due_at) index, never a scan."""
    index = "ix_scheduled_touches_state_due_at"
    scans = ("Seq Scan on scheduled_touches", "SCAN scheduled_touches")
    return index in plan and not any(s in plan for s in scans)


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


async def run(sizes: tuple[int, int], postgres: str | None) -> tuple[list[Any], dict[str, Any]]:
    """Benchmark 4 for ``python -m bench``: both sizes on SQLite and (given a URL) PostgreSQL.

    The claim is timed as the bot's touch loop runs it (only Telegram leads) and without that
    filter; flat means the larger queue costs at most twice the smaller one, and every SELECT
    of the claim reads scheduled_touches through the (state, due_at) index.
    """
    import tempfile

    from bench.results import Row, say

    small, large = sizes
    rows: list[Any] = []
    detail: dict[str, Any] = {}
    backends: list[tuple[str, str | None]] = [("SQLite", None), ("PostgreSQL", postgres)]
    for number, (backend, base) in zip(("4", "4b"), backends, strict=True):
        name = f"Queue claim, {small:,} → {large:,} pending ({backend})"
        if backend == "PostgreSQL" and base is None:
            rows.append(Row(number, name, "skipped: no --postgres URL", "", None))
            continue
        timings: dict[int, dict[str | None, float]] = {}
        plans: dict[int, list[str]] = {}
        with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp:
            for size in sizes:
                start = time.perf_counter()
                if base is None:
                    timings[size], plans[size] = await measure_all(
                        await sqlite_url(tmp, str(size)), size
                    )
                else:
                    url, db_name = await postgres_url(base)
                    try:
                        timings[size], plans[size] = await measure_all(url, size)
                    finally:
                        await drop_postgres(base, db_name)
                say(
                    f"{backend} {size:,} rows: claim {timings[size]['telegram']:.2f} ms "
                    f"(unfiltered {timings[size][None]:.2f} ms); "
                    f"{time.perf_counter() - start:.0f}s with the fill"
                )
        ratio = timings[large]["telegram"] / timings[small]["telegram"]
        ratio_plain = timings[large][None] / timings[small][None]
        indexed = all(uses_index(p) for p in plans[large])
        detail[backend] = {
            "timings_ms": timings,
            "plans": plans[large],
            "ratio": ratio,
            "ratio_unfiltered": ratio_plain,
            "index": indexed,
        }
        plan_line = "; ".join(
            re.sub(r"\s*\((actual|cost)[^)]*\)", "", line).strip(" ->")
            for line in plans[large][-1].splitlines()
            if re.search(r"Scan|SEARCH|SCAN", line)
        )
        rows.append(
            Row(
                number,
                name,
                f"{timings[small]['telegram']:.2f} → {timings[large]['telegram']:.2f} ms "
                f"(×{ratio:.2f}); index {'yes' if indexed else 'NO'}",
                "flat (×≤2), claim uses the (state, due_at) index",
                ratio <= 2.0 and indexed,
                [
                    f"as the touch loop claims (Telegram leads only); without that filter "
                    f"{timings[small][None]:.2f} → {timings[large][None]:.2f} ms "
                    f"(×{ratio_plain:.2f})",
                    f"plan of the due SELECT at {large:,}: {plan_line[:300]}",
                ],
            )
        )
    return rows, detail
