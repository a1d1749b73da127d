"""``leadbot export``: leads (with their answers) or the event log to CSV or XLSX.

Rows are streamed from the database into the writer, so an export of a million events
holds one batch in memory, not the whole table. The file appears only when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing, closing
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from bot.reports.describe import describe
from bot.reports.periods import naive_local
from bot.reports.writers import open_writer
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import count_events, count_leads, stream_events, stream_leads

Kind = Literal["leads", "events"]
Progress = Callable[[int], None]

LEAD_FIELDS = (
    "id", "created_at", "channel", "user_id", "first_name", "last_name", "username",
    "language", "source", "segment", "readiness", "score", "stage", "status", "step",
    "phone", "email", "flags", "summary", "last_seen_at",
)  # fmt: skip
EVENT_FIELDS = (
    "id", "created_at", "lead_id", "first_name", "username", "source", "segment",
    "type", "step", "description", "payload",
)  # fmt: skip
TIMES = {"created_at", "last_seen_at"}
PROGRESS_STEP = 200  # rows per progress-bar update: a million updates would cost seconds


def lead_header(answer_keys: Sequence[str]) -> list[str]:
    return [*LEAD_FIELDS, *(f"answer:{k}" for k in answer_keys), "other_answers"]


async def count_rows(db: Database, kind: Kind, f: LeadFilter) -> int:
    async with db.session() as session:
        return await (count_leads(session, f) if kind == "leads" else count_events(session, f))


async def export(
    db: Database,
    kind: Kind,
    f: LeadFilter,
    path: Path,
    fmt: str,
    tz: tzinfo,
    answer_keys: Sequence[str] = (),
    progress: Progress | None = None,
) -> int:
    """Write the rows to ``path`` (times in ``tz``); returns how many rows were written."""
    partial = path.with_name(f".{path.name}.part")
    try:
        with closing(open_writer(partial, fmt, kind)) as writer:
            if kind == "leads":
                writer.write(lead_header(answer_keys))
                rows = _lead_rows(db, f, tz, answer_keys)
            else:
                writer.write(EVENT_FIELDS)
                rows = _event_rows(db, f, tz)
            written = 0
            async with aclosing(rows):  # ends the query even if writing fails halfway
                async for row in rows:
                    writer.write(row)
                    written += 1
                    if progress is not None and written % PROGRESS_STEP == 0:
                        progress(PROGRESS_STEP)
            if progress is not None:
                progress(written % PROGRESS_STEP)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


async def _lead_rows(
    db: Database, f: LeadFilter, tz: tzinfo, keys: Sequence[str]
) -> AsyncGenerator[list[Any]]:
    known = set(keys)
    async with db.session() as session:
        async for lead, answers in stream_leads(session, f):
            row = [_value(name, lead[name], tz) for name in LEAD_FIELDS]
            row += [answers.get(k, "") for k in keys]
            row.append("; ".join(f"{k}: {v}" for k, v in answers.items() if k not in known))
            yield row


async def _event_rows(db: Database, f: LeadFilter, tz: tzinfo) -> AsyncGenerator[list[Any]]:
    async with db.session() as session:
        async for event in stream_events(session, f):
            payload = event["payload"] or {}
            event["description"] = describe(event["type"], payload, tz)
            event["payload"] = payload
            yield [_value(name, event[name], tz) for name in EVENT_FIELDS]


def _value(name: str, value: Any, tz: tzinfo) -> Any:
    if name in TIMES:
        return naive_local(value, tz)
    if name == "flags":
        return ", ".join(value or ())
    if name == "payload":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
