"""Hot-lead alerts: a lead's card in the managers' chat, with Take / Return to bot buttons.

``ManagerAlerts`` is the service's ``Notifier``. It only queues the alert (the service holds
the lead's lock while notifying) and a background task sends it through the shared
throttle, spaced out for a group chat's limits. Contacts appear only when the lead agreed
to be contacted (see ``bot.managers.contact_allowed``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import tzinfo

from aiogram import Bot
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.managers.outbox import Outbox
from bot.managers.staff import Staff, contact_allowed
from bot.reports.leads import LeadCard, TimelineEntry, lead_card
from bot.reports.periods import local
from bot.scenario.model import OfferStep
from bot.service import FunnelService, RecipientGone, SendRejected
from bot.telegram.callbacks import Handover, ManagerButton
from bot.telegram.channel import Channels
from bot.telegram.views import esc, parts, plain, profile, short
from bot.vocabulary import HANDOFF_BY_OWNER, AlertReason, EventType, LeadStatus

log = logging.getLogger(__name__)

MAX_ANSWERS = 15
CARD_LIMIT = 3900  # visible characters: one message, room left for the status line


def _headline(service: FunnelService, card: LeadCard, reason: str | None, step: str | None) -> str:
    funnel = service.scenario.funnel
    if reason == "hot_segment":
        segment = funnel.segment(card.lead.segment)
        title = segment.title if segment else card.lead.segment
        return f"🔥 <b>Hot lead</b>: placed in «{esc(title)}»"
    if reason == AlertReason.OFFER_CLICKED:
        placed = funnel.get(step)
        offer = placed.step.title if placed and isinstance(placed.step, OfferStep) else step
        return "💳 <b>Clicked an offer</b>" + (f": «{esc(offer)}»" if offer else "")
    if reason == "handoff" and _owner_stepped_in(card.timeline):
        return "👤 <b>The owner wrote in their business chat</b>: the bot stepped back"
    if reason == "handoff":
        return "🙋 <b>Asks for a manager</b>" + (f" (step {esc(step)})" if step else "")
    if reason == "message":
        return "💬 <b>New message</b> from a lead with managers"
    return "📇 <b>Lead</b>"


def _hand_state(timeline: list[TimelineEntry]) -> TimelineEntry | None:
    """The latest hand-off, Take or release: who has the lead now."""
    kinds = {EventType.HANDED_OFF, EventType.TAKEN, EventType.RELEASED}
    return next((e for e in reversed(timeline) if e.type in kinds), None)


def _owner_stepped_in(timeline: list[TimelineEntry]) -> bool:
    """Whether the lead is with managers because the business account's owner wrote to it."""
    last = _hand_state(timeline)
    return last is not None and last.type == EventType.HANDED_OFF and _by_owner(last)


def _by_owner(entry: TimelineEntry) -> bool:
    return entry.payload.get("reason") == HANDOFF_BY_OWNER


def _status_line(card: LeadCard, tz: tzinfo) -> str:
    last = _hand_state(card.timeline)
    status = card.lead.status
    if status == LeadStatus.HANDED_OFF and _owner_stepped_in(card.timeline):
        assert last is not None
        by = last.payload.get("by") or "the owner"
        return f"👤 {esc(by)} is writing in the business chat: the bot is silent for this lead."
    if status == LeadStatus.HANDED_OFF and last is not None and last.type == EventType.TAKEN:
        by = last.payload.get("by") or "a manager"
        return f"🤝 Taken by {esc(by)} at {local(last.at, tz)}: the bot is silent for this lead."
    if status == LeadStatus.HANDED_OFF:
        return "⏳ Waiting for a manager: the bot is silent for this lead."
    if last is not None and last.type == EventType.RELEASED:
        by = last.payload.get("by") or "a manager"
        return f"↩️ Back with the bot (returned by {esc(by)} at {local(last.at, tz)})."
    return f"🤖 The bot leads this conversation (status {esc(status)})."


