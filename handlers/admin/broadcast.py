"""``/broadcast`` for admins: pick an audience, write the message, see the preview, confirm.

Only admins (ADMIN_IDS) in a private chat match here; for anyone else the filter lets the
update through to the funnel, so a prospect typing ``/broadcast`` gets whatever any text
gets. The draft lives in aiogram's FSM (admin UI, not the funnel); the mailing itself goes
through the same queue, checks and limits as ``leadbot broadcast send``. It speaks the admin's
language (``handlers.admin.texts``); why a mailing cannot be made and the progress lines are
worded once in ``bot.broadcasts`` for the CLI too, so those stay English.
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
from handlers.admin.texts import lang_of, say
from handlers.filters import IsAdmin, Magic
from handlers.reply import reply

log = logging.getLogger(__name__)

SAMPLE = 5


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
    lang = lang_of(staff, message.from_user)
    if not words:
        await reply(channels, bot, chat_id, say(lang, "bc_usage"))
        return
    if head == "list":
        await reply(channels, bot, chat_id, await _list(service, tz, lang))
        return
    if head in {"status", *ACTIONS}:
        if head == "cancel" and len(words) == 1:
            await state.clear()
            await reply(channels, bot, chat_id, say(lang, "bc_dropped"))
            return
        await _control(service, channels, bot, chat_id, head, words[1:], tz, lang)
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
            await reply(channels, bot, chat_id, _nobody(draft, lang))
            return
        await state.set_state(Flow.text)
        await state.set_data(stored)
        await reply(channels, bot, chat_id, say(lang, "bc_ask_text", found.count))
        return
    await _preview(message, state, service, channels, bot, stored, draft, tz, lang)


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
    lang = lang_of(staff, message.from_user)
    await _preview(message, state, service, channels, bot, stored, draft, tz, lang)


def _draft(
    service: FunnelService, request: Request, tz: tzinfo, content: dict[str, Any] | None
) -> Draft:
    """The words (and the text, once sent) as a checked draft: the flow every face uses."""
    return make_draft(
        service.scenario.funnel, request.audience, service.clock(), tz,
        message=content, chain=request.chain, at=request.at, name=request.name,
        buttons=request.buttons, content_later=True, paid=request.paid, rate=request.rate,
        stars_cap=request.stars_cap,
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
    lang: str,
) -> None:
    """The message as a sample lead will see it, the count and some names; Send / Cancel."""
    chat_id = message.chat.id
    try:
        found = await preview(service.db, service.scenario.funnel, draft, service.clock(), SAMPLE)
    except BroadcastError as exc:
        await state.clear()
        await reply(channels, bot, chat_id, f"⚠️ {esc(str(exc))}")
        return
    if not found.count:
        await state.clear()
        await reply(channels, bot, chat_id, _nobody(draft, lang))
        return
    await reply(channels, bot, chat_id, say(lang, "bc_preview", esc(found.seen_by)))
    chat = channels.chat(bot, chat_id)
    for out in found.messages:
        try:
            await chat.send(_inert(out))
        except (RecipientGone, SendRejected) as exc:
            await reply(channels, bot, chat_id, say(lang, "bc_refused", esc(str(exc))))
            return
    count, sample = found.count, [row.lead for row in found.sample]
    names = ", ".join(esc(_name(lead)) for lead in sample)
    more = say(lang, "bc_more", count - len(sample)) if count > len(sample) else ""
    starts = draft.starts
    when = say(lang, "bc_starts", f"{starts.astimezone(tz):%Y-%m-%d %H:%M}") if starts else ""
    nonce = secrets.token_hex(4)
    stored["nonce"] = nonce
    await state.set_state(Flow.confirm)
    await state.set_data(stored)
    keyboard = InlineKeyboardBuilder()
    for label, action in (("bc_send", PreviewAction.SEND), ("bc_cancel", PreviewAction.CANCEL)):
        keyboard.button(
            text=say(lang, label), callback_data=BroadcastButton(action=action, nonce=nonce)
        )
    audience = esc(describe(draft.audience))
    if found.cost is not None:
        when += say(lang, "bc_cost", esc("\n".join(found.cost.lines(lang))))
    summary = say(lang, "bc_summary", count, audience, names, more, when)
    await reply(channels, bot, chat_id, summary, keyboard.as_markup())


def _nobody(draft: Draft, lang: str) -> str:
    return say(lang, "bc_nobody", esc(describe(draft.audience)))


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
    lang = lang_of(staff, query.from_user)
    if action == PreviewAction.NOOP:
        await _answer(channels, bot, query, say(lang, "bc_noop"))
        return
    stored = await state.get_data()
    if await state.get_state() != Flow.confirm.state or stored.get("nonce") != nonce:
        await _answer(channels, bot, query, say(lang, "bc_stale"))
        return
    await state.clear()
    await _drop_keyboard(channels, bot, query)
    if action != PreviewAction.SEND:
        await _answer(channels, bot, query, say(lang, "bc_cancelled_toast"))
        await reply(channels, bot, chat_id, say(lang, "bc_cancelled"))
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
    text = say(lang, "bc_started", started.broadcast_id, started.queued)
    await reply(channels, bot, chat_id, text)


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
    lang: str,
) -> None:
    ref = args[0].lstrip("#") if args else ""
    if not ref.isdigit():
        await reply(channels, bot, chat_id, say(lang, "bc_control_usage", action))
        return
    now = service.clock()
    try:
        cap = _stars_cap(args[1:]) if action == "resume" else None
        if action == "status":
            found = await progress(service.db, int(ref))
            text = progress_text(found, now, tz)
        else:
            found = await control(service.db, int(ref), action, now, stars_cap=cap)
            text = say(lang, f"bc_done_{action}", progress_text(found, now, tz))
    except BroadcastError as exc:
        text = f"⚠️ {exc}"
    await reply(channels, bot, chat_id, esc(text))


def _stars_cap(words: list[str]) -> str | None:
    """``stars-cap=300`` after ``resume ID``: a paid broadcast's new cap."""
    cap = None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or key.strip().lower().replace("-", "_") != "stars_cap":
            raise BroadcastError(f"'{word}': after the id only stars-cap=N (a new Stars cap)")
        cap = value.strip()
    return cap


async def _list(service: FunnelService, tz: tzinfo, lang: str, limit: int = 10) -> str:
    now = service.clock()
    found = await progress_list(service.db, limit)
    lines = [esc(progress_text(p, now, tz)) for p in found]
    return "\n".join(lines) if lines else say(lang, "bc_none")


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
