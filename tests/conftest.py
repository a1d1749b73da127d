"""Shared fixtures: scenarios, a fixed clock, and databases (SQLite always, PostgreSQL when
``TEST_POSTGRES_URL`` is set, as it is in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from app.aiogram_types import import_aiogram
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from storage.db import Database
from storage.unit import Unit

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """Import aiogram as ``leadbot run`` does, each Telegram type built when first used,
    before any test module imports it."""
    import_aiogram()


DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
MINI = DATA / "mini.yaml"
DEMO = ROOT / "scenarios" / "demo.yaml"


@pytest.fixture(scope="session")
def mini() -> Funnel:
    return load_funnel(MINI, "Europe/Moscow")


class Clock:
    """A controllable clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get("TEST_POSTGRES_URL") else ["sqlite"]


@pytest.fixture(params=_backends())
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database on each available backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'leads.db'}")
        await database.upgrade()
        yield database
        await database.close()
        return
    async with postgres_database() as url:
        database = Database(url)
        await database.upgrade()
        yield database
        await database.close()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'leads.db'}")
    await database.upgrade()
    yield database
    await database.close()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A throw-away database on the PostgreSQL server named by TEST_POSTGRES_URL."""
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    name = f"leadbot_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def demo_path() -> Iterator[Path]:
    if not DEMO.exists():
        pytest.skip("the demo scenario is not there")
    yield DEMO


async def in_unit(session: AsyncSession, work: Callable[[Unit], T]) -> T:
    """Run ``storage.unit`` statements (the hot path's, written for a sync connection) in a
    test's own session transaction (finished, as the service finishes its units)."""

    def run(sync: Session) -> T:
        unit = Unit(sync.connection())
        result = work(unit)
        unit.finish()
        return result

    return await session.run_sync(run)
