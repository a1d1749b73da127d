"""Every migration goes up, down and up again (the stairway), on each backend, and the
newest keeps what a manager has: leads, their events, and a search that finds them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from bot.managers.desk import table_page
from storage.criteria import LeadFilter
from storage.db import Database, alembic_config
from storage.models import Event
from tests.conftest import _backends, postgres_database


def _revisions() -> list[tuple[str, str]]:
    """(revision, the one below it or "base"), oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    steps = [(r.revision, str(r.down_revision or "base")) for r in script.walk_revisions()]
    return steps[::-1]


@pytest.fixture(params=_backends())
async def empty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'leads.db'}")
        yield database
        await database.close()
        return
    async with postgres_database() as url:
        database = Database(url)
        yield database
        await database.close()


async def test_every_migration_goes_up_down_and_up_again(empty: Database) -> None:
    for revision, below in _revisions():
        await empty.upgrade(revision)
        async with empty.engine.begin() as conn:
            await conn.run_sync(_downgrade_to, below)
        await empty.upgrade(revision)
        assert await empty.current_revision() == revision


def _downgrade_to(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def test_the_search_column_is_worked_out_for_leads_already_there(empty: Database) -> None:
    await empty.upgrade("0013")
    async with empty.engine.begin() as conn:
        leads = [("Анна", "Иванова", "anna_shop"), ("Boris", "", "")]
        for i, (first, last, username) in enumerate(leads, start=1):
            await conn.execute(
                text(
                    "INSERT INTO leads (id, channel, user_id, first_name, last_name, username,"
                    " language, stage, status, flags, state, created_at, updated_at)"
                    " VALUES (:id, 'telegram', :user_id, :first, :last, :username, '', 'warm',"
                    " 'active', '[]', '{}', '2026-01-01', '2026-01-01')"
                ),
                {"id": i, "user_id": 100 + i, "first": first, "last": last, "username": username},
            )
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, payload, created_at)"
                    " VALUES (:id, 'started', '{}', '2026-01-01')"
                ),
                {"id": i},
            )
    await empty.upgrade()

    async def found(search: str) -> list[int]:
        return [r.id for r in (await table_page(empty, LeadFilter(), search, None)).rows]

    assert await found("анна") == [1]  # SQLite's own LIKE folds ASCII only
    assert await found("АННА") == [1]
    assert await found("ANNA_") == [1]  # "_" is a character here, not a wildcard
    assert await found("boris") == [2]
    assert await found("анна иванова") == [1]  # the full name, as a manager types it
    assert await found("a%p") == []  # nor "%"

    async with empty.engine.begin() as conn:  # down again: no event lost with the column
        await conn.run_sync(_downgrade_to, "0013")
    async with empty.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 2
