"""``/broadcast`` for admins: pick an audience, write the message, see the preview, confirm.

Only admins (ADMIN_IDS) in a private chat match here; for anyone else the filter lets the
update through to the funnel, so a prospect typing ``/broadcast`` gets whatever any text
gets. The draft lives in aiogram's FSM (admin UI, not the funnel); the mailing itself goes
through the same queue, checks and limits as ``leadbot broadcast send``.
"""

from __future__ import annotations

import logging
import secrets
import shlex
from contextlib import suppress
from datetime import tzinfo
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.broadcasts.audience import Request, describe, parse_words
from bot.broadcasts.flow import Draft, make_draft, message_of, preview, send
from bot.broadcasts.service import (
    ACTIONS,
    DONE_WORD,
    BroadcastError,
    control,
    progress,
    progress_list,
    progress_text,
)
from bot.engine.types import OutButton, OutMessage
from bot.managers import Staff
from bot.reports.leads import full_name
from bot.service import FunnelService, RecipientGone, SendRejected
from bot.telegram.callbacks import BroadcastButton, PreviewAction
from bot.telegram.channel import Channels
from bot.telegram.views import esc
from handlers.filters import IsAdmin, Magic
from handlers.reply import reply

log = logging.getLogger(__name__)

SAMPLE = 5
NOOP_ANSWER = "This is a preview: the buttons work in the real mailing."
USAGE = """<b>/broadcast</b> — a mailing to an audience of leads
<code>/broadcast segment=hot stopped-at=hot_offer idle=3</code>, then send the text
<code>/broadcast chain=comeback stopped-at=hot_offer</code> — start a chain instead
Filters: segment, stage, status, source, channel, stopped-at (step,step), idle (days), \
variant (step=variant), since / until (2026-03-01, 7d). Also: name=…, at="2026-12-01 10:00", \
button="Text:step".
<code>/broadcast list</code>, <code>/broadcast status ID</code>, \
<code>pause ID</code>, <code>resume ID</code>, <code>cancel ID</code>"""


class Flow(StatesGroup):
    text = State()  # the audience is chosen; the message text comes next
    confirm = State()  # the preview is shown; Send or Cancel


def _zone(staff: Staff | None, service: FunnelService) -> tzinfo:
    fallback = service.scenario.funnel.timezone
    return staff.zone(fallback) if staff is not None else fallback


_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"'})  # phones "smarten" quotes


def _split(line: str) -> list[str]:
    """Words of the command line; quotes group words (``name="Spring sale"``)."""
    try:
        return shlex.split(line.translate(_QUOTES))
    except ValueError:
        return line.split()


# --- the command ----------------------------------------------------------------------------


async def broadcast_cmd(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff | None = None,
) -> None:
    chat_id = message.chat.id
    first, _, _ = (command.args or "").partition("\n")
    words = _split(first)
    head = words[0].lower() if words else ""
    tz = _zone(staff, service)
    if not words:
        await reply(channels, bot, chat_id, USAGE)
        return
    if head == "list":
        await reply(channels, bot, chat_id, await _list(service, tz))
        return
    if head in {"status", *ACTIONS}:
        if head == "cancel" and len(words) == 1:
            await state.clear()
            await reply(channels, bot, chat_id, "The draft is dropped; nothing was sent.")
            return
        await _control(service, channels, bot, chat_id, head, words[1:], tz)
        return
    _, _, body = (message.html_text or "").partition("\n")
    try:
        request = parse_words(words)
        content = message_of(body) if body.strip() else None
        draft = _draft(service, request, tz, content)
    except BroadcastError as exc:
        await reply(channels, bot, chat_id, f"⚠️ {esc(str(exc))}")
        return
    stored = {"words": words, "message": draft.message, "chain": draft.chain}
    if not draft.has_content:
        found = await preview(service.db, service.scenario.funnel, draft, service.clock(), 1)
        if not found.count:
            await reply(channels, bot, chat_id, _nobody(draft))
            return
        await state.set_state(Flow.text)
        await state.set_data(stored)
        await reply(
            channels, bot, chat_id,
            f"<b>{found.count}</b> lead(s) match. Now send the message text ({{first_name}} and "
            "formatting work). <code>/broadcast cancel</code> drops the draft.",
        )  # fmt: skip
        return
    await _preview(message, state, service, channels, bot, stored, draft, tz)


