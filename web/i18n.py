"""The dashboard's words in English and Russian: the English text is the key.

A dict rather than gettext catalogues: one small face, two languages, no build step.
A word missing here shows in English rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable

ERASE_RU = "Стереть имя, контакты и ответы лида? Это нельзя отменить."
RU: dict[str, str] = {
    "Funnel": "Воронка",
    "Leads": "Лиды",
    "Inbox": "Входящие",
    "Broadcasts": "Рассылки",
    "Scenario": "Сценарий",
    "Sign out": "Выйти",
    "Period": "Период",
    "since": "с",
    "until": "по",
    "Source": "Источник",
    "Segment": "Сегмент",
    "Stage": "Стадия",
    "Status": "Статус",
    "Channel": "Канал",
    "Step": "Шаг",
    "Show": "Показать",
    "any": "любой",
    "Leads in total": "Всего лидов",
    "Qualified": "Квалифицированы",
    "Contacts": "Контакты",
    "Buyers": "Покупатели",
    "Spend": "Расходы",
    "Reached": "Дошли",
    "Dropped": "Отвалились",
    "of previous": "от предыдущего",
    "of start": "от начала",
    "Spend per source": "Расходы по источникам",
    "Amount": "Сумма",
    "Currency": "Валюта",
    "Save": "Сохранить",
    "or upload a CSV/YAML file": "или загрузите файл CSV/YAML",
    "Upload": "Загрузить",
    "A/B variants": "A/B-варианты",
    "Variant": "Вариант",
    "Converted": "Конверсии",
    "No A/B variants in this period.": "В этом периоде нет A/B-вариантов.",
    "Search name, @username, phone, e-mail": "Поиск: имя, @username, телефон, e-mail",
    "Filter": "Фильтр",
    "Download CSV": "Скачать CSV",
    "Download XLSX": "Скачать XLSX",
    "Next page": "Следующая страница",
    "First page": "Первая страница",
    "match": "найдено",
    "Arrived": "Пришёл",
    "Name": "Имя",
    "Contact": "Контакт",
    "No leads match.": "Нет подходящих лидов.",
    "Answers": "Ответы",
    "Classification": "Классификация",
    "Timeline": "История",
    "Pending touches": "Запланированные касания",
    "None.": "Нет.",
    "Take over": "Забрать у бота",
    "Return to the bot": "Вернуть боту",
    "Send as manager": "Отправить от менеджера",
    "Message": "Сообщение",
    "Forget personal data": "Удалить персональные данные",
    "Erase this lead's name, contacts and answers? This cannot be undone.": ERASE_RU,
    "Yes, erase": "Да, стереть",
    "Cancel": "Отмена",
    "hidden: no consent": "скрыт: нет согласия",
    "Waiting for a manager": "Ждут менеджера",
    "Nobody is waiting.": "Никто не ждёт.",
    "Reply": "Ответить",
    "Open": "Открыть",
    "Audience": "Аудитория",
    "Stopped at": "Остановились на",
    "Idle days": "Без активности, дней",
    "Text": "Текст",
    "Chain": "Цепочка",
    "Preview": "Предпросмотр",
    "leads match": "лидов подходит",
    "Send to": "Отправить",
    "Confirm sending": "Подтвердите отправку",
    "Pause": "Пауза",
    "Resume": "Продолжить",
    "Progress": "Ход",
    "Report": "Отчёт",
    "Delivered": "Доставлено",
    "Queued": "В очереди",
    "Presses": "Нажатия",
    "Replies": "Ответы",
    "No broadcasts yet.": "Рассылок пока нет.",
    "New broadcast": "Новая рассылка",
    "Version in use": "Версия в работе",
    "Validation": "Проверка",
    "valid": "без ошибок",
    "Last reload": "Последняя перезагрузка",
    "never in this process": "не было в этом процессе",
    "Download the file": "Скачать файл",
    "Done.": "Готово.",
    "sent": "отправлено",
    "The lead is with managers now.": "Лид теперь у менеджеров.",
    "The lead is back with the bot.": "Лид возвращён боту.",
    "Personal data erased.": "Персональные данные стёрты.",
    "Sending is off: no BOT_TOKEN in this process.": "Отправка выключена: нет BOT_TOKEN.",
    "Model": "Модель",
    "Path": "Путь",
    "Reason": "Причина",
    "Confidence": "Уверенность",
    "Readiness": "Готовность",
    "offline rule": "офлайн-правило",
    "Sign in": "Войти",
    "Sign in to the leadbot dashboard": "Вход в панель leadbot",
    "Opening the dashboard…": "Открываем панель…",
    "Chart": "Диаграмма",
    "Nobody to send to: widen the filter (a mailing never reaches blocked, unsubscribed or "
    "handed-off leads).": "Отправлять некому: расширьте фильтр (рассылка не доходит до "
    "заблокировавших, отписавшихся и переданных менеджеру лидов).",
    "Funnel graph": "Граф воронки",
    "Paid broadcast": "Платная рассылка",
    "Up to 1000 messages a second, 0.1 Star each from the bot's Stars balance": "До 1000 "
    "сообщений в секунду, по 0,1 звезды за сообщение с баланса звёзд бота",
    "Stars cap": "Лимит звёзд",
    "Messages a second": "Сообщений в секунду",
    "messages a second": "сообщений в секунду",
    "Cost": "Стоимость",
    "Stars spent": "Потрачено звёзд",
    "Stopped by the bot": "Остановлена ботом",
}

MESSAGES_RU = {
    "sent": "Сообщение отправлено.",
    "empty": "Пустое сообщение не отправлено.",
    "too_long": "Слишком длинно: не больше 4096 символов.",
    "missing": "Такого лида нет.",
    "blocked": "Лид заблокировал бота: сообщение не доставлено.",
    "unsubscribed": "Лид отписался: писать ему нельзя.",
    "rejected": "Telegram не принял сообщение.",
}
MESSAGES_EN = {
    "sent": "Message sent.",
    "empty": "An empty message was not sent.",
    "too_long": "Too long: at most 4096 characters.",
    "missing": "No such lead.",
    "blocked": "The lead blocked the bot: not delivered.",
    "unsubscribed": "The lead unsubscribed: you may not write to them.",
    "rejected": "Telegram refused the message.",
}


def translator(lang: str) -> Callable[[str], str]:
    if lang != "ru":
        return lambda text: text
    return lambda text: RU.get(text, text)


def send_result(lang: str, status: str) -> str:
    table = MESSAGES_RU if lang == "ru" else MESSAGES_EN
    return table.get(status, status)
