"""Masking personal identifiers in text that leaves our hands: logs and prompts to a model.

One definition serves both, so what the consent text promises ("contacts go to no one") holds
for the log file and for the model provider alike. Regular expressions find candidates; a
check per candidate keeps dates, times, Unix timestamps, prices and order numbers readable
(masking them would make the logs useless and the model's reading of budgets wrong).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PHONE = "[phone]"
EMAIL = "[email]"
CARD = "[card]"
HANDLE = "[handle]"

# A run that starts and ends with a digit, with the separators people type inside phones.
_DIGITS = re.compile(r"(?<![\w.])\+?\d[\d\s().\-]{7,}\d(?![\w])")
# \w is Unicode: internationalised addresses (вася@почта.рф) are e-mails too.
_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# @username as Telegram spells it (5–32 characters); e-mails are masked before this runs.
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{4,31}\b")
_DATE_LIKE = re.compile(r"^\d{1,4}[.\-/]\d{1,2}[.\-/]\d{1,4}")
_TIME_TAIL = re.compile(r"\d{1,2}:\d{2}")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_digits(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if _DATE_LIKE.match(text) or _TIME_TAIL.search(text):
        return text  # 2026-12-02 14:38, 02.12.2026: a date, not a contact
    bare = digits == text
    if bare and len(digits) in (10, 13) and digits[0] == "1":
        return text  # a Unix timestamp in seconds or milliseconds
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return CARD
    if 10 <= len(digits) <= 15:
        return PHONE
    return text


def redact(text: str) -> str:
    """``text`` with phones, e-mails, card numbers and @handles replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _DIGITS.sub(_mask_digits, text)
    return _HANDLE.sub(HANDLE, text)


def redact_values(values: Mapping[str, str]) -> dict[str, str]:
    """The same mapping with every value redacted (answers before they go to a model)."""
    return {key: redact(value) for key, value in values.items()}