async def message_text(
    message: Message,
    state: FSMContext,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff | None = None,
) -> None:
    """The text of a mailing whose audience the admin chose a moment ago."""
    stored = await state.get_data()
    tz = _zone(staff, service)
    try:
        request = parse_words(stored.get("words", []))
        draft = _draft(service, request, tz, message_of(message.html_text or ""))
    except BroadcastError as exc:
        await reply(channels, bot, message.chat.id, f"⚠️ {esc(str(exc))}")
        return
    stored["message"] = draft.message
    await _preview(message, state, service, channels, bot, stored, draft, tz)


def _draft(
    service: FunnelService, request: Request, tz: tzinfo, content: dict[str, Any] | None
) -> Draft:
    """The words (and the text, once sent) as a checked draft: the flow every face uses."""
    return make_draft(
        service.scenario.funnel, request.audience, service.clock(), tz,
        message=content, chain=request.chain, at=request.at, name=request.name,
        buttons=request.buttons, content_later=True,
    )  # fmt: skip


async def _preview(
    message: Message,
    state: FSMContext,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    stored: dict[str, Any],
    draft: Draft,
    tz: tzinfo,
) -> None:
    """The message as a sample lead will see it, the count and some names; Send / Cancel."""
    chat_id = message.chat.id
    found = await preview(service.db, service.scenario.funnel, draft, service.clock(), SAMPLE)
    if not found.count:
        await state.clear()
        await reply(channels, bot, chat_id, _nobody(draft))
        return
    await reply(channels, bot, chat_id, f"<b>Preview</b> — as {esc(found.seen_by)} will see it:")
    chat = channels.chat(bot, chat_id)
    for out in found.messages:
        try:
            await chat.send(_inert(out))
        except (RecipientGone, SendRejected) as exc:
            await reply(channels, bot, chat_id, f"⚠️ Telegram refused it: {esc(str(exc))}")
            return
    count, sample = found.count, [row.lead for row in found.sample]
    names = ", ".join(esc(_name(lead)) for lead in sample)
    more = f" and {count - len(sample)} more" if count > len(sample) else ""
    starts = draft.starts
    when = f"\nStarts: {starts.astimezone(tz):%Y-%m-%d %H:%M}" if starts else ""
    nonce = secrets.token_hex(4)
    stored["nonce"] = nonce
    await state.set_state(Flow.confirm)
    await state.set_data(stored)
    keyboard = InlineKeyboardBuilder()
    keyboard.button(
        text="Send", callback_data=BroadcastButton(action=PreviewAction.SEND, nonce=nonce)
    )
    keyboard.button(
        text="Cancel", callback_data=BroadcastButton(action=PreviewAction.CANCEL, nonce=nonce)
    )
    await reply(
        channels, bot, chat_id,
        f"<b>{count}</b> lead(s) match <i>{esc(describe(draft.audience))}</i>: "
        f"{names}{more}.{when}\nSend it?",
        keyboard.as_markup(),
    )  # fmt: skip


def _nobody(draft: Draft) -> str:
    return f"No leads match <i>{esc(describe(draft.audience))}</i>: nothing to send."


def _inert(message: OutMessage) -> OutMessage:
    """The preview's buttons look real but only say that this is a preview."""
    noop = BroadcastButton(action=PreviewAction.NOOP).pack()
    rows = tuple(
        tuple(b if b.url else OutButton(text=b.text, data=noop) for b in row)
        for row in message.buttons
    )
    return OutMessage(
        text=message.text, buttons=rows, image=message.image, document=message.document
    )


def _name(lead: Any) -> str:
    name = full_name(lead.first_name, lead.last_name)
    return f"{name} (#{lead.id})" if name else f"#{lead.id}"


# --- Send / Cancel ----------------------------------------------------------------------


