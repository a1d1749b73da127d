"""The bot's built-in texts in each language a scenario can be written in.

A scenario that leaves out ``texts:`` (or some of its keys) gets these, in its own language:
a Russian funnel must not answer "Please use the buttons above". English is the default of
each field of ``Texts`` itself (so the JSON Schema shows it); the other languages are here.
When ``language:`` is left out it is guessed from the letters of the business description
and the texts: two alphabets, so counting letters is enough and needs no model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")

RUSSIAN: dict[str, str] = {
    "help": "Я задам несколько коротких вопросов и пришлю полезные материалы. /stop — отписаться.",
    "stop": "Вы отписались. Напишите /start, когда захотите продолжить.",
    "restart": "С возвращением! Продолжим.",
    "unknown": "Спасибо! Выберите вариант кнопкой выше или напишите /help.",
    "apology": "Извините, у нас что-то пошло не так. Попробуйте ещё раз через минуту.",
    "not_current": "Эта кнопка уже не действует.",
    "email_invalid": "Похоже, это не адрес электронной почты. Проверьте, пожалуйста.",
    "phone_invalid": (
        "Похоже, это не номер телефона. Проверьте его (например, +7 912 345-67-89)"
        " или отправьте кнопкой."
    ),
    "phone_button": "Отправить мой номер",
    "skip_button": "Не сейчас",
    "contact_thanks": "Спасибо!",
    "contact_skipped": "Хорошо, продолжим без этого.",
    "offer_link": "Ссылка для заказа «{offer}»:",
    "offer_link_button": "Заказать",
    "offer_button": "Хочу",
    "magnet_link_button": "Открыть",
    "gate_join_button": "Подписаться на канал",
    "gate_check_button": "Проверить подписку",
    "gate_not_yet": (
        "Пока не вижу вас среди подписчиков. Подпишитесь и нажмите «Проверить подписку» ещё"
        " раз — иногда это занимает несколько секунд."
    ),
    "policy_button": "Политика конфиденциальности",
    "pay_button": "Оплатить",
    "paid": "Оплата получена — спасибо! «{offer}» ваш.",
    "subscribe_link": (
        "«{offer}»: {price} ⭐ каждые 30 дней, Telegram продлевает подписку сам. Отменить можно"
        " в любой момент в настройках Telegram, в разделе «Мои звёзды»."
    ),
    "subscribe_button": "Оформить подписку",
    "subscribed": (
        "Подписка «{offer}» оформлена — спасибо! Telegram продлевает её каждые 30 дней;"
        " отменить можно в любой момент в настройках Telegram, в разделе «Мои звёзды»."
    ),
    "renewed": "Подписка «{offer}» продлена — спасибо, что остаётесь с нами!",
    "too_long": "Сообщение длинное — я сохранил его начало.",
    "handed_off": "Менеджер скоро вам напишет.",
    "finished": "Спасибо! Если появятся вопросы — просто напишите сюда.",
    "forgotten": "Готово: ваше имя, контакты и ответы удалены, и мы больше не будем писать.",
    "kb_unknown": (
        "На этот вопрос у меня нет точного ответа, а гадать я не хочу. "
        "Ответит менеджер — соединить вас?"
    ),
    "manager_button": "Связаться с менеджером",
    "human_requested": "Конечно — передаю ваше сообщение менеджеру.",
    "button_noted": "Принято 👍",
    "hold": "Минуту, пожалуйста — уточняю.",
}

#: Built-in texts by language; English comes from the ``Texts`` model's own defaults.
BUILT_IN: dict[Language, dict[str, str]] = {"ru": RUSSIAN}


def detect_language(samples: Iterable[object]) -> Language:
    """Russian when Cyrillic letters outnumber Latin ones in the samples, else English."""
    cyrillic = latin = 0
    for sample in samples:
        if not isinstance(sample, str):
            continue
        for char in sample:
            if "а" <= char.lower() <= "я" or char in "ёЁ":
                cyrillic += 1
            elif "a" <= char.lower() <= "z":
                latin += 1
    return "ru" if cyrillic > latin else "en"


__all__ = ["BUILT_IN", "LANGUAGES", "RUSSIAN", "Language", "detect_language"]
