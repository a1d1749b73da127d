"""The lead log's tables (SQLAlchemy 2 typed ORM). Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from bot.vocabulary import (
    BroadcastKind,
    BroadcastState,
    LeadStatus,
    OrderKind,
    Stage,
    SubscriptionState,
    TouchState,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_leads_channel_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    user_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[str] = mapped_column(String(256), default="")
    last_name: Mapped[str] = mapped_column(String(256), default="")
    username: Mapped[str] = mapped_column(String(64), default="", index=True)
    language: Mapped[str] = mapped_column(String(16), default="")
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    segment: Mapped[str | None] = mapped_column(String(40), index=True)
    readiness: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    # The five fields above case-folded and joined, for the managers' search
    # (storage/lead_search.py): written with them by the hot path (storage.leads.state_values)
    # and on every ORM flush (``_fold_search`` below).
    search: Mapped[str] = mapped_column(Text, default="", server_default="")
    stage: Mapped[str] = mapped_column(String(16), default=Stage.VISITOR.value, index=True)
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.ACTIVE.value, index=True)
    step: Mapped[str | None] = mapped_column(String(64))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scenario_version: Mapped[str | None] = mapped_column(String(16))
    consent: Mapped[str | None] = mapped_column(String(16))
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="lead", cascade="all, delete-orphan", order_by="Answer.id"
    )


SEARCH_SEPARATOR = "\n"  # between fields, so a search never matches across two of them


def search_text(
    first_name: str, last_name: str, username: str, phone: str | None, email: str | None
) -> str:
    """``leads.search``: the fields case-folded by Python, the full name as one ("анна
    иванова" finds Анна Иванова). Folding in SQL would not do: SQLite's ``lower()`` and
    ``LIKE`` fold ASCII only ("анна" would not find "Анна")."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    return SEARCH_SEPARATOR.join((name, username or "", phone or "", email or "")).casefold()


@event.listens_for(Lead, "before_insert")
@event.listens_for(Lead, "before_update")
def _fold_search(mapper: Mapper[Lead], connection: Any, lead: Lead) -> None:
    names = (lead.first_name, lead.last_name, lead.username)
    lead.search = search_text(*names, lead.phone, lead.email)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("lead_id", "key", name="uq_answers_lead_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="answers")


class Event(Base):
    """The lead log: one row for every touch and reaction."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_lead_id_id", "lead_id", "id"),
        Index("ix_events_type_created_at", "type", "created_at"),
        Index("ix_events_step_lead_id", "step", "lead_id"),
        Index("ix_events_lead_id_created_at", "lead_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scenario_version: Mapped[str | None] = mapped_column(String(16))
    variant: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadReach(Base):
    """What a lead has reached: every event type, step and offer tier it has, as one string
    of marks (``storage/reach.py``). Written only by the ``tr_events_lead_reach`` trigger
    on ``events`` (migration 0013), in the transaction that inserts the event; the funnel
    report groups leads by it instead of scanning the event log.

    Its PostgreSQL ``fillfactor`` (70) is set by migration 0013 alone: as a table option
    here it would import SQLAlchemy's PostgreSQL dialect into every process, SQLite ones
    too (~1.5 MB resident), and tables are only ever created by the migrations."""

    __tablename__ = "lead_reach"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    marks: Mapped[str] = mapped_column(Text)


class Order(Base):
    """A paid order: money as a number, one row per payment (Telegram's charge id)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    offer_step: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    charge_id: Mapped[str] = mapped_column(String(128), unique=True)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: ``OrderKind``: a one-off purchase, a subscription's first payment, or a renewal.
    kind: Mapped[str] = mapped_column(
        String(16), default=OrderKind.ONE_OFF.value, server_default=OrderKind.ONE_OFF.value
    )


class Subscription(Base):
    """A Telegram Stars subscription a lead bought (an offer with ``subscription: monthly``).

    ``charge_id`` is the first payment's: Telegram's editUserStarSubscription names the
    subscription by it. Renewals move ``expires_at``; a period that ends without one (plus
    the scenario's grace) makes it ``churned``, once.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_state_expires_at", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    offer_step: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # a period's price
    currency: Mapped[str] = mapped_column(String(3))
    charge_id: Mapped[str] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=SubscriptionState.ACTIVE.value)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_by: Mapped[str] = mapped_column(String(128), default="")
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceSpend(Base):
    """What was spent on one traffic source, as a manager entered it on the dashboard: the
    report's CPL and CPO divide by it. One row per source (entering again replaces it)."""

    __tablename__ = "source_spend"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    updated_by: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Broadcast(Base):
    """A mailing to an audience (or a scenario's win-back rule): its content and state."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=BroadcastKind.MESSAGE.value)
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    chain: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(40), unique=True)  # a win-back rule's id
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=BroadcastState.ACTIVE.value)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Sent with Telegram's ``allow_paid_broadcast`` (0.1 Star a message, up to 1000/s).
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_rate: Mapped[float | None] = mapped_column(Float)  # messages a second, paid only
    #: The Stars cap as the messages it pays for (Stars × 10): never exceeded.
    paid_cap: Mapped[int | None] = mapped_column(Integer)
    #: Messages sent (or being sent) with the flag: Stars spent = ``paid_spent`` / 10.
    paid_spent: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str | None] = mapped_column(String(200))  # why the bot stopped it


class ScheduledTouch(Base):
    """A wait in a chain or a mailing's message: due time, and where its delivery stands."""

    __tablename__ = "scheduled_touches"
    __table_args__ = (
        Index("ix_scheduled_touches_state_due_at", "state", "due_at"),
        UniqueConstraint("broadcast_id", "lead_id", name="uq_scheduled_touches_broadcast_lead"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    step: Mapped[str] = mapped_column(String(64))
    token: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="touch")
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default=TouchState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Instance(Base):
    """A running bot process: its claims are released once its heartbeat stops."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also touches' claimed_by
    host: Mapped[str] = mapped_column(String(64), index=True)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ProcessedUpdate(Base):
    """A Telegram update taken by an instance, so a repeat (webhook retry) is dropped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    instance: Mapped[str] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(default=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class BusinessConnection(Base):
    """The bot's connection to an operator's Telegram Business account, as Telegram last
    described it: whose account, whether it is on, and whether the bot may reply there."""

    __tablename__ = "business_connections"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Telegram's connection id
    owner_id: Mapped[int] = mapped_column(BigInteger, index=True)
    owner_chat_id: Mapped[int] = mapped_column(BigInteger)
    owner_username: Mapped[str] = mapped_column(String(64), default="")
    owner_name: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    can_reply: Mapped[bool] = mapped_column(default=False)
    rights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BusinessChat(Base):
    """The business connection that reaches a lead met in a business chat (the one the
    customer last wrote through): touches and managers' messages go out through it."""

    __tablename__ = "business_chats"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("business_connections.id", ondelete="CASCADE"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
