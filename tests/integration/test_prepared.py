"""The SQLite writer's statements run on the driver (``storage.prepared``) exactly as SQLAlchemy
would run them: the same values stored and read back, SQLAlchemy's exceptions, its statement
events heard, and statements it must compute defaults for left to SQLAlchemy."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, insert, select
from sqlalchemy.exc import IntegrityError

from bot.engine.types import LeadState
from storage.leads import EVENTS, LEADS, state_values
from storage.models import Base
from storage.prepared import prepare
from storage.unit_statements import LOAD, events_insert

NOW = datetime(2026, 12, 3, 11, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def lead_values(user_id: int) -> dict[str, Any]:
    """A whole row, as ``Unit.store`` inserts a new lead."""
    state = LeadState(first_name="Анна", flags=["a", "b"], consent="yes", consent_at=NOW)
    values = state_values(state, NOW, "1")
    values.update(channel="telegram", user_id=user_id, created_at=NOW)
    return values


def raw_of(conn: Any) -> sqlite3.Connection:
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def test_rows_read_on_the_driver_equal_sqlalchemys(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(LEADS), lead_values(7))
        new_lead = insert(LEADS).returning(LEADS.c.id)
        values = lead_values(8)
        prepared = prepare(new_lead, tuple(values), conn.dialect)
        assert prepared is not None
        (inserted,) = prepared.rows(prepared.run(conn, raw_of(conn), values))
        load = prepare(LOAD, None, conn.dialect)
        assert load is not None
        for user_id in (7, 8):
            params = {"channel": "telegram", "user_id": user_id}
            (ours,) = load.rows(load.run(conn, raw_of(conn), params))
            (theirs,) = conn.execute(LOAD, params).all()
            assert ours._asdict() == dict(theirs._mapping)
        assert inserted.id == ours.id
    assert ours.consent_at == NOW and ours.consent_at.tzinfo is not None
    assert ours.flags == ["a", "b"] and ours.first_name == "Анна"
    assert isinstance(ours.state, dict) and ours.state == dict(LeadState().private())


def test_a_multi_row_insert_is_one_statement_heard_by_sqlalchemys_events(
    engine: Engine,
) -> None:
    heard: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: heard.append(a[2]))
    rows = [
        {"lead_id": 1, "type": "started", "step": None, "payload": {"n": n}, "created_at": NOW}
        for n in range(3)
    ]
    with engine.begin() as conn:
        conn.execute(insert(LEADS), lead_values(1))
        heard.clear()
        statement, flat = events_insert(rows)
        prepared = prepare(statement, tuple(sorted(flat)), conn.dialect)
        assert prepared is not None
        prepared.run(conn, raw_of(conn), flat)
        payloads = conn.execute(select(EVENTS.c.payload).order_by(EVENTS.c.id)).scalars().all()
    assert len(heard) == 2 and heard[0].startswith("INSERT INTO events")
    assert payloads == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_driver_errors_are_sqlalchemys(engine: Engine) -> None:
    with engine.begin() as conn:
        values = lead_values(9)
        prepared = prepare(insert(LEADS), tuple(values), conn.dialect)
        assert prepared is not None
        prepared.run(conn, raw_of(conn), values)
        with pytest.raises(IntegrityError, match="UNIQUE"):
            prepared.run(conn, raw_of(conn), values)


def test_statements_needing_sqlalchemys_defaults_are_left_to_it(engine: Engine) -> None:
    """A Python-side default to compute (``created_at``) is SQLAlchemy's to run."""
    dialect = engine.dialect
    assert prepare(insert(LEADS), ("channel", "user_id"), dialect) is None
    every_column = tuple(c.key for c in LEADS.c if c.key != "id")
    assert prepare(insert(LEADS), every_column, dialect) is not None
