"""Admin commands and the managers' Take / Return buttons.

Registered before the prospect handlers. The filters here let through only admins
(ADMIN_IDS) in a private chat or in MANAGER_CHAT_ID; for anyone else they simply do not
match, so ``/stats`` from a prospect travels on and gets whatever any text gets: the bot
does not even admit the commands exist. Cards and exports carry contacts, so they are
given only in an admin's private chat (issue 9).
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import suppress
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, Filter
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import CallbackQuery, FSInputFile, Message, User

from bot.managers import Staff, contact_allowed
from bot.reload import Reloader
from bot.reports.export import export
from bot.reports.leads import lead_card
from bot.reports.metrics import stats
from bot.reports.report import build_report
from bot.service import FunnelService, Handover, RecipientGone, SendRejected
from bot.telegram.alerts import ManagerAlerts, parse_callback
from bot.telegram.channel import CHANNEL, Channels
from bot.telegram.views import esc, lead_card_html, many, parts, report_html, stats_html
from bot.time_phrases import PeriodError, parse_moment
from storage.criteria import LeadFilter

log = logging.getLogger(__name__)

MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may send as a document
HELP = """<b>Admin commands</b>
/stats — new leads, qualified, contacts, segments: today, 7 and 30 days
/report [since] — the funnel by step (since: 2026-03-01, today, 7d…; default 30d)
/lead &lt;id or @username&gt; — one lead's card and timeline (private chat only)
/export [leads|events] — the CSV, as <code>leadbot export</code> writes it (private chat only)
/take &lt;id&gt; — take a lead: the bot goes silent for them
/release &lt;id&gt; — give a lead back to the bot; its chain goes on
/reload — re-read the scenario file now"""


def _in_staff_chat(staff: Staff, user: User | None, chat_id: int, chat_type: str) -> bool:
    if user is None or not staff.is_admin(user.id):
        return False
    return chat_type == ChatType.PRIVATE or chat_id == staff.manager_chat_id


class AdminCommand(Filter):
    """An admin writing in a private chat or the managers' chat."""

    async def __call__(self, message: Message, staff: Staff) -> bool:
        return _in_staff_chat(staff, message.from_user, message.chat.id, message.chat.type)


class ManagerButton(Filter):
    """Take / Return pressed in the managers' chat (anyone there), or by an admin anywhere."""

    async def __call__(self, query: CallbackQuery, staff: Staff) -> bool:
        if not (query.data or "").startswith("mgr:"):
            return False
        chat = query.message.chat if query.message is not None else None
        in_managers = chat is not None and chat.id == staff.manager_chat_id
        return in_managers or staff.is_admin(query.from_user.id)


def manager_name(user: User) -> str:
    """How the lead log names a manager: "Ann Smith (@ann)"."""
    return f"{user.full_name} (@{user.username})" if user.username else user.full_name


def zone(staff: Staff, service: FunnelService) -> tzinfo:
    return staff.zone(service.scenario.funnel.timezone)


async def reply(channels: Channels, bot: Bot, chat_id: int, text: str) -> None:
    """Send HTML in as many messages as it takes; a failure is logged, never raised."""
    chat = channels.chat(bot, chat_id)
    for part in parts(text):
        try:
            await chat.call(SendMessage(chat_id=chat_id, text=part))
        except (RecipientGone, SendRejected) as exc:
            log.warning("chat %s: an admin reply was not sent: %s", chat_id, exc)
            return


def _lead_id(command: CommandObject) -> int | None:
    arg = (command.args or "").strip().lstrip("#")
    return int(arg) if arg.isdigit() else None


def _private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


# --- the commands ---------------------------------------------------------------------------


async def admin_help(message: Message, channels: Channels, bot: Bot) -> None:
    await reply(channels, bot, message.chat.id, HELP)


async def stats_cmd(
    message: Message, service: FunnelService, channels: Channels, bot: Bot, staff: Staff
) -> None:
    tz = zone(staff, service)
    now = service.clock()
    result = await stats(service.db, now, service.scenario.funnel, tz, channel=CHANNEL)
    await reply(channels, bot, message.chat.id, stats_html(result, tz))


async def report_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    tz = zone(staff, service)
    now = service.clock()
    try:
        since = parse_moment((command.args or "30d").strip(), now, tz)
    except PeriodError as exc:
        await reply(channels, bot, message.chat.id, esc(exc))
        return
    f = LeadFilter(channel=CHANNEL, since=since)
    result = await build_report(service.db, service.scenario.funnel, f, now)
    for text in report_html(result, tz):
        await reply(channels, bot, message.chat.id, text)


async def lead_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    chat_id = message.chat.id
    if not _private(message):
        await reply(channels, bot, chat_id, "Lead cards carry contacts: ask me in a private chat.")
        return
    ref = (command.args or "").strip()
    if not ref:
        await reply(channels, bot, chat_id, "Usage: /lead &lt;id or @username&gt;")
        return
    tz = zone(staff, service)
    card = await lead_card(service.db, ref, tz)
    if card is None:
        await reply(channels, bot, chat_id, f"No lead {esc(ref)}.")
        return
    allowed = contact_allowed(card.consent, service.scenario.funnel.scenario.require_consent)
    await reply(channels, bot, chat_id, lead_card_html(card, tz, allowed))


