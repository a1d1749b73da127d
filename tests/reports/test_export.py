"""Exports read back as a spreadsheet user would: CSV via utf-8-sig, XLSX via openpyxl."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

import storage.read_models
from bot.reports.describe import describe
from bot.reports.export import EVENT_FIELDS, LocalMinutes, export, lead_header
from bot.reports.periods import naive_local
from bot.reports.writers import CSV_TIME, CsvRows, defuse
from bot.scenario.funnel import Funnel
from storage.criteria import LeadFilter
from storage.db import Database
from storage.models import Event, Lead
from storage.read_models import read_ahead
from tests.conftest import in_unit
from tests.reports.conftest import Journeys, at

MSK = ZoneInfo("Europe/Moscow")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def read_xlsx(path: Path) -> list[tuple[object, ...]]:
    sheet = load_workbook(path, read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


async def test_leads_csv_opens_in_excel_with_answers_as_columns(
    db: Database, mini: Funnel, journeys: Journeys, tmp_path: Path
) -> None:
    out = tmp_path / "leads.csv"
    keys = list(mini.answer_keys())
    written = await export(db, "leads", LeadFilter(), out, "csv", MSK, keys)
    assert written == 6
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,created_at,")  # BOM + header
    rows = read_csv(out)
    assert list(rows[0]) == lead_header(keys)
    assert [r["first_name"] for r in rows] == ["Fay", "Eve", "Dan", "Cleo", "Boris", "Ann"]
    ann = rows[-1]
    assert (ann["username"], ann["source"], ann["segment"], ann["phone"]) == (
        "ann_shop", "vk_ads", "hot", "+79991234567",
    )  # fmt: skip
    assert ann["created_at"] == "2026-03-02 12:00:00"  # Moscow wall-clock time
    assert (ann["answer:need"], ann["answer:budget"]) == ("buy", "big")
    assert ann["answer:about"] == "We want to buy two machines"
    assert rows[2]["answer:budget"] == "" and rows[2]["segment"] == ""  # Dan, mid-interview


async def test_filters_apply_to_exports(db: Database, journeys: Journeys, tmp_path: Path) -> None:
    out = tmp_path / "vk.csv"
    assert await export(db, "leads", LeadFilter(source="vk_ads"), out, "csv", MSK) == 3
    assert {r["source"] for r in read_csv(out)} == {"vk_ads"}
    cleo = read_csv(out)[0]  # no scenario keys given: the answers are kept in one column
    assert cleo["other_answers"] == "need: look; budget: tiny; about: Just comparing prices"
    newest = tmp_path / "newest.csv"
    assert await export(db, "leads", LeadFilter(limit=2), newest, "csv", MSK) == 2
    assert [r["first_name"] for r in read_csv(newest)] == ["Fay", "Eve"]


async def test_events_xlsx_with_an_event_time_filter(
    db: Database, journeys: Journeys, tmp_path: Path
) -> None:
    since = at(journeys, days=1)
    async with db.session() as session:
        expected = (
            await session.execute(select(func.count()).where(Event.created_at >= since))
        ).scalar_one()
    out = tmp_path / "events.xlsx"
    written = await export(db, "events", LeadFilter(since=since), out, "xlsx", MSK)
    rows = read_xlsx(out)
    assert rows[0] == EVENT_FIELDS
    assert written == expected == len(rows) - 1
    assert {r[3] for r in rows[1:]} == {"Fay", "Ann", "Eve"}  # Fay's journey, two orders
    orders = [r for r in rows[1:] if r[7] == "order_paid"]
    assert [(r[3], r[9]) for r in orders] == [
        ("Ann", "1000 RUB «Machine X» core"),
        ("Eve", "9.90 RUB «Trial pack» tripwire"),
    ]
    assert '"amount": "1000"' in str(orders[0][10])

    vk = tmp_path / "vk.xlsx"
    await export(db, "events", LeadFilter(source="vk_ads", limit=5), vk, "xlsx", MSK)
    vk_rows = read_xlsx(vk)
    assert len(vk_rows) == 6 and {r[5] for r in vk_rows[1:]} == {"vk_ads"}
    assert vk_rows[1][7] == "started"


async def test_prospect_text_never_becomes_a_formula(
    db: Database, journeys: Journeys, tmp_path: Path
) -> None:
    attack = '=HYPERLINK("http://evil.test","click")'
    async with db.session() as session, session.begin():
        lead_id, end = journeys.ids["D"], journeys.end
        await in_unit(session, lambda u: u.save_answer(lead_id, "budget", "Budget?", attack, end))
    f = LeadFilter(source="tg_post")
    await export(db, "leads", f, tmp_path / "d.csv", "csv", MSK, ["need", "budget"])
    dan = next(r for r in read_csv(tmp_path / "d.csv") if r["first_name"] == "Dan")
    assert dan["answer:budget"] == "'" + attack
    eve = next(r for r in read_csv(tmp_path / "d.csv") if r["first_name"] == "Eve")
    assert eve["phone"] == "+79990000005"  # a phone is not a formula: left as it is
    await export(db, "leads", f, tmp_path / "d.xlsx", "xlsx", MSK, ["need", "budget"])
    sheet = load_workbook(tmp_path / "d.xlsx").active
    cells = [c for row in sheet.iter_rows() for c in row if c.value == attack]
    assert len(cells) == 1 and cells[0].data_type == "s"


async def test_streams_in_batches_without_mixing_leads(
    db: Database, journeys: Journeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.read_models, "STREAM_BATCH", 2)  # batch edges inside leads' rows
    out = tmp_path / "leads.csv"
    await export(db, "leads", LeadFilter(), out, "csv", MSK, ["need", "budget", "about"])
    answers = {r["first_name"]: (r["answer:need"], r["answer:budget"]) for r in read_csv(out)}
    assert answers == {
        "Ann": ("buy", "big"), "Boris": ("buy", "big"), "Cleo": ("look", "tiny"),
        "Dan": ("buy", ""), "Eve": ("look", "big"), "Fay": ("look", "big"),
    }  # fmt: skip


async def test_a_failed_export_leaves_no_half_file(
    db: Database, journeys: Journeys, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "leads.csv"
    with pytest.raises(OSError):
        await export(db, "leads", LeadFilter(), out, "csv", MSK)
    assert not out.parent.exists()


async def test_xlsx_keeps_its_header_in_view_with_filters_and_widths(
    db: Database, journeys: Journeys, tmp_path: Path
) -> None:
    out = tmp_path / "leads.xlsx"
    assert await export(db, "leads", LeadFilter(), out, "xlsx", MSK) == 6
    sheet = load_workbook(out).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}7"
    widths = {sheet.cell(1, c).value: sheet.column_dimensions[sheet.cell(1, c).column_letter].width
              for c in range(1, sheet.max_column + 1)}  # fmt: skip
    assert widths["created_at"] >= 20 and widths["summary"] >= 50 and widths["id"] >= 10


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Europe/Berlin", "America/St_Johns", "UTC"])
def test_local_minutes_agree_with_a_full_conversion(zone: str) -> None:
    tz = ZoneInfo(zone)
    minutes = LocalMinutes(tz)
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # Europe's spring change at 01:00 UTC
    for step in range(0, 60 * 60 * 30, 97):  # 30 hours, odd seconds
        moment = start + timedelta(seconds=step)
        utc = moment.strftime("%Y-%m-%d %H:%M:%S")
        assert minutes.csv(utc) == moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        assert minutes.naive(utc) == moment.astimezone(tz).replace(tzinfo=None)


def test_local_minutes_with_an_offset_in_seconds() -> None:
    tz = ZoneInfo("Europe/Amsterdam")  # +00:19:32 before 1937
    moment = datetime(1935, 6, 1, 10, 0, 5, tzinfo=UTC)
    expected = moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    assert expected.endswith(":37")
    assert LocalMinutes(tz).csv("1935-06-01 10:00:05") == expected


async def test_reading_ahead_keeps_order_and_hands_over_errors() -> None:
    async def batches(fail_at: int | None) -> AsyncIterator[int]:
        for n in range(5):
            if n == fail_at:
                raise RuntimeError("lost the connection")
            yield n

    assert [b async for b in read_ahead(batches(None))] == [0, 1, 2, 3, 4]
    got = []
    with pytest.raises(RuntimeError, match="lost the connection"):
        async for b in read_ahead(batches(3)):
            got.append(b)
    assert got == [0, 1, 2]
    early = read_ahead(batches(None))
    assert await anext(early) == 0
    await early.aclose()  # the reader task is cancelled, nothing left running


def cell(value: object) -> str:
    """A value as a spreadsheet reads it back from the CSV."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(CSV_TIME)
    return defuse(value) if isinstance(value, str) else str(value)


