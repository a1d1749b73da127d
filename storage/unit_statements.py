"""The hot path's Core statements (``storage.unit``), built once at import, and the parts
of PostgreSQL's combined statement (``storage.batch``)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import String, Table, bindparam, insert, literal_column, or_, select, update
from sqlalchemy.sql.dml import Delete, Insert, Update, UpdateBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from bot.vocabulary import RESUME_KIND, TouchState
from storage.batch import bound
from storage.db import upsert_insert
from storage.leads import ANSWERS, EVENTS, LEADS
from storage.models import Instance, Order, ProcessedUpdate, ScheduledTouch

TOUCHES: Table = ScheduledTouch.__table__  # type: ignore[assignment]
ORDERS: Table = Order.__table__  # type: ignore[assignment]
UPDATES: Table = ProcessedUpdate.__table__  # type: ignore[assignment]
INSTANCES: Table = Instance.__table__  # type: ignore[assignment]

# A lead with its answers in one round trip.
_LEAD_AND_ANSWERS = (
    select(LEADS, ANSWERS.c.key.label("answer_key"), ANSWERS.c.answer.label("answer_value"))
    .outerjoin(ANSWERS, ANSWERS.c.lead_id == LEADS.c.id)
    .where(LEADS.c.channel == bindparam("channel"), LEADS.c.user_id == bindparam("user_id"))
    .order_by(ANSWERS.c.id)
)
# ``FOR UPDATE OF leads`` locks only the lead row on PostgreSQL (the answers side of an
# outer join cannot be locked) and is not rendered on SQLite, whose writer lock serialises
# updates anyway.
LOAD = _LEAD_AND_ANSWERS.with_for_update(of=LEADS)
# PostgreSQL's version of the lead row (the transaction that wrote it), as text: an
# optimistic unit (``storage.unit``) writes back only the version it read.
XMIN = literal_column("leads.xmin::text", String)
# The lead without a lock, with its version: an optimistic unit's read (PostgreSQL).
PEEK = _LEAD_AND_ANSWERS.add_columns(XMIN.label("read_xmin"))
# The SET clause comes from the parameters given (every column ``state_values`` has): one
# statement, compiled once, for every write-back.
UPDATE_LEAD = update(LEADS).where(LEADS.c.id == bindparam("the_lead"))


def cancel_pending_of(lead_id: Any, now: Any) -> Update:
    """A lead's chain timers (a queued broadcast stays: it checks at send time); given
    bind parameters (compiled once) or values (one part of a combined statement)."""
    return (
        update(TOUCHES)
        .where(
            TOUCHES.c.lead_id == lead_id,
            TOUCHES.c.state == TouchState.PENDING,
            TOUCHES.c.broadcast_id.is_(None),
        )
        .values(state=TouchState.CANCELLED, done_at=now)
    )


def close_work_of(lead_id: Any) -> Delete:
    """A lead's work-in-progress records (``Unit.close_work``)."""
    # Two comparisons, not IN (…): a list is an "expanding" parameter, which the driver-level
    # statements of ``storage.prepared`` cannot run.
    return TOUCHES.delete().where(
        TOUCHES.c.lead_id == lead_id,
        TOUCHES.c.kind == RESUME_KIND,
        or_(TOUCHES.c.state == TouchState.PENDING, TOUCHES.c.state == TouchState.CLAIMED),
    )


CANCEL_PENDING = cancel_pending_of(bindparam("of_lead"), bindparam("at"))
MARK_SENDING = (
    update(TOUCHES)
    .where(TOUCHES.c.id == bindparam("touch"), TOUCHES.c.state == TouchState.CLAIMED)
    .values(state=TouchState.SENDING)
)
MARK_SENDING_IN_LEASE = MARK_SENDING.where(TOUCHES.c.lease_until > bindparam("at"))
CLOSE_WORK = close_work_of(bindparam("of_lead"))
INSERT_TOUCH = insert(TOUCHES)
INSERT_ORDER = insert(ORDERS)
UPDATE_SEEN = select(UPDATES.c.done, UPDATES.c.instance).where(
    UPDATES.c.update_id == bindparam("update_id")
)
BEATING = select(INSTANCES.c.id).where(
    INSTANCES.c.id == bindparam("instance"), INSTANCES.c.heartbeat_at >= bindparam("since")
)