async def export_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    chat_id = message.chat.id
    if not _private(message):
        await reply(channels, bot, chat_id, "Exports carry contacts: ask me in a private chat.")
        return
    kind = (command.args or "leads").strip().lower()
    if kind not in {"leads", "events"}:
        await reply(channels, bot, chat_id, "Usage: /export [leads|events]")
        return
    what: Literal["leads", "events"] = "leads" if kind == "leads" else "events"
    tz = zone(staff, service)
    keys = list(service.scenario.funnel.answer_keys()) if what == "leads" else []
    stamp = service.clock().astimezone(tz).strftime("%Y-%m-%d-%H%M")
    with tempfile.TemporaryDirectory(prefix="leadbot-export-") as folder:
        path = Path(folder) / f"{what}-{stamp}.csv"
        rows = await export(service.db, what, LeadFilter(channel=CHANNEL), path, "csv", tz, keys)
        if path.stat().st_size > MAX_UPLOAD:
            text = (
                f"{many(rows, what[:-1])}: too big for Telegram; use <code>leadbot export</code>."
            )
            await reply(channels, bot, chat_id, text)
            return
        method = SendDocument(
            chat_id=chat_id,
            document=FSInputFile(path),
            caption=f"{many(rows, what[:-1])} from Telegram",
        )
        try:
            await channels.chat(bot, chat_id).call(method)
        except (RecipientGone, SendRejected) as exc:
            log.warning("chat %s: the export was not sent: %s", chat_id, exc)


def _taken_text(done: Handover) -> str:
    n = done.lead_id
    if done.done:
        return (
            f"Lead #{n} is yours: the bot stopped writing to them. "
            f"Write to them in Telegram; /release {n} gives them back to the bot."
        )
    if done.status == "missing":
        return f"No lead {n}."
    return f"Lead #{n} is {esc(done.status)}: the bot is not writing to them, nothing to take."


def _released_text(done: Handover) -> str:
    n = done.lead_id
    if done.done:
        return f"Lead #{n} is back with the bot (now {esc(done.status)})."
    if done.status == "missing":
        return f"No lead {n}."
    return f"Lead #{n} is not with managers (status {esc(done.status)})."


async def take_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
) -> None:
    lead_id, user = _lead_id(command), message.from_user
    if lead_id is None or user is None:
        await reply(channels, bot, message.chat.id, "Usage: /take &lt;lead id&gt;")
        return
    done = await service.take(lead_id, manager_name(user), user.id)
    await reply(channels, bot, message.chat.id, _taken_text(done))


async def release_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
) -> None:
    lead_id, user = _lead_id(command), message.from_user
    if lead_id is None or user is None:
        await reply(channels, bot, message.chat.id, "Usage: /release &lt;lead id&gt;")
        return
    done = await service.release(lead_id, manager_name(user), channels.for_leads(bot))
    await reply(channels, bot, message.chat.id, _released_text(done))


async def reload_cmd(
    message: Message, channels: Channels, bot: Bot, reloader: Reloader | None = None
) -> None:
    if reloader is None:
        await reply(channels, bot, message.chat.id, "Live reload is off in this bot.")
        return
    result = await reloader.reload(force=True)
    await reply(channels, bot, message.chat.id, esc(result.describe()))


# --- the alert card's buttons ----------------------------------------------------------------


async def manager_button(
    query: CallbackQuery,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    alerts: ManagerAlerts | None = None,
) -> None:
    parsed = parse_callback(query.data or "")
    if parsed is None:
        with suppress(TelegramAPIError):
            await query.answer()
        return
    action, lead_id, reason = parsed
    by = manager_name(query.from_user)
    if action == "take":
        done = await service.take(lead_id, by, query.from_user.id)
        toast = "Taken: the bot is silent for this lead." if done.done else _taken_text(done)
    else:
        done = await service.release(lead_id, by, channels.for_leads(bot))
        toast = "Back with the bot." if done.done else _released_text(done)
    with suppress(TelegramAPIError):
        await query.answer(toast[:200])
    card = query.message
    if alerts is not None and isinstance(card, Message):
        headline = card.html_text.split("\n", 1)[0] if card.text else None
        await alerts.redraw(lead_id, reason, card.chat.id, card.message_id, headline)


def router() -> Router:
    admin = Router(name="admin")
    admin.message.filter(AdminCommand())
    admin.callback_query.filter(ManagerButton())
    commands: list[tuple[Any, str]] = [
        (admin_help, "admin"),
        (stats_cmd, "stats"),
        (report_cmd, "report"),
        (lead_cmd, "lead"),
        (export_cmd, "export"),
        (take_cmd, "take"),
        (release_cmd, "release"),
        (reload_cmd, "reload"),
    ]
    for handler, name in commands:
        admin.message.register(handler, Command(name))
    admin.callback_query.register(manager_button, F.data.startswith("mgr:"))
    return admin
