"""``leadbot leads`` in an 80-column terminal: every line fits, and words are not folded."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.console import Console

from bot.reports.leads import list_leads
from bot.reports.render import leads_table
from storage.criteria import LeadFilter
from storage.db import Database
from tests.reports.conftest import Journeys

MSK = ZoneInfo("Europe/Moscow")


async def test_the_lead_table_reads_at_80_columns(db: Database, journeys: Journeys) -> None:
    page = await list_leads(db, LeadFilter())
    out = Console(width=80, record=True, no_color=True)
    out.print(leads_table(page, MSK, out.width))
    lines = out.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "created" in line)
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert columns == ["id", "created", "name", "source", "segment", "status", "step"]
    names = {row.who for row in page.rows}
    assert all(any(name in line for line in lines) for name in names)  # not folded

    wide = Console(width=200, record=True, no_color=True)
    wide.print(leads_table(page, MSK, wide.width))
    text = wide.export_text()
    assert "stage" in text and "flags" in text