async def test_events_csv_is_the_rows_as_they_were_written_one_by_one(
    db: Database, journeys: Journeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch path (raw text from the driver, cached minutes and payloads) writes what
    converting every value of every row would."""
    monkeypatch.setattr(storage.read_models, "EVENT_BATCH", 7)
    async with db.session() as session, session.begin():
        dan = await session.get(Lead, journeys.ids["D"])
        assert dan is not None
        dan.first_name, dan.username = '=HYPERLINK("http://evil.test")', "@dan"
        ann = await session.get(Lead, journeys.ids["A"])
        assert ann is not None  # cells csv must quote, and an empty one
        ann.first_name, ann.source = 'Ann, "the owner"\nsecond line', None
    out = tmp_path / "events.csv"
    written = await export(db, "events", LeadFilter(), out, "csv", MSK)
    async with db.session() as session:
        events = (await session.execute(select(Event).order_by(Event.id))).scalars().all()
        leads = {lead.id: lead for lead in (await session.execute(select(Lead))).scalars()}
    assert written == len(events)
    expected = []
    for e in events:
        lead = leads[e.lead_id]
        row = [e.id, naive_local(e.created_at, MSK), e.lead_id, lead.first_name, lead.username,
               lead.source, lead.segment, e.type, e.step, describe(e.type, e.payload, MSK),
               json.dumps(e.payload or {}, ensure_ascii=False, sort_keys=True)]  # fmt: skip
        expected.append(dict(zip(EVENT_FIELDS, map(cell, row), strict=True)))
    assert read_csv(out) == expected
    assert {r["username"] for r in expected} >= {"'@dan", "ann_shop"}
    assert 'Ann, "the owner"\nsecond line' in {r["first_name"] for r in expected}


async def test_an_event_export_that_fails_halfway_ends_its_query(
    db: Database,
    journeys: Journeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The next batch is being read while this one is written: a write error stops the
    reading too, leaves no file, and the database is usable at once."""
    monkeypatch.setattr(storage.read_models, "EVENT_BATCH", 3)
    batches = 0

    def full_disk(self: object, rows: object) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(CsvRows, "write_lines", full_disk)
    out = tmp_path / "events.csv"
    with pytest.raises(OSError, match="No space"):
        await export(db, "events", LeadFilter(), out, "csv", MSK)
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if "events" in p.name]  # noqa: ASYNC240
    async with db.session() as session, session.begin():
        lead, end = journeys.ids["A"], journeys.end
        await in_unit(session, lambda u: u.insert_events(lead, [("note", None, {})], end))
    assert await export(db, "events", LeadFilter(limit=4), out, "csv", MSK) == 4
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no connection lost