def events_insert(rows: list[dict[str, Any]]) -> tuple[Insert, dict[str, Any]]:
    """One INSERT for all of an update's events (a SQLite executemany runs the INSERT once
    per row), and its parameters, ``<column>_<row>``."""
    params = {f"{k}_{i}": v for i, row in enumerate(rows) for k, v in row.items()}
    return _events_insert(len(rows), tuple(rows[0])), params


@functools.lru_cache(maxsize=16)
def _events_insert(rows: int, keys: tuple[str, ...]) -> Insert:
    """An update logs one to a few events: a statement per count, each built once."""
    return insert(EVENTS).values(
        [{k: bindparam(f"{k}_{i}", type_=EVENTS.c[k].type) for k in keys} for i in range(rows)]
    )


class Upserts:
    """The ``INSERT … ON CONFLICT`` statements of one dialect, built once, at its first use."""

    def __init__(self, dialect_name: str) -> None:
        insert_ = upsert_insert(dialect_name)
        self.update_seen: Insert = insert_(UPDATES).on_conflict_do_nothing(
            index_elements=["update_id"]
        )
        self.new_lead: Insert = (
            insert_(LEADS)
            .on_conflict_do_nothing(index_elements=["channel", "user_id"])
            .returning(LEADS.c.id)
        )
        answer = insert_(ANSWERS)
        self.answer: Insert = answer.on_conflict_do_update(
            index_elements=["lead_id", "key"],
            set_={
                "question": answer.excluded.question,
                "answer": answer.excluded.answer,
                "created_at": answer.excluded.created_at,
            },
        )


_BY_DIALECT: dict[str, Upserts] = {}  # by dialect name


def upserts_for(dialect_name: str) -> Upserts:
    upserts = _BY_DIALECT.get(dialect_name)
    if upserts is None:
        upserts = _BY_DIALECT[dialect_name] = Upserts(dialect_name)
    return upserts


# --- the parts of a combined statement (PostgreSQL; see ``storage.batch``) -----------------

#: A new lead's id from its INSERT in the same statement (see ``storage.batch.Maker``).
Lead = ColumnElement[Any] | None


def lead_part(p: str, names: tuple[str, ...], _after: CTE | None, _lead: Lead) -> UpdateBase:
    values = bound(p, tuple(n for n in names if n not in ("the_lead", "read_xmin")))
    stmt = update(LEADS).where(LEADS.c.id == bindparam(p + "the_lead")).values(values)
    if "read_xmin" in names:  # optimistic: only the row version the unit read
        read: ColumnElement[Any] = bindparam(p + "read_xmin")
        stmt = stmt.where(XMIN.op("=")(read)).returning(LEADS.c.id)
    return stmt


def new_lead_part(p: str, names: tuple[str, ...], _after: CTE | None, _lead: Lead) -> UpdateBase:
    """A first contact's row (optimistic units): nothing if someone inserted it meanwhile."""
    return upserts_for("postgresql").new_lead.values(bound(p, names))


def answer_part(p: str, names: tuple[str, ...], _after: CTE | None, lead: Lead) -> UpdateBase:
    return upserts_for("postgresql").answer.values(bound(p, names, lead))


def event_part(p: str, names: tuple[str, ...], after: CTE | None, lead: Lead) -> UpdateBase:
    """One event; after the update's previous one (``after``): the log is ordered by id."""
    if after is None:
        return insert(EVENTS).values(bound(p, names, lead)).returning(EVENTS.c.id)
    cells = [
        lead if n == "lead_id" and lead is not None else bindparam(p + n, type_=EVENTS.c[n].type)
        for n in names
    ]
    row = select(*cells).select_from(after)
    return insert(EVENTS).from_select(list(names), row).returning(EVENTS.c.id)


def touch_part(p: str, names: tuple[str, ...], _after: CTE | None, lead: Lead) -> UpdateBase:
    return insert(TOUCHES).values(bound(p, names, lead))


def cancel_part(p: str, _names: tuple[str, ...], _after: CTE | None, _lead: Lead) -> UpdateBase:
    return cancel_pending_of(bindparam(p + "of_lead"), bindparam(p + "at"))


def close_part(p: str, _names: tuple[str, ...], _after: CTE | None, _lead: Lead) -> UpdateBase:
    return close_work_of(bindparam(p + "of_lead"))


def seen_part(p: str, names: tuple[str, ...], _after: CTE | None, _lead: Lead) -> UpdateBase:
    seen = upserts_for("postgresql").update_seen.values(bound(p, names))
    return seen.returning(UPDATES.c.update_id)
