"""Several writes as one statement of data-modifying CTEs: one round trip on PostgreSQL.

On PostgreSQL every statement is a network round trip, and on a small VM the round trip,
not the statement, is the cost (py-spy of the unit of work: ~57% of its CPU in ``send()``,
some 0.2 ms a call on the 2-core benchmark machine). ``storage.unit`` queues the writes
nobody reads back here and lands them as one ``WITH w0 AS (UPDATE …), w1 AS (INSERT …) …``.

Each part is a template with bind parameters of its own prefix, so the combined statement of
a given shape (which parts, in which order) is built once and SQLAlchemy's compiled cache and
asyncpg's prepared statements are hit from then on; only the values change per call (building
statements with ``.values(...)`` per call cost more than the round trips it saved).

All parts of one statement see the same snapshot: a part that changes existing rows (UPDATE,
DELETE, an upsert) must not follow a part on the same table in one statement, or it would not
see that part's rows. ``Batch.fits`` says when the queue must land first. PostgreSQL runs the
parts in no set order either: rows whose order counts (the lead log's events, ordered by id)
are ``ordered`` parts, each reading the previous one's RETURNING row, which makes it run
first (the only ordering a data-modifying CTE has).

Optimistic units (``storage.unit``, PostgreSQL outside a transaction) need no BEGIN and no
COMMIT: the lead was read without a lock, and the statement lands only if the lead row is as
read. Its ``guard`` part (the lead's UPDATE on the ``xmin`` it was read with, or a new lead's
INSERT … ON CONFLICT DO NOTHING) must give a row, and the "handled" record too; otherwise
the statement divides by zero, and PostgreSQL undoes every part of it (a statement is atomic).
A new lead's id reaches the other parts from its INSERT's RETURNING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Select, bindparam, func, literal, select
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

#: Builds a part's template: (bind-parameter prefix, names of its values, the CTE of the
#: previous ``ordered`` part on the same table or None, the lead's id when it comes from a
#: new lead's INSERT in the same statement, else None) → statement.
Maker = Callable[[str, tuple[str, ...], CTE | None, ColumnElement[Any] | None], UpdateBase]

_SHAPES: dict[tuple[Any, ...], Executable] = {}
_MAX_SHAPES = 512  # a safety net: an update has a handful of shapes, not hundreds


def bound(
    prefix: str, names: tuple[str, ...], lead: ColumnElement[Any] | None = None
) -> dict[str, ColumnElement[Any]]:
    """Bind parameters for ``names``, prefixed (a part's values in a combined statement);
    ``lead_id`` is ``lead`` when given (a new lead's id, from its INSERT)."""
    values: dict[str, ColumnElement[Any]] = {name: bindparam(prefix + name) for name in names}
    if lead is not None and "lead_id" in values:
        values["lead_id"] = lead
    return values


@dataclass(frozen=True, slots=True)
class Part:
    table: str
    maker: Maker
    values: dict[str, Any]
    changes_rows: bool = False  # UPDATE, DELETE or an upsert (reads the table's rows)
    ordered: bool = False  # written after the previous ordered part on its table
    guard: bool = False  # optimistic: the statement lands only if this part gives a row
    new_lead: bool = False  # the guard inserts the lead: the others take its id from it

    @property
    def shape(self) -> tuple[Maker, tuple[str, ...], bool, bool, bool]:
        return self.maker, tuple(self.values), self.ordered, self.guard, self.new_lead


class Batch:
    """The queued parts of one transaction, and the combined statement that lands them."""

    def __init__(self) -> None:
        self.parts: list[Part] = []

    def __bool__(self) -> bool:
        return bool(self.parts)

    def fits(self, part: Part) -> bool:
        """False when ``part`` must see rows a queued part writes (land the queue first)."""
        return not (part.changes_rows and any(p.table == part.table for p in self.parts))

    def take(self, counted: Part | None = None) -> tuple[Executable, dict[str, Any]]:
        """The statement for the queue (emptied), and its parameters. With ``counted`` (a
        part ending in RETURNING), the statement gives how many rows that part returned.

        With a ``guard`` part queued (an optimistic unit) the statement gives one row,
        (the guard's id, 1), and fails unless the guard and ``counted`` gave a row each."""
        parts, self.parts = self.parts, []
        key = (tuple(p.shape for p in parts), counted.shape if counted else None)
        stmt = _SHAPES.get(key)
        if stmt is None:
            stmt = _combine(parts, counted)
            if len(_SHAPES) >= _MAX_SHAPES:
                _SHAPES.clear()
            _SHAPES[key] = stmt
        params: dict[str, Any] = {}
        for n, part in enumerate(parts):
            params.update({f"w{n}_{k}": v for k, v in part.values.items()})
        if counted is not None:
            params.update({f"c_{k}": v for k, v in counted.values.items()})
        return stmt, params


def _combine(parts: list[Part], counted: Part | None) -> Executable:
    guard = next((p for p in parts if p.guard), None)
    if counted is None and guard is None and len(parts) == 1:
        return parts[0].maker("w0_", tuple(parts[0].values), None, None)
    ctes: dict[int, CTE] = {}
    lead: ColumnElement[Any] | None = None
    if guard is not None:  # built first: a new lead's id is the others' lead_id
        n = parts.index(guard)
        ctes[n] = guard.maker(f"w{n}_", tuple(guard.values), None, None).cte(f"w{n}")
        if guard.new_lead:
            lead = select(ctes[n].c.id).scalar_subquery()
    last: dict[str, CTE] = {}  # the last ordered part's CTE, by table
    for n, part in enumerate(parts):
        if n in ctes:
            continue
        after = last.get(part.table) if part.ordered else None
        cte = part.maker(f"w{n}_", tuple(part.values), after, lead).cte(f"w{n}")
        if part.ordered:
            last[part.table] = cte
        ctes[n] = cte
    returned = None
    if counted is not None:
        returned = counted.maker("c_", tuple(counted.values), None, None).cte("counted")
    combined: Select[Any]
    if guard is not None:
        checked = ctes[parts.index(guard)]
        rows: ColumnElement[Any] = select(func.count()).select_from(checked).scalar_subquery()
        if returned is not None:
            rows = rows * select(func.count()).select_from(returned).scalar_subquery()
        # 1 // 0 when a check found no row: an error, so nothing of the statement stays.
        combined = select(select(checked.c.id).scalar_subquery(), literal(1) // rows)
    elif returned is not None:
        combined = select(func.count()).select_from(returned)
    else:
        combined = select(literal(1))
    return combined.add_cte(*(ctes[n] for n in range(len(parts))))
