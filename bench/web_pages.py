"""Benchmark 6: every dashboard page's server time with 100k leads and 1M events.

The lead log is filled with SQL (ten events a lead, spread over 60 days, a few handed off,
segments and sources mixed), then each page is asked for through the real aiohttp app, signed
in, several times; the slowest answer per page is held against the 300 ms target.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bench.results import Row, say
from bench.seeding import MINI, load_mini, postgres_database, sqlite_url
from bot.managers.staff import Staff
from bot.qualification import OfflineQualifier
from bot.service import FunnelService, ScenarioHolder
from storage.db import Database
from web.app import build_app
from web.auth import Gate
from web.context import WebContext

TARGET_MS = 300.0
ADMIN = 1
EVENTS = (  # (type, step) — ten per lead, in the order the engine writes them
    ("started", None),
    ("step_sent", "hello"),
    ("question_asked", "q_need"),
    ("answer_given", "q_need"),
    ("question_asked", "q_budget"),
    ("answer_given", "q_budget"),
    ("message_received", "q_about"),
    ("classified", "classify"),
    ("step_sent", "hot_offer"),
    ("touch_scheduled", "hot-2"),
)
PAGES = (
    "/funnel",
    "/leads",
    "/leads?q=user77",
    "/leads?segment=hot&status=handed_off",
    "/leads/{middle}",
    "/inbox",
    "/broadcasts?preview=1&segment=hot&channel=telegram",
    "/scenario",
)


def _series(sqlite: bool, n: str) -> tuple[str, str]:
    """(a WITH prefix, a FROM clause) yielding i = 1..n."""
    if sqlite:
        return (
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) ",
            "s",
        )
    return "", f"generate_series(1, {n}) AS s(i)"


async def fill(db: Database, leads: int) -> None:
    sqlite = db.is_sqlite
    ago = (
        "datetime('now', '-' || (i % 60) || ' days', '-' || (i % 1440) || ' minutes')"
        if sqlite
        else "now() - (i % 60) * interval '1 day' - (i % 1440) * interval '1 minute'"
    )
    seg = "CASE i % 4 WHEN 0 THEN 'hot' WHEN 1 THEN 'info' WHEN 2 THEN 'nope' ELSE NULL END"
    src = "CASE i % 3 WHEN 0 THEN 'vk' WHEN 1 THEN 'ads' ELSE NULL END"
    status = "CASE WHEN i % 20 = 0 THEN 'handed_off' ELSE 'active' END"
    cat = "||"
    with_, from_ = _series(sqlite, ":leads")
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                f"{with_}INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                " language, source, segment, stage, status, step, flags, state, created_at,"
                " updated_at, last_seen_at)"
                f" SELECT i, 'telegram', i, 'User' {cat} i, '', 'user' {cat} i, 'ru', {src},"
                f" {seg}, 'warm', {status}, 'hot_offer', '[]', '{{}}', {ago}, {ago}, {ago}"
                f" FROM {from_}"
            ),
            {"leads": leads},
        )
        for n, (type_, step) in enumerate(EVENTS):
            payload = (
                '\'{"text": "hello"}\''
                if type_ == "message_received"
                else '\'{"segment": "hot", "reason": "budget"}\''
                if type_ == "classified"
                else "'{}'"
            )
            await conn.execute(
                text(
                    f"{with_}INSERT INTO events (lead_id, type, step, payload, created_at)"
                    f" SELECT i, :type, :step, {payload}, {ago} FROM {from_}"
                ),
                {"leads": leads, "type": type_, "step": step},
            )
            say(f"    events: {type_} ({n + 1}/{len(EVENTS)})")
        if not sqlite:
            await conn.execute(text("ANALYZE"))


async def measure(url: str, leads: int, repeats: int) -> dict[str, list[float]]:
    db = Database(url)
    try:
        await db.upgrade()
        await fill(db, leads)
        service = FunnelService(db, ScenarioHolder(load_mini()), OfflineQualifier())
        ctx = WebContext(
            service=service,
            staff=Staff(frozenset({ADMIN})),
            gate=Gate(b"b" * 32, frozenset({ADMIN}), None),
            scenario_path=MINI,
        )
        client = TestClient(TestServer(build_app(ctx)))
        await client.start_server()
        try:
            token = ctx.gate.issue_link(ADMIN, "bench", "en")
            await client.post("/auth/link", data={"token": token})
            times: dict[str, list[float]] = {}
            for page in (p.format(middle=leads // 2) for p in PAGES):
                for _ in range(repeats + 1):  # the first warms caches and is not counted
                    start = time.perf_counter()
                    r = await client.get(page)
                    await r.read()
                    took = (time.perf_counter() - start) * 1000
                    if r.status != 200:
                        raise RuntimeError(f"{page}: HTTP {r.status}")
                    times.setdefault(page, []).append(took)
                times[page] = times[page][1:]
            return times
        finally:
            await client.close()
    finally:
        await db.close()


def _rows(backend: str, times: dict[str, list[float]], leads: int) -> list[Row]:
    worst = max(max(v) for v in times.values())
    slowest = max(times, key=lambda p: max(times[p]))
    notes = [
        f"{p}: median {statistics.median(v):.0f} ms, max {max(v):.0f} ms" for p, v in times.items()
    ]
    return [
        Row(
            "6",
            f"Dashboard pages, {leads:,} leads / {leads * len(EVENTS):,} events ({backend})",
            f"slowest {worst:.0f} ms ({slowest})",
            f"< {TARGET_MS:.0f} ms",
            worst < TARGET_MS,
            notes,
        )
    ]


async def run(
    leads: int, postgres: str | None, repeats: int = 3
) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-web-") as tmp:
        say("  SQLite: filling…")
        times = await measure(sqlite_url(Path(tmp) / "web.db"), leads, repeats)
        rows += _rows("SQLite", times, leads)
        details["sqlite"] = times
    if postgres:
        async with postgres_database(postgres) as url:
            say("  PostgreSQL: filling…")
            times = await measure(url, leads, repeats)
            rows += _rows("PostgreSQL", times, leads)
            details["postgres"] = times
    return rows, details
