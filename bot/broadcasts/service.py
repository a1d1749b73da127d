"""Broadcasts and win-back: mailings to an audience through the durable touch queue.

Also the control state machine (pause, resume, cancel), the same from the CLI and from
Telegram, so both faces get the same refusals: a cancelled mailing cannot be resumed.

Each lead's copy is a touch, so a mailing obeys everything the chains obey: Telegram's
limits, live replies first, quiet hours, no duplicates after a crash; and the engine checks
at send time that the lead may still be written to (never unsubscribed, blocked or taken).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from bot.broadcasts.errors import BroadcastError as BroadcastError
from bot.broadcasts.paid import parse_stars, stars
from bot.reports.periods import local
from bot.scenario.funnel import Funnel
from bot.scenario.model import BUILTIN_FIELDS, MessageStep, placeholders
from bot.vocabulary import BroadcastState
from storage import broadcasts
from storage.broadcasts import Audience, PaidTerms, Progress
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    broadcast_id: int
    queued: int
    name: str = ""


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
        _check_fields(funnel, [step.message or "", *(b.text for b in step.buttons)])
        for button in step.buttons:
            if button.goto and funnel.get(button.goto) is None:
                raise BroadcastError(f"button '{button.text}' goes to unknown step '{button.goto}'")
        for asset in (step.image, step.document):
            if asset and not asset.startswith("http") and not funnel.asset(asset).is_file():
                raise BroadcastError(f"file '{asset}' not found next to the scenario")


def _check_fields(funnel: Funnel, texts: list[str]) -> None:
    """``{nosuch}`` would reach every lead as it is typed: refuse it, as scenarios do."""
    known = BUILTIN_FIELDS | set(funnel.answer_keys())
    for text in texts:
        for name in placeholders(text):
            if name not in known:
                raise BroadcastError(
                    f"unknown field '{{{name}}}' in the text (have: {', '.join(sorted(known))})"
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
    paid: PaidTerms | None = None,
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
            paid=paid,
        )
        queued = await broadcasts.enqueue(session, row, audience, now)
        broadcast_id = row.id
    log.info("broadcast %s '%s' queued for %s lead(s)", broadcast_id, name, queued)
    return Started(broadcast_id, queued, name)


async def set_state(db: Database, broadcast_id: int, state: str, now: datetime) -> None:
    async with db.session() as session, session.begin():
        if await broadcasts.get(session, broadcast_id) is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        await broadcasts.set_state(session, broadcast_id, state, now)


async def progress(db: Database, broadcast_id: int) -> Progress:
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


async def progress_list(db: Database, limit: int) -> list[Progress]:
    """The newest broadcasts with their progress, in one query for all their copies."""
    async with db.session() as session:
        return await broadcasts.progress_many(session, limit)


# --- pause, resume, cancel ----------------------------------------------------------------

#: action -> (the state it sets, the states it may be applied to)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "pause": ("paused", frozenset({"active"})),
    "resume": ("active", frozenset({"paused", "stopped"})),
    "cancel": ("cancelled", frozenset({"active", "paused", "stopped"})),
}
DONE_WORD = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


async def control(
    db: Database,
    broadcast_id: int,
    action: str,
    now: datetime,
    *,
    stars_cap: str | float | None = None,
) -> Progress:
    """Apply ``action``; ``BroadcastError`` says in one line why it cannot be done.

    A paid broadcast resumes only with room under its Stars cap: ``stars_cap`` raises it
    (never below what was spent), e.g. after the broadcast stopped at the old one.
    """
    target, allowed = ACTIONS[action]
    before = await progress(db, broadcast_id)
    row = before.broadcast
    state = row.state
    if state not in allowed:
        raise BroadcastError(f"broadcast {broadcast_id} is {state}: cannot {action} it")
    if action != "cancel" and before.done and row.kind != "winback":
        raise BroadcastError(f"broadcast {broadcast_id} has finished: nothing to {action}")
    cap = row.paid_cap
    if stars_cap is not None and str(stars_cap).strip():
        if action != "resume" or not row.paid:
            raise BroadcastError("stars-cap: only a paid broadcast's resume takes a new cap")
        cap = parse_stars(stars_cap)
        if cap < row.paid_spent:
            raise BroadcastError(
                f"stars-cap: {stars(row.paid_spent)} Stars are spent already; the new cap "
                "cannot be lower"
            )
    if action == "resume" and row.paid and cap is not None and cap <= row.paid_spent:
        raise BroadcastError(
            f"broadcast {broadcast_id} has spent its Stars cap ({stars(cap)}): resume it with "
            "a higher one (stars-cap)"
        )
    async with db.session() as session, session.begin():
        if cap is not None and cap != row.paid_cap:
            await broadcasts.set_paid_cap(session, broadcast_id, cap)
        await broadcasts.set_state(session, broadcast_id, target, now)
    return await progress(db, broadcast_id)


def state_word(p: Progress, now: datetime) -> str:
    """``active`` is refined for people: waiting for its start time, sending, or finished."""
    b = p.broadcast
    if b.state != BroadcastState.ACTIVE:
        return b.state
    if p.done:
        return "finished"
    return "scheduled" if b.starts_at > now else "sending"


def progress_text(p: Progress, now: datetime, tz: tzinfo) -> str:
    """One line: ``#3 «spring» sending: 120 sent · 2 failed · 1 skipped · 0 blocked · 877
    queued``."""
    b = p.broadcast
    parts = [
        f"{p.delivered} sent",
        f"{p.failed + p.rejected} failed",
        f"{p.skipped} skipped",
        f"{p.blocked} blocked",
        f"{p.queued} queued",
    ]
    if p.cancelled:
        parts.append(f"{p.cancelled} cancelled")
    if b.paid:
        parts.append(f"{stars_spent(p)} Stars")
    when = f" (starts {local(b.starts_at, tz)})" if b.starts_at > now and p.queued else ""
    if b.state == BroadcastState.STOPPED and b.stop_reason:
        when = f" ({b.stop_reason})"
    return f"#{b.id} «{b.name}» {state_word(p, now)}{when}: " + " · ".join(parts)


def stars_spent(p: Progress) -> str:
    """A paid broadcast's spend against its cap: ``120.5 of 250``."""
    b = p.broadcast
    return f"{stars(b.paid_spent)} of {stars(b.paid_cap or 0)}"


def default_name(
    content: dict[str, Any] | None, chain: str | None, now: datetime, tz: tzinfo, stem: str = ""
) -> str:
    """A name for the list when none was given: the chain, the file or the first words."""
    day = now.astimezone(tz).strftime("%Y-%m-%d")
    if chain:
        return f"{chain} {day}"
    if stem:
        return f"{stem} {day}"
    words = " ".join(str((content or {}).get("message", "")).split()[:4])
    return f"{words[:60]} {day}".strip()
