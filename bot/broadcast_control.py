"""Pause, resume, cancel and progress of a broadcast, the same from the CLI and from Telegram.

The state machine lives here (not in each face) so an admin in Telegram and an operator in
a terminal get the same refusals: a cancelled mailing cannot be resumed, and so on.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.broadcasts import BroadcastError, progress, set_state
from bot.reports.periods import local
from storage.broadcasts import Progress
from storage.db import Database

#: action -> (the state it sets, the states it may be applied to)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "pause": ("paused", frozenset({"active"})),
    "resume": ("active", frozenset({"paused"})),
    "cancel": ("cancelled", frozenset({"active", "paused"})),
}
DONE_WORD = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


async def control(db: Database, broadcast_id: int, action: str, now: datetime) -> Progress:
    """Apply ``action``; ``BroadcastError`` says in one line why it cannot be done."""
    target, allowed = ACTIONS[action]
    before = await progress(db, broadcast_id)
    state = before.broadcast.state
    if state not in allowed:
        raise BroadcastError(f"broadcast {broadcast_id} is {state}: cannot {action} it")
    if action != "cancel" and before.done and before.broadcast.kind != "winback":
        raise BroadcastError(f"broadcast {broadcast_id} has finished: nothing to {action}")
    await set_state(db, broadcast_id, target, now)
    return await progress(db, broadcast_id)


def state_word(p: Progress, now: datetime) -> str:
    """``active`` is refined for people: waiting for its start time, sending, or finished."""
    b = p.broadcast
    if b.state != "active":
        return b.state
    if p.done:
        return "finished"
    return "scheduled" if b.starts_at > now else "sending"


def progress_text(p: Progress, now: datetime, tz: tzinfo) -> str:
    """One line: ``#3 «spring» sending: 120 sent · 2 failed · 1 skipped · 0 blocked · 877
    queued``."""
    b = p.broadcast
    parts = [
        f"{p.delivered} sent",
        f"{p.failed + p.rejected} failed",
        f"{p.skipped} skipped",
        f"{p.blocked} blocked",
        f"{p.queued} queued",
    ]
    if p.cancelled:
        parts.append(f"{p.cancelled} cancelled")
    when = f" (starts {local(b.starts_at, tz)})" if b.starts_at > now and p.queued else ""
    return f"#{b.id} «{b.name}» {state_word(p, now)}{when}: " + " · ".join(parts)


def default_name(
    content: dict[str, Any] | None, chain: str | None, now: datetime, tz: tzinfo, stem: str = ""
) -> str:
    """A name for the list when none was given: the chain, the file or the first words."""
    day = now.astimezone(tz).strftime("%Y-%m-%d")
    if chain:
        return f"{chain} {day}"
    if stem:
        return f"{stem} {day}"
    words = " ".join(str((content or {}).get("message", "")).split()[:4])
    return f"{words[:60]} {day}".strip()
