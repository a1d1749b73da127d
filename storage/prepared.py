"""Core statements compiled once and run straight on the driver: the unit of work's
(``storage.unit``), the hot path of every update. On SQLite on the writer's sqlite3
connection; on PostgreSQL on the asyncpg connection under SQLAlchemy's, inside the
transaction ``Database.transact`` opened on it, from the greenlet ``run_sync`` runs the unit
in (SQLAlchemy's own bridge, ``await_``).

Why by hand: executing a cached compiled statement through SQLAlchemy still costs some
30-50 µs on SQLite (execution context, parameter and result processing set up per call,
event checks, the result object), several times SQLite's own work for the unit's small
statements, and a typed answer runs six of them; on PostgreSQL its asyncpg adapter adds
~135 µs of CPU to a ~65 µs round trip (a one-row SELECT on the benchmark machine).
SQLAlchemy still does everything else: it builds and compiles each statement for the
connection's dialect and gives the bind and result processors of its types (UTC datetimes,
JSON), applied here exactly as it would apply them. Errors come out as SQLAlchemy's
``DBAPIError`` (on SQLite its subclasses, ``IntegrityError`` and so on), and listeners of
SQLAlchemy's ``before_cursor_execute`` / ``after_cursor_execute`` events (statement
counters, tracing) still hear every statement, with no execution context (None). A
statement this cannot run as it is (Python-side column defaults to compute, expanding IN
lists) is not prepared: ``prepare`` gives None and the caller runs it through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

try:  # SQLAlchemy 2.1's name for its greenlet bridge; 2.0 calls it await_only
    from sqlalchemy.util import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as await_

_MISSING = object()
T = TypeVar("T")


class Done:
    """What an asyncpg statement without rows gives back: the rows it changed."""

    __slots__ = ("rowcount",)

    def __init__(self, status: str) -> None:
        # asyncpg's command tag: "UPDATE 3", "INSERT 0 1", "DELETE 0".
        tail = status.rsplit(" ", 1)[-1]
        self.rowcount = int(tail) if tail.isdigit() else -1


class Prepared:
    """One statement: its SQL with the driver's positional parameters, how to fill and read it."""

    __slots__ = ("_binds", "_results", "_row", "sql")

    def __init__(self, compiled: SQLCompiler, columns: Sequence[Any], dialect: Dialect) -> None:
        self.sql = compiled.string
        binds = compiled.binds
        self._binds = tuple(
            (
                name,
                _MISSING if binds[name].required else binds[name].effective_value,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in compiled.positiontup or ()
        )
        self._results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        self._row: Any = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters in statement order, each through its type's bind processor."""
        args = []
        for name, default, process in self._binds:
            value = params.get(name, default)
            if value is _MISSING:
                raise KeyError(f"no value for the bound parameter {name!r} of {self.sql!r}")
            args.append(process(value) if process is not None else value)
        return tuple(args)

    def run(self, conn: Connection, raw: sqlite3.Connection, params: Mapping[str, Any]) -> Any:
        """Execute on ``raw`` (the driver connection under ``conn``); the sqlite3 cursor."""
        args = self.arguments(params)
        dispatch = conn.dispatch
        cursor = raw.cursor()
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(conn, cursor, self.sql, args, None, False)
        try:
            cursor.execute(self.sql, args)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(self.sql, args, exc, sqlite3.Error) from exc
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(conn, cursor, self.sql, args, None, False)
        return cursor

    def rows(self, cursor: sqlite3.Cursor) -> list[Any]:
        """The rows a SELECT or RETURNING gave, with attribute access, values processed."""
        return self._made(cursor.fetchall())

    def _made(self, fetched: Sequence[Sequence[Any]]) -> list[Any]:
        make, results = self._row._make, self._results
        return [
            make(v if p is None else p(v) for p, v in zip(results, raw, strict=True))
            for raw in fetched
        ]

    def run_async(self, conn: Connection, driver: Any, params: Mapping[str, Any]) -> Any:
        """Execute on ``driver`` (asyncpg, the connection under ``conn``) from ``run_sync``'s
        greenlet: the processed rows of a statement that returns rows, else ``Done``."""
        args = self.arguments(params)
        dispatch = conn.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(conn, None, self.sql, args, None, False)
        if self._results:
            result: Any = self._made(
                on_driver(self.sql, args, lambda: driver.fetch(self.sql, *args))
            )
        else:
            result = Done(on_driver(self.sql, args, lambda: driver.execute(self.sql, *args)))
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(conn, None, self.sql, args, None, False)
        return result


def on_driver(sql: str, args: Sequence[Any], call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()`` (asyncpg) from a greenlet of SQLAlchemy's bridge, its errors raised
    as SQLAlchemy's ``DBAPIError``, as SQLAlchemy's own statements raise theirs: asyncpg's
    errors have no DB-API hierarchy to map."""
    try:
        return await_(call())
    except Exception as exc:
        if isinstance(exc, DBAPIError):
            raise
        raise DBAPIError.instance(sql, args, exc, Exception) from exc


@lru_cache(maxsize=512)  # statements × the column sets given (an UPDATE's SET varies)
def prepare(
    statement: Executable, keys: tuple[str, ...] | None, dialect: Dialect
) -> Prepared | None:
    """``statement`` compiled for ``dialect`` with ``keys`` as the INSERT / UPDATE columns
    given; None when it needs SQLAlchemy's execution (see the module's docstring)."""
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
        return None
    if any(b.expanding for b in compiled.binds.values()):
        return None
    if isinstance(statement, Select):
        columns: list[Any] = list(statement.selected_columns)
    elif isinstance(statement, UpdateBase):
        columns = list(statement.exported_columns)  # its RETURNING, if any
    else:
        columns = []
    return Prepared(compiled, columns, dialect)
