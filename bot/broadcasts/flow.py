"""Parse → check → preview → send: a mailing's draft, written once for every face.

``leadbot broadcast send`` and the admins' ``/broadcast`` in Telegram differ only in how
they ask (options and a y/N question, or words and Send / Cancel buttons); what a draft
may be, what the preview shows and how it is queued are decided here, so both faces refuse
the same drafts with the same one-line ``BroadcastError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

from bot.broadcasts.audience import AudienceWords, build_audience, parse_at
from bot.broadcasts.paid import Cost, calls_of, paid_terms, stars
from bot.broadcasts.preview import preview_messages
from bot.broadcasts.service import BroadcastError, Started, check_content, default_name, start
from bot.engine.types import OutMessage
from bot.scenario.funnel import Funnel
from storage import broadcasts
from storage.broadcast_queries import SampleRow, audience_sample
from storage.broadcasts import Audience, PaidTerms
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked mailing: whom, what (a message or a chain), when, under which name."""

    audience: Audience
    message: dict[str, Any] | None = None
    chain: str | None = None
    starts: datetime | None = None
    name: str | None = None
    paid: PaidTerms | None = None  # sent with allow_paid_broadcast, within a Stars cap

    @property
    def has_content(self) -> bool:
        return self.message is not None or self.chain is not None


@dataclass(frozen=True, slots=True)
class Preview:
    """How many leads match, a few of them, and the message as the first of them sees it."""

    count: int
    sample: list[SampleRow] = field(default_factory=list)
    messages: list[OutMessage] = field(default_factory=list)
    elsewhere: int = 0  # leads the filter matches on other channels (not reached)
    cost: Cost | None = None  # a paid broadcast's price and what its cap covers

    @property
    def hint(self) -> str:
        """A nudge when the channel filter leaves matching leads out, else nothing."""
        if not self.elsewhere:
            return ""
        return f"{self.elsewhere} more lead(s) match on other channels (see --channel)"

    @property
    def seen_by(self) -> str:
        """Whose eyes the preview is through: a first name, else the lead's number."""
        if not self.sample:
            return "a lead"
        lead = self.sample[0].lead
        return lead.first_name or f"lead #{lead.id}"


def message_of(text: str, buttons: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """A typed text (and ``button=`` words) as a message in the scenario's format."""
    content: dict[str, Any] = {"message": text.strip()}
    if buttons:
        content["buttons"] = list(buttons)
    return content


def make_draft(
    funnel: Funnel,
    words: AudienceWords,
    now: datetime,
    tz: tzinfo,
    *,
    message: dict[str, Any] | None = None,
    chain: str | None = None,
    at: str | None = None,
    name: str | None = None,
    buttons: Sequence[dict[str, str]] = (),
    content_later: bool = False,
    paid: bool = False,
    rate: str | float | None = None,
    stars_cap: str | float | None = None,
) -> Draft:
    """Check every part against the scenario; ``BroadcastError`` names the first bad one.

    ``content_later``: Telegram may choose the audience first and send the text next.
    ``paid``: opt in to Telegram's paid broadcasts, at ``rate`` and within ``stars_cap``.
    """
    terms = paid_terms(paid, rate, stars_cap)
    audience = build_audience(words, funnel, now, tz)
    starts = parse_at(at, now, tz) if at else None
    if chain is not None and buttons:
        raise BroadcastError("buttons go with a message; a chain has its own")
    if message is not None and buttons:
        message = {**message, "buttons": list(buttons)}
    draft = Draft(audience, message, chain, starts, name, terms)
    if draft.has_content or not content_later:
        check_content(funnel, message, chain)
    return draft


async def preview(
    db: Database, funnel: Funnel, draft: Draft, now: datetime, size: int = 5
) -> Preview:
    """The count, a sample and (with content) the messages the first sampled lead gets.

    A paid draft also gets its cost; a cap that does not pay for even one lead's copy is
    refused here (``BroadcastError``), before anything is queued.
    """
    audience = draft.audience
    async with db.session() as session:
        count = await broadcasts.count(session, audience, now)
        sample = await audience_sample(session, audience, now, size) if count else []
        elsewhere = 0
        if audience.channel is not None:
            anywhere = replace(audience, channel=None)
            elsewhere = await broadcasts.count(session, anywhere, now) - count
    if not count or not draft.has_content:
        return Preview(count, sample, elsewhere=elsewhere)
    lead = sample[0].lead if sample else None
    shown = preview_messages(funnel, lead, now, message=draft.message, chain=draft.chain)
    cost = None
    if draft.paid is not None:
        cost = Cost(count, calls_of(shown), draft.paid.cap, draft.paid.rate)
        if not cost.covered:
            raise BroadcastError(
                f"stars-cap: {stars(draft.paid.cap)} Stars does not pay for one lead's "
                f"{cost.per_lead} message(s) ({stars(cost.per_lead)} Stars)"
            )
    return Preview(count, sample, shown, elsewhere, cost)


async def send(
    db: Database,
    funnel: Funnel,
    draft: Draft,
    now: datetime,
    tz: tzinfo,
    *,
    created_by: str,
    stem: str = "",
) -> Started:
    """Queue the confirmed draft; unnamed, it is called after its chain, file or words."""
    name = draft.name or default_name(draft.message, draft.chain, now, tz, stem)
    return await start(
        db, funnel, name=name, audience=draft.audience, message=draft.message,
        chain=draft.chain, starts_at=draft.starts, created_by=created_by, now=now,
        paid=draft.paid,
    )  # fmt: skip