def alert_html(
    service: FunnelService,
    card: LeadCard,
    reason: str | None,
    step: str | None,
    tz: tzinfo,
    headline: str | None = None,
    note: str = "",
) -> str:
    """The card; ``headline`` keeps the first line of a card being redrawn.

    ``note`` is the prospect's own message (a request for a person, or a message written while
    managers have the lead), shown first so the manager reads it without opening anything.
    """
    r = card.lead
    funnel = service.scenario.funnel
    segment = funnel.segment(r.segment)
    headline = headline or _headline(service, card, reason, step)
    lines = [headline, f"{profile(card)} · lead #{r.id}"]
    if note:
        lines.append(f"<b>Message:</b> {esc(short(note, 1500))}")
    lines.append(f"<b>Source:</b> {esc(r.source or '—')}")
    if r.segment:
        title = f" «{esc(segment.title)}»" if segment else ""
        lines.append(f"<b>Segment:</b> {esc(r.segment)}{title}")
    c = card.classification
    if c is not None and c.reason:
        lines.append(f"<b>Why:</b> {esc(short(c.reason, 400))}")
    if card.summary:
        lines.append(f"<b>Summary:</b> {esc(short(card.summary, 600))}")
    if card.answers:
        lines.append("<b>Answers:</b>")
        for a in card.answers[:MAX_ANSWERS]:
            lines.append(f"• {esc(plain(a.question, 60))} — {esc(short(a.answer, 300))}")
    contact = ", ".join(x for x in (r.phone, r.email) if x)
    if not contact:
        lines.append("<b>Contact:</b> not shared; write to them in Telegram")
    elif contact_allowed(card.consent, funnel.scenario.require_consent):
        lines.append(f"<b>Contact:</b> {esc(contact)}")
    else:
        lines.append("<b>Contact:</b> hidden (no consent to be contacted)")
    body = parts("\n".join(lines), CARD_LIMIT)
    text = body[0] + ("\n…" if len(body) > 1 else "")
    return f"{text}\n\n{_status_line(card, tz)}"


def buttons(card: LeadCard, reason: str | None) -> InlineKeyboardMarkup | None:
    """Take while the bot has the lead; Return to bot while managers have it."""
    row: list[InlineKeyboardButton] = []
    lead_id, status = card.lead.id, card.lead.status
    last = _hand_state(card.timeline)
    taken = status == LeadStatus.HANDED_OFF and last is not None and last.type == EventType.TAKEN
    if status == LeadStatus.ACTIVE or (status == LeadStatus.HANDED_OFF and not taken):
        data = ManagerButton.of(Handover.TAKE, lead_id, reason).pack()
        row.append(InlineKeyboardButton(text="Take", callback_data=data))
    if status == LeadStatus.HANDED_OFF:
        data = ManagerButton.of(Handover.RELEASE, lead_id, reason).pack()
        row.append(InlineKeyboardButton(text="Return to bot", callback_data=data))
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


class ManagerAlerts:
    """The ``Notifier`` that posts lead cards to MANAGER_CHAT_ID."""

    def __init__(
        self, bot: Bot, service: FunnelService, channels: Channels, staff: Staff, tz: tzinfo
    ) -> None:
        assert staff.manager_chat_id is not None
        self.bot = bot
        self.service = service
        self.channels = channels
        self.chat_id = staff.manager_chat_id
        self.pause = staff.alert_pause
        self.tz = tz
        self.outbox = Outbox("manager-alerts")

    async def alert(self, lead_id: int, reason: str, step: str | None, note: str = "") -> None:
        self.outbox.put(lambda: self._send(lead_id, reason, step, note))

    async def _send(self, lead_id: int, reason: str, step: str | None, note: str = "") -> None:
        card = await lead_card(self.service.db, str(lead_id), self.tz)
        if card is None:
            return
        method = SendMessage(
            chat_id=self.chat_id,
            text=alert_html(self.service, card, reason, step, self.tz, note=note),
            reply_markup=buttons(card, reason),
        )
        try:
            await self.channels.chat(self.bot, self.chat_id).call(method, "touch")
        except (RecipientGone, SendRejected) as exc:
            log.warning("lead %s: the alert did not reach the managers: %s", lead_id, exc)
        await asyncio.sleep(self.pause)

    async def redraw(
        self,
        lead_id: int,
        reason: str | None,
        chat_id: int,
        message_id: int,
        headline: str | None = None,
    ) -> None:
        """Show the card again as it is now (after a Take or a Return); failures are logged."""
        card = await lead_card(self.service.db, str(lead_id), self.tz)
        if card is None:
            return
        method = EditMessageText(
            chat_id=chat_id,
            message_id=message_id,
            text=alert_html(self.service, card, reason, None, self.tz, headline),
            reply_markup=buttons(card, reason),
        )
        try:
            await self.channels.chat(self.bot, chat_id).call(method)
        except (RecipientGone, SendRejected) as exc:
            log.info("lead %s: the alert card was not updated: %s", lead_id, exc)
