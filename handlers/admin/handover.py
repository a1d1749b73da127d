"""Managers taking a lead from the bot and giving it back: /take, /release, and the Take /
Return to bot buttons under an alert card (``bot.telegram.alerts``)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, User

from bot.managers.staff import Staff
from bot.service import FunnelService, Handover
from bot.service.funnel import MISSING
from bot.telegram.alerts import ManagerAlerts
from bot.telegram.callbacks import Handover as Action
from bot.telegram.callbacks import ManagerButton
from bot.telegram.channel import Channels
from bot.telegram.views import esc
from handlers.admin.texts import lang_of, say
from handlers.filters import InManagersChat, IsAdmin, Magic
from handlers.reply import answer, reply


def manager_name(user: User) -> str:
    """How the lead log names a manager: "Ann Smith (@ann)"."""
    return f"{user.full_name} (@{user.username})" if user.username else user.full_name


def lead_id_of(command: CommandObject) -> int | None:
    arg = (command.args or "").strip().lstrip("#")
    return int(arg) if arg.isdigit() else None


def taken_text(done: Handover, lang: str = "en") -> str:
    n = done.lead_id
    if done.done:
        return say(lang, "taken", n)
    if done.status == MISSING:
        return say(lang, "no_lead", n)
    return say(lang, "not_taken", n, esc(done.status))


def released_text(done: Handover, lang: str = "en") -> str:
    n = done.lead_id
    if done.done:
        return say(lang, "released", n, esc(done.status))
    if done.status == MISSING:
        return say(lang, "no_lead", n)
    return say(lang, "not_released", n, esc(done.status))


async def take_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff | None = None,
) -> None:
    lead_id, user = lead_id_of(command), message.from_user
    lang = lang_of(staff, user)
    if lead_id is None or user is None:
        await reply(channels, bot, message.chat.id, say(lang, "take_usage"))
        return
    done = await service.take(lead_id, manager_name(user), user.id)
    await reply(channels, bot, message.chat.id, taken_text(done, lang))


async def release_cmd(
    message: Message,
    command: CommandObject,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    staff: Staff | None = None,
) -> None:
    lead_id, user = lead_id_of(command), message.from_user
    lang = lang_of(staff, user)
    if lead_id is None or user is None:
        await reply(channels, bot, message.chat.id, say(lang, "release_usage"))
        return
    done = await service.release(lead_id, manager_name(user), channels.for_leads(bot))
    await reply(channels, bot, message.chat.id, released_text(done, lang))


async def manager_button(
    query: CallbackQuery,
    callback_data: ManagerButton,
    service: FunnelService,
    channels: Channels,
    bot: Bot,
    alerts: ManagerAlerts | None = None,
    staff: Staff | None = None,
) -> None:
    lead_id, by = callback_data.lead_id, manager_name(query.from_user)
    lang = lang_of(staff, query.from_user)
    if callback_data.action == Action.TAKE:
        done = await service.take(lead_id, by, query.from_user.id)
        toast = say(lang, "toast_taken") if done.done else taken_text(done, lang)
    else:
        done = await service.release(lead_id, by, channels.for_leads(bot))
        toast = say(lang, "toast_back") if done.done else released_text(done, lang)
    await answer(query, toast)
    card = query.message
    if alerts is not None and isinstance(card, Message):
        headline = card.html_text.split("\n", 1)[0] if card.text else None
        await alerts.redraw(lead_id, callback_data.reason, card.chat.id, card.message_id, headline)


async def stale_button(query: CallbackQuery) -> None:
    """A manager button whose data no longer parses: stop the spinner, do nothing."""
    await answer(query)


def router() -> Router:
    handover = Router(name="handover")
    handover.message.filter(IsAdmin())
    handover.message.register(take_cmd, Command("take"))
    handover.message.register(release_cmd, Command("release"))
    buttons = Router(name="manager-buttons")
    buttons.callback_query.filter(InManagersChat())
    buttons.callback_query.register(manager_button, ManagerButton.filter())
    buttons.callback_query.register(
        stale_button, Magic(F.data.startswith(f"{ManagerButton.__prefix__}:"))
    )
    handover.include_router(buttons)
    return handover
