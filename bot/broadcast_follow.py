"""``leadbot broadcast status ID --follow``: watch a mailing go out, with a progress bar.

The CLI process only reads the queue the bot is working through, so it polls; in a terminal
a rich bar moves, elsewhere (a log, a pipe) a line is printed whenever the numbers change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.broadcast_control import progress_text
from bot.broadcasts import progress
from bot.reports.render import console
from storage import broadcasts
from storage.db import Database


def finished(p: broadcasts.Progress) -> bool:
    return p.done or p.broadcast.state == "cancelled"


async def follow(
    db: Database,
    broadcast_id: int,
    every: float,
    tz: tzinfo,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> broadcasts.Progress:
    """Poll until nothing of the broadcast is queued (or it is cancelled); the last look."""
    current = await progress(db, broadcast_id)
    out = console(stderr=True)
    if not out.is_terminal:
        line = ""
        while True:
            text = progress_text(current, clock(), tz)
            if text != line:
                print(text, flush=True)
                line = text
            if finished(current):
                return current
            await asyncio.sleep(every)
            current = await progress(db, broadcast_id)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("", total=None)
        while True:
            total = max(current.total - current.cancelled, 1)
            bar.update(
                task,
                total=total,
                completed=current.sent + current.failed,
                description=progress_text(current, clock(), tz),
            )
            if finished(current):
                return current
            await asyncio.sleep(every)
            current = await progress(db, broadcast_id)
