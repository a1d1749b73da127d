"""Benchmark 6: the reading side at 100,000 leads and ~1.7M events (SQLite and PostgreSQL).

The lead log is ``bench/lead_log.py``'s: journeys walked through the real service and cloned
with their whole history (~17 events a lead), arriving over 60 days from four sources. On it:

- ``leadbot report`` (``build_report`` and the rendered table, in process) for the whole log
  and with each filter (period, source, segment, language): target < 1 s each;
- ``leadbot audience`` (count, sample and the other channels' count, as the command asks):
  target < 0.5 s each;
- ``leadbot export events`` to CSV, the whole log: target >= 100,000 rows/s;
- every dashboard page (``bench/web_pages.py``): target < 300 ms each.

Figures are medians of three runs after a warm-up (the slowest run is in the notes). The
report's fast path is also checked against the plain scan of the event log (the same
numbers, or the benchmark fails), and ``python -m bot report`` is timed as a process, whose
interpreter start-up and imports no query can remove (a note, not a target).

On PostgreSQL the seeded tables are vacuumed and analysed first, as autovacuum leaves them.
"""

from __future__ import annotations

import asyncio
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import text

from bench import web_pages
from bench.lead_log import fill
from bench.results import Row, say
from bench.seeding import MINI, ROOT, TIMEZONE, load_mini, postgres_database, sqlite_url
from bot.broadcasts.audience import AudienceWords
from bot.broadcasts.flow import make_draft, preview
from bot.reports.export import export
from bot.reports.metrics import load_cohort, scan_cohort
from bot.reports.render import report_view
from bot.reports.report import build_report
from bot.scenario.funnel import Funnel
from bot.service import utcnow
from storage.criteria import LeadFilter
from storage.db import Database

REPORT_TARGET_S = 1.0
AUDIENCE_TARGET_S = 0.5
EXPORT_TARGET_ROWS = 100_000
REPEATS = 3


def reports(now: Any) -> list[tuple[str, LeadFilter]]:
    return [
        ("whole log", LeadFilter()),
        ("--since 30d", LeadFilter(since=now - timedelta(days=30))),
        ("--source vk_ads", LeadFilter(source="vk_ads")),
        ("--segment hot", LeadFilter(segment="hot")),
        ("--language en", LeadFilter(language="en")),
    ]


AUDIENCES = (
    ("--channel telegram", AudienceWords(channel="telegram")),
    ("--idle-days 3", AudienceWords(channel="telegram", idle_days=3)),
    ("--stopped-at hot-2", AudienceWords(channel="telegram", stopped_at=["hot-2"])),
    ("--segment hot --since 30d", AudienceWords(channel="telegram", segment="hot",
                                                joined_after="30d")),
)  # fmt: skip


async def timed(work: Callable[[], Awaitable[Any]], repeats: int = REPEATS) -> list[float]:
    """Seconds per run, ``repeats`` runs after a warm-up that is not counted."""
    await work()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        await work()
        out.append(time.perf_counter() - start)
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _report(db: Database, funnel: Funnel, f: LeadFilter) -> None:
    """What ``leadbot report`` does after start-up: build it, render the table."""
    result = await build_report(db, funnel, f, utcnow())
    Console(file=io.StringIO(), width=160).print(report_view(result, ZoneInfo(TIMEZONE)))


def _sorted(cohort: Any) -> dict[str, list[Any]]:
    fields = ("leads", "events", "tiers", "steps", "dropped")
    return {name: sorted(getattr(cohort, name), key=_plain) for name in fields}


def _plain(group: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(value) for value in group)


async def _process(url: str, *args: str) -> tuple[float, float]:
    """``python -m bot *args`` on the database at ``url``: (wall seconds, CPU seconds)."""
    env = dict(os.environ, DATABASE_URL=url, SCENARIO=str(MINI), TIMEZONE=TIMEZONE,
               PYTHONPATH=str(ROOT))  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"python -m bot {' '.join(args)}: {err.decode()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def _median_row(name: str, runs: dict[str, list[float]], target: float, unit: str = "s") -> Row:
    slowest = max(runs, key=lambda k: statistics.median(runs[k]))
    worst = statistics.median(runs[slowest])
    notes = [
        f"{k}: median {statistics.median(v):.2f} {unit}, max {max(v):.2f} {unit}"
        for k, v in runs.items()
    ]
    return Row(
        "6",
        name,
        f"slowest median {worst:.2f} {unit} ({slowest})",
        f"< {target:g} {unit}",
        worst < target,
        notes,
    )


