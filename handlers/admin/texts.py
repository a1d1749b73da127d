"""What the admin commands say, in English and Russian (Telegram HTML, ``{}`` fields).

Picked per admin by ``Staff.lang`` (their Telegram ``language_code``, else ADMIN_LANGUAGE):
the same rule as the web dashboard's. A dict rather than gettext catalogues for the same
reason as ``web.i18n``: one small face, two languages, no build step.
"""

from __future__ import annotations

from aiogram.types import User

from bot.managers.staff import Staff

TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "en": """<b>Admin commands</b>
/stats — new leads, qualified, contacts, segments: today, 7 and 30 days
/report [since] — the funnel by step (since: 2026-03-01, today, 7d…; default 30d)
/lead &lt;id or @username&gt; — one lead's card and timeline (private chat only)
/export [leads|events] — the CSV, as <code>leadbot export</code> writes it (private chat only)
/take &lt;id&gt; — take a lead: the bot goes silent for them
/release &lt;id&gt; — give a lead back to the bot; its chain goes on
/cancelsub &lt;id&gt; — turn off the renewal of a lead's Stars subscription
/reload — re-read the scenario file now""",
        "ru": """<b>Команды администратора</b>
/stats — новые лиды, квалифицированные, контакты, сегменты: сегодня, 7 и 30 дней
/report [с] — воронка по шагам (с: 2026-03-01, today, 7d…; по умолчанию 30d)
/lead &lt;id или @username&gt; — карточка и история лида (только в личном чате)
/export [leads|events] — CSV, как его пишет <code>leadbot export</code> (только в личном чате)
/take &lt;id&gt; — забрать лида: бот перестаёт ему писать
/release &lt;id&gt; — вернуть лида боту; его цепочка продолжится
/cancelsub &lt;id&gt; — отключить продление подписки лида за звёзды
/reload — перечитать файл сценария сейчас""",
    },
    "help_web": {
        "en": "\n/web — a one-time sign-in link for the dashboard in a browser",
        "ru": "\n/web — одноразовая ссылка для входа в панель из браузера",
    },
    "card_private": {
        "en": "Lead cards carry contacts: ask me in a private chat.",
        "ru": "В карточке лида есть контакты: спросите меня в личном чате.",
    },
    "lead_usage": {
        "en": "Usage: /lead &lt;id or @username&gt;",
        "ru": "Так: /lead &lt;id или @username&gt;",
    },
    "no_lead": {"en": "No lead {}.", "ru": "Лида {} нет."},
    "export_private": {
        "en": "Exports carry contacts: ask me in a private chat.",
        "ru": "В выгрузке есть контакты: спросите меня в личном чате.",
    },
    "export_usage": {"en": "Usage: /export [leads|events]", "ru": "Так: /export [leads|events]"},
    "export_too_big": {
        "en": "{0}: too big for Telegram; use <code>leadbot export</code>.",
        "ru": "Строк: {1}, для Telegram файл слишком большой; нужен <code>leadbot export</code>.",
    },
    "export_caption": {"en": "{0} from Telegram", "ru": "Строк из Telegram: {1}"},
    "reload_off": {
        "en": "Live reload is off in this bot.",
        "ru": "Перезагрузка сценария на лету в этом боте выключена.",
    },
    "take_usage": {"en": "Usage: /take &lt;lead id&gt;", "ru": "Так: /take &lt;номер лида&gt;"},
    "release_usage": {
        "en": "Usage: /release &lt;lead id&gt;",
        "ru": "Так: /release &lt;номер лида&gt;",
    },
    "taken": {
        "en": "Lead #{0} is yours: the bot stopped writing to them. "
        "Write to them in Telegram; /release {0} gives them back to the bot.",
        "ru": "Лид #{0} ваш: бот перестал ему писать. "
        "Напишите ему в Telegram; /release {0} вернёт его боту.",
    },
    "not_taken": {
        "en": "Lead #{0} is {1}: the bot is not writing to them, nothing to take.",
        "ru": "Лид #{0} в статусе {1}: бот ему не пишет, забирать нечего.",
    },
    "released": {
        "en": "Lead #{0} is back with the bot (now {1}).",
        "ru": "Лид #{0} снова у бота (статус {1}).",
    },
    "not_released": {
        "en": "Lead #{0} is not with managers (status {1}).",
        "ru": "Лид #{0} не у менеджеров (статус {1}).",
    },
    "toast_taken": {
        "en": "Taken: the bot is silent for this lead.",
        "ru": "Забрали: бот молчит для этого лида.",
    },
    "toast_back": {"en": "Back with the bot.", "ru": "Снова у бота."},
    # /cancelsub (handlers/admin/subscriptions.py)
    "sub_usage": {
        "en": "Usage: /cancelsub &lt;lead id&gt;",
        "ru": "Так: /cancelsub &lt;номер лида&gt;",
    },
    "sub_none": {
        "en": "Lead #{0} has no subscription that renews: nothing to cancel.",
        "ru": "У лида #{0} нет продлевающейся подписки: отменять нечего.",
    },
    "sub_canceled": {
        "en": "Lead #{0}: «{1}» will not renew; it stays paid until {2}.",
        "ru": "Лид #{0}: «{1}» больше не продлится; оплачена до {2}.",
    },
    "sub_refused": {
        "en": "Lead #{0}: Telegram did not cancel {1} subscription(s); see the log.",
        "ru": "Лид #{0}: Telegram не отменил подписок: {1}; подробности в журнале.",
    },
    "web_link": {
        "en": "Your sign-in link for the dashboard (once, within {minutes} minutes):\n{url}",
        "ru": "Ссылка для входа в панель (одноразовая, {minutes} мин.):\n{url}",
    },
    "web_button": {"en": "Dashboard", "ru": "Панель менеджера"},
    # /broadcast (handlers/admin/broadcast.py). Why a mailing cannot be made (BroadcastError) is
    # worded once in bot/broadcasts/ for the CLI and Telegram alike, so it stays English.
    "bc_usage": {
        "en": """<b>/broadcast</b> — a mailing to an audience of leads
<code>/broadcast segment=hot stopped-at=hot_offer idle=3</code>, then send the text
<code>/broadcast chain=comeback stopped-at=hot_offer</code> — start a chain instead
Filters: segment, stage, status, source, channel, stopped-at (step,step), idle (days), \
variant (step=variant), since / until (2026-03-01, 7d). Also: name=…, at="2026-12-01 10:00", \
button="Text:step".
Paid (up to 1000/s, 0.1 ⭐ a message from the bot's Stars): \
<code>paid=yes stars-cap=250</code> [<code>rate=500</code>]
<code>/broadcast list</code>, <code>/broadcast status ID</code>, \
<code>pause ID</code>, <code>resume ID</code> [<code>stars-cap=300</code>], \
<code>cancel ID</code>""",
        "ru": """<b>/broadcast</b> — рассылка по аудитории лидов
<code>/broadcast segment=hot stopped-at=hot_offer idle=3</code>, затем пришлите текст
<code>/broadcast chain=comeback stopped-at=hot_offer</code> — вместо текста запустить цепочку
Фильтры: segment, stage, status, source, channel, stopped-at (шаг,шаг), idle (дней), \
variant (шаг=вариант), since / until (2026-03-01, 7d). Ещё: name=…, at="2026-12-01 10:00", \
button="Текст:шаг".
Платная (до 1000/с, 0,1 ⭐ за сообщение из звёзд бота): \
<code>paid=yes stars-cap=250</code> [<code>rate=500</code>]
<code>/broadcast list</code>, <code>/broadcast status ID</code>, \
<code>pause ID</code>, <code>resume ID</code> [<code>stars-cap=300</code>], \
<code>cancel ID</code>""",
    },
    "bc_dropped": {
        "en": "The draft is dropped; nothing was sent.",
        "ru": "Черновик удалён; ничего не отправлено.",
    },
    "bc_ask_text": {
        "en": "<b>{0}</b> lead(s) match. Now send the message text ({{first_name}} and "
        "formatting work). <code>/broadcast cancel</code> drops the draft.",
        "ru": "Подходит лидов: <b>{0}</b>. Теперь пришлите текст сообщения ({{first_name}} и "
        "форматирование работают). <code>/broadcast cancel</code> удалит черновик.",
    },
    "bc_preview": {
        "en": "<b>Preview</b> — as {0} will see it:",
        "ru": "<b>Предпросмотр</b> — так это увидит {0}:",
    },
    "bc_refused": {
        "en": "⚠️ Telegram refused it: {0}",
        "ru": "⚠️ Telegram это не принял: {0}",
    },
    "bc_summary": {
        "en": "<b>{0}</b> lead(s) match <i>{1}</i>: {2}{3}.{4}\nSend it?",
        "ru": "Подходит лидов: <b>{0}</b> (<i>{1}</i>): {2}{3}.{4}\nОтправить?",
    },
    "bc_more": {"en": " and {0} more", "ru": " и ещё {0}"},
    "bc_cost": {"en": "\n\n<b>Cost</b>\n{0}", "ru": "\n\n<b>Стоимость</b>\n{0}"},
    "bc_starts": {"en": "\nStarts: {0}", "ru": "\nНачало: {0}"},
    "bc_send": {"en": "Send", "ru": "Отправить"},
    "bc_cancel": {"en": "Cancel", "ru": "Отмена"},
    "bc_nobody": {
        "en": "No leads match <i>{0}</i>: nothing to send.",
        "ru": "Под <i>{0}</i> не подходит ни один лид: отправлять некому.",
    },
    "bc_noop": {
        "en": "This is a preview: the buttons work in the real mailing.",
        "ru": "Это предпросмотр: кнопки работают в настоящей рассылке.",
    },
    "bc_stale": {
        "en": "This preview is no longer current.",
        "ru": "Этот предпросмотр уже неактуален.",
    },
    "bc_cancelled_toast": {"en": "Cancelled", "ru": "Отменено"},
    "bc_cancelled": {
        "en": "Cancelled: nothing was sent.",
        "ru": "Отменено: ничего не отправлено.",
    },
    "bc_started": {
        "en": "Broadcast <b>#{0}</b> started: {1} message(s) queued.\n"
        "<code>/broadcast status {0}</code> · <code>/broadcast pause {0}</code> · "
        "<code>/broadcast cancel {0}</code>",
        "ru": "Рассылка <b>#{0}</b> запущена: сообщений в очереди: {1}.\n"
        "<code>/broadcast status {0}</code> · <code>/broadcast pause {0}</code> · "
        "<code>/broadcast cancel {0}</code>",
    },
    "bc_control_usage": {
        "en": "Usage: <code>/broadcast {0} ID</code>",
        "ru": "Так: <code>/broadcast {0} ID</code>",
    },
    # Plain text (escaped by the handler): "{0}" is the shared progress line.
    "bc_done_pause": {"en": "Paused: {0}", "ru": "Приостановлена: {0}"},
    "bc_done_resume": {"en": "Resumed: {0}", "ru": "Возобновлена: {0}"},
    "bc_done_cancel": {"en": "Cancelled: {0}", "ru": "Отменена: {0}"},
    "bc_none": {"en": "No broadcasts yet.", "ru": "Рассылок пока нет."},
}


def lang_of(staff: Staff | None, user: User | None) -> str:
    """The admin's language: their Telegram one if Russian or English, else ADMIN_LANGUAGE."""
    code = user.language_code if user is not None else None
    return staff.lang(code) if staff is not None else "en"


def say(lang: str, key: str, *args: object, **fields: object) -> str:
    """The text ``key`` in ``lang`` with its fields filled in (English when missing)."""
    versions = TEXTS[key]
    return versions.get(lang, versions["en"]).format(*args, **fields)
