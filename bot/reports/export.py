"""``leadbot export``: leads (with their answers) or the event log to CSV or XLSX.

Rows are streamed from the database into the writer, so an export of a million events
holds one batch in memory, not the whole table. The file appears only when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Callable, Sequence, Sized
from contextlib import aclosing, closing
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, TypeVar

from bot.reports.describe import describe
from bot.reports.periods import naive_local
from bot.reports.writers import CSV_TIME, CsvRows, CsvText, defuse, defuse_cell, open_writer
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import count_events, count_leads, stream_event_batches, stream_leads

Kind = Literal["leads", "events"]
B = TypeVar("B", bound=Sized)  # a batch of rows or lines
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
RENDERED_LIMIT = 100_000  # leads (or event kinds) whose CSV text an event export keeps


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
            if kind == "leads":  # cells converted by the writer, row by row
                writer.write(lead_header(answer_keys))
                rows = _batched(_lead_rows(db, f, tz, answer_keys))
                written = await _drain(rows, writer.write_each, progress)
            elif isinstance(writer, CsvRows):  # lines finished here, a batch at once
                writer.write(EVENT_FIELDS)
                written = await _drain(_event_lines(db, f, tz), writer.write_lines, progress)
            else:  # XLSX: strings become text cells, one by one
                writer.write(EVENT_FIELDS)
                written = await _drain(_event_rows(db, f, tz), writer.write_each, progress)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


async def _drain(
    batches: AsyncGenerator[B], write: Callable[[B], None], progress: Progress | None
) -> int:
    """Write every batch; how many rows there were."""
    written = 0
    async with aclosing(batches):  # ends the query even if writing fails halfway
        async for batch in batches:
            write(batch)
            written += len(batch)
            if progress is not None:
                progress(len(batch))
    return written


async def _batched(rows: AsyncGenerator[list[Any]]) -> AsyncGenerator[list[list[Any]]]:
    """Rows in groups of ``PROGRESS_STEP`` (a progress bar updated per row would cost
    seconds over a million rows)."""
    batch: list[list[Any]] = []
    async with aclosing(rows):
        async for row in rows:
            batch.append(row)
            if len(batch) == PROGRESS_STEP:
                yield batch
                batch = []
    if batch:
        yield batch


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


async def _event_lines(db: Database, f: LeadFilter, tz: tzinfo) -> AsyncGenerator[list[str]]:
    """Batches of finished CSV lines of ``EVENT_FIELDS``, as fast as the driver streams them.

    Per row only the id and the time are new text, and neither ever needs quoting (digits,
    dashes, colons, a space); the time is converted once per minute (``LocalMinutes``). The
    lead's cells (id, name, username, source, segment: defused, quoted) are rendered once
    per lead (one query reads each lead as one row), the type, step, description and
    payload once per distinct (type, step, payload), both by the csv module (``CsvText``),
    and joined with commas as csv joins cells: the file is byte for byte what ``csv``
    writes row by row, at some 1.7x the speed (bench/RESULTS.md). The loop is written for
    speed (a million rows): cache look-ups inline, misses aside.
    """
    times = LocalMinutes(tz)
    payloads = PayloadCells(tz, for_csv=True)
    render = CsvText()
    leads: dict[int, str] = {}
    kinds: dict[tuple[str, str | None, str | None], str] = {}
    known_lead, known_kind, known_minute = leads.get, kinds.get, times.minutes.get
    async with db.session() as session:
        async for batch in stream_event_batches(session, f):
            out: list[str] = []
            for id_, at, lead, first_name, username, source, segment, type_, step, raw in batch:
                who = known_lead(lead)
                if who is None:
                    cells = map(defuse_cell, (first_name, username, source, segment))
                    who = _remember(leads, lead, render((lead, *cells)))
                what = known_kind((type_, step, raw))
                if what is None:
                    described = payloads.cells.get((type_, raw)) or payloads.add(type_, raw)
                    text = render((type_, defuse_cell(step), *described))
                    what = _remember(kinds, (type_, step, raw), text)
                minute = known_minute(at[:16])
                local = minute + at[16:19] if minute else times.csv(at)
                out.append(f"{id_},{local},{who},{what}\r\n")
            yield out


def _remember(cache: dict[Any, str], key: Any, text: str) -> str:
    """Keep ``text`` under ``key``; a full cache starts over (memory stays bounded)."""
    if len(cache) >= RENDERED_LIMIT:
        cache.clear()
    cache[key] = text
    return text


async def _event_rows(
    db: Database, f: LeadFilter, tz: tzinfo
) -> AsyncGenerator[list[tuple[Any, ...]]]:
    """Batches of ``EVENT_FIELDS`` rows for XLSX (times as naive local datetimes); the
    description and payload worked out once per distinct (type, payload)."""
    times = LocalMinutes(tz)
    payloads = PayloadCells(tz, for_csv=False)
    known_payload = payloads.cells.get
    async with db.session() as session:
        async for batch in stream_event_batches(session, f):
            yield [
                (id_, times.naive(at), lead, first_name, username, source, segment, type_, step,
                 *(known_payload((type_, raw)) or payloads.add(type_, raw)))
                for id_, at, lead, first_name, username, source, segment, type_, step, raw in batch
            ]  # fmt: skip


class LocalMinutes:
    """UTC times (``YYYY-MM-DD HH:MM:SS`` text) as ``tz``'s wall clock, worked out once per
    minute: every zone in use today is a whole number of minutes off UTC. ``minutes`` maps
    a UTC minute to its local text (None: an offset with seconds, converted in full)."""

    LIMIT = 100_000

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self.minutes: dict[str, str | None] = {}

    def csv(self, utc: str) -> str:
        key = utc[:16]
        if key not in self.minutes:
            local = self.naive(key)
            if len(self.minutes) >= self.LIMIT:
                self.minutes.clear()
            self.minutes[key] = None if local.second else local.strftime(CSV_TIME)[:16]
        minute = self.minutes[key]
        if minute is None:  # a historical offset with seconds: the slow way
            return self.naive(utc).strftime(CSV_TIME)
        return minute + utc[16:19]

    def naive(self, utc: str) -> datetime:
        moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
        return moment.astimezone(self._tz).replace(tzinfo=None)


class PayloadCells:
    """(description, payload JSON) of an event, kept in ``cells`` by its type and stored
    payload."""

    LIMIT = 50_000  # distinct payloads held; past it the cache starts over

    def __init__(self, tz: tzinfo, for_csv: bool) -> None:
        self._tz, self._csv = tz, for_csv
        self.cells: dict[tuple[str, str | None], tuple[str, str]] = {}

    def add(self, type_: str, raw: str | None) -> tuple[str, str]:
        payload = (json.loads(raw) if raw else None) or {}
        description = describe(type_, payload, self._tz)
        dumped = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        found = (defuse(description), defuse(dumped)) if self._csv else (description, dumped)
        if len(self.cells) >= self.LIMIT:
            self.cells.clear()
        self.cells[(type_, raw)] = found
        return found


def _value(name: str, value: Any, tz: tzinfo) -> Any:
    if name in TIMES:
        return naive_local(value, tz)
    if name == "flags":
        return ", ".join(value or ())
    if name == "payload":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