async def measure(url: str, backend: str, leads: int) -> tuple[list[Row], dict[str, Any]]:
    db = Database(url)
    detail: dict[str, Any] = {}
    try:
        await db.upgrade()
        seeded = await fill(db, leads)
        if not db.is_sqlite:
            async with db.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("VACUUM ANALYZE"))
        size = f"{seeded['leads']:,} leads / {seeded['events']:,} events"
        detail["seeded"] = seeded
        funnel = load_mini()
        now = utcnow()
        rows: list[Row] = []

        say(f"  {backend}: report")
        runs = {name: await timed(partial(_report, db, funnel, f)) for name, f in reports(now)}
        same = _sorted(await load_cohort(db, LeadFilter())) == _sorted(
            await scan_cohort(db, LeadFilter())
        )
        if not same:
            raise RuntimeError("the report's fast path and the event-log scan disagree")
        row = _median_row(f"`leadbot report`, {size} ({backend})", runs, REPORT_TARGET_S)
        row.notes.append("same numbers as the plain scan of the event log: yes")
        process, _ = await _process(url, "report", "--format", "json")
        start_up, _ = await _process(url, "--help")
        row.notes.append(
            f"`python -m bot report --format json` as a process: {process:.2f} s wall;"
            f" `python -m bot --help` (start-up and imports alone): {start_up:.2f} s"
        )
        rows.append(row)
        detail["report"] = runs | {"process": process, "start_up": start_up}

        say(f"  {backend}: audience")
        tz = ZoneInfo(TIMEZONE)
        drafts = {
            name: make_draft(funnel, words, now, tz, content_later=True)
            for name, words in AUDIENCES
        }
        runs = {
            name: await timed(partial(preview, db, funnel, draft, now, 10))
            for name, draft in drafts.items()
        }
        rows.append(
            _median_row(
                f"`leadbot audience` (count + sample), {size} ({backend})",
                runs,
                AUDIENCE_TARGET_S,
            )
        )
        detail["audience"] = runs

        say(f"  {backend}: export")
        rows.append(await _export_row(db, url, size, backend, detail))

        say(f"  {backend}: dashboard pages")
        pages = await web_pages.pages(db, leads, REPEATS)
        rows.append(web_pages.row(backend, pages, size))
        detail["pages"] = pages
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        rows[0].notes.append(f"load average (1/5/15 min) after the {backend} runs: {load}")
        detail["load_after"] = load
        return rows, detail
    finally:
        await db.close()


async def _export_row(
    db: Database, url: str, size: str, backend: str, detail: dict[str, Any]
) -> Row:
    """``leadbot export events`` as the command runs (its own process, start-up included),
    three times; the function alone once more in this process, and a slice to XLSX."""
    tz = ZoneInfo(TIMEZONE)
    async with db.session() as session:
        rows = int((await session.execute(text("SELECT count(*) FROM events"))).scalar_one())
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-export-") as tmp:
        out = Path(tmp) / "events.csv"
        runs = [await _process(url, "export", "events", "-o", str(out), "--quiet")
                for _ in range(REPEATS)]  # fmt: skip
        megabytes = out.stat().st_size / 2**20
        start, cpu = time.perf_counter(), _cpu()
        written = await export(db, "events", LeadFilter(), out, "csv", tz)
        inside = written / (time.perf_counter() - start)
        inside_cpu = (_cpu() - cpu) / written * 1e6
        start = time.perf_counter()
        slice_rows = await export(db, "events", LeadFilter(limit=50_000), Path(tmp) / "e.xlsx",
                                  "xlsx", tz)  # fmt: skip
        xlsx = slice_rows / (time.perf_counter() - start)
    if written != rows:
        raise RuntimeError(f"export wrote {written} of {rows} events")
    speeds = [rows / wall for wall, _ in runs]
    detail["export"] = {"rows": rows, "process_rows_per_s": speeds,
                        "process_cpu_us_per_row": [c / rows * 1e6 for _, c in runs],
                        "function_rows_per_s": inside, "function_cpu_us_per_row": inside_cpu,
                        "xlsx_rows_per_s": xlsx}  # fmt: skip
    median = statistics.median(speeds)
    return Row(
        "6",
        f"`leadbot export events` (CSV, every event), {size} ({backend})",
        f"median {median:,.0f} rows/s ({rows:,} rows, {megabytes:.0f} MiB in"
        f" {rows / median:.1f} s, start-up included)",
        f">= {EXPORT_TARGET_ROWS:,} rows/s",
        median >= EXPORT_TARGET_ROWS,
        [
            "`python -m bot export events -o FILE --quiet`: "
            + ", ".join(f"{s:,.0f} rows/s" for s in speeds)
            + "; its CPU per row: "
            + ", ".join(f"{c / rows * 1e6:.1f} µs" for _, c in runs)
            + (" (PostgreSQL's server not included)" if backend == "PostgreSQL" else ""),
            f"the export function alone, in this (large) process: {inside:,.0f} rows/s,"
            f" {inside_cpu:.1f} µs CPU per row",
            f"XLSX (50,000 rows, not a target): {xlsx:,.0f} rows/s",
        ],
    )


async def run(leads: int, postgres: str | None) -> tuple[list[Row], dict[str, Any]]:
    """Benchmark 6 for ``python -m bench``: SQLite, then PostgreSQL when given a URL."""
    rows: list[Row] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-read-") as tmp:
        say("  SQLite: seeding…")
        got, details["sqlite"] = await measure(sqlite_url(Path(tmp) / "read.db"), "SQLite", leads)
        rows += got
    if postgres:
        async with postgres_database(postgres) as url:
            say("  PostgreSQL: seeding…")
            got, details["postgres"] = await measure(url, "PostgreSQL", leads)
            rows += got
    else:
        rows.append(Row("6", "Reading side (PostgreSQL)", "skipped: no --postgres URL", "", None))
    return rows, details
