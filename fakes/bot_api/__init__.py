"""In-process fake of the Telegram Bot API, spoken to over real HTTP (see ``server``).

Split by concern: ``records`` (calls, files, errors, flood buckets, Telegram's tables),
``html`` (Telegram's HTML subset), ``base`` (the fake's state), ``checks`` (what Telegram
refuses), ``methods`` (the Bot API methods), ``scripting`` (updates and failures a test
injects) and ``server`` (HTTP, inspection, waiting).
"""

from fakes.bot_api.html import ParsedText, TelegramHTMLError, parse_telegram_html
from fakes.bot_api.records import (
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    RATE_LIMITED_METHODS,
    SENT_METHODS,
    Call,
    StoredFile,
    UploadedFile,
)
from fakes.bot_api.server import FakeBotAPI

__all__ = [
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "RATE_LIMITED_METHODS",
    "SENT_METHODS",
    "Call",
    "FakeBotAPI",
    "ParsedText",
    "StoredFile",
    "TelegramHTMLError",
    "UploadedFile",
    "parse_telegram_html",
]
