"""/cancelsub: a manager turns off the renewal of a lead's Stars subscription.

Telegram lets the bot cancel a subscription it sold (editUserStarSubscription); it stays paid
up to the end of its period. Used when a prospect asks a person to stop it (they can also do
it themselves in Telegram's settings); the lead log records who did it.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.managers.staff import Staff
from bot.managers.subscriptions import Cancellation, Subscriptions
from bot.service import FunnelService
from bot.telegram.channel import Channels
from bot.telegram.views import esc
from handlers.admin.handover import lead_id_of, manager_name
from handlers.admin.texts import lang_of, say
from handlers.filters import IsAdmin
from handlers.reply import reply


def canceled_text(done: Cancellation, lang: str = "en") -> str:
    n = done.lead_id
    if not done.found:
        return say(lang, "no_lead", n)
    if not done.active:
        return say(lang, "sub_none", n)
    lines = []
    for sub in done.canceled:
        until = sub.expires_at.strftime("%Y-%m-%d") if sub.expires_at else "?"
        lines.append(say(lang, "sub_canceled", n, esc(sub.title), until))
    if done.refused:
        lines.append(say(lang, "sub_refused", n, done.refused))
    return "\n".join(lines)


async def cancel_cmd(
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
        await reply(channels, bot, message.chat.id, say(lang, "sub_usage"))
        return
    by = manager_name(user)
    done = await Subscriptions(service).cancel(lead_id, by, channels.for_leads(bot))
    await reply(channels, bot, message.chat.id, canceled_text(done, lang))


def router() -> Router:
    subscriptions = Router(name="subscriptions")
    subscriptions.message.filter(IsAdmin())
    subscriptions.message.register(cancel_cmd, Command("cancelsub"))
    return subscriptions
