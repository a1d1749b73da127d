"""Broadcasts and win-back: mailings to an audience through the durable touch queue.

Each lead's copy is a touch, so a mailing obeys everything the chains obey: Telegram's
limits, live replies first, quiet hours, no duplicates after a crash; and the engine checks
at send time that the lead may still be written to (never unsubscribed, blocked or taken).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from bot.scenario.funnel import Funnel
from bot.scenario.model import MessageStep
from storage import broadcasts
from storage.broadcasts import Audience
from storage.db import Database

log = logging.getLogger(__name__)


class BroadcastError(ValueError):
    """The mailing cannot be sent as described; the message says why in one line."""


@dataclass(frozen=True)
class Started:
    broadcast_id: int
    queued: int


def check_content(funnel: Funnel, message: dict[str, Any] | None, chain: str | None) -> None:
    if (message is None) == (chain is None):
        raise BroadcastError("a broadcast is either a message or a chain, not both or neither")
    if chain is not None and chain not in funnel.chains:
        raise BroadcastError(
            f"no chain '{chain}' in the scenario (have: {', '.join(funnel.chains)})"
        )
    if message is not None:
        try:
            step = MessageStep.model_validate(message)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "message"
            raise BroadcastError(f"{where}: {first['msg']}") from None
        for button in step.buttons:
            if button.goto and funnel.get(button.goto) is None:
                raise BroadcastError(f"button '{button.text}' goes to unknown step '{button.goto}'")
        for asset in (step.image, step.document):
            if asset and not asset.startswith("http") and not funnel.asset(asset).is_file():
                raise BroadcastError(f"file '{asset}' not found next to the scenario")


async def preview(
    db: Database, audience: Audience, now: datetime, size: int = 10
) -> tuple[int, list[Any]]:
    async with db.session() as session:
        return (
            await broadcasts.count(session, audience, now),
            list(await broadcasts.sample(session, audience, now, size)),
        )


async def start(
    db: Database,
    funnel: Funnel,
    *,
    name: str,
    audience: Audience,
    message: dict[str, Any] | None = None,
    chain: str | None = None,
    starts_at: datetime | None = None,
    created_by: str = "",
    now: datetime,
) -> Started:
    """Create a broadcast and queue it for its audience (all in one transaction)."""
    check_content(funnel, message, chain)
    async with db.session() as session, session.begin():
        row = await broadcasts.create(
            session,
            name=name,
            kind="chain" if chain else "message",
            message=message,
            chain=chain,
            audience=audience,
            starts_at=starts_at or now,
            created_by=created_by,
            now=now,
        )
        queued = await broadcasts.enqueue(session, row, audience, now)
        broadcast_id = row.id
    log.info("broadcast %s '%s' queued for %s lead(s)", broadcast_id, name, queued)
    return Started(broadcast_id, queued)


async def set_state(db: Database, broadcast_id: int, state: str, now: datetime) -> None:
    async with db.session() as session, session.begin():
        if await broadcasts.get(session, broadcast_id) is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        await broadcasts.set_state(session, broadcast_id, state, now)


async def progress(db: Database, broadcast_id: int) -> broadcasts.Progress:
    async with db.session() as session:
        found = await broadcasts.progress(session, broadcast_id)
    if found is None:
        raise BroadcastError(f"no broadcast {broadcast_id}")
    return found


async def run_winback(db: Database, funnel: Funnel, now: datetime) -> dict[str, int]:
    """Queue each win-back rule for leads that match it now; a lead gets a rule once."""
    queued: dict[str, int] = {}
    for rule in funnel.scenario.winback:
        idle: timedelta = rule.idle
        audience = Audience(
            stopped_at=tuple(rule.stopped_at),
            segment=rule.segment,
            idle_days=idle.total_seconds() / 86400,
            channel=None,
        )
        async with db.session() as session, session.begin():
            row = await broadcasts.by_rule(session, rule.id)
            if row is None:
                try:
                    async with session.begin_nested():
                        row = await broadcasts.create(
                            session,
                            name=rule.id,
                            kind="winback",
                            message=None,
                            chain=rule.chain,
                            audience=audience,
                            starts_at=now,
                            created_by="scenario",
                            now=now,
                            rule=rule.id,
                        )
                except IntegrityError:  # another instance created it a moment ago
                    row = await broadcasts.by_rule(session, rule.id)
                    assert row is not None
            elif row.chain != rule.chain:
                row.chain = rule.chain  # the operator changed the rule's chain
            queued[rule.id] = await broadcasts.enqueue(session, row, audience, now)
        if queued[rule.id]:
            log.info("win-back '%s' queued for %s lead(s)", rule.id, queued[rule.id])
    return queued
