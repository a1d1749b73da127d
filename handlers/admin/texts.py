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
/reload — re-read the scenario file now""",
        "ru": """<b>Команды администратора</b>
/stats — новые лиды, квалифицированные, контакты, сегменты: сегодня, 7 и 30 дней
/report [с] — воронка по шагам (с: 2026-03-01, today, 7d…; по умолчанию 30d)
/lead &lt;id или @username&gt; — карточка и история лида (только в личном чате)
/export [leads|events] — CSV, как его пишет <code>leadbot export</code> (только в личном чате)
/take &lt;id&gt; — забрать лида: бот перестаёт ему писать
/release &lt;id&gt; — вернуть лида боту; его цепочка продолжится
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
    "web_link": {
        "en": "Your sign-in link for the dashboard (once, within {minutes} minutes):\n{url}",
        "ru": "Ссылка для входа в панель (одноразовая, {minutes} мин.):\n{url}",
    },
    "web_button": {"en": "Dashboard", "ru": "Панель менеджера"},
}


def lang_of(staff: Staff | None, user: User | None) -> str:
    """The admin's language: their Telegram one if Russian or English, else ADMIN_LANGUAGE."""
    code = user.language_code if user is not None else None
    return staff.lang(code) if staff is not None else "en"


def say(lang: str, key: str, *args: object, **fields: object) -> str:
    """The text ``key`` in ``lang`` with its fields filled in (English when missing)."""
    versions = TEXTS[key]
    return versions.get(lang, versions["en"]).format(*args, **fields)
