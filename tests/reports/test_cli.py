"""``leadbot leads | lead | report | export`` as a manager runs them: subprocesses on a file."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.scenario.funnel import Funnel
from storage.db import Database
from tests.conftest import MINI, ROOT, Clock
from tests.reports.conftest import drive


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


Leadbot = Callable[..., Awaitable[Run]]


@pytest.fixture
async def leadbot(tmp_path: Path, mini: Funnel, clock: Clock) -> AsyncIterator[Leadbot]:
    path = tmp_path / "leads.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    await drive(db, mini, clock)
    await db.close()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{path}", "SCENARIO": str(MINI),
           "TIMEZONE": "Europe/Moscow", "OPENAI_API_KEY": ""}  # fmt: skip

    async def run(*args: str, database: Path | None = None) -> Run:
        if database is not None:
            env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return Run(proc.returncode, out.decode(), err.decode())

    yield run


async def test_leads_table_newest_first_with_filters(leadbot: Leadbot) -> None:
    result = await leadbot("leads")
    assert result.code == 0, result.err
    assert "6 leads, newest first" in result.out
    header = next(line for line in result.lines if "created" in line)
    for column in ("id", "name", "source", "segment", "stage", "status", "step", "contact"):
        assert column in header
    rows = [line for line in result.lines if "│" in line and "created" not in line]
    assert [row.split("│")[3].strip() for row in rows] == [
        "Fay", "Eve", "Dan", "Cleo", "Boris", "Ann (@ann_shop)",
    ]  # fmt: skip
    ann = rows[-1].split("│")
    assert [c.strip() for c in ann[2:10]] == [
        "2026-03-02 12:00", "Ann (@ann_shop)", "vk_ads", "hot", "hot", "handed_off", "hot_call",
        "yes",
    ]  # fmt: skip

    vk = await leadbot("leads", "--source", "vk_ads", "--limit", "2")
    assert "2 of 3 leads, newest first" in vk.out
    assert "Cleo" in vk.out and "Boris" in vk.out and "Ann" not in vk.out
    later = await leadbot("leads", "--since", "2026-03-03")
    assert "1 lead," in later.out and "Fay" in later.out
    none = await leadbot("leads", "--until", "2026-03-01")
    assert none.out.strip() == "no leads match"
    bad = await leadbot("leads", "--stage", "boiling")
    assert bad.code == 2 and bad.err.strip().count("\n") == 0 and "--stage" in bad.err
    bad_date = await leadbot("leads", "--since", "last tuesday")
    assert bad_date.code == 2 and "YYYY-MM-DD" in bad_date.err


async def test_lead_card_and_timeline(leadbot: Leadbot) -> None:
    result = await leadbot("lead", "1")
    assert result.code == 0, result.err
    for expected in (
        "Lead #1", "Ann (@ann_shop)", "vk_ads", "+79991234567", "handed_off", "hot_call",
        "What do you need?", "We want to buy two machines",  # answers with their questions
        "hot (confidence 75 by offline)", "scores: hot=6; keywords: buy",  # the model's why
        "Timeline (20 events)", "offer_clicked", "core «Machine X» 1000 RUB",
        "visitor → cold", "due 2026-03-02 14:00",  # times in Moscow
    ):  # fmt: skip
        assert expected in result.out, expected
    by_name = await leadbot("lead", "@ann_shop")
    assert by_name.out == result.out
    missing = await leadbot("lead", "999")
    assert (missing.code, missing.err, missing.out) == (1, "no lead 999\n", "")


async def test_report_json_and_dropped(leadbot: Leadbot, tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("source;amount;currency\nvk_ads;3 000,00;RUB\ntg_post;1000;RUB\n")
    result = await leadbot("report", "--format", "json", "--spend", str(spend))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert list(data) == ["generated_at", "period", "filters", "total", "sources", "funnel"]
    assert (data["total"]["leads"], data["total"]["qualified"], data["total"]["orders"]) == (
        6,
        4,
        2,
    )
    vk = next(s for s in data["sources"] if s["source"] == "vk_ads")
    assert (vk["leads"], vk["cpl"], vk["cpo"], vk["cr1"]) == (3, 1000.0, 3000.0, 0.3333)
    hot = next(s for s in data["funnel"] if s["segment"] == "hot")
    assert [st["reached"] for st in hot["steps"]] == [2, 2, 0, 0, 0, 2, 0]

    week = json.loads((await leadbot("report", "--format", "json", "--since", "2026-03-03")).out)
    assert week["total"]["leads"] == 1 and week["period"]["since"].startswith("2026-03-03")

    table = await leadbot("report", "--source", "tg_post")
    assert "Interview: 2 leads started" in table.out and "CR1" in table.out

    dropped = await leadbot("report", "--dropped", "q_budget")
    assert "1 lead stopped at q_budget" in dropped.out and "Dan" in dropped.out
    unknown = await leadbot("report", "--dropped", "nowhere")
    assert unknown.code == 1 and "no step 'nowhere'" in unknown.err
    bad_spend = tmp_path / "bad.csv"
    bad_spend.write_text("source,amount\nvk_ads,lots\n")
    broken = await leadbot("report", "--spend", str(bad_spend))
    assert (
        broken.code == 2
        and broken.err.strip() == f"{bad_spend}:2: 'lots' is not an amount of money"
    )


async def test_export_and_a_missing_database(leadbot: Leadbot, tmp_path: Path) -> None:
    out = tmp_path / "leads.xlsx"
    result = await leadbot("export", "leads", "-o", str(out), "--segment", "hot", "--quiet")
    assert (result.code, result.out, result.err) == (0, "", "")
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("id", "created_at") and [r[4] for r in rows[1:]] == ["Boris", "Ann"]
    events = await leadbot("export", "events", "-o", str(tmp_path / "e.csv"), "--source", "(none)")
    assert events.code == 0 and events.out.startswith("wrote ") and "events to" in events.out

    missing = await leadbot("leads", database=tmp_path / "nothing.db")
    assert missing.code == 1 and "no database at" in missing.err
    assert not (tmp_path / "nothing.db").exists()  # a report never creates a database
