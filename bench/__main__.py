"""``python -m bench``: the six performance numbers against their targets.

1. drain: 10,000 due touches through the real touch loop and Throttle(30, 1);
2. live replies: 200 button presses answered while that drain runs;
3. per-update cost: ``leadbot run`` as its own process vs a bare aiogram bot's, 2,000-update
   bursts of text answers, button presses and /start, interleaved pairs;
4. queue scale: claiming due touches with 10k and 1M pending rows (SQLite, PostgreSQL);
5. memory: RSS of ``leadbot run`` with 100,000 leads vs a bare aiogram bot's, same run;
6. reading side: ``leadbot report``, ``audience``, ``export events`` and every dashboard page
   with 100,000 leads and ~1.7M events (SQLite and PostgreSQL).

Every Bot API call goes to a FakeBotAPI in its own process; 1, 2 and 5 run with Telegram's
limits enforced there (30 messages/s overall, 1/s per chat with a burst of 3; 429 past them).

Options: ``--only 1,3``, ``--quick`` (small sizes, a smoke run of about a minute),
``--postgres URL`` (default: $TEST_POSTGRES_URL; without one the PostgreSQL parts are
skipped), ``--markdown FILE`` (also write the results as Markdown), ``--strict`` (exit 1
when a target is missed; by default the exit code only says whether everything ran).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import sys
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.machine import machine, postgres_version
from bench.results import Row


class QuietLog(logging.Handler):
    """Shows the first few warnings of the bot under test, counts the rest."""

    def __init__(self, console: Console, show: int = 5) -> None:
        super().__init__(logging.WARNING)
        self.console, self.show = console, show
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.name] += 1
        if sum(self.counts.values()) <= self.show:
            self.console.print(
                f"  [dim]log {record.levelname} {record.name}: {record.getMessage()[:200]}[/dim]",
                highlight=False,
            )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="leadbot's performance benchmarks"
    )
    parser.add_argument("--only", default="1,2,3,4,5,6", help="benchmarks to run, e.g. 1,3")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL") or None,
        help="PostgreSQL server URL (postgresql+asyncpg://…) for the PostgreSQL parts; "
        "default $TEST_POSTGRES_URL",
    )
    parser.add_argument("--markdown", type=Path, help="also write the results to this file")
    parser.add_argument("--json", type=Path, help="write every measurement to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    try:
        args.only = sorted({int(x) for x in args.only.split(",") if x.strip()})
    except ValueError:
        parser.error("--only takes benchmark numbers, e.g. 1,3")
    if not args.only or not set(args.only) <= {1, 2, 3, 4, 5, 6}:
        parser.error("--only takes numbers from 1 to 6")
    return args


async def run_all(
    args: argparse.Namespace, console: Console
) -> tuple[list[Row], dict[str, Any], bool]:
    from bench import drain, memory, per_update, queue_scale

    rows: list[Row] = []
    details: dict[str, Any] = {}
    ok = True
    quick = args.quick

    async def guarded(title: str, numbers: list[str], coro: Any) -> Any:
        nonlocal ok
        console.rule(f"[bold]{title}")
        start = time.monotonic()
        try:
            return await coro
        except Exception as exc:  # a benchmark that breaks is reported, the others still run
            ok = False
            console.print(traceback.format_exc(), highlight=False)
            for number in numbers:
                rows.append(
                    Row(number, title, f"error: {type(exc).__name__}: {exc}"[:200], "", False)
                )
            return None
        finally:
            console.print(f"  [dim]{title}: {time.monotonic() - start:.0f}s[/dim]")

    if 1 in args.only or 2 in args.only:
        config = (
            drain.DrainConfig(leads=300, presses=20, press_after=2.0)
            if quick
            else drain.DrainConfig()
        )
        wanted = [str(n) for n in (1, 2) if n in args.only]
        result = await guarded(
            "1-2. Drain with live replies", wanted, drain.run(config, want_presses=2 in args.only)
        )
        if result is not None:
            row1, row2, detail = result
            details["drain"] = detail
            if 1 in args.only:
                rows.append(row1)
            if row2 is not None:
                rows.append(row2)
    if 3 in args.only:
        config3 = (
            per_update.BurstConfig(updates=100, warmup=10, pairs=3, background=1000, counted=20)
            if quick
            else per_update.BurstConfig()
        )
        result = await guarded("3. Per-update cost", ["3"], per_update.run(config3, args.postgres))
        if result is not None:
            rows.extend(result[0])
            details["per_update"] = result[1]
    if 4 in args.only:
        sizes = (10_000, 50_000) if quick else (10_000, 1_000_000)
        result = await guarded("4. Queue scale", ["4"], queue_scale.run(sizes, args.postgres))
        if result is not None:
            rows.extend(result[0])
            details["queue"] = result[1]
    if 5 in args.only:
        config5 = (
            memory.MemoryConfig(leads=10_000, updates=20, due_every=100)
            if quick
            else memory.MemoryConfig()
        )
        result = await guarded("5. Memory", ["5"], memory.run(config5))
        if result is not None:
            rows.append(result[0])
            details["memory"] = result[1]
    if 6 in args.only:
        from bench import reading

        leads6 = 5_000 if quick else 100_000
        result = await guarded("6. Reading side", ["6"], reading.run(leads6, args.postgres))
        if result is not None:
            rows.extend(result[0])
            details["reading"] = result[1]
    return rows, details, ok


def table(rows: list[Row]) -> Table:
    out = Table(title="leadbot benchmarks", show_lines=True)
    out.add_column("#", justify="right")
    out.add_column("Benchmark")
    out.add_column("Result")
    out.add_column("Target")
    out.add_column("Verdict")
    colour = {"PASS": "green", "FAIL": "red", "SKIP": "yellow"}
    for row in rows:
        result = row.value + "".join(f"\n[dim]{n}[/dim]" for n in row.notes)
        out.add_row(
            row.number, row.name, result, row.target, f"[{colour[row.verdict]}]{row.verdict}[/]"
        )
    return out


def markdown(
    rows: list[Row], info: dict[str, str], command: str, started: datetime, seconds: float
) -> str:
    lines = [
        f"Run on {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes: `{command}`",
        "",
        "| Machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "| # | Benchmark | Result | Target | Verdict |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        notes = "".join(f"<br><sub>{n}</sub>" for n in row.notes)
        lines.append(
            f"| {row.number} | {row.name} | {row.value}{notes} | {row.target} | **{row.verdict}** |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    interactive = sys.stdout.isatty()
    console = Console(width=None if interactive else 160, highlight=False)
    quiet = QuietLog(console)
    logging.basicConfig(level=logging.WARNING, handlers=[quiet], force=True)
    started = datetime.now(UTC)
    info = machine()
    if args.postgres:
        try:
            info["PostgreSQL"] = asyncio.run(postgres_version(args.postgres))
        except Exception as exc:
            console.print(f"[red]PostgreSQL at --postgres is not usable: {exc}[/red]")
            args.postgres = None
    if not args.postgres:
        info["PostgreSQL"] = "not used (no --postgres / TEST_POSTGRES_URL)"
    console.print(
        f"[bold]leadbot benchmarks[/bold] {'(quick) ' if args.quick else ''}"
        f"{started:%Y-%m-%d %H:%M} UTC"
    )
    console.print("  " + "; ".join(f"{k}: {v}" for k, v in info.items()))
    clock = time.monotonic()
    rows, details, ok = asyncio.run(run_all(args, console))
    seconds = time.monotonic() - clock
    if quiet.counts:
        console.print(f"  [dim]warnings logged by the bot: {dict(quiet.counts)}[/dim]")
    console.print(table(rows))
    console.print(f"{len(rows)} result(s) in {seconds:.0f}s")
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.markdown:
        args.markdown.write_text(markdown(rows, info, command.strip(), started, seconds))
    if args.json:
        args.json.write_text(json.dumps(details, indent=2, default=str))
    if not ok:
        return 2
    if args.strict and any(r.passed is False for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