async def pressed(
    query: CallbackQuery,
    callback_data: BroadcastButton,
    state: FSMContext,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff | None = None,
) -> None:
    chat_id = query.from_user.id
    action, nonce = callback_data.action, callback_data.nonce
    if action == PreviewAction.NOOP:
        await _answer(channels, bot, query, NOOP_ANSWER)
        return
    stored = await state.get_data()
    if await state.get_state() != Flow.confirm.state or stored.get("nonce") != nonce:
        await _answer(channels, bot, query, "This preview is no longer current.")
        return
    await state.clear()
    await _drop_keyboard(channels, bot, query)
    if action != PreviewAction.SEND:
        await _answer(channels, bot, query, "Cancelled")
        await reply(channels, bot, chat_id, "Cancelled: nothing was sent.")
        return
    await _answer(channels, bot, query)
    tz = _zone(staff, service)
    try:
        request = parse_words(stored.get("words", []))
        request.buttons = []  # already inside the stored message: not twice
        draft = _draft(service, request, tz, stored.get("message"))
        started = await send(
            service.db, service.scenario.funnel, draft, service.clock(), tz,
            created_by=f"tg:{query.from_user.id}",
        )  # fmt: skip
    except BroadcastError as exc:
        await reply(channels, bot, chat_id, f"⚠️ {esc(str(exc))}")
        return
    i = started.broadcast_id
    await reply(
        channels, bot, chat_id,
        f"Broadcast <b>#{i}</b> started: {started.queued} message(s) queued.\n"
        f"<code>/broadcast status {i}</code> · <code>/broadcast pause {i}</code> · "
        f"<code>/broadcast cancel {i}</code>",
    )  # fmt: skip


async def _answer(
    channels: Channels, bot: Bot, query: CallbackQuery, text: str | None = None
) -> None:
    """Through the one outgoing limiter, like every call this router makes."""
    with suppress(TelegramAPIError, RecipientGone, SendRejected):
        await channels.chat(bot, query.from_user.id).call(
            AnswerCallbackQuery(callback_query_id=query.id, text=text)
        )


async def _drop_keyboard(channels: Channels, bot: Bot, query: CallbackQuery) -> None:
    """The Send / Cancel buttons are pressed once; take them off the preview."""
    if query.message is None:
        return
    chat_id = query.message.chat.id
    with suppress(TelegramAPIError, RecipientGone, SendRejected):
        await channels.chat(bot, chat_id).call(
            EditMessageReplyMarkup(
                chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
            )
        )


# --- status, pause, resume, cancel, list -----------------------------------------------------


async def _control(
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    chat_id: int,
    action: str,
    args: list[str],
    tz: tzinfo,
) -> None:
    ref = args[0].lstrip("#") if args else ""
    if not ref.isdigit():
        await reply(channels, bot, chat_id, f"Usage: <code>/broadcast {action} ID</code>")
        return
    now = service.clock()
    try:
        if action == "status":
            found = await progress(service.db, int(ref))
            text = progress_text(found, now, tz)
        else:
            found = await control(service.db, int(ref), action, now)
            text = f"{DONE_WORD[action].capitalize()}: {progress_text(found, now, tz)}"
    except BroadcastError as exc:
        text = f"⚠️ {exc}"
    await reply(channels, bot, chat_id, esc(text))


async def _list(service: FunnelService, tz: tzinfo, limit: int = 10) -> str:
    now = service.clock()
    found = await progress_list(service.db, limit)
    lines = [esc(progress_text(p, now, tz)) for p in found]
    return "\n".join(lines) if lines else "No broadcasts yet."


def router() -> Router:
    flow = Router(name="broadcast")
    flow.message.filter(IsAdmin(private_only=True))
    flow.callback_query.filter(IsAdmin(private_only=True))
    flow.message.register(broadcast_cmd, Command("broadcast"))
    flow.message.register(
        message_text, StateFilter(Flow.text), Magic(F.text), Magic(~F.text.startswith("/"))
    )
    flow.callback_query.register(pressed, BroadcastButton.filter())
    return flow
