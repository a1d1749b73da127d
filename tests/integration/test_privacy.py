"""Erasure and retention leave no personal data anywhere, and the statistics unchanged."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.wiring import setup_logging
from bot.engine.types import Contact, Start, Text
from bot.privacy import RedactingFilter, forget_lead, prune
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.models import Answer, Event, Lead, ScheduledTouch
from tests.conftest import Clock

PHONE, NAME, TEXT = "+79991234567", "Анна Секретова", "Наш офис на Тверской 7, звоните Ивану"


async def journey(service: FunnelService, user_id: int) -> Collect:
    key = LeadKey("telegram", user_id)
    chat = Collect()
    await service.handle(key, Start(source="vk_ads", first_name=NAME, username="anna_secret"), chat)
    await service.handle(key, chat.press("Buy now"), chat)
    await service.handle(key, chat.press("Big"), chat)
    await service.handle(key, Text(TEXT), chat)
    await service.handle(key, Contact(PHONE), chat)
    return chat


async def dump(db: Database) -> str:
    """Every value in every table, as text, to search for what must be gone."""
    parts: list[str] = []
    async with db.session() as session:
        for model in (Lead, Answer, Event, ScheduledTouch):
            for row in (await session.execute(select(model))).scalars():
                parts += [repr(getattr(row, c.key)) for c in model.__table__.columns]
    return "\n".join(parts)


async def stats(db: Database) -> tuple[Counter[str], list[tuple[str | None, str | None, str]]]:
    async with db.session() as session:
        types = Counter((await session.execute(select(Event.type))).scalars())
        leads = [
            tuple(r)
            for r in await session.execute(
                select(Lead.source, Lead.segment, Lead.stage).order_by(Lead.id)
            )
        ]
    return types, leads  # type: ignore[return-value]


async def test_forget_erases_everywhere_and_keeps_statistics(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await journey(service, 501)
    await journey(service, 502)
    assert PHONE in await dump(db) and NAME in await dump(db)
    types_before, leads_before = await stats(db)
    assert await service.forget(LeadKey("telegram", 501))
    assert await forget_lead(db, mini, 2, clock(), "operator")
    everything = await dump(db)
    for secret in (PHONE, NAME, TEXT, "anna_secret", "Тверской", "79991234567"):
        assert secret not in everything, secret
    types_after, leads_after = await stats(db)
    assert leads_after == leads_before  # source, segment, stage survive
    types_after.subtract({"forgotten": 2})
    assert +types_after == types_before
    async with db.session() as session:
        answers = {(a.key, a.answer) for a in (await session.execute(select(Answer))).scalars()}
        assert ("need", "buy") in answers and ("about", "[erased]") in answers
        pending = (
            (await session.execute(select(ScheduledTouch).where(ScheduledTouch.state == "pending")))
            .scalars()
            .all()
        )
        assert pending == []
        assert {lead.user_id for lead in (await session.execute(select(Lead))).scalars()} == {
            -1,
            -2,
        }
    # The person can come back: they start as a new lead.
    chat = Collect()
    result = await service.handle(LeadKey("telegram", 501), Start(first_name="A"), chat)
    assert result.lead_id == 3


async def test_forget_unknown_lead(db: Database, mini: Funnel, clock: Clock) -> None:
    assert not await forget_lead(db, mini, 99, clock(), "operator")


async def test_prune_by_age_with_a_controlled_clock(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await journey(service, 601)
    clock.advance(days=20)
    await journey(service, 602)
    clock.advance(days=15)
    assert await prune(db, mini, clock(), timedelta(days=30)) == 1
    everything = await dump(db)
    assert everything.count(PHONE) >= 1  # the recent lead keeps its data
    async with db.session() as session:
        leads = {
            lead.user_id: lead.phone for lead in (await session.execute(select(Lead))).scalars()
        }
    assert leads == {-1: None, 602: PHONE}
    assert await prune(db, mini, clock(), timedelta(days=30)) == 0  # already done


def test_logs_never_carry_phones_or_emails(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("leadbot.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("lead wrote %s and %s", "+7 (999) 123-45-67", "ann@example.com")
        logger.debug("debug may show %s", "ann@example.com")
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info == ["lead wrote [phone] and [email]"]
    setup_logging("INFO")
    assert any(
        isinstance(f, RedactingFilter) for h in logging.getLogger().handlers for f in h.filters
    )


async def test_service_logs_hold_no_prospect_text(
    sqlite_db: Database, mini: Funnel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    service = FunnelService(sqlite_db, ScenarioHolder(mini), OfflineQualifier(), clock)
    with caplog.at_level(logging.DEBUG):
        await journey(service, 701)
        await service.forget(LeadKey("telegram", 701))
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for secret in (PHONE, NAME, TEXT):
        assert secret not in text


def raw_files(folder: Path) -> bytes:
    """The database, -wal and -shm files' bytes, as a disk forensics tool would read them."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("raw.db*")))


async def test_erased_values_leave_the_sqlite_files(
    tmp_path: Path, mini: Funnel, clock: Clock
) -> None:
    """Not only the rows: the main file's free pages and the -wal file hold no copy either."""
    path = tmp_path / "raw.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    try:
        service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
        for user_id in (801, 802):
            await journey(service, user_id)
        raw = raw_files(tmp_path)
        assert PHONE.encode() in raw and NAME.encode() in raw  # the search can find them
        assert await service.forget(LeadKey("telegram", 801))
        assert await forget_lead(db, mini, 2, clock(), "operator")
        # The bot keeps running (its pool stays open); the files are read as they are now.
        raw = raw_files(tmp_path)
        for secret in (PHONE, NAME, TEXT, "anna_secret"):
            assert secret.encode() not in raw, secret
    finally:
        await db.close()
