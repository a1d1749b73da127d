"""What a lead will see when a mailing reaches them, computed by the engine itself.

The preview runs the pure engine on a copy of a sample lead's state, so placeholders,
buttons and a chain's first messages look exactly as they will, and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.engine.engine import Engine
from bot.engine.types import Broadcast, LeadState, OutMessage
from bot.scenario.funnel import Funnel
from bot.scenario.markup import strip_tags
from bot.scenario.model import MessageStep
from bot.vocabulary import LeadStatus
from storage.leads import state_from_row
from storage.models import Lead

PREVIEW_ID = 0  # no broadcast exists yet; the engine only needs a number


def preview_messages(
    funnel: Funnel,
    lead: Lead | None,
    now: datetime,
    *,
    message: dict[str, Any] | None = None,
    chain: str | None = None,
    placeholder_name: str = "Ann",
) -> list[OutMessage]:
    """The messages ``lead`` would get at once (a chain stops at its first wait)."""
    if lead is not None:
        state = state_from_row(lead, {})
        state.status = LeadStatus.ACTIVE  # a preview is about the content, not whether it is sent
    else:
        state = LeadState(first_name=placeholder_name, status=LeadStatus.ACTIVE)
    step = MessageStep.model_validate(message) if message is not None else None
    outcome = Engine(funnel).handle(state, Broadcast(PREVIEW_ID, message=step, chain=chain), now)
    return outcome.messages


def as_text(messages: list[OutMessage]) -> str:
    """For a terminal: the words without HTML, files and buttons in brackets."""
    blocks = []
    for m in messages:
        lines = []
        if m.image:
            lines.append(f"[image: {m.image}]")
        if m.document:
            lines.append(f"[document: {m.document}]")
        if m.invoice is not None:
            lines.append(f"[invoice: {m.invoice.title}]")
        if m.text:
            lines.append(plain(m.text))
        for row in m.buttons:
            lines.append("  ".join(f"[{b.text}{' ↗' if b.url else ''}]" for b in row))
        if m.contact_button:
            lines.append(f"[{m.contact_button}]")
        lines.extend(f"[{o}]" for o in m.reply_options)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or "(no message: the chain starts with a wait)"


def plain(text: str) -> str:
    """Telegram HTML as a terminal shows it: tags dropped, entities decoded, lines kept."""
    return strip_tags(text).strip()
