"""Shared pieces for the broadcast tests: leads inserted in bulk, and the journeys' database.

A thousand leads are written as rows in one statement (not driven through the engine), so a
delivery test spends its time on delivery.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bot.engine.types import Contact, Start, Text
from bot.service import FunnelService, LeadKey
from fakes.channels import Collect
from storage.db import Database
from storage.models import Event, Lead
from tests.conftest import DATA, MINI


async def add_leads(
    db: Database, count: int, now: datetime, *, first_user: int = 1, **fields: Any
) -> list[int]:
    """``count`` Telegram leads waiting at the hot offer (override any column); their ids."""
    rows = []
    for n in range(count):
        user = first_user + n
        row: dict[str, Any] = {
            "channel": "telegram", "user_id": user, "first_name": f"Lead{user}",
            "segment": "hot", "stage": "hot", "status": "active", "step": "hot-2",
            "flags": [], "state": {}, "created_at": now, "updated_at": now, "last_seen_at": now,
        }  # fmt: skip
        row.update(fields)
        rows.append(row)
    async with db.session() as session, session.begin():
        await session.execute(insert(Lead), rows)
        users = [r["user_id"] for r in rows]
        found = await session.execute(select(Lead.id).where(Lead.user_id.in_(users)))
        return sorted(found.scalars())


async def add_event(
    db: Database, lead_id: int, type_: str, at: datetime, step: str | None = None, **extra: Any
) -> None:
    async with db.session() as session, session.begin():
        session.add(Event(lead_id=lead_id, type=type_, step=step, payload={}, created_at=at,
                          **extra))  # fmt: skip


def scenario_copy(tmp_path: Path, extra: str) -> Path:
    """The mini scenario with ``extra`` YAML lines added at the top level (assets copied)."""
    folder = tmp_path / "scenario"
    shutil.copytree(DATA / "assets", folder / "assets")
    text = MINI.read_text(encoding="utf-8").replace("\ntexts:", f"\n{extra.strip()}\ntexts:", 1)
    path = folder / "mini.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def seed_hot(service: FunnelService, users: list[int]) -> None:
    """Real journeys through the engine to the hot offer, where a 2-hour wait is pending."""
    for user in users:
        key, chat = LeadKey("telegram", user), Collect()
        await service.handle(key, Start(first_name="Ann"), chat)
        for label in ("Buy now", "Big"):
            await service.handle(key, chat.press(label), chat)
        await service.handle(key, Text("buy"), chat)
        await service.handle(key, Contact("+79991234567"), chat)
