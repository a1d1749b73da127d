"""Admin look-ups in a chat: /admin (help), /stats, /report, /lead, /export, /reload.

The numbers come from ``bot.managers.desk`` (the same as ``leadbot``'s); the looks from
``bot.telegram.views``. Cards and exports carry contacts, so they are given only in an
admin's private chat (issue 9).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import tzinfo
from pathlib import Path
from typing import Any

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.methods import SendDocument
from aiogram.types import FSInputFile, Message

from bot.managers import desk
from bot.managers.staff import Staff
from bot.reload import Reloader
from bot.service import FunnelService, RecipientGone, SendRejected
from bot.telegram.channel import CHANNEL, Channels
from bot.telegram.views import esc, lead_card_html, many, report_html, stats_html
from bot.time_phrases import PeriodError, parse_moment
from handlers.admin.texts import lang_of, say
from handlers.filters import IsAdmin
from handlers.reply import reply

log = logging.getLogger(__name__)

MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may send as a document


def zone(staff: Staff, service: FunnelService) -> tzinfo:
    return staff.zone(service.scenario.funnel.timezone)


def _private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


async def admin_help(message: Message, channels: Channels, bot: Bot, staff: Staff) -> None:
    await reply(channels, bot, message.chat.id, say(lang_of(staff, message.from_user), "help"))


async def stats_cmd(
    message: Message, service: FunnelService, channels: Channels, bot: Bot, staff: Staff
) -> None:
    tz = zone(staff, service)
    result = await desk.channel_stats(service, CHANNEL, tz)
    text = stats_html(result, tz, lang_of(staff, message.from_user))
    await reply(channels, bot, message.chat.id, text)


async def report_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    tz = zone(staff, service)
    try:
        since = parse_moment((command.args or "30d").strip(), service.clock(), tz)
    except PeriodError as exc:
        await reply(channels, bot, message.chat.id, esc(exc))
        return
    result = await desk.channel_report(service, CHANNEL, since)
    for text in report_html(result, tz, lang_of(staff, message.from_user)):
        await reply(channels, bot, message.chat.id, text)


async def lead_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    chat_id, lang = message.chat.id, lang_of(staff, message.from_user)
    if not _private(message):
        await reply(channels, bot, chat_id, say(lang, "card_private"))
        return
    ref = (command.args or "").strip()
    if not ref:
        await reply(channels, bot, chat_id, say(lang, "lead_usage"))
        return
    tz = zone(staff, service)
    found = await desk.card(service, ref, tz)
    if found is None:
        await reply(channels, bot, chat_id, say(lang, "no_lead", esc(ref)))
        return
    card = lead_card_html(found.card, tz, found.contact_allowed, lang)
    await reply(channels, bot, chat_id, card)


async def export_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff,
) -> None:
    chat_id, lang = message.chat.id, lang_of(staff, message.from_user)
    if not _private(message):
        await reply(channels, bot, chat_id, say(lang, "export_private"))
        return
    kind = (command.args or "leads").strip().lower()
    if kind not in {"leads", "events"}:
        await reply(channels, bot, chat_id, say(lang, "export_usage"))
        return
    what: desk.ExportKind = "leads" if kind == "leads" else "events"
    tz = zone(staff, service)
    stamp = service.clock().astimezone(tz).strftime("%Y-%m-%d-%H%M")
    with tempfile.TemporaryDirectory(prefix="leadbot-export-") as folder:
        path = Path(folder) / f"{what}-{stamp}.csv"
        rows = await desk.export_csv(service, what, CHANNEL, path, tz)
        if path.stat().st_size > MAX_UPLOAD:
            text = say(lang, "export_too_big", many(rows, what[:-1]), rows)
            await reply(channels, bot, chat_id, text)
            return
        method = SendDocument(
            chat_id=chat_id,
            document=FSInputFile(path),
            caption=say(lang, "export_caption", many(rows, what[:-1]), rows),
        )
        try:
            await channels.chat(bot, chat_id).call(method)
        except (RecipientGone, SendRejected) as exc:
            log.warning("chat %s: the export was not sent: %s", chat_id, exc)


async def reload_cmd(
    message: Message,
    channels: Channels,
    bot: Bot,
    staff: Staff,
    reloader: Reloader | None = None,
) -> None:
    if reloader is None:
        text = say(lang_of(staff, message.from_user), "reload_off")
        await reply(channels, bot, message.chat.id, text)
        return
    result = await reloader.reload(force=True)
    await reply(channels, bot, message.chat.id, esc(result.describe()))


def router() -> Router:
    reports = Router(name="admin-reports")
    reports.message.filter(IsAdmin())
    commands: list[tuple[Any, str]] = [
        (admin_help, "admin"),
        (stats_cmd, "stats"),
        (report_cmd, "report"),
        (lead_cmd, "lead"),
        (export_cmd, "export"),
        (reload_cmd, "reload"),
    ]
    for handler, name in commands:
        reports.message.register(handler, Command(name))
    return reports
