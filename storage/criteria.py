"""Which leads: the one criteria object behind reports, exports, audiences and win-back.

Managers' filters (``leadbot leads --segment hot --since 7d``) and a mailing's audience
(``--stopped-at hot_offer --idle-days 3``) describe the same set of leads, so the SQL that
selects them is written once, here. A mailing adds its own rule (``reachable``): never
unsubscribed, blocked or handed-off leads, never the simulator's negative user ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.vocabulary import LeadStatus, TouchState
from storage.models import Event, Lead, ScheduledTouch

NONE_LABEL = "(none)"  # a filter value meaning "no source" / "not classified yet"
# Whatever the filter says, a mailing never reaches these.
NEVER = (LeadStatus.UNSUBSCRIBED, LeadStatus.BLOCKED, LeadStatus.HANDED_OFF)


@dataclass(frozen=True, slots=True)
class LeadFilter:
    """A set of leads. ``since``/``until`` bound ``leads.created_at`` (when the lead
    arrived; for an event export, ``events.created_at``); ``None`` means no bound."""

    segment: str | None = None
    stage: str | None = None
    status: str | None = None
    source: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None
    stopped_at: tuple[str, ...] = ()
    idle_days: float | None = None
    variant: tuple[str, str] | None = None  # (step, variant) the lead was shown
    reachable: bool = False  # only leads a mailing may write to
    language: str | None = None  # a primary language (en): en, en-GB, en-US all match

    def conditions(
        self, now: datetime | None = None, *, dated: bool = True
    ) -> list[ColumnElement[bool]]:
        """The WHERE clauses over ``leads`` (``now`` is needed only with ``idle_days``)."""
        conds: list[ColumnElement[bool]] = []
        if self.reachable:
            conds += [Lead.status.not_in(NEVER), Lead.user_id > 0]
        if self.segment is not None:
            conds.append(_equals(Lead.segment, self.segment))
        if self.source is not None:
            conds.append(_equals(Lead.source, self.source))
        if self.stage is not None:
            conds.append(Lead.stage == self.stage)
        if self.status is not None:
            conds.append(Lead.status == self.status)
        if self.channel is not None:
            conds.append(Lead.channel == self.channel)
        if self.language is not None:
            lang = self.language.lower()
            conds.append(or_(func.lower(Lead.language) == lang, Lead.language.ilike(f"{lang}-%")))
        if dated and self.since is not None:
            conds.append(Lead.created_at >= self.since)
        if dated and self.until is not None:
            conds.append(Lead.created_at < self.until)
        if self.stopped_at:
            conds.append(Lead.step.in_(self.stopped_at))
        # The lead's own events under another name: a query that already reads ``events``
        # (an event export, the report's orders) must not correlate these to its rows.
        own = aliased(Event)
        if self.idle_days is not None:
            if now is None:
                raise ValueError("idle_days needs the current time")
            cutoff = now - timedelta(days=self.idle_days)
            recent = select(own.id).where(own.lead_id == Lead.id, own.created_at >= cutoff)
            conds.append(~exists(recent))
        if self.variant is not None:
            step, variant = self.variant
            seen = select(own.id).where(
                own.lead_id == Lead.id, own.step == step, own.variant == variant
            )
            conds.append(exists(seen))
        return conds

    def event_dates(self) -> list[ColumnElement[bool]]:
        """``since``/``until`` over ``events.created_at`` (an event export's period)."""
        conds: list[ColumnElement[bool]] = []
        if self.since is not None:
            conds.append(Event.created_at >= self.since)
        if self.until is not None:
            conds.append(Event.created_at < self.until)
        return conds


def _equals(column: InstrumentedAttribute[str | None], value: str) -> ColumnElement[bool]:
    return column.is_(None) if value == NONE_LABEL else column == value


#: Statuses of a lead that has not dropped wherever it stands: done, or a manager has it.
NOT_DROPPED = (LeadStatus.COMPLETED, LeadStatus.HANDED_OFF)


def dropped_here() -> list[ColumnElement[bool]]:
    """A lead *dropped* at its current step: it stopped there (not completed, not with a
    manager) and nothing is scheduled for it (a lead one minute into a two-day wait is
    waiting, not dropped). The one definition behind the report's "dropped" column and
    ``leadbot report --dropped STEP``."""
    pending = select(ScheduledTouch.id).where(
        ScheduledTouch.lead_id == Lead.id, ScheduledTouch.state == TouchState.PENDING
    )
    return [Lead.step.is_not(None), Lead.status.not_in(NOT_DROPPED), ~exists(pending)]
